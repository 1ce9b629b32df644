#!/usr/bin/env bash
# Programs the screen-fidelity suite (crates/dd-companion/tests/fidelity.rs)
# runs in a dd session and compares through tmux. Idempotent.
set -euo pipefail
missing=()
for p in tmux vim less htop dialog; do
  command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v tput >/dev/null 2>&1 || missing+=(ncurses-bin)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
