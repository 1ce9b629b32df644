use super::*;

/// A screen and its detector, driven by hand (no PTY, no clock).
struct Rig {
    screen: Screen,
    prompts: Prompts,
    offset: u64,
    settings: PromptSettings,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            screen: Screen::new(10, 60),
            prompts: Prompts::new(),
            offset: 0,
            settings: PromptSettings::new(300, true),
        }
    }

    fn out(&mut self, b: &[u8]) {
        self.screen.process(b);
        let signals = self.screen.take_signals();
        self.offset += b.len() as u64;
        let ctx = Ctx {
            session: "s_1",
            title: "sh",
            screen: &self.screen,
            offset: self.offset,
        };
        self.prompts.on_output(&ctx, signals, &self.settings);
    }

    fn quiet(&mut self) -> bool {
        let ctx = Ctx {
            session: "s_1",
            title: "sh",
            screen: &self.screen,
            offset: self.offset,
        };
        self.prompts.on_quiet(&ctx, &self.settings, true)
    }

    /// The early check (before the whole quiet period).
    fn early(&mut self) -> bool {
        let ctx = Ctx {
            session: "s_1",
            title: "sh",
            screen: &self.screen,
            offset: self.offset,
        };
        self.prompts.on_quiet(&ctx, &self.settings, false)
    }

    /// Every event from generation `from` on, ignoring offsets.
    fn events(&self, from: u64) -> Vec<PromptEvent> {
        let mut seen = from;
        let mut out = Vec::new();
        while let Some((g, e)) = self.prompts.next_event(seen, u64::MAX) {
            seen = g;
            out.push(e);
        }
        out
    }
}

fn needed(e: &PromptEvent) -> &InputNeeded {
    match e {
        PromptEvent::Needed(p) => p,
        other => panic!("expected input_needed, got {other:?}"),
    }
}

#[test]
fn bell_raises_once_and_input_clears() {
    let mut r = Rig::new();
    r.out(b"$ make\r\nDone.\x07");
    r.out(b"\x07");
    let ev = r.events(0);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let p = needed(&ev[0]);
    assert_eq!(
        (p.seq, p.source, p.title.as_str()),
        (1, PromptSource::Bel, "sh")
    );
    assert_eq!(p.body, "Done.");
    assert_eq!(p.prompt, "$ make\nDone.");
    assert!(r.prompts.waiting().is_some());
    assert!(
        !r.prompts.on_input(b"\x1b[12;1R", r.offset),
        "a cursor report is no answer"
    );
    assert!(r.prompts.on_input(b"x", r.offset));
    assert!(r.prompts.waiting().is_none());
    assert!(!r.prompts.on_input(b"y", r.offset), "nothing left to clear");
    r.out(b"\x07");
    assert_eq!(
        r.events(0).len(),
        2,
        "a bell right after input is the owner's"
    );
    r.prompts.last_input = Some(Instant::now() - OWNER_ECHO);
    r.out(b"\x07");
    let ev = r.events(0);
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[1], PromptEvent::Cleared(1));
    assert_eq!(needed(&ev[2]).seq, 2);
}

#[test]
fn a_new_notification_replaces_the_waiting_one() {
    let mut r = Rig::new();
    r.out(b"\x1b]9;first\x07");
    r.out(b"\x1b]9;first\x07");
    r.out(b"\x1b]777;notify;T;second\x1b\\");
    let ev = r.events(0);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(needed(&ev[0]).body, "first");
    assert_eq!(ev[1], PromptEvent::Cleared(1));
    let p = needed(&ev[2]);
    assert_eq!((p.title.as_str(), p.body.as_str()), ("T", "second"));
    assert_eq!(p.source, PromptSource::Osc777);
}

