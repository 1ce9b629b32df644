//! The terminal screen model: a vt100 parser fed with every output byte, so
//! a late joiner can be sent the current screen at once, and so prompts are
//! recognized on the screen rather than in raw bytes.

use super::signals::{self, Signal};

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

impl vt100::Callbacks for TitleCallbacks {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.push(Signal::Bel);
    }

    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        if let Some(s) = signals::from_osc(params, &mut self.kitty) {
            self.push(s);
        }
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
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
    parser: vt100::Parser<TitleCallbacks>,
}

impl Screen {
    /// A blank screen of `rows` x `cols` (no scrollback: the transcript is
    /// the history).
    pub(crate) fn new(rows: u16, cols: u16) -> Screen {
        Screen {
            parser: vt100::Parser::new_with_callbacks(rows, cols, 0, TitleCallbacks::default()),
        }
    }

    /// Feeds output bytes; returns true when the title changed.
    pub(crate) fn process(&mut self, bytes: &[u8]) -> bool {
        self.parser.process(bytes);
        std::mem::take(&mut self.parser.callbacks_mut().changed)
    }

    /// Resizes the screen.
    pub(crate) fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// The title the program set, or empty.
    pub(crate) fn title(&self) -> &str {
        &self.parser.callbacks().title
    }

    /// The notification signals seen since the last call.
    pub(crate) fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.parser.callbacks_mut().signals)
    }

    /// The visible rows as text (trailing blanks dropped).
    pub(crate) fn lines(&self) -> Vec<String> {
        let s = self.parser.screen();
        s.rows(0, s.size().1).collect()
    }

    /// True when the program put the cursor keys in application mode
    /// (arrows are then `ESC O A`... rather than `ESC [ A`...).
    pub(crate) fn application_cursor(&self) -> bool {
        self.parser.screen().application_cursor()
    }

    /// Bytes that repaint this screen on a fresh terminal of the same size:
    /// alternate-screen switch if active, clear and home, contents with
    /// attributes, input modes, cursor position and visibility, and the
    /// current drawing attributes.
    pub(crate) fn repaint(&self) -> Vec<u8> {
        let s = self.parser.screen();
        let mut out = Vec::new();
        if s.alternate_screen() {
            out.extend_from_slice(b"\x1b[?1049h");
        }
        out.extend_from_slice(b"\x1b[H\x1b[2J");
        out.extend_from_slice(&s.state_formatted());
        out.extend_from_slice(&s.cursor_state_formatted());
        out.extend_from_slice(&s.attributes_formatted());
        out
    }

    /// The screen's plain text, for tests and diagnostics.
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        self.parser.screen().contents()
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
        assert_eq!(
            a.parser.screen().cursor_position(),
            b.parser.screen().cursor_position()
        );
        assert_eq!(
            b.parser.screen().cell(1, 0).unwrap().fgcolor(),
            vt100::Color::Idx(1)
        );
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
        assert_eq!(s.parser.screen().size(), (10, 40));
    }
}
