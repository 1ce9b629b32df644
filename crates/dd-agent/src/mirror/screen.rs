//! The terminal screen model: an emulator ([`super::term`]) fed with every output byte, so
//! a late joiner can be sent the current screen at once, and so prompts are
//! recognized on the screen rather than in raw bytes.

use super::signals::{self, Signal};
use dd_term::{Events, Term};

/// Longest title kept, in characters; longer titles are cut.
const MAX_TITLE_CHARS: usize = 256;

/// Most notification signals kept from one chunk of output.
const MAX_SIGNALS: usize = 8;

/// Collects the window title the program sets (OSC 0 / OSC 2) and the
/// notification signals it sends (BEL, OSC 9 / 777 / 99).
#[derive(Default)]
struct TitleCallbacks {
    title: String,
    changed: bool,
    signals: Vec<Signal>,
    kitty: signals::KittyAssembler,
}

impl TitleCallbacks {
    fn push(&mut self, s: Signal) {
        // Consecutive identical signals (a bell rung ten times) count once.
        if self.signals.len() < MAX_SIGNALS && self.signals.last() != Some(&s) {
            self.signals.push(s);
        }
    }
}

impl Events for TitleCallbacks {
    fn bell(&mut self) {
        self.push(Signal::Bel);
    }

    fn osc(&mut self, params: &[&[u8]]) {
        if let Some(s) = signals::from_osc(params, &mut self.kitty) {
            self.push(s);
        }
    }

    fn title(&mut self, title: &[u8]) {
        let title: String = String::from_utf8_lossy(title)
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_TITLE_CHARS)
            .collect();
        if title != self.title {
            self.title = title;
            self.changed = true;
        }
    }
}

/// A session's screen.
pub(crate) struct Screen {
    term: Term,
    parser: vte::Parser,
    cb: TitleCallbacks,
    /// How many times the emulator panicked on this session's output (and
    /// the screen was started afresh).
    panics: u32,
}

impl Screen {
    /// A blank screen of `rows` x `cols` (no scrollback: the transcript is
    /// the history).
    pub(crate) fn new(rows: u16, cols: u16) -> Screen {
        Screen {
            term: Term::new(rows, cols),
            parser: vte::Parser::new(),
            cb: TitleCallbacks::default(),
            panics: 0,
        }
    }

    /// Feeds output bytes; returns true when the title changed.
    ///
    /// A panic in the emulator (there is no known one; this is the
    /// containment issue 13 asked for) affects this screen only: it is
    /// logged, the screen starts again blank at the same size (the title
    /// is kept), and the session's output goes on streaming as before.
    pub(crate) fn process(&mut self, bytes: &[u8]) -> bool {
        self.guarded(|term, parser, cb| term.process(parser, bytes, cb));
        std::mem::take(&mut self.cb.changed)
    }

    fn guarded(&mut self, f: impl FnOnce(&mut Term, &mut vte::Parser, &mut TitleCallbacks)) {
        let Screen {
            term, parser, cb, ..
        } = self;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(term, parser, cb)));
        if run.is_err() {
            self.panics = self.panics.saturating_add(1);
            tracing::error!(
                panics = self.panics,
                "the screen model panicked; starting this session's screen afresh"
            );
            let (rows, cols) = (self.term.rows, self.term.cols);
            self.term = Term::new(rows, cols);
            self.parser = vte::Parser::new();
        }
    }

    /// Resizes the screen.
    pub(crate) fn resize(&mut self, rows: u16, cols: u16) {
        self.guarded(|term, _, _| term.resize(rows, cols));
    }

    /// The title the program set, or empty.
    pub(crate) fn title(&self) -> &str {
        &self.cb.title
    }

    /// The notification signals seen since the last call.
    pub(crate) fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.cb.signals)
    }

    /// The visible rows as text (trailing blanks dropped).
    pub(crate) fn lines(&self) -> Vec<String> {
        self.term.lines()
    }

    /// True when the program put the cursor keys in application mode
    /// (arrows are then `ESC O A`... rather than `ESC [ A`...).
    pub(crate) fn application_cursor(&self) -> bool {
        self.term.app_cursor
    }

    /// Bytes that restore this screen's whole state on a fresh terminal of
    /// the same size (see `dd_term`'s snapshot module).
    pub(crate) fn repaint(&self) -> Vec<u8> {
        self.term.snapshot(&self.cb.title)
    }

    /// The screen's plain text, for tests and diagnostics.
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        self.lines().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repaint_reproduces_the_screen() {
        let mut a = Screen::new(5, 20);
        a.process(b"hello\r\n\x1b[1;31mred\x1b[0m world\x1b[2;3H");
        let data = a.repaint();
        let mut b = Screen::new(5, 20);
        b.process(b"garbage that the repaint must clear");
        b.process(&data);
        assert_eq!(a.text(), b.text());
        assert_eq!((a.term.row, a.term.col), (b.term.row, b.term.col));
        assert_eq!(b.term.grid().rows[1][0].pen.fg, dd_term::Color::Idx(1));
    }

    #[test]
    fn a_panic_in_the_model_is_contained_to_this_screen() {
        let mut s = Screen::new(3, 10);
        s.process(b"\x1b]2;kept\x07before");
        s.guarded(|_, _, _| panic!("injected"));
        assert_eq!(s.panics, 1);
        // Blank again, same size, title kept, and it goes on working.
        assert_eq!(s.lines(), vec!["", "", ""]);
        assert_eq!(s.title(), "kept");
        s.process(b"after");
        assert_eq!(s.lines()[0], "after");
    }

    #[test]
    fn title_changes_are_reported_once() {
        let mut s = Screen::new(5, 20);
        assert!(!s.process(b"plain"));
        assert!(s.process(b"\x1b]2;my title\x07"));
        assert_eq!(s.title(), "my title");
        assert!(!s.process(b"\x1b]0;my title\x07"));
        assert!(s.process(b"\x1b]0;x\x1b\\"));
        assert_eq!(s.title(), "x");
    }

    #[test]
    fn hostile_titles_are_cleaned_and_cut() {
        let mut s = Screen::new(5, 20);
        let mut seq = b"\x1b]2;".to_vec();
        seq.extend(std::iter::repeat_n(b'a', 1000));
        seq.extend_from_slice(b"\xff\x07");
        s.process(&seq);
        assert_eq!(s.title().chars().count(), MAX_TITLE_CHARS);
        s.process(b"\x1b]2;a\x01b\x07");
        assert_eq!(s.title(), "ab");
    }

    #[test]
    fn signals_are_collected_outside_osc_only() {
        let mut s = Screen::new(5, 40);
        s.process(b"\x1b]2;title with bel terminator\x07");
        assert!(s.take_signals().is_empty());
        s.process(b"done\x07\x07\x1b]9;Build finished\x1b\\");
        assert_eq!(
            s.take_signals(),
            vec![
                Signal::Bel,
                Signal::notify(signals::Kind::Osc9, "", "Build finished")
            ]
        );
        assert!(s.take_signals().is_empty());
        assert_eq!(s.lines()[0], "done");
        assert!(!s.application_cursor());
        s.process(b"\x1b[?1h");
        assert!(s.application_cursor());
    }

    #[test]
    fn resize_changes_the_size() {
        let mut s = Screen::new(5, 20);
        s.resize(10, 40);
        assert_eq!((s.term.rows, s.term.cols), (10, 40));
    }
}