#[test]
fn explicit_events_settle_before_screen_changes_clear_them() {
    let mut r = Rig::new();
    r.out(b"\x07");
    // The program draws its question after ringing: not a change yet.
    r.out(b"Apply? [y/N] ");
    assert!(r.prompts.waiting().is_some());
    assert!(needed(&r.events(0)[0]).choices.is_empty());
    // Settling replaces the bell's event with one that has the question
    // and its choices.
    assert!(r.quiet());
    let ev = r.events(0);
    assert_eq!(ev[1], PromptEvent::Cleared(1));
    let p = needed(&ev[2]);
    assert_eq!((p.seq, p.source), (2, PromptSource::Bel));
    assert_eq!(p.body, "Apply? [y/N]");
    assert_eq!(p.choices.len(), 2);
    assert!(!r.quiet(), "settled: nothing more");
    r.out(b"\x1b[H"); // cursor moves, screen text unchanged
    assert!(r.prompts.waiting().is_some());
    r.out(b"\r\nworking...");
    assert!(
        r.prompts.waiting().is_some(),
        "cleared only once the change lasts"
    );
    assert!(r.quiet());
    assert!(r.prompts.waiting().is_none(), "the screen moved on");
    assert_eq!(r.events(0)[3], PromptEvent::Cleared(2));
}

#[test]
fn a_signal_whose_screen_has_no_question_is_not_replaced() {
    let mut r = Rig::new();
    r.out(b"\x1b]9;Build finished\x07");
    r.out(b"log line\r\n");
    assert!(!r.quiet());
    assert_eq!(r.events(0).len(), 1);
    assert_eq!(r.prompts.waiting().unwrap().body, "Build finished");
}

#[test]
fn hook_signals_raise_and_clear_and_ignore_the_owner_window() {
    let mut r = Rig::new();
    // Claude Code's permission menu is on screen when its hook fires.
    r.out("Do you want to proceed?\r\n❯ 1. Yes\r\n  2. No\r\n".as_bytes());
    assert!(!r.prompts.on_input(b"", r.offset), "empty input is nothing");
    r.prompts.on_input(b"x", r.offset); // just typed: no owner window for hooks
    r.out(b"\x1b]6464;needed;t=Q2xhdWRl;b=UGVybWlzc2lvbg\x07");
    let ev = r.events(0);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let p = needed(&ev[0]);
    assert_eq!(
        (p.source, p.title.as_str(), p.body.as_str()),
        (PromptSource::Hook, "Claude", "Permission")
    );
    assert_eq!(p.choices.len(), 2, "choices read from the screen");
    // The same hook again changes nothing; a notification now would.
    r.out(b"\x1b]6464;needed;t=Q2xhdWRl;b=UGVybWlzc2lvbg\x07");
    assert_eq!(r.events(0).len(), 1);
    // The turn goes on.
    r.out(b"\x1b]6464;cleared\x07");
    assert_eq!(r.events(0)[1], PromptEvent::Cleared(1));
    assert!(r.prompts.waiting().is_none());
    r.out(b"\x1b]6464;cleared\x07");
    assert_eq!(r.events(0).len(), 2, "nothing left to clear");
    // A notification right after input is the owner's: nothing.
    r.prompts.on_input(b"\t", r.offset);
    r.out(b"\x1b]9;ding\x07");
    assert_eq!(r.events(0).len(), 2);
}

#[test]
fn heuristic_raises_once_per_prompt() {
    let mut r = Rig::new();
    r.out(b"Continue? [y/N] ");
    assert!(r.prompts.deadline(&r.settings).is_some());
    assert!(r.quiet());
    assert!(
        r.prompts.deadline(&r.settings).is_none(),
        "one check per quiet period"
    );
    let ev = r.events(0);
    let p = needed(&ev[0]);
    assert_eq!(p.source, PromptSource::Heuristic);
    assert_eq!(p.body, "Continue? [y/N]");
    assert_eq!(p.choices.len(), 2);
    // A redraw passing through a blank line, split across reads: the
    // prompt still waits, and is not raised again.
    r.out(b"\r\x1b[K");
    r.out(b"Continue? [y/N] ");
    assert!(!r.quiet());
    assert_eq!(r.events(0).len(), 1);
    assert_eq!(r.prompts.waiting().unwrap().seq, 1);
    // Input clears; the answer echoes; the next prompt is a new event.
    assert!(r.prompts.on_input(b"y\r", r.offset));
    r.out(b"y\r\nAgain? (y/n) ");
    assert!(r.quiet());
    let ev = r.events(0);
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[1], PromptEvent::Cleared(1));
    assert_eq!(needed(&ev[2]).seq, 2);
}

