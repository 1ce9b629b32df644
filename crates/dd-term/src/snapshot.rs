//! The bytes that restore a [`Term`] on a fresh terminal of the same size:
//! what a late joiner's Snapshot carries (docs/protocol.md, "Snapshot").
//!
//! In order: the viewer's terminal is put in a known state (primary
//! screen, no scroll region, origin off, autowrap on, insert off, ASCII
//! charsets, default attributes, input modes off); the title; the primary
//! screen is painted; if the alternate screen is active, the cursor the
//! primary will get back is set and saved by entering it (`CSI ? 1049 h`),
//! then the alternate screen is painted; tab stops; the scroll region; the
//! DECSC-saved cursor; the cursor (a pending wrap is restored by printing
//! the last column's character again); attributes and charsets; modes;
//! last, the character REP would repeat, printed again in its place.

use std::fmt::Write;

use crate::term::{attr, Cell, Charset, Color, Grid, Pen, Saved, Term, Width};

/// The viewer's terminal to a known state (every mode the snapshot may
/// set later, off).
pub(crate) const RESET: &str =
    "\x1b[?1049l\x1b[0m\x1b[r\x1b[?6l\x1b[?7h\x1b[4l\x1b[20l\x1b(B\x1b)B\x0f\
\x1b[?1l\x1b>\x1b[?25h\x1b[?2004l\x1b[?1004l\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\
\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[0 q\x1b[H\x1b[2J";

/// The painter's view of the viewer's terminal: what it has been told.
pub(crate) struct Out {
    pub(crate) s: String,
    pub(crate) pen: Pen,
    /// The viewer's G0 is the DEC special graphics set.
    acs: bool,
    /// The viewer's GL is G1 (after SO), not G0.
    shifted: bool,
}

impl Out {
    /// A painter for a terminal in the state [`RESET`] leaves.
    pub(crate) fn new(capacity: usize) -> Out {
        Out {
            s: String::with_capacity(capacity),
            pen: Pen::default(),
            acs: false,
            shifted: false,
        }
    }

    /// The terminal was reset ([`RESET`]): default pen, ASCII, G0 in GL.
    pub(crate) fn forget(&mut self) {
        self.pen = Pen::default();
        self.acs = false;
        self.shifted = false;
    }

    pub(crate) fn pen(&mut self, pen: Pen) {
        let acs = pen.flags & attr::ACS != 0;
        // Cells are painted through G0.
        if self.shifted {
            self.s.push('\x0f');
            self.shifted = false;
        }
        if acs != self.acs {
            self.s.push_str(if acs { "\x1b(0" } else { "\x1b(B" });
            self.acs = acs;
        }
        let mut pen = pen;
        pen.flags &= !(attr::ACS | attr::ERASED);
        if pen != self.pen {
            sgr(&mut self.s, &pen);
            self.pen = pen;
        }
    }

    pub(crate) fn cup(&mut self, row: u16, col: u16) {
        let _ = write!(self.s, "\x1b[{};{}H", row + 1, col + 1);
    }

    /// Paints a grid, row by row. Cells an erase made are erased again
    /// (`CSI n X` in their background, or `CSI K` for a run that ends the
    /// row) rather than written as spaces, as terminals such as tmux tell
    /// erased cells from written spaces; default ones are just skipped
    /// (the screen was cleared).
    fn paint(&mut self, g: &Grid) {
        for (r, row) in g.rows.iter().enumerate() {
            self.paint_row(r as u16, row);
        }
    }

    /// Paints one row of cells at row `r` (on a row already blank).
    pub(crate) fn paint_row(&mut self, r: u16, row: &[Cell]) {
        {
            let mut col = 0;
            let mut at: Option<usize> = None;
            while col < row.len() {
                let c = &row[col];
                if c.is_erased() {
                    let bg = c.pen.bg;
                    let run = row[col..]
                        .iter()
                        .take_while(|x| x.is_erased() && x.pen.bg == bg)
                        .count();
                    if bg != Color::Default {
                        if at != Some(col) {
                            self.cup(r, col as u16);
                        }
                        self.pen(Pen {
                            bg,
                            ..Pen::default()
                        });
                        if col + run == row.len() {
                            self.s.push_str("\x1b[K");
                        } else {
                            let _ = write!(self.s, "\x1b[{run}X");
                        }
                        // ECH and EL leave the cursor where it was.
                        at = Some(col);
                    }
                    col += run;
                    continue;
                }
                if at != Some(col) {
                    self.cup(r, col as u16);
                }
                if c.width != Width::Tail {
                    self.pen(c.pen);
                    self.s.push(c.ch);
                    if let Some(e) = &c.extra {
                        self.s.push_str(e);
                    }
                }
                col += 1;
                // Printing the last column leaves a pending wrap: the next
                // row starts with a CUP anyway.
                at = Some(col);
            }
        }
    }

