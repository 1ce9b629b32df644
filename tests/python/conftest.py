"""Fixtures for the dd-mobile FFI tests: a REAL dd-agent on 127.0.0.1:0 in a
tempdir (prompt quiet period 300 ms), an enrolled dd-client owner, and a
/bin/sh session.

Bindings come from $DD_PY_BINDINGS (default: <repo>/target/py-bindings, made by
`scripts/gen-bindings.sh python target/py-bindings`); the dd-agent and
dd-client binaries from $DD_BIN_DIR (default: $CARGO_TARGET_DIR/debug or
<repo>/target/debug; built with cargo when missing).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _path_from_env(var, default):
    p = Path(os.environ.get(var) or default)
    return p if p.is_absolute() else ROOT / p


BINDINGS = _path_from_env("DD_PY_BINDINGS", "target/py-bindings")
BIN_DIR = _path_from_env(
    "DD_BIN_DIR",
    Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug",
)

sys.path.insert(0, str(BINDINGS))


def _binaries():
    agent, client = BIN_DIR / "dd-agent", BIN_DIR / "dd-client"
    if not (agent.is_file() and client.is_file()):
        subprocess.run(
            ["cargo", "build", "-p", "dd-agent", "-p", "dd-client"],
            cwd=ROOT,
            check=True,
        )
    return agent, client


class Owner:
    """The agent and its enrolled desktop client."""

    def __init__(self, tmp, *serve_args):
        self.agent_bin, self.client_bin = _binaries()
        self.tmp = Path(tmp)
        self.state = self.tmp / "state"
        self.home = self.tmp / "owner"
        self.log = open(self.tmp / "agent.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(self.agent_bin),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
                str(self.state),
                # Prompts (input_needed) are found 300 ms after output stops.
                "--prompt-quiet",
                "300ms",
                *serve_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        ready = {}

        def read_ready():
            line = self.proc.stdout.readline()
            if line:
                ready.update(json.loads(line))
            for _ in self.proc.stdout:  # keep draining
                pass

        threading.Thread(target=read_ready, daemon=True).start()
        deadline = time.time() + 30
        while not ready and time.time() < deadline:
            time.sleep(0.02)
        assert ready, "dd-agent printed no ready line"
        self.url = ready["url"]
        self.agent_key = ready["agent_key"]
        link = json.loads(
            subprocess.run(
                [str(self.agent_bin), "enroll-link", "--json", "--state-dir", str(self.state)],
                check=True,
                capture_output=True,
            ).stdout
        )["link"]
        self.client("enroll", link, "--label", "py-owner", json_out=False)

    def client(self, *args, json_out=True, check=True):
        env = dict(os.environ, DD_CLIENT_HOME=str(self.home))
        env.pop("XDG_CONFIG_HOME", None)
        args = list(args)
        if json_out:
            args.insert(len(args) if "--" not in args else args.index("--"), "--json")
        out = subprocess.run(
            [str(self.client_bin), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
        if check:
            assert out.returncode == 0, f"dd-client {args}: {out.stderr.decode()}"
        return json.loads(out.stdout) if json_out and out.stdout.strip() else out

    def new_shell(self):
        return self.client("session", "new", "--detach", "--", "/bin/sh")["id"]

    def pair(self, session, *extra):
        return self.client("session", "pair-mobile", session, "--no-qr", *extra)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def owner():
    tmp = tempfile.mkdtemp(prefix="dd-ffi-")
    o = Owner(tmp)
    try:
        yield o
    finally:
        o.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def session(owner):
    return owner.new_shell()
