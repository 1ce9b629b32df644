#!/usr/bin/env bash
# Builds dd-mobile for iOS (device + simulator), generates the Swift
# bindings, and packs Frameworks/DDMobile.xcframework for the app.
#
#   apps/ios/Scripts/build-xcframework.sh [--debug]
#
# Outputs (both git-ignored):
#   apps/ios/Frameworks/DDMobile.xcframework   static libs + dd_mobileFFI module
#   apps/ios/Generated/dd_mobile.swift         the UniFFI Swift bindings
# Needs macOS with Xcode and rustup.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
profile=release
cargo_flag=--release
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    cargo_flag=
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
device=aarch64-apple-ios
sims=(aarch64-apple-ios-sim x86_64-apple-ios)
lib=libdd_mobile.a

cd "$root"
rustup target add "$device" "${sims[@]}"
export IPHONEOS_DEPLOYMENT_TARGET=17.0
for target in "$device" "${sims[@]}"; do
    echo "==> cargo build -p dd-mobile --target $target ($profile)"
    cargo build -p dd-mobile $cargo_flag --target "$target"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> lipo simulator slices"
mkdir -p "$work/sim"
lipo -create \
    "$target_dir/${sims[0]}/$profile/$lib" \
    "$target_dir/${sims[1]}/$profile/$lib" \
    -output "$work/sim/$lib"

echo "==> uniffi-bindgen generate (swift)"
gen="$work/gen"
cargo run -p dd-mobile --features bindgen --bin uniffi-bindgen -- generate \
    --library "$target_dir/$device/$profile/$lib" \
    --language swift \
    --out-dir "$gen"
for f in dd_mobile.swift dd_mobileFFI.h dd_mobileFFI.modulemap; do
    [[ -f "$gen/$f" ]] || { echo "uniffi-bindgen did not emit $f" >&2; exit 1; }
done

headers="$work/Headers"
mkdir -p "$headers"
cp "$gen/dd_mobileFFI.h" "$headers/"
cp "$gen/dd_mobileFFI.modulemap" "$headers/module.modulemap"

echo "==> xcodebuild -create-xcframework"
out="$here/Frameworks/DDMobile.xcframework"
rm -rf "$out"
mkdir -p "$here/Frameworks" "$here/Generated"
xcodebuild -create-xcframework \
    -library "$target_dir/$device/$profile/$lib" -headers "$headers" \
    -library "$work/sim/$lib" -headers "$headers" \
    -output "$out"
cp "$gen/dd_mobile.swift" "$here/Generated/dd_mobile.swift"
echo "==> $out"
echo "==> $here/Generated/dd_mobile.swift"
