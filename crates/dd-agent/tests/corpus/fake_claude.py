"""A stand-in for Claude Code in the prompt corpus: draws its permission
menu (an Ink-style box with `❯ 1. Yes`) or its input box, and runs its
hooks the way Claude Code documents them: the command from settings.json
through `sh -c`, the event's JSON on stdin.

usage: fake_claude.py permission|early|stop|menu HOOK_COMMAND
"""
import json, os, subprocess, sys, termios, time, tty

mode, hook_cmd = sys.argv[1], sys.argv[2]
base = {"session_id": "0d7c", "transcript_path": "/tmp/t.jsonl", "cwd": os.getcwd()}


def hook(event, **fields):
    if mode == "menu":
        return
    payload = dict(base, hook_event_name=event, **fields)
    subprocess.run(["sh", "-c", hook_cmd], input=json.dumps(payload).encode())


ITEMS = ["Yes", "Yes, and don't ask again", "No, and tell Claude what to do"]


def draw(sel, first):
    out = sys.stdout
    if not first:
        out.write("\x1b[8A\r")
    out.write("╭──────────────────────────────────────────╮\x1b[K\r\n")
    out.write("│ Bash command                             │\x1b[K\r\n")
    out.write("│   rm -rf build                           │\x1b[K\r\n")
    out.write("│ Do you want to proceed?                  │\x1b[K\r\n")
    for i, item in enumerate(ITEMS):
        mark = "❯" if i == sel else " "
        out.write("│ %s %d. %-37s │\x1b[K\r\n" % (mark, i + 1, item))
    out.write("╰──────────────────────────────────────────╯\x1b[K\r\n")
    out.flush()


def menu():
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setraw(fd)
    sys.stdout.write("\x1b[?25l")
    sel = 0
    draw(sel, True)
    if mode == "permission":
        hook("Notification", message="Claude needs your permission to use Bash",
             notification_type="permission_prompt")
    try:
        buf = b""
        while True:
            buf += os.read(fd, 16)
            while buf:
                if buf.startswith((b"\x1b[A", b"\x1bOA")):
                    sel, buf = max(sel - 1, 0), buf[3:]
                elif buf.startswith((b"\x1b[B", b"\x1bOB")):
                    sel, buf = min(sel + 1, len(ITEMS) - 1), buf[3:]
                elif buf[:1] in (b"\r", b"\n"):
                    termios.tcsetattr(fd, termios.TCSADRAIN, old)
                    print("\x1b[?25hchose: %s" % ITEMS[sel], flush=True)
                    hook("PostToolUse", tool_name="Bash", tool_input={"command": "rm -rf build"})
                    return
                elif buf[:1] == b"\x1b" and len(buf) < 3:
                    break
                else:
                    buf = buf[1:]
                draw(sel, False)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


print("⏺ I will remove the build directory.", flush=True)
if mode == "early":
    # The hook fires a moment before the menu is on screen.
    hook("Notification", message="Claude needs your permission to use Bash",
         notification_type="permission_prompt")
    time.sleep(0.3)
if mode in ("permission", "early", "menu"):
    menu()
else:
    print("⏺ Done: build/ is gone.\r\n╭──────────────────────────────────────────╮\r\n│ >                                        │\r\n╰──────────────────────────────────────────╯", flush=True)
    hook("Stop", stop_hook_active=False)
    line = sys.stdin.readline().strip()
    hook("UserPromptSubmit", prompt=line)
    print("prompt: %s" % line, flush=True)
