//! Draws a [`Term`] onto a terminal of another size: a window of the
//! session's screen, cell for cell, as large as the local terminal.
//!
//! A companion never resizes the session's PTY, so when its own terminal
//! is not the session's size it keeps a `Term` at the session's size (fed
//! the same snapshot and stream as always) and draws it through a
//! [`Viewport`]:
//!
//! - the session's cells are drawn unchanged (characters, colours,
//!   attributes, DEC line drawing) at window position (0, 0) = session
//!   position ([`Viewport::origin`]); a smaller terminal shows part of the
//!   screen, a larger one shows all of it and leaves the rest blank;
//! - the window follows the cursor: it moves as little as it must to keep
//!   the cursor inside it (so a shell's prompt, an editor's cursor line
//!   stay in view), and it can be moved by hand ([`Viewport::pan`]), until
//!   the cursor leaves the window again;
//! - a wide character cut by the window's edge is drawn as a blank;
//! - the input modes (cursor keys, keypad, bracketed paste, focus, mouse),
//!   the cursor's visibility and style, and which screen is active are
//!   passed on, so keys typed here mean what the program expects;
//! - only rows that changed since the last draw are sent again.

use std::fmt::Write;

use crate::snapshot::{Out, RESET};
use crate::term::{Cell, Color, Pen, Term, Width};

/// The state of the local terminal that follows the session's.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Modes {
    alt: bool,
    app_cursor: bool,
    app_keypad: bool,
    cursor_hidden: bool,
    cursor_style: u16,
    bracketed_paste: bool,
    focus_events: bool,
    mouse_mode: u16,
    mouse_encoding: u16,
}

impl Modes {
    fn of(t: &Term) -> Modes {
        Modes {
            alt: t.alt_active,
            app_cursor: t.app_cursor,
            app_keypad: t.app_keypad,
            cursor_hidden: t.cursor_hidden,
            cursor_style: t.cursor_style,
            bracketed_paste: t.bracketed_paste,
            focus_events: t.focus_events,
            mouse_mode: t.mouse_mode,
            mouse_encoding: t.mouse_encoding,
        }
    }
}

/// A window of a session's screen on a terminal of `rows` x `cols`.
pub struct Viewport {
    rows: u16,
    cols: u16,
    /// The session position shown at the window's top-left cell.
    top: u16,
    left: u16,
    /// The session's size at the last draw.
    size: (u16, u16),
    /// What each local row shows now; `None` = unknown (drawn again).
    drawn: Option<Vec<Vec<Cell>>>,
    modes: Modes,
    out: Out,
}

impl Viewport {
    /// A window on a local terminal of `rows` x `cols` (each at least 1)
    /// whose contents are unknown: the first [`draw`](Viewport::draw)
    /// resets it and draws everything.
    pub fn new(rows: u16, cols: u16) -> Viewport {
        Viewport {
            rows: rows.max(1),
            cols: cols.max(1),
            top: 0,
            left: 0,
            size: (0, 0),
            drawn: None,
            modes: Modes::default(),
            out: Out::new(0),
        }
    }

    /// The local terminal's size, as given.
    pub fn size(&self) -> (u16, u16) {
        (self.rows, self.cols)
    }

    /// The session position (row, column) at the window's top-left.
    pub fn origin(&self) -> (u16, u16) {
        (self.top, self.left)
    }

