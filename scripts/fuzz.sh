#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS_PER_TARGET (default 180)
# on the nightly toolchain, one after the other, stopping at the first
# finding (exit 1, artifact path printed).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#   FUZZ_TARGETS="frame link" scripts/fuzz.sh 60   # a subset
#   FUZZ_MERGE=1 scripts/fuzz.sh                    # keep new coverage in fuzz/corpus
#   FUZZ_SANITIZER=address scripts/fuzz.sh          # ASan (about 5x slower)
#
# New corpus entries go to a temp dir and are thrown away, so the committed
# corpus does not balloon; with FUZZ_MERGE=1 the ones that add coverage are
# merged into fuzz/corpus/<target> (libFuzzer -merge=1). Honors
# CARGO_TARGET_DIR. The same corpus is replayed on stable by
# `cargo test -p dd-proto --test fuzz_corpus`.
set -euo pipefail

secs="${1:-180}"
targets="${FUZZ_TARGETS:-frame message link handshake}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# -a: debug assertions (overflow checks) on. No sanitizer by default: the dd
# crates forbid unsafe code, and ASan costs ~5x the executions on the
# handshake target. libFuzzer's -timeout makes a hang a finding too.
san="${FUZZ_SANITIZER:-none}"
for t in $targets; do
    echo "=== fuzz target $t for ${secs}s"
    mkdir -p "$work/$t" "artifacts/$t"
    before="$(ls artifacts/$t | wc -l)"
    if ! cargo +nightly fuzz run -a -s "$san" "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1; then
        artifact="$(ls -t "artifacts/$t" | head -n 1)"
        echo "fuzz.sh: FINDING in target $t" >&2
        if [ -n "$artifact" ] && [ "$(ls artifacts/$t | wc -l)" -gt "$before" ]; then
            echo "fuzz.sh: artifact: $root/fuzz/artifacts/$t/$artifact" >&2
            echo "fuzz.sh: reproduce: (cd fuzz && cargo +nightly fuzz run -a -s $san $t artifacts/$t/$artifact)" >&2
        fi
        exit 1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        cargo +nightly fuzz run -a -s "$san" "$t" "corpus/$t" "$work/$t" -- -merge=1
    fi
done
echo "fuzz.sh: no findings ($targets, ${secs}s each)"