#[test]
fn heuristic_waits_for_quiet_and_respects_input_and_settings() {
    let mut r = Rig::new();
    r.out(b"Really? ");
    // Answered before the quiet period ended: nothing.
    assert!(!r.prompts.on_input(b"n\r", r.offset));
    assert!(!r.quiet());
    assert!(r.events(0).is_empty());
    // Turned off: nothing either.
    r.settings.set(300, false);
    r.out(b"\r\nSure? ");
    assert!(!r.quiet());
    r.settings.set(0, true);
    assert!(r.settings.quiet().is_none());
    r.out(b"\r\nPositive? ");
    assert!(!r.quiet());
    assert!(r.events(0).is_empty());
    // Not a question: nothing.
    r.settings.set(300, true);
    r.out(b"\r\n$ ");
    assert!(!r.quiet());
    assert!(r.events(0).is_empty());
}

#[test]
fn events_wait_for_their_output() {
    let mut r = Rig::new();
    r.out(b"hello\x07");
    let at = r.offset;
    assert_eq!(r.prompts.next_event(0, at - 1), None);
    assert!(r.prompts.next_event(0, at).is_some());
    let gen = r.prompts.gen();
    assert_eq!(r.prompts.next_event(gen, u64::MAX), None);
}

#[test]
fn the_log_is_bounded() {
    let mut r = Rig::new();
    for i in 0..100 {
        r.out(format!("\x1b]9;n{i}\x07").as_bytes());
    }
    assert!(r.prompts.log.len() <= LOG_LEN);
    // A subscriber far behind resumes at the oldest kept event.
    assert!(r.prompts.next_event(0, u64::MAX).is_some());
    assert_eq!(r.prompts.waiting().unwrap().seq, 100);
}

#[test]
fn terminal_reports() {
    for yes in [
        &b"\x1b[12;40R"[..],
        b"\x1b[?62;c",
        b"\x1b[I",
        b"\x1b[O\x1b[I",
        b"\x1b]11;rgb:0000/0000/0000\x07",
        b"\x1b]10;rgb:ffff/ffff/ffff\x1b\\",
        b"\x1bP1$r0m\x1b\\",
    ] {
        assert!(is_terminal_report(yes), "{yes:?}");
    }
    for no in [
        &b""[..],
        b"y",
        b"\r",
        b"\x1b[A",
        b"\x1b",
        b"\x1b[",
        b"\x1b[12;40",
        b"\x1b]11;unterminated",
        b"\x1b[Iy",
        b"\x1bOB",
    ] {
        assert!(!is_terminal_report(no), "{no:?}");
    }
}

#[test]
fn prompts_with_choices_are_raised_at_the_early_check() {
    let mut r = Rig::new();
    r.out(b"Continue? [y/N] ");
    let d = r.prompts.deadline(&r.settings).unwrap();
    assert!(d <= Instant::now() + CHOICES_QUIET);
    assert!(r.early(), "yes/no has choices: raised early");
    assert_eq!(needed(&r.events(0)[0]).choices.len(), 2);
    assert!(!r.quiet(), "the full check raises nothing more");
    // A bare question waits for the whole period.
    let mut r = Rig::new();
    r.out(b"What is your name? ");
    assert!(!r.early());
    assert!(
        r.prompts.deadline(&r.settings).is_some(),
        "the full check is still due"
    );
    assert!(r.quiet());
    assert!(needed(&r.events(0)[0]).choices.is_empty());
    // An early check does not clear a prompt whose screen changed; the full
    // one does.
    let mut r = Rig::new();
    r.out(b"Continue? [y/N] ");
    assert!(r.early());
    r.out(b"\r\nworking...");
    assert!(!r.early());
    assert!(r.prompts.waiting().is_some());
    assert!(r.quiet());
    assert!(r.prompts.waiting().is_none());
}

#[test]
fn a_question_drawn_late_replaces_the_signal_at_the_early_check() {
    let mut r = Rig::new();
    r.out(b"Tests passed.\r\n\x07");
    assert!(!r.early(), "settles: nothing on screen to add");
    r.out(b"Deploy now? [y/N] ");
    assert!(r.early(), "replaced as soon as output pauses");
    let ev = r.events(0);
    assert_eq!(ev[1], PromptEvent::Cleared(1));
    let p = needed(&ev[2]);
    assert_eq!((p.source, p.choices.len()), (PromptSource::Bel, 2));
    assert!(!r.quiet(), "nothing more at the full check");
}
