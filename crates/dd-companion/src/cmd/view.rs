//! What `attach` writes to this terminal: the session at the session's
//! size, whatever this terminal's size is.
//!
//! A model of the session's screen ([`dd_term::Term`], the agent's own
//! emulator) is kept at the session's size, fed the snapshot and every
//! output byte. When this terminal is exactly the session's size the bytes
//! are passed through as they come (the terminal renders them itself, cell
//! for cell as the owner's). When it is not, the model is drawn through a
//! [`Viewport`]: a window of the session's screen as large as this
//! terminal, following the cursor (`Ctrl-]` then `h`/`j`/`k`/`l` pans
//! it). A size change on either side switches between the two; going back
//! to pass-through first restores the whole state with a snapshot of the
//! model. The PTY is never resized from here.

use dd_term::{Events, Term, Viewport};

/// Forwards what the program asked of the terminal that a drawing does
/// not carry (a bell, the title).
#[derive(Default)]
struct Passed(Vec<u8>);

impl Events for Passed {
    fn bell(&mut self) {
        self.0.push(0x07);
    }
    fn title(&mut self, title: &[u8]) {
        let clean: Vec<u8> = title
            .iter()
            .copied()
            .filter(|b| *b >= 0x20 && *b != 0x7f)
            .collect();
        self.0.extend_from_slice(b"\x1b]2;");
        self.0.extend_from_slice(&clean);
        self.0.push(0x07);
    }
    fn osc(&mut self, _: &[&[u8]]) {}
}

/// The view: the model and how it reaches this terminal.
pub struct View {
    /// This terminal's size, when known (not a terminal: pass-through).
    local: Option<(u16, u16)>,
    model: Option<(Term, vte::Parser)>,
    /// Some while this terminal is not the session's size.
    viewport: Option<Viewport>,
    /// Bytes to write, in order.
    out: Vec<u8>,
    /// Output since the last draw, in viewport mode.
    dirty: bool,
}

impl View {
    /// A view for a terminal of `local` size (`None`: not a terminal).
    pub fn new(local: Option<(u16, u16)>) -> View {
        View {
            local,
            model: None,
            viewport: None,
            out: Vec::new(),
            dirty: false,
        }
    }

    /// The session's (rows, cols), once known.
    pub fn session_size(&self) -> Option<(u16, u16)> {
        self.model.as_ref().map(|(t, _)| (t.rows, t.cols))
    }

    /// True while the session is drawn through a window.
    pub fn windowed(&self) -> bool {
        self.viewport.is_some()
    }

    /// A repaint of the whole session at `size`.
    pub fn snapshot(&mut self, size: (u16, u16), data: &[u8]) {
        let mut term = Term::new(size.0, size.1);
        let mut parser = vte::Parser::new();
        let mut passed = Passed::default();
        term.process(&mut parser, data, &mut passed);
        self.model = Some((term, parser));
        // Passed through, the snapshot itself restores the whole state.
        self.fit(Some(data));
        if let Some(v) = &mut self.viewport {
            v.invalidate();
            self.out.extend_from_slice(&passed.0);
            self.dirty = true;
        }
    }

    /// Output bytes, in order.
    pub fn output(&mut self, data: &[u8]) {
        let Some((term, parser)) = self.model.as_mut() else {
            // Nothing to draw into yet (never happens: a snapshot comes
            // first); shown as it is.
            self.out.extend_from_slice(data);
            return;
        };
        let mut passed = Passed::default();
        term.process(parser, data, &mut passed);
        if self.viewport.is_some() {
            self.out.extend_from_slice(&passed.0);
            self.dirty = true;
        } else {
            self.out.extend_from_slice(data);
        }
    }

    /// The session's size is now `size` (the owner resized).
    pub fn session_resized(&mut self, size: (u16, u16)) {
        if let Some((term, _)) = self.model.as_mut() {
            if (term.rows, term.cols) != size {
                term.resize(size.0, size.1);
                self.dirty = true;
            }
        }
        self.fit(None);
    }

    /// This terminal is now `local` in size.
    pub fn local_resized(&mut self, local: Option<(u16, u16)>) {
        self.local = local;
        if let (Some(v), Some(l)) = (self.viewport.as_mut(), local) {
            v.resize(l.0, l.1);
            self.dirty = true;
        }
        self.fit(None);
    }

    /// Moves the window by half its size in a direction (`h`, `j`, `k`,
    /// `l` as in vi); nothing when the whole session is shown.
    pub fn pan(&mut self, key: u8) {
        let (Some(v), Some((term, _))) = (self.viewport.as_mut(), self.model.as_ref()) else {
            return;
        };
        let (rows, cols) = v.size();
        let (dr, dc) = match key {
            b'h' => (0, -(cols as i32 / 2).max(1)),
            b'l' => (0, (cols as i32 / 2).max(1)),
            b'k' => (-(rows as i32 / 2).max(1), 0),
            b'j' => ((rows as i32 / 2).max(1), 0),
            _ => return,
        };
        v.pan(term, dr, dc);
        self.dirty = true;
    }

