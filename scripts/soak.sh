#!/usr/bin/env bash
# Soak run: hundreds of companions reconnecting in a loop against one agent
# whose session keeps printing, for minutes, sampling the agent's RSS, open
# fds and threads from /proc and failing on growth (bounds in the header of
# crates/dd-agent/tests/soak.rs).
#
#   scripts/soak.sh [MINUTES] [COMPANIONS]      (defaults: 5 and 300)
#
# Builds --release and runs the soak test with SOAK_SECS / SOAK_COMPANIONS
# set; prints the samples table. The same test runs for 15 s with 100
# companions in `cargo test` (CI). The agent and its temp dir go away when
# the test ends.
set -euo pipefail

case "${1:-}" in
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
MINUTES=${1:-5}
COMPANIONS=${2:-300}
if ! [[ "$MINUTES" =~ ^[0-9]+$ && "$COMPANIONS" =~ ^[0-9]+$ ]] || [ "$MINUTES" = 0 ] || [ "$COMPANIONS" = 0 ]; then
    echo "usage: scripts/soak.sh [MINUTES] [COMPANIONS]  (positive integers)" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
export SOAK_SECS=$((MINUTES * 60))
export SOAK_COMPANIONS=$COMPANIONS
export SOAK_SAMPLE_MS=${SOAK_SAMPLE_MS:-$((MINUTES * 1000 > 10000 ? 10000 : MINUTES * 1000))}
echo "soak: $MINUTES min, $COMPANIONS companions, a sample every $((SOAK_SAMPLE_MS / 1000)) s" >&2
cargo build --release -p dd-agent --bins
exec cargo test --release -p dd-agent --test soak -- --nocapture --test-threads=1
