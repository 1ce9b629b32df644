#!/usr/bin/env bash
# systemd-analyze verifies the unit `dd-agent service install` writes
# (crates/dd-agent/tests/service.rs). Debian's `systemd` package provides
# it; installing the package does not make systemd PID 1 (that is
# systemd-sysv) and starts nothing in a container, it only adds the tools.
set -euo pipefail
if command -v systemd-analyze >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "systemd-analyze missing and cannot apt-get install it here; the unit verification test will skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends systemd >/dev/null
systemd-analyze --version | head -1
