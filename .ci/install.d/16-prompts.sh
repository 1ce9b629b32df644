#!/usr/bin/env bash
# Prompt programs for the input-needed corpus test
# (crates/dd-agent/tests/prompt_corpus.rs): Debian's dialog, whiptail, git
# and htop, questionary from PyPI, inquirer from npm. Idempotent; inquirer
# goes into a cache directory outside the repository.
set -euo pipefail
need=()
for p in dialog:dialog whiptail:whiptail git:git htop:htop; do
  command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! python3 -c 'import questionary' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check questionary
fi
dir="${DD_CORPUS_NODE:-/tmp/dd-prompt-corpus}"
if [ ! -d "$dir/node_modules/inquirer" ]; then
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" inquirer@12 >/dev/null
fi