    /// Designates and invokes charsets as `g`/`gl` say (after `pen`,
    /// which may have moved G0).
    fn charsets(&mut self, g: [Charset; 2], gl: u8) {
        let name = |c: Charset| if c == Charset::DecGraphics { '0' } else { 'B' };
        let _ = write!(self.s, "\x1b({}\x1b){}", name(g[0]), name(g[1]));
        self.acs = g[0] == Charset::DecGraphics;
        self.shifted = gl == 1;
        self.s.push(if gl == 1 { '\x0e' } else { '\x0f' });
    }

    /// Sets the cursor (and its pending wrap), attributes and charsets of
    /// a saved cursor on grid `g` (with no scroll region set, so origin
    /// mode positions absolutely).
    fn saved(&mut self, s: &Saved, g: &Grid) {
        if s.origin {
            self.s.push_str("\x1b[?6h");
        }
        match g.rows.get(s.row as usize).filter(|_| s.pending) {
            Some(row) => self.redraw_at(s.row, s.col, row),
            None => self.cup(s.row, s.col),
        }
        self.pen(Pen {
            flags: s.pen.flags & !attr::ACS,
            ..s.pen
        });
        self.charsets(s.g, s.gl);
    }

    /// Puts the cursor at `row`, `col` with a pending wrap: prints the
    /// character that is there again (the left half, for a wide one).
    fn redraw_at(&mut self, row: u16, col: u16, cells: &[Cell]) {
        let col = col as usize;
        let at = match cells.get(col) {
            Some(c) if c.width == Width::Tail && col > 0 => col - 1,
            Some(_) => col,
            None => return self.cup(row, col as u16),
        };
        let c = &cells[at];
        self.cup(row, at as u16);
        self.pen(c.pen);
        self.s.push(c.ch);
        if let Some(e) = &c.extra {
            self.s.push_str(e);
        }
        if c.is_erased() {
            // Erased again, the wrap still pending.
            self.s.push_str("\x1b[X");
        }
    }
}

pub(crate) fn sgr(s: &mut String, pen: &Pen) {
    s.push_str("\x1b[0");
    for (bit, code) in [
        (attr::BOLD, "1"),
        (attr::DIM, "2"),
        (attr::ITALIC, "3"),
        (attr::UNDERLINE, "4"),
        (attr::BLINK, "5"),
        (attr::INVERSE, "7"),
        (attr::HIDDEN, "8"),
        (attr::STRIKE, "9"),
    ] {
        if pen.flags & bit != 0 {
            s.push(';');
            s.push_str(code);
        }
    }
    color(s, pen.fg, 30);
    color(s, pen.bg, 40);
    s.push('m');
}

fn color(s: &mut String, c: Color, base: u8) {
    let _ = match c {
        Color::Default => Ok(()),
        Color::Idx(i) if i < 8 => write!(s, ";{}", base + i),
        Color::Idx(i) if i < 16 => write!(s, ";{}", base + 60 + i - 8),
        Color::Idx(i) => write!(s, ";{};5;{}", base + 8, i),
        Color::Rgb(r, g, b) => write!(s, ";{};2;{};{};{}", base + 8, r, g, b),
    };
}

