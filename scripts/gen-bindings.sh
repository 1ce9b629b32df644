#!/usr/bin/env bash
# Generates the dd-mobile UniFFI bindings.
#
#   scripts/gen-bindings.sh [python|swift] OUTDIR
#
# Builds the crate's uniffi-bindgen (feature `bindgen`: the code generator's
# CLI dependencies belong to that binary only), then dd-mobile's library
# without it (debug; PROFILE=release for release) -- in that order, so the
# library left in the target dir is the lean one the app and tests load --
# runs uniffi-bindgen on that library and, for Python, copies the shared
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

cargo build -q -p dd-mobile --features bindgen --bin uniffi-bindgen ${flags[@]+"${flags[@]}"}
cargo build -q -p dd-mobile --lib ${flags[@]+"${flags[@]}"}
"$target/$profile/uniffi-bindgen" generate --library "$target/$profile/$lib" --language "$lang" --out-dir "$out"
if [ "$lang" = python ]; then
  cp "$target/$profile/$lib" "$out/"
fi
echo "bindings: $out" >&2
