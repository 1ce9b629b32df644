"""The dd-mobile core's scrollback pages (Companion.history / History) and
its attach-free prompt answer (Companion.answer_prompt), through the
generated Python bindings against a real agent; also that redeem waits for
an agent that is not reachable yet (the iOS Local Network prompt)."""

import json
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse

import pytest

import dd_mobile as dm
from conftest import Owner
from test_ffi import Collector, PyStore, link_of, prompt_session, run, writer_and_viewer


def numbered_shell(owner, count):
    """A shell session that printed 1..count, one per line."""
    sid = owner.client(
        "session", "new", "--detach", "--",
        "sh", "-c", f"seq 1 {count}; echo done-printing; sleep 600",
    )["id"]
    return sid


def wait_meta(comp, session, pred, secs=20, what="meta"):
    deadline = time.time() + secs
    while time.time() < deadline:
        meta = run(comp.session_meta(session))
        if pred(meta):
            return meta
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def numbers(lines):
    return [int(l) for l in lines if l.isdigit()]


def test_history_pages_back_to_the_start(owner):
    count = 3000
    session = numbered_shell(owner, count)
    comp = dm.Companion(PyStore())
    run(comp.redeem(link_of(owner, session), "py-history"))
    end = wait_meta(comp, session, lambda m: m.end_offset > 14000, what="output").end_offset

    history = comp.history(session)
    assert history.session_id() == session
    empty = run(history.page())
    assert (empty.start, empty.end, empty.added, empty.lines) == (0, 0, 0, [])

    first = run(history.load_older(4096))
    # Anchored at the transcript's end; the newest page, rendered.
    assert first.end == end
    assert first.added == 4096 and first.start == end - 4096
    assert not first.at_beginning and not first.at_limit
    assert first.cols > 0
    assert "done-printing" in first.lines
    # The page may start mid-line: from its first whole line on, no gaps.
    got = numbers(first.lines)[1:]
    assert got == list(range(got[0], count + 1))

    # A page below the floor is raised to it; pages join without gaps.
    second = run(history.load_older(10))
    assert second.added == 1024 and second.start == first.start - 1024
    assert second.end == first.end

    pages = 2
    page = second
    while not page.at_beginning:
        page = run(history.load_older(8192))
        pages += 1
        assert pages < 20, "history never reached the start"
    assert page.start == 0
    assert numbers(page.lines) == list(range(1, count + 1))
    # At the beginning nothing more is fetched.
    again = run(history.load_older(8192))
    assert again.added == 0 and again.lines == page.lines


def test_history_survives_attach_snapshot_and_grows_newer(owner, session):
    comp = dm.Companion(PyStore())
    run(comp.redeem(link_of(owner, session), "py-history-live"))
    history = comp.history(session)
    before = run(history.load_older(1 << 20))
    assert before.at_beginning and before.start == 0

    # A live attach (snapshot, input, output) does not touch what was loaded.
    listener = Collector()
    handle = run(comp.attach(session, dm.ResumeFrom.SCREEN(), listener))
    run(handle.send_input(b"echo history-$((40+2))\r"))
    listener.wait(lambda l: b"history-42" in l.output, what="history-42")
    assert listener.snapshots == 1
    run(handle.detach())
    assert run(history.page()) == dm.HistoryPage(
        start=before.start, end=before.end, added=0, at_beginning=True,
        at_limit=False, lines=before.lines, cols=before.cols)

    newer = run(history.load_newer())
    assert newer.start == 0 and newer.end > before.end
    assert newer.added == newer.end - before.end
    assert newer.lines[: len(before.lines) - 1] == before.lines[:-1]
    assert "history-42" in newer.lines
    idle = run(history.load_newer())
    assert idle.added == 0 and idle.end == newer.end


@pytest.fixture(scope="module")
def capped_owner():
    """An agent that keeps only the last 64 KiB of each transcript on disk."""
    tmp = tempfile.mkdtemp(prefix="dd-ffi-cap-")
    o = Owner(tmp, "--transcript-cap", "64KiB")
    try:
        yield o
    finally:
        o.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_history_stops_at_what_the_agent_still_keeps(capped_owner):
    # 1.1 MB, more than the agent keeps in memory (1 MiB) and far over the cap.
    session = capped_owner.client(
        "session", "new", "--detach", "--",
        "sh", "-c", "head -c 1100000 /dev/zero | tr '\\0' x; echo; seq 1 2000; echo done-printing; sleep 600",
    )["id"]
    comp = dm.Companion(PyStore())
    run(comp.redeem(link_of(capped_owner, session), "py-history-cap"))
    end = wait_meta(comp, session, lambda m: m.end_offset > 1_100_000, what="output").end_offset
    history = comp.history(session)
    page = run(history.load_older(1 << 20))
    pages = 1
    while not page.at_beginning:
        page = run(history.load_older(1 << 20))
        pages += 1
        assert pages < 6, "history never reached what is kept"
    # It stops at the oldest byte still kept, not the transcript's start
    # (the agent reported the rest dropped), contiguous up to the end.
    assert 0 < page.start < end - 64 * 1024
    assert page.end == end
    assert not page.at_limit
    assert numbers(page.lines)[-2000:] == list(range(1, 2001))
    assert page.lines[-1] == "done-printing"
    again = run(history.load_older(1 << 20))
    assert again.added == 0 and again.start == page.start


