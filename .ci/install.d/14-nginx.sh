#!/usr/bin/env bash
# Issue 14 (phones on real networks): the TLS tests put a real nginx in
# front of the agent, with a throwaway CA made by openssl; the namespace
# tests need iproute2. Idempotent: installs only what is missing.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "14-nginx: not root; skipping install of ${need[*]} (the TLS/netns tests will skip)"
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package starts a default server on :80; the tests run their own.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
  [ -x /usr/sbin/service ] && service nginx stop >/dev/null 2>&1 || true
fi
