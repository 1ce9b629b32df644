"""A stand-in for Codex in the prompt corpus: finishes a turn and runs its
`notify` program the way Codex documents it: the configured argv with the
notification JSON appended as one more argument.

usage: fake_codex.py NOTIFY_ARGV...
"""
import json, subprocess, sys

notify = sys.argv[1:]
print("• Updated src/lib.rs (2 files changed)")
print("• Done. Shall I run the tests as well")
print("", flush=True)
sys.stdout.write("› ")
sys.stdout.flush()
payload = {
    "type": "agent-turn-complete",
    "thread-id": "b5f6c1c2",
    "turn-id": "12345",
    "cwd": "/tmp",
    "input-messages": ["Rename `foo` to `bar` and update the callsites."],
    "last-assistant-message": "Done. Shall I run the tests as well",
}
subprocess.run(notify + [json.dumps(payload)])
line = sys.stdin.readline().strip()
print("prompt: %s" % line, flush=True)