    /// Switches between pass-through and the window as the sizes say.
    /// `restore`: bytes that restore the whole state on this terminal, to
    /// write when passing through (a snapshot just received); without
    /// them, going back to pass-through writes a snapshot of the model.
    fn fit(&mut self, restore: Option<&[u8]>) {
        let Some((term, _)) = self.model.as_ref() else {
            return;
        };
        let session = (term.rows, term.cols);
        let same = self.local.is_none_or(|l| l == session);
        match (&mut self.viewport, same) {
            (Some(v), true) => {
                // Back to pass-through: this terminal takes the model's
                // whole state, then the bytes as they come.
                self.out.extend_from_slice(&v.leave());
                match restore {
                    Some(r) => self.out.extend_from_slice(r),
                    None => self.out.extend_from_slice(&term.snapshot("")),
                }
                self.viewport = None;
                self.dirty = false;
            }
            (None, true) => {
                if let Some(r) = restore {
                    self.out.extend_from_slice(r);
                }
            }
            (None, false) => {
                let (rows, cols) = self.local.unwrap_or(session);
                self.viewport = Some(Viewport::new(rows, cols));
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// The bytes to write now (a drawing of the window, when output came
    /// since the last).
    pub fn take(&mut self) -> Vec<u8> {
        if self.dirty {
            if let (Some(v), Some((term, _))) = (self.viewport.as_mut(), self.model.as_ref()) {
                self.out.extend_from_slice(&v.draw(term));
            }
            self.dirty = false;
        }
        std::mem::take(&mut self.out)
    }

    /// Something else wrote to this terminal (a notice): the window is
    /// drawn whole again at the next [`take`](View::take).
    pub fn disturbed(&mut self) {
        if let Some(v) = self.viewport.as_mut() {
            v.invalidate();
            self.dirty = true;
        }
    }

    /// What leaving the view writes (the window's modes and screen undone).
    pub fn leave(&mut self) -> Vec<u8> {
        match self.viewport.as_mut() {
            Some(v) => v.leave(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(rows: u16, cols: u16, bytes: &[u8]) -> Vec<String> {
        let mut t = Term::new(rows, cols);
        t.process(&mut vte::Parser::new(), bytes, &mut dd_term::NoEvents);
        t.lines()
    }

    #[test]
    fn the_same_size_passes_bytes_through() {
        let mut v = View::new(Some((24, 80)));
        v.snapshot((24, 80), b"\x1b[Hhello");
        v.output(b" world");
        assert!(!v.windowed());
        assert_eq!(v.take(), b"\x1b[Hhello world");
    }

    #[test]
    fn a_smaller_terminal_gets_the_window_and_the_session_width_holds() {
        let mut v = View::new(Some((5, 20)));
        v.snapshot((10, 40), b"");
        // A line wider than this terminal: at the session's width it does
        // not wrap here.
        v.output(format!("{}\r\nnext", "a".repeat(30)).as_bytes());
        assert!(v.windowed());
        let drawn = screen(5, 20, &v.take());
        // The cursor is on row 1 (after "next"): the window starts at the
        // top, and the long line is cut at this terminal's edge.
        assert_eq!(drawn[0], "a".repeat(20));
        assert_eq!(drawn[1], "next");
    }

    #[test]
    fn sizes_meeting_again_restore_pass_through_with_the_whole_state() {
        let mut v = View::new(Some((5, 20)));
        v.snapshot((10, 40), b"\x1b[31mred");
        let mut seen = v.take();
        v.local_resized(Some((10, 40)));
        assert!(!v.windowed());
        seen.extend(v.take());
        v.output(b"!");
        seen.extend(v.take());
        // What this terminal shows, fed everything written, is the model.
        let mut t = Term::new(10, 40);
        t.process(&mut vte::Parser::new(), &seen, &mut dd_term::NoEvents);
        assert_eq!(t.lines()[0], "red!");
        assert_eq!(t.pen.fg, dd_term::Color::Idx(1));
    }

    #[test]
    fn an_owner_resize_switches_to_the_window_and_back() {
        let mut v = View::new(Some((24, 80)));
        v.snapshot((24, 80), b"x");
        v.session_resized((30, 100));
        assert!(v.windowed());
        assert_eq!(v.session_size(), Some((30, 100)));
        v.session_resized((24, 80));
        assert!(!v.windowed());
    }

    #[test]
    fn titles_and_bells_reach_the_terminal_in_the_window() {
        let mut v = View::new(Some((5, 10)));
        v.snapshot((10, 40), b"");
        v.output(b"\x1b]2;hi\x07\x07");
        let out = v.take();
        let s = String::from_utf8_lossy(&out);
        assert!(s.starts_with("\x1b]2;hi\x07\x07"), "{s:?}");
    }
}
