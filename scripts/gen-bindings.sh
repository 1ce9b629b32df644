#!/usr/bin/env bash
# Generates the dd-mobile UniFFI bindings.
#
#   scripts/gen-bindings.sh [python|swift] OUTDIR
#
# Builds dd-mobile (debug; PROFILE=release for release), runs the crate's
# uniffi-bindgen on the built library and, for Python, copies the shared
# library next to the generated dd_mobile.py so `import dd_mobile` works with
# OUTDIR on sys.path. Honors CARGO_TARGET_DIR (default: ./target).
set -euo pipefail

usage() { echo "usage: $0 [python|swift] OUTDIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
lang=$1
out=$2
case "$lang" in python|swift) ;; *) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
profile=${PROFILE:-debug}
flags=()
[ "$profile" = release ] && flags+=(--release)

case "$(uname -s)" in
  Darwin) lib=libdd_mobile.dylib ;;
  *) lib=libdd_mobile.so ;;
esac

cargo build -p dd-mobile --lib ${flags[@]+"${flags[@]}"}
mkdir -p "$out"
cargo run -q -p dd-mobile --bin uniffi-bindgen ${flags[@]+"${flags[@]}"} -- \
  generate --library "$target/$profile/$lib" --language "$lang" --out-dir "$out"
if [ "$lang" = python ]; then
  cp "$target/$profile/$lib" "$out/"
fi
echo "bindings: $out" >&2