def test_history_refusals(owner, session):
    comp = dm.Companion(PyStore())
    with pytest.raises(dm.MobileError.NotFound):
        comp.history("s_nope")
    # A read-only grant may read the history.
    ro = dm.Companion(PyStore())
    run(ro.redeem(link_of(owner, session, "--read-only"), "py-history-ro"))
    page = run(ro.history(session).load_older(2048))
    assert page.added > 0
    # A revoked grant may not.
    cred = run(comp.redeem(link_of(owner, session), "py-history-revoked"))
    history = comp.history(session)
    owner.client("session", "revoke", session, cred.grant_id)
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(history.load_older(2048))
    assert denied.value.code == "revoked"


def test_answer_prompt_without_attaching(owner):
    session = prompt_session(owner)
    comp, viewer = writer_and_viewer(owner, session, "py-answer")
    seq = wait_meta(comp, session, lambda m: m.waiting is not None, what="prompt").waiting.seq

    # A notification for an older (or newer) question is refused, nothing typed.
    with pytest.raises(dm.MobileError.Agent) as stale:
        run(comp.answer_prompt(session, seq + 1, "y", 1000))
    assert stale.value.code == "stale_prompt"
    assert f"question {seq}" in stale.value.message
    with pytest.raises(dm.MobileError.Agent) as bad:
        run(comp.answer_prompt(session, seq, "maybe", 1000))
    assert bad.value.code == "no_such_choice"
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(viewer.answer_prompt(session, seq, "y", 1000))
    assert denied.value.code == "forbidden"
    assert run(comp.session_meta(session)).waiting.seq == seq

    run(comp.answer_prompt(session, seq, "Yes", 1000))
    wait_meta(comp, session, lambda m: m.waiting is None, what="prompt cleared")
    history = comp.history(session)
    lines = run(history.load_older(4096)).lines
    deadline = time.time() + 10
    while "got-y" not in lines and time.time() < deadline:
        time.sleep(0.1)
        lines = run(history.load_newer()).lines
    assert "got-y" in lines, lines
    with pytest.raises(dm.MobileError.Agent) as idle:
        run(comp.answer_prompt(session, seq, "y", 1000))
    assert idle.value.code == "not_waiting"
    with pytest.raises(dm.MobileError.NotFound):
        run(comp.answer_prompt("s_nope", 1, "y", 1000))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_agent_url(link, url):
    head, frag = link.split("#", 1)
    base, query = head.split("?", 1)
    items = urllib.parse.parse_qsl(query)
    items = [(k, url if k == "agent" else v) for k, v in items]
    return f"{base}?{urllib.parse.urlencode(items)}#{frag}"


class LateForwarder:
    """Listens on `port` only after `delay` s, then forwards to the agent."""

    def __init__(self, port, target, delay):
        self.port, self.target, self.delay = port, target, delay
        self.stop = threading.Event()
        self.sock = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        if self.stop.wait(self.delay):
            return
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen()
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        if self.sock:
            self.sock.close()


def test_redeem_waits_for_an_agent_not_reachable_yet(owner, session):
    agent = urllib.parse.urlparse(owner.url)
    port = free_port()
    late = LateForwarder(port, (agent.hostname, agent.port), delay=1.5)
    try:
        link = with_agent_url(link_of(owner, session), f"http://127.0.0.1:{port}")
        comp = dm.Companion(PyStore())
        cred = run(comp.redeem(link, "py-late"))
        assert cred.session_id == session
        assert cred.agent_url == f"http://127.0.0.1:{port}"
    finally:
        late.close()


def test_answer_prompt_gives_up_when_the_agent_stays_unreachable(owner, session):
    store = PyStore()
    comp = dm.Companion(store)
    run(comp.redeem(link_of(owner, session), "py-unreachable"))
    key = f"cred/{session}"
    stored = json.loads(store.data[key])
    stored["agent_url"] = f"http://127.0.0.1:{free_port()}"
    store.data[key] = json.dumps(stored).encode()
    started = time.monotonic()
    with pytest.raises(dm.MobileError.Network):
        run(comp.answer_prompt(session, 1, "y", 800))
    # It kept trying for its budget rather than failing at the first refusal.
    assert time.monotonic() - started >= 0.7