    /// The local terminal was resized: everything is drawn again.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.rows = rows.max(1);
        self.cols = cols.max(1);
        self.drawn = None;
    }

    /// The local terminal's contents are no longer what was drawn (another
    /// writer, a reconnect): the next draw resets it and draws everything.
    pub fn invalidate(&mut self) {
        self.drawn = None;
    }

    /// Moves the window by `rows`, `cols` (clamped to the screen of `t`);
    /// it stays there until the cursor leaves it.
    pub fn pan(&mut self, t: &Term, rows: i32, cols: i32) {
        let max_top = t.rows.saturating_sub(self.rows) as i32;
        let max_left = t.cols.saturating_sub(self.cols) as i32;
        self.top = (self.top as i32 + rows).clamp(0, max_top) as u16;
        self.left = (self.left as i32 + cols).clamp(0, max_left) as u16;
    }

    /// The window's position for `t`: where it was, moved as little as
    /// keeps the cursor inside, within the screen.
    fn place(&mut self, t: &Term) {
        fn axis(at: u16, cursor: u16, window: u16, screen: u16) -> u16 {
            let max = screen.saturating_sub(window);
            let mut at = at.min(max);
            if cursor < at {
                at = cursor;
            } else if cursor >= at + window {
                at = cursor + 1 - window;
            }
            at.min(max)
        }
        self.top = axis(self.top, t.row, self.rows, t.rows);
        self.left = axis(self.left, t.col, self.cols, t.cols);
    }

    /// The cells local row `r` shows.
    fn window_row(&self, t: &Term, r: u16) -> Vec<Cell> {
        let blank = Cell::blank(Color::Default);
        let mut out = vec![blank.clone(); self.cols as usize];
        let Some(row) = t.grid().rows.get((self.top + r) as usize) else {
            return out;
        };
        let left = self.left as usize;
        for (i, slot) in out.iter_mut().enumerate() {
            let Some(cell) = row.get(left + i) else { break };
            let cut = (i == 0 && cell.width == Width::Tail)
                || (i + 1 == self.cols as usize && cell.width == Width::Wide);
            *slot = if cut {
                Cell::blank(Color::Default)
            } else {
                cell.clone()
            };
        }
        out
    }

    /// The bytes that bring the local terminal to show `t` through the
    /// window: the rows that changed, the modes that changed, the cursor.
    pub fn draw(&mut self, t: &Term) -> Vec<u8> {
        if self.size != (t.rows, t.cols) {
            self.size = (t.rows, t.cols);
            self.drawn = None;
        }
        self.place(t);
        let modes = Modes::of(t);
        self.out.s.clear();
        let mut drawn = match self.drawn.take() {
            Some(d) if d.len() == self.rows as usize => d,
            _ => {
                // A known state: primary screen, no region, default pen and
                // charsets, every mode off, cleared.
                self.out.s.push_str(RESET);
                self.out.forget();
                self.modes = Modes::default();
                vec![Vec::new(); self.rows as usize]
            }
        };
        if modes.alt != self.modes.alt {
            // The local terminal's own screens follow the session's, so
            // that leaving the view restores what was there; the new screen
            // is drawn whole.
            self.out.s.push_str(if modes.alt {
                "\x1b[?1049h"
            } else {
                "\x1b[?1049l"
            });
            self.modes.alt = modes.alt;
            drawn.iter_mut().for_each(Vec::clear);
        }
        for r in 0..self.rows {
            let cells = self.window_row(t, r);
            if drawn[r as usize] == cells {
                continue;
            }
            self.out.cup(r, 0);
            self.out.pen(Pen::default());
            self.out.s.push_str("\x1b[2K");
            self.out.paint_row(r, &cells);
            drawn[r as usize] = cells;
        }
        self.drawn = Some(drawn);
        self.out.pen(Pen::default());
        self.pass_modes(&modes);
        // The cursor (always inside the window, which follows it).
        let (row, col) = (t.row - self.top, t.col - self.left);
        self.out.cup(row, col);
        std::mem::take(&mut self.out.s).into_bytes()
    }

    fn pass_modes(&mut self, m: &Modes) {
        let s = &mut self.out.s;
        let was = std::mem::replace(&mut self.modes, m.clone());
        let flag = |s: &mut String, now: bool, before: bool, on: &str, off: &str| {
            if now != before {
                s.push_str(if now { on } else { off });
            }
        };
        flag(s, m.app_cursor, was.app_cursor, "\x1b[?1h", "\x1b[?1l");
        flag(s, m.app_keypad, was.app_keypad, "\x1b=", "\x1b>");
        flag(
            s,
            m.cursor_hidden,
            was.cursor_hidden,
            "\x1b[?25l",
            "\x1b[?25h",
        );
        flag(
            s,
            m.bracketed_paste,
            was.bracketed_paste,
            "\x1b[?2004h",
            "\x1b[?2004l",
        );
        flag(
            s,
            m.focus_events,
            was.focus_events,
            "\x1b[?1004h",
            "\x1b[?1004l",
        );
        if m.mouse_mode != was.mouse_mode {
            if was.mouse_mode != 0 {
                let _ = write!(s, "\x1b[?{}l", was.mouse_mode);
            }
            if m.mouse_mode != 0 {
                let _ = write!(s, "\x1b[?{}h", m.mouse_mode);
            }
        }
        if m.mouse_encoding != was.mouse_encoding {
            if was.mouse_encoding != 0 {
                let _ = write!(s, "\x1b[?{}l", was.mouse_encoding);
            }
            if m.mouse_encoding != 0 {
                let _ = write!(s, "\x1b[?{}h", m.mouse_encoding);
            }
        }
        if m.cursor_style != was.cursor_style {
            let _ = write!(s, "\x1b[{} q", m.cursor_style);
        }
    }

    /// What leaving the view sends: the local terminal's modes back to
    /// their defaults and its primary screen shown.
    pub fn leave(&mut self) -> Vec<u8> {
        self.out.s.clear();
        let alt = self.modes.alt;
        self.pass_modes(&Modes::default());
        self.out.s.push_str("\x1b[0m\x1b(B\x0f");
        if alt {
            self.out.s.push_str("\x1b[?1049l");
        }
        self.drawn = None;
        std::mem::take(&mut self.out.s).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoEvents;

    fn feed(t: &mut Term, p: &mut vte::Parser, bytes: &[u8]) {
        t.process(p, bytes, &mut NoEvents);
    }

    /// The local terminal (a `Term` of the viewport's size) shows exactly
    /// the window of the session's screen, with the cursor and modes.
    fn check(session: &Term, v: &Viewport, local: &Term, what: &str) {
        let (top, left) = v.origin();
        for r in 0..local.rows {
            let want = v.window_row(session, r);
            let got = &local.grid().rows[r as usize];
            assert_eq!(
                &want,
                got,
                "{what}: local row {r} (session row {})",
                top + r
            );
        }
        assert_eq!(
            (local.row, local.col),
            (session.row - top, session.col - left),
            "{what}: cursor"
        );
        assert_eq!(Modes::of(local), Modes::of(session), "{what}: modes");
    }

    #[test]
    fn a_smaller_terminal_shows_the_window_around_the_cursor() {
        let mut s = Term::new(30, 100);
        let mut p = vte::Parser::new();
        for i in 0..40 {
            feed(
                &mut s,
                &mut p,
                format!("line {i:03} {}\r\n", "x".repeat(i * 2)).as_bytes(),
            );
        }
        feed(&mut s, &mut p, b"\x1b[31mprompt$ ");
        let mut v = Viewport::new(24, 80);
        let mut local = Term::new(24, 80);
        let mut lp = vte::Parser::new();
        let bytes = v.draw(&s);
        feed(&mut local, &mut lp, &bytes);
        // The cursor is on the last row: the window is the bottom 24 rows.
        assert_eq!(v.origin(), (6, 0));
        check(&s, &v, &local, "first draw");
        assert!(local.lines()[23].starts_with("prompt$"));
        // Nothing changed: nothing but the cursor is sent.
        let again = v.draw(&s);
        assert!(again.len() < 16, "{:?}", String::from_utf8_lossy(&again));
        // The cursor moves right past the window: it follows.
        feed(&mut s, &mut p, b"\x1b[30;95Hz");
        feed(&mut local, &mut lp, &v.draw(&s));
        assert_eq!(v.origin(), (6, 16));
        check(&s, &v, &local, "after the cursor moved");
        // A pan by hand holds until the cursor leaves the window.
        v.pan(&s, -6, -20);
        feed(&mut local, &mut lp, &v.draw(&s));
        assert_eq!(v.origin(), (6, 16), "the cursor was outside: back");
        // With the cursor inside the panned window, the pan holds.
        feed(&mut s, &mut p, b"\x1b[28;20H");
        v.pan(&s, -2, -10);
        feed(&mut local, &mut lp, &v.draw(&s));
        assert_eq!(v.origin(), (4, 6));
        check(&s, &v, &local, "panned");
    }

    #[test]
    fn a_larger_terminal_shows_all_of_it_and_blank_beyond() {
        let mut s = Term::new(5, 10);
        let mut p = vte::Parser::new();
        feed(
            &mut s,
            &mut p,
            b"\x1b[44m0123456789ab\x1b[0m\x1b[?1h\x1b[?2004h",
        );
        let mut v = Viewport::new(8, 20);
        let mut local = Term::new(8, 20);
        let mut lp = vte::Parser::new();
        feed(&mut local, &mut lp, b"old junk everywhere\x1b[5;5Hmore");
        feed(&mut local, &mut lp, &v.draw(&s));
        assert_eq!(v.origin(), (0, 0));
        check(&s, &v, &local, "larger");
        assert_eq!(local.lines()[0], "0123456789");
        assert_eq!(local.lines()[6], "");
    }

    #[test]
    fn leaving_restores_the_local_modes_and_screen() {
        let mut s = Term::new(5, 10);
        let mut p = vte::Parser::new();
        feed(&mut s, &mut p, b"\x1b[?1049h\x1b[?1h\x1b[?1000h\x1b[?25l");
        let mut v = Viewport::new(3, 6);
        let mut local = Term::new(3, 6);
        let mut lp = vte::Parser::new();
        feed(&mut local, &mut lp, &v.draw(&s));
        assert!(local.alt_active && local.app_cursor && local.mouse_mode == 1000);
        feed(&mut local, &mut lp, &v.leave());
        assert_eq!(Modes::of(&local), Modes::default());
    }

    /// Random output on random sizes: after every chunk the local terminal
    /// shows exactly the window.
    #[test]
    fn the_window_equals_the_session_for_random_streams() {
        const PIECES: &[&[u8]] = &[
            b"hello ",
            b"\r\n",
            b"\n",
            b"\x1b[H",
            b"\x1b[3;4H",
            b"\x1b[2;50H",
            b"\x1b[K",
            b"\x1b[2J",
            b"\x1b[2;4r",
            b"\x1b[r",
            b"\x1b(0",
            b"\x1b(B",
            b"lqqk",
            b"\x0e",
            b"\x0f",
            b"\x1b)0",
            b"\x1b[?1049h",
            b"\x1b[?1049l",
            b"\x1b[1;31m",
            b"\x1b[0m",
            b"\x1b[7;44m",
            b"\x1b[38;5;99m",
            b"\x1bM",
            b"\x1b[L",
            b"\x1b[2M",
            b"\x1b[P",
            b"\x1b[2@",
            b"\x1b[X",
            b"\x1b[S",
            b"\x1b[T",
            b"\xe4\xb8\xad",
            b"e\xcc\x81",
            b"\x1b[30G",
            b"\x1b[9d",
            b"\x1b[?25l",
            b"\x1b[?25h",
            b"\x1b[?1h",
            b"\x1b[?1000h",
            b"\x1b[?1006h",
            b"\x1b[?2004h",
            b"\x1b[4h",
            b"\x1b[4l",
            b"0123456789",
            b"\x1b[41m\x1b[K",
            b"\x1b[3b",
            b"\x1b[?7l",
            b"\x1b[?7h",
            b"\x1b[5 q",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..600 {
            let (rows, cols) = (1 + rnd(12) as u16, 1 + rnd(60) as u16);
            let (lrows, lcols) = (1 + rnd(14) as u16, 1 + rnd(70) as u16);
            let mut s = Term::new(rows, cols);
            let mut p = vte::Parser::new();
            let mut v = Viewport::new(lrows, lcols);
            let mut local = Term::new(lrows, lcols);
            let mut lp = vte::Parser::new();
            for step in 0..8 {
                let mut chunk = Vec::new();
                for _ in 0..rnd(12) {
                    chunk.extend_from_slice(PIECES[rnd(PIECES.len())]);
                }
                feed(&mut s, &mut p, &chunk);
                if rnd(10) == 0 {
                    v.pan(&s, rnd(7) as i32 - 3, rnd(21) as i32 - 10);
                }
                if rnd(12) == 0 {
                    let (r, c) = (1 + rnd(12) as u16, 1 + rnd(60) as u16);
                    s.resize(r, c);
                }
                let bytes = v.draw(&s);
                feed(&mut local, &mut lp, &bytes);
                check(
                    &s,
                    &v,
                    &local,
                    &format!("case {case} step {step}: {rows}x{cols} on {lrows}x{lcols}"),
                );
            }
        }
    }
}