impl Term {
    /// Bytes that restore this terminal's whole state on a fresh terminal
    /// of the same size (see the module docs); `title` is set too.
    pub fn snapshot(&self, title: &str) -> Vec<u8> {
        let mut o = Out::new(self.rows as usize * (self.cols as usize + 8) + 512);
        o.s.push_str(RESET);
        if !title.is_empty() {
            let clean: String = title.chars().filter(|c| !c.is_control()).collect();
            let _ = write!(o.s, "\x1b]2;{clean}\x07");
        }
        o.paint(&self.primary);
        if self.alt_active {
            // What `CSI ? 1049 l` will restore on the primary screen.
            let back = self.alt_saved.clone().unwrap_or_default();
            o.saved(&back, &self.primary);
            o.s.push_str("\x1b[?1049h");
            if back.origin {
                o.s.push_str("\x1b[?6l");
            }
            o.pen(Pen::default());
            o.charsets([Charset::Ascii; 2], 0);
            o.s.push_str("\x1b[0m\x1b[H\x1b[2J");
            o.pen = Pen::default();
            o.paint(&self.alt);
        }
        // Tab stops, when they are not every 8 columns.
        let default_tabs = self
            .tabs
            .iter()
            .enumerate()
            .all(|(c, &t)| t == (c % 8 == 0 && c > 0));
        if !default_tabs {
            o.s.push_str("\x1b[3g");
            for (c, _) in self.tabs.iter().enumerate().filter(|(_, &t)| t) {
                o.cup(0, c as u16);
                o.s.push_str("\x1bH");
            }
        }
        // The DECSC slot of the screen shown (none saved restores as the
        // home position with default attributes, so that is sent then);
        // before the scroll region is set, so that in origin mode a row
        // outside the region can be saved too).
        let saved = self.saved.clone().unwrap_or_default();
        o.saved(&saved, self.grid());
        o.s.push_str("\x1b7");
        if saved.origin {
            o.s.push_str("\x1b[?6l");
        }
        if (self.top, self.bottom) != (0, self.rows - 1) {
            let _ = write!(o.s, "\x1b[{};{}r", self.top + 1, self.bottom + 1);
        }
        // The cursor, and a pending wrap.
        if self.origin {
            o.s.push_str("\x1b[?6h");
        }
        let row_rel = if self.origin {
            self.row.saturating_sub(self.top)
        } else {
            self.row
        };
        let row = &self.grid().rows[self.row as usize];
        if self.pending {
            o.redraw_at(row_rel, self.col, row);
        } else {
            o.cup(row_rel, self.col);
        }
        o.pen(Pen {
            flags: self.pen.flags & !attr::ACS,
            ..self.pen
        });
        o.charsets(self.g, self.gl);
        // Modes.
        let on = |o: &mut Out, cond: bool, seq: &str| {
            if cond {
                o.s.push_str(seq);
            }
        };
        on(&mut o, !self.autowrap, "\x1b[?7l");
        on(&mut o, self.insert, "\x1b[4h");
        on(&mut o, self.newline, "\x1b[20h");
        on(&mut o, self.app_cursor, "\x1b[?1h");
        on(&mut o, self.app_keypad, "\x1b=");
        on(&mut o, self.cursor_hidden, "\x1b[?25l");
        on(&mut o, self.bracketed_paste, "\x1b[?2004h");
        on(&mut o, self.focus_events, "\x1b[?1004h");
        if self.mouse_mode != 0 {
            let _ = write!(o.s, "\x1b[?{}h", self.mouse_mode);
        }
        if self.mouse_encoding != 0 {
            let _ = write!(o.s, "\x1b[?{}h", self.mouse_encoding);
        }
        if self.cursor_style != 0 {
            let _ = write!(o.s, "\x1b[{} q", self.cursor_style);
        }
        // A character printed last, with nothing but printing after it, is
        // what a REP that follows repeats: it is printed again where it is,
        // as the very last thing (any control would forget it), with the
        // pen and charset it was printed in (both unchanged since, or it
        // would be forgotten). In insert mode the cell is deleted first, so
        // that printing it again inserts it back where it was.
        if let Some(c) = self.last {
            let (row, col) = self.last_at;
            if let Some(cell) = self
                .grid()
                .rows
                .get(row as usize)
                .and_then(|r| r.get(col as usize))
            {
                let row = if self.origin {
                    row.saturating_sub(self.top)
                } else {
                    row
                };
                o.cup(row, col);
                if self.insert {
                    let width = if cell.width == Width::Wide { 2 } else { 1 };
                    let _ = write!(o.s, "\x1b[{width}P");
                }
                o.s.push(c);
                if let Some(e) = &cell.extra {
                    o.s.push_str(e);
                }
            }
        }
        o.s.into_bytes()
    }
}
