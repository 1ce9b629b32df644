#!/usr/bin/env bash
# The benchmark suite: dd against OpenSSH on this machine, over loopback.
#
#   scripts/bench.sh [--quick] [--only echo,fanout,pairing,latejoin,rest]
#
# Installs OpenSSH's server if missing (Debian packages), builds --release,
# starts a throwaway sshd on 127.0.0.1 (free port, throwaway host and user
# keys, key login only), runs dd-bench (which starts its own dd agents on
# 127.0.0.1:0, a fresh one per measure) and writes docs/benchmarks.md (the
# generated part between its markers) and docs/benchmarks.json. Everything
# it started is stopped and its temp dir removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ARGS=("$@")
for a in "$@"; do
    case "$a" in
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
SSHD=$(command -v sshd || true)
[ -z "$SSHD" ] && [ -x /usr/sbin/sshd ] && SSHD=/usr/sbin/sshd
if [ -z "$SSHD" ] || ! command -v ssh >/dev/null; then
    echo "bench: installing openssh-server and openssh-client" >&2
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y openssh-server openssh-client
    SSHD=/usr/sbin/sshd
fi

echo "bench: building (release)" >&2
cargo build --release -p dd-agent -p dd-client -p dd-companion -p dd-bench
BINS="${CARGO_TARGET_DIR:-$ROOT/target}/release"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dd-bench.XXXXXX")
SSHD_PID=""
BENCH_PID=""
cleanup() {
    if [ -n "$BENCH_PID" ]; then
        # dd-bench's agents and clients first, then dd-bench itself.
        pkill -TERM -P "$BENCH_PID" 2>/dev/null || true
        kill "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; wait "$SSHD_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/user_key"
cp "$TMP/user_key.pub" "$TMP/authorized_keys"
USER_NAME=$(id -un)
PORT=$("$BINS/dd-bench" free-port)
cat > "$TMP/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
AllowUsers $USER_NAME
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
PrintMotd no
PrintLastLog no
Banner none
LogLevel ERROR
CFG
$SUDO mkdir -p /run/sshd
"$SSHD" -f "$TMP/sshd_config" -D -e 2>"$TMP/sshd.log" &
SSHD_PID=$!
for _ in $(seq 50); do
    if ssh -p "$PORT" -i "$TMP/user_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o LogLevel=ERROR "$USER_NAME@127.0.0.1" true 2>/dev/null; then
        break
    fi
    sleep 0.1
done
ssh -p "$PORT" -i "$TMP/user_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o BatchMode=yes -o LogLevel=ERROR "$USER_NAME@127.0.0.1" true \
    || { echo "bench: sshd did not come up:" >&2; cat "$TMP/sshd.log" >&2; exit 1; }

# 1,000 companions need more than the default 1,024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

"$BINS/dd-bench" run --bins "$BINS" --ssh-port "$PORT" --ssh-key "$TMP/user_key" \
    --ssh-user "$USER_NAME" --md docs/benchmarks.md --json docs/benchmarks.json \
    --command "scripts/bench.sh${ARGS[*]:+ ${ARGS[*]}}" "${ARGS[@]}" &
BENCH_PID=$!
wait "$BENCH_PID"
BENCH_PID=""
