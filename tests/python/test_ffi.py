"""The dd-mobile core through its generated Python bindings (UniFFI), against
a real agent: parse, redeem, list, attach, input, denials, revocation,
detach, read-only, expired links, forget, prompts (input needed) and answers."""

import asyncio
import json
import threading
import time

import pytest

import dd_mobile as dm


class PyStore(dm.SecureStore):
    """The SecureStore foreign trait over a dict."""

    def __init__(self):
        self.data = {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            return self.data.get(key)

    def set(self, key, value):
        with self.lock:
            self.data[key] = bytes(value)

    def delete(self, key):
        with self.lock:
            self.data.pop(key, None)

    def list(self, prefix):
        with self.lock:
            return sorted(k for k in self.data if k.startswith(prefix))


class Collector(dm.SessionListener):
    """A SessionListener that records everything (called from Rust threads)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.output = bytearray()
        self.states = []
        self.notices = []
        self.metas = []
        self.snapshots = 0
        self.prompts = []
        self.cleared = []

    def on_snapshot(self, offset, rows, cols, data):
        with self.lock:
            self.snapshots += 1
            self.output += data

    def on_output(self, offset, data):
        with self.lock:
            self.output += data

    def on_meta(self, meta):
        with self.lock:
            self.metas.append(meta)

    def on_state(self, state):
        with self.lock:
            self.states.append(state)

    def on_notice(self, code, message):
        with self.lock:
            self.notices.append((code, message))

    def on_input_needed(self, prompt):
        with self.lock:
            self.prompts.append(prompt)

    def on_input_cleared(self, seq):
        with self.lock:
            self.cleared.append(seq)

    def wait(self, pred, secs=10.0, what="condition"):
        deadline = time.time() + secs
        while time.time() < deadline:
            with self.lock:
                if pred(self):
                    return
            time.sleep(0.02)
        raise AssertionError(
            f"timed out waiting for {what}: states={self.states} notices={self.notices} "
            f"prompts={self.prompts} cleared={self.cleared} "
            f"output={bytes(self.output)[-300:]!r}"
        )


def run(coro):
    return asyncio.run(coro)


def link_of(owner, session, *extra):
    return owner.pair(session, *extra)["link"]


def prompt_session(owner, then="sleep 600"):
    """A bash session that asks `Continue? [y/N]`, echoes got-<answer>, then runs `then`."""
    return owner.client(
        "session", "new", "--detach", "--",
        "bash", "-c", f"read -p 'Continue? [y/N] ' a; echo got-$a; {then}",
    )["id"]


def writer_and_viewer(owner, session, label):
    """Two companions of `session`: one that may type, one read-only."""
    comp = dm.Companion(PyStore())
    run(comp.redeem(link_of(owner, session), label))
    viewer = dm.Companion(PyStore())
    run(viewer.redeem(link_of(owner, session, "--read-only"), label + "-ro"))
    return comp, viewer


def test_parse_link(owner, session):
    link = link_of(owner, session)
    offer = dm.parse_link(link)
    assert offer.agent_url == owner.url
    assert offer.session_id == session
    assert offer.read_only is False
    assert offer.expires_at > time.time()
    with pytest.raises(dm.MobileError.NotDdLink):
        dm.parse_link("https://example.com/")
    with pytest.raises(dm.MobileError.InvalidLink):
        dm.parse_link(link.split("#")[0])
    assert dm.core_version()


def test_redeem_attach_input_denial_revoke(owner, session):
    store = PyStore()
    comp = dm.Companion(store)
    cred = run(comp.redeem(link_of(owner, session), "py-phone"))
    assert cred.session_id == session
    assert cred.grant_id.startswith("g_")
    assert cred.agent_url == owner.url
    assert cred.agent_key == owner.agent_key
    assert cred.read_only is False
    assert "input" in cred.ops
    assert cred.session_name == "sh"
    # Stored under cred/<session>, with its own private key.
    assert store.list("") == [f"cred/{session}"]
    stored = json.loads(store.data[f"cred/{session}"])
    assert len(stored["private_key"]) == 43
    creds = comp.list_credentials()
    assert [c.grant_id for c in creds] == [cred.grant_id]

    meta = run(comp.session_meta(session))
    assert meta.id == session and meta.status == "running"

    listener = Collector()

    async def attach_and_type():
        handle = await comp.attach(session, dm.ResumeFrom.SCREEN(), listener)
        assert handle.session_id() == session
        await handle.send_input(b"echo ffi-$((6*7))\r")
        return handle

    handle = run(attach_and_type())
    listener.wait(lambda l: b"ffi-42" in l.output, what="ffi-42")
    assert listener.states[0].is_connecting() and listener.states[1].is_live()
    assert listener.metas and listener.metas[0].id == session
    assert handle.last_offset() > 0

    with pytest.raises(dm.MobileError.Denied) as denied:
        run(comp.call(session, "session.list", "{}"))
    assert denied.value.code == "forbidden"
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(comp.call(session, "session.resize", json.dumps({"session": session, "rows": 5, "cols": 5})))
    assert denied.value.code == "forbidden"
    result = json.loads(run(comp.call(session, "session.meta", json.dumps({"session": session}))))
    assert result["id"] == session

    owner.client("session", "revoke", session, cred.grant_id)
    listener.wait(lambda l: l.states and l.states[-1].is_revoked(), secs=5, what="Revoked")
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(comp.session_meta(session))
    assert denied.value.code == "revoked"
    # forget is best effort once revoked, and deletes the credential.
    run(comp.forget(session))
    assert comp.list_credentials() == []
    with pytest.raises(dm.MobileError.NotFound):
        run(comp.forget(session))


def test_detach(owner, session):
    comp = dm.Companion(PyStore())
    run(comp.redeem(link_of(owner, session), "py-phone-2"))
    listener = Collector()

    async def attach_then_detach():
        handle = await comp.attach(session, dm.ResumeFrom.START(), listener)
        await handle.detach()
        return handle

    run(attach_then_detach())
    listener.wait(lambda l: l.states and l.states[-1].is_detached(), secs=5, what="Detached")
    assert sum(1 for s in listener.states if s.is_detached()) == 1


def test_read_only(owner, session):
    comp = dm.Companion(PyStore())
    cred = run(comp.redeem(link_of(owner, session, "--read-only"), "py-ro"))
    assert cred.read_only is True
    assert "input" not in cred.ops
    listener = Collector()

    async def attach_and_try():
        handle = await comp.attach(session, dm.ResumeFrom.SCREEN(), listener)
        await handle.send_input(b"echo nope\r")
        return handle

    handle = run(attach_and_try())
    listener.wait(lambda l: any(c == "forbidden" for c, _ in l.notices), what="forbidden notice")
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(comp.call(session, "session.input", json.dumps({"session": session, "data": "eA"})))
    assert denied.value.code == "forbidden"
    run(handle.detach())


def test_expired_link(owner, session):
    link = link_of(owner, session, "--ttl", "1s")
    time.sleep(1.5)
    with pytest.raises(dm.MobileError.LinkExpired):
        dm.parse_link(link)
    comp = dm.Companion(PyStore())
    with pytest.raises((dm.MobileError.LinkExpired, dm.MobileError.Denied)) as err:
        run(comp.redeem(link, "late"))
    if isinstance(err.value, dm.MobileError.Denied):
        assert err.value.code.startswith("token_")
    assert comp.list_credentials() == []


def test_used_token_is_denied(owner, session):
    link = link_of(owner, session)
    run(dm.Companion(PyStore()).redeem(link, "first"))
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(dm.Companion(PyStore()).redeem(link, "second"))
    assert denied.value.code == "token_used"


def test_input_needed_answer_and_clear(owner):
    session = prompt_session(owner, "sleep 60")
    comp, viewer = writer_and_viewer(owner, session, "py-prompt")
    listener = Collector()
    handle = run(comp.attach(session, dm.ResumeFrom.START(), listener))
    listener.wait(lambda l: l.prompts, secs=20, what="on_input_needed")

    p = listener.prompts[0]
    assert p.session_id == session
    assert p.seq >= 1
    assert p.body == "Continue? [y/N]"
    assert p.prompt.endswith("Continue? [y/N]")
    assert p.source == "heuristic"
    assert p.at > 0
    assert [(c.label, bytes(c.input)) for c in p.choices] == [("Yes", b"y\r"), ("No", b"n\r")]

    # A late joiner gets the waiting prompt with the metadata and the listener.
    late = Collector()
    ro = run(viewer.attach(session, dm.ResumeFrom.SCREEN(), late))
    late.wait(lambda l: l.prompts, what="waiting prompt on attach")
    assert late.metas[0].waiting is not None
    assert late.metas[0].waiting.seq == p.seq
    assert [x.seq for x in late.prompts] == [p.seq]
    assert run(viewer.session_meta(session)).waiting.seq == p.seq
    # Read-only: may see it, may not answer it.
    with pytest.raises(dm.MobileError.Denied) as denied:
        run(ro.answer("y"))
    assert denied.value.code == "forbidden"

    with pytest.raises(dm.MobileError.Agent) as bad:
        run(handle.answer("maybe"))
    assert bad.value.code == "no_such_choice"
    assert "1) Yes, 2) No" in bad.value.message
    assert listener.cleared == []

    run(handle.answer("y"))
    listener.wait(lambda l: l.cleared == [p.seq], what="on_input_cleared")
    listener.wait(lambda l: b"got-y" in l.output, what="got-y")
    late.wait(lambda l: l.cleared == [p.seq], what="cleared for the viewer too")
    with pytest.raises(dm.MobileError.Agent) as idle:
        run(handle.answer("y"))
    assert idle.value.code == "not_waiting"
    assert len(listener.prompts) == 1
    run(ro.detach())
    run(handle.detach())
    listener.wait(lambda l: l.states and l.states[-1] == dm.ConnectionState.DETACHED(), what="detached")


def test_lifecycle_probe_finds_a_silent_link_and_path_change_resumes(owner, session):
    """The app lifecycle calls: on foreground every attach probes its link
    (2 s) and resumes if it is dead; a path change retries at once. The
    agent is frozen with SIGSTOP: its TCP stays up (the kernel still ACKs)
    but nothing answers, as on a link that died without a FIN."""
    import os
    import signal

    comp = dm.Companion(PyStore())
    # Keepalive far beyond the test, so only the probe can notice.
    comp.set_keepalive(30_000, 60_000)
    with pytest.raises(dm.MobileError.Agent):
        comp.set_keepalive(5_000, 5_000)
    run(comp.redeem(link_of(owner, session), "py-phone-life"))
    listener = Collector()

    async def attach():
        handle = await comp.attach(session, dm.ResumeFrom.SCREEN(), listener)
        await handle.send_input(b"echo life-$((6*7))\r")
        return handle

    handle = run(attach())
    listener.wait(lambda l: b"life-42" in l.output, what="life-42")

    # A healthy link answers the probe: no reconnect.
    comp.app_did_enter_background()
    comp.app_did_become_active()
    comp.network_path_changed()
    time.sleep(1.0)
    with listener.lock:
        assert not any(s.is_reconnecting() for s in listener.states), listener.states

    os.kill(owner.proc.pid, signal.SIGSTOP)
    try:
        start = time.time()
        comp.app_did_become_active()
        listener.wait(lambda l: l.states[-1].is_reconnecting(), secs=4, what="Reconnecting")
        noticed = time.time() - start
        assert noticed < 3.5, noticed
    finally:
        os.kill(owner.proc.pid, signal.SIGCONT)
    # The path works again: retry now rather than at the next backoff step
    # (or after a connect attempt stuck on the frozen agent times out).
    start = time.time()
    comp.network_path_changed()
    listener.wait(lambda l: l.states[-1].is_live(), secs=4, what="Live again")
    assert time.time() - start < 3.0
    run(handle.send_input(b"echo back-$((6*7))\r"))
    listener.wait(lambda l: b"back-42" in l.output, what="back-42")
    run(handle.detach())
