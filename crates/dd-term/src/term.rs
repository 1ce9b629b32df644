//! The terminal emulator core behind a session's screen model: an
//! xterm-class screen (both the primary and the alternate screen, the
//! scroll region, G0/G1 charsets with DEC special graphics, autowrap with
//! the pending-wrap state, origin and insert modes, tab stops, the saved
//! cursors, input modes) driven by the `vte` parser, and the bytes that
//! restore all of it on a fresh terminal ([`Term::snapshot`]).
//!
//! Why our own and not the `vt100` crate (0.16, or 0.18) or
//! `alacritty_terminal`: see docs/benchmarks.md ("Screen model"). In short,
//! a snapshot must restore state those crates keep private (the screen
//! under the alternate screen, the scroll region, charsets, pending wrap)
//! or do not model at all (vt100: charsets, DECAWM off).
//!
//! Semantics follow xterm; where xterm and tmux differ on an edge (a
//! backspace or a tab while a wrap is pending), tmux's behaviour is taken,
//! since tmux is what the fidelity suite compares against.
//!
//! Nothing here panics on any input: sizes are clamped to at least 1x1,
//! every index is checked against the grid, counts are clamped.

use unicode_width::UnicodeWidthChar;

/// Cell attribute bits.
pub mod attr {
    pub const BOLD: u16 = 1;
    pub const DIM: u16 = 2;
    pub const ITALIC: u16 = 4;
    pub const UNDERLINE: u16 = 8;
    pub const BLINK: u16 = 16;
    pub const INVERSE: u16 = 32;
    pub const HIDDEN: u16 = 64;
    pub const STRIKE: u16 = 128;
    /// Drawn from the DEC special graphics set (the cell holds the ASCII
    /// byte, as the terminal got it).
    pub const ACS: u16 = 256;
    /// Made blank by an erase (or never written), not a space the program
    /// printed: terminals such as tmux tell the two apart, so the snapshot
    /// restores each the way it was made.
    pub const ERASED: u16 = 512;
}

/// A colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Color {
    #[default]
    Default,
    Idx(u8),
    Rgb(u8, u8, u8),
}

/// Drawing attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pen {
    pub fg: Color,
    pub bg: Color,
    pub flags: u16,
}

/// What a cell is part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Width {
    #[default]
    One,
    /// The left half of a double-width character.
    Wide,
    /// The right half (holds nothing).
    Tail,
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub ch: char,
    /// Combining characters after `ch`, if any.
    pub extra: Option<Box<str>>,
    pub pen: Pen,
    pub width: Width,
}

/// What a person sees of a cell: its character and combining marks, the
/// foreground colour only where it shows (not on a blank unless inverse,
/// underline or strike-through), the background, the attributes; an erased
/// blank looks like a written one.
pub type Looks<'a> = (char, Option<&'a str>, Option<Color>, Color, u16);

impl Cell {
    /// See [`Looks`] (for comparing screens as a person would).
    pub fn looks(&self) -> Looks<'_> {
        let flags = self.pen.flags & !attr::ERASED;
        let fg_shows = self.ch != ' '
            || self.extra.is_some()
            || flags & (attr::INVERSE | attr::UNDERLINE | attr::STRIKE) != 0;
        (
            self.ch,
            self.extra.as_deref(),
            fg_shows.then_some(self.pen.fg),
            self.pen.bg,
            flags,
        )
    }

    /// An erased cell in background `bg`.
    pub fn blank(bg: Color) -> Cell {
        Cell {
            ch: ' ',
            extra: None,
            pen: Pen {
                bg,
                flags: attr::ERASED,
                ..Pen::default()
            },
            width: Width::One,
        }
    }

    /// True for a cell an erase made.
    pub fn is_erased(&self) -> bool {
        self.pen.flags & attr::ERASED != 0
    }
}

/// A character set a G slot designates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Charset {
    #[default]
    Ascii,
    DecGraphics,
}

/// What DECSC saves (and 1049 saves for the primary screen).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Saved {
    pub row: u16,
    pub col: u16,
    pub pen: Pen,
    pub origin: bool,
    pub pending: bool,
    pub g: [Charset; 2],
    pub gl: u8,
}

/// One screen's grid.
#[derive(Clone, Debug)]
pub struct Grid {
    pub rows: Vec<Vec<Cell>>,
}

impl Grid {
    fn new(rows: u16, cols: u16) -> Grid {
        Grid {
            rows: vec![vec![Cell::blank(Color::Default); cols as usize]; rows as usize],
        }
    }
}

/// Mouse tracking and reporting modes, as the DECSET numbers that set them.
const MOUSE_MODES: [u16; 4] = [9, 1000, 1002, 1003];
const MOUSE_ENCODINGS: [u16; 3] = [1005, 1006, 1015];

/// Most repetitions one REP may ask for (more than any screen holds).
const MAX_REPEAT: usize = 1 << 20;

/// The terminal.
#[derive(Clone, Debug)]
pub struct Term {
    pub rows: u16,
    pub cols: u16,
    pub primary: Grid,
    pub alt: Grid,
    pub alt_active: bool,
    /// What DECSC (`ESC 7`) saved: one slot for both screens, as tmux.
    pub saved: Option<Saved>,
    /// What entering the alternate screen with 1049 saved, for leaving it.
    pub alt_saved: Option<Saved>,
    pub row: u16,
    pub col: u16,
    /// A character was printed in the last column with autowrap on: the
    /// next one goes to the start of the next line.
    pub pending: bool,
    pub pen: Pen,
    pub g: [Charset; 2],
    /// Which of G0/G1 is invoked into GL (SI/SO).
    pub gl: u8,
    /// The scroll region, inclusive, 0-based.
    pub top: u16,
    pub bottom: u16,
    pub origin: bool,
    pub autowrap: bool,
    pub insert: bool,
    pub newline: bool,
    pub app_cursor: bool,
    pub app_keypad: bool,
    pub cursor_hidden: bool,
    pub bracketed_paste: bool,
    pub focus_events: bool,
    pub mouse_mode: u16,
    pub mouse_encoding: u16,
    pub cursor_style: u16,
    pub tabs: Vec<bool>,
    /// The last graphic character printed (for REP), as received (before
    /// a charset maps it), while nothing but printing has followed it.
    pub last: Option<char>,
    /// Where `last` was put (row, column of its first cell).
    pub last_at: (u16, u16),
}

/// What the emulator reports outward while it runs.
pub trait Events {
    fn bell(&mut self);
    fn title(&mut self, title: &[u8]);
    fn osc(&mut self, params: &[&[u8]]);
}

impl Term {
    /// A blank terminal of `rows` x `cols` (each at least 1).
    pub fn new(rows: u16, cols: u16) -> Term {
        let (rows, cols) = (rows.max(1), cols.max(1));
        Term {
            rows,
            cols,
            primary: Grid::new(rows, cols),
            alt: Grid::new(rows, cols),
            alt_active: false,
            saved: None,
            alt_saved: None,
            row: 0,
            col: 0,
            pending: false,
            pen: Pen::default(),
            g: [Charset::Ascii; 2],
            gl: 0,
            top: 0,
            bottom: rows - 1,
            origin: false,
            autowrap: true,
            insert: false,
            newline: false,
            app_cursor: false,
            app_keypad: false,
            cursor_hidden: false,
            bracketed_paste: false,
            focus_events: false,
            mouse_mode: 0,
            mouse_encoding: 0,
            cursor_style: 0,
            tabs: default_tabs(cols),
            last: None,
            last_at: (0, 0),
        }
    }

    /// The grid shown.
    pub fn grid(&self) -> &Grid {
        if self.alt_active {
            &self.alt
        } else {
            &self.primary
        }
    }

    fn grid_mut(&mut self) -> &mut Grid {
        if self.alt_active {
            &mut self.alt
        } else {
            &mut self.primary
        }
    }

    /// The visible rows as text, trailing blanks dropped, line-drawing
    /// characters as their Unicode forms.
    pub fn lines(&self) -> Vec<String> {
        self.grid()
            .rows
            .iter()
            .map(|row| {
                let mut s = String::with_capacity(row.len());
                for c in row {
                    if c.width == Width::Tail {
                        continue;
                    }
                    if c.pen.flags & attr::ACS != 0 {
                        s.push(dec_graphics(c.ch));
                    } else {
                        s.push(c.ch);
                    }
                    if let Some(e) = &c.extra {
                        s.push_str(e);
                    }
                }
                s.truncate(s.trim_end_matches(' ').len());
                s
            })
            .collect()
    }

    /// Resizes both screens: rows are kept from the top (the cursor's row
    /// stays on screen: rows above it go first when the screen shrinks
    /// below it), columns are cut or padded; the scroll region resets.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let (rows, cols) = (rows.max(1), cols.max(1));
        if (rows, cols) == (self.rows, self.cols) {
            return;
        }
        // Rows pushed off the top so the cursor's row stays visible.
        let drop = (self.row + 1).saturating_sub(rows) as usize;
        let alt_active = self.alt_active;
        for (is_alt, g) in [(false, &mut self.primary), (true, &mut self.alt)] {
            if is_alt == alt_active {
                g.rows.drain(..drop.min(g.rows.len()));
            }
            g.rows.truncate(rows as usize);
            for r in &mut g.rows {
                fit_row(r, cols);
            }
            while g.rows.len() < rows as usize {
                g.rows
                    .push(vec![Cell::blank(Color::Default); cols as usize]);
            }
        }
        for s in [&mut self.saved, &mut self.alt_saved].into_iter().flatten() {
            s.row = s.row.min(rows - 1);
            s.col = s.col.min(cols - 1);
        }
        // Where REP's character was may be gone.
        self.last = None;
        self.row = (self.row as usize - drop.min(self.row as usize)) as u16;
        self.row = self.row.min(rows - 1);
        self.col = self.col.min(cols - 1);
        if cols != self.cols {
            self.pending = false;
        }
        let old = self.cols;
        self.tabs.resize(cols as usize, false);
        for c in old..cols {
            self.tabs[c as usize] = c % 8 == 0;
        }
        self.rows = rows;
        self.cols = cols;
        self.top = 0;
        self.bottom = rows - 1;
    }

    /// Feeds output.
    pub fn process(&mut self, parser: &mut vte::Parser, bytes: &[u8], ev: &mut dyn Events) {
        let mut p = Performer { t: self, ev };
        parser.advance(&mut p, bytes);
    }

    // ---- cursor and scrolling ----

    fn clamp_cursor(&mut self) {
        self.row = self.row.min(self.rows - 1);
        self.col = self.col.min(self.cols - 1);
    }

    fn blank(&self) -> Cell {
        Cell::blank(self.pen.bg)
    }

    /// Scrolls rows `top..=bottom` up by `n` (new blank rows at the bottom).
    fn scroll_up(&mut self, n: usize) {
        let (top, bottom) = (self.top as usize, self.bottom as usize);
        let n = n.min(bottom + 1 - top);
        let blank = self.blank();
        let rows = &mut self.grid_mut().rows;
        rows[top..=bottom].rotate_left(n);
        // Blanked in place: no row allocated per scroll.
        for r in &mut rows[bottom + 1 - n..=bottom] {
            r.fill(blank.clone());
        }
    }

    /// Scrolls rows `top..=bottom` down by `n` (blank rows at the top).
    fn scroll_down(&mut self, n: usize) {
        let (top, bottom) = (self.top as usize, self.bottom as usize);
        let n = n.min(bottom + 1 - top);
        let blank = self.blank();
        let rows = &mut self.grid_mut().rows;
        rows[top..=bottom].rotate_right(n);
        for r in &mut rows[top..top + n] {
            r.fill(blank.clone());
        }
    }

    fn index(&mut self) {
        if self.row == self.bottom {
            self.scroll_up(1);
        } else if self.row < self.rows - 1 {
            self.row += 1;
        }
    }

    fn reverse_index(&mut self) {
        if self.row == self.top {
            self.scroll_down(1);
        } else if self.row > 0 {
            self.row -= 1;
        }
    }

    /// Moves to `row`, `col` (0-based; `row` relative to the region in
    /// origin mode).
    fn goto(&mut self, row: u16, col: u16) {
        let (lo, hi) = if self.origin {
            (self.top, self.bottom)
        } else {
            (0, self.rows - 1)
        };
        self.row = lo.saturating_add(row).min(hi);
        self.col = col.min(self.cols - 1);
        self.pending = false;
    }

    fn up(&mut self, n: u16) {
        let lo = if self.row >= self.top { self.top } else { 0 };
        self.row = self.row.saturating_sub(n).max(lo);
        self.pending = false;
    }

    fn down(&mut self, n: u16) {
        let hi = if self.row <= self.bottom {
            self.bottom
        } else {
            self.rows - 1
        };
        self.row = self.row.saturating_add(n).min(hi);
        self.pending = false;
    }

    // ---- printing ----

    fn print(&mut self, c: char) {
        let c = if self.g[self.gl as usize & 1] == Charset::DecGraphics && is_dec_graphic(c) {
            (c, attr::ACS)
        } else {
            (c, 0)
        };
        let (c, acs) = c;
        let width = match c.width() {
            Some(w) => w,
            None => return,
        };
        if width == 0 {
            self.combine(c);
            return;
        }
        let width = width.min(2) as u16;
        if width > self.cols {
            return;
        }
        let cols = self.cols;
        if self.pending && self.autowrap {
            self.col = 0;
            self.index();
        }
        self.pending = false;
        if width == 2 && self.col == cols - 1 {
            if !self.autowrap {
                return;
            }
            // A wide character does not fit: the last cell stays blank
            // and the character goes to the next line.
            let blank = self.blank();
            let (row, col) = (self.row as usize, self.col as usize);
            self.put_cell(row, col, blank);
            self.col = 0;
            self.index();
        }
        if self.insert {
            // As ICH: a wide character the cursor is inside is split first.
            self.shift_chars(width as usize, true);
        }
        let (row, col) = (self.row as usize, self.col as usize);
        let mut pen = self.pen;
        pen.flags |= acs;
        self.put_cell(
            row,
            col,
            Cell {
                ch: c,
                extra: None,
                pen,
                width: if width == 2 { Width::Wide } else { Width::One },
            },
        );
        if width == 2 {
            self.put_cell(
                row,
                col + 1,
                Cell {
                    ch: ' ',
                    extra: None,
                    pen,
                    width: Width::Tail,
                },
            );
        }
        self.last = Some(c);
        self.last_at = (row as u16, col as u16);
        if self.col + width >= cols {
            self.col = cols - 1;
            self.pending = self.autowrap;
        } else {
            self.col += width;
        }
    }

    /// Writes one cell, blanking the other half of a wide character it
    /// overwrites.
    fn put_cell(&mut self, row: usize, col: usize, cell: Cell) {
        let blank = self.blank();
        let Some(r) = self.grid_mut().rows.get_mut(row) else {
            return;
        };
        if col >= r.len() {
            return;
        }
        match r[col].width {
            Width::Wide if col + 1 < r.len() && r[col + 1].width == Width::Tail => {
                r[col + 1] = blank.clone();
            }
            Width::Tail if col > 0 => r[col - 1] = blank.clone(),
            _ => {}
        }
        if cell.width != Width::Tail {
            if let Some(next) = r.get(col + 1) {
                if next.width == Width::Tail && cell.width != Width::Wide {
                    r[col + 1] = blank;
                }
            }
        }
        r[col] = cell;
    }

    fn combine(&mut self, c: char) {
        let (row, mut col) = (self.row as usize, self.col as usize);
        if !self.pending {
            if col == 0 {
                return;
            }
            col -= 1;
        }
        let r = &mut self.grid_mut().rows[row];
        if r[col].width == Width::Tail && col > 0 {
            col -= 1;
        }
        let cell = &mut r[col];
        // On a blank too (as tmux): the cell is written from then on.
        cell.pen.flags &= !attr::ERASED;
        let mut s = cell.extra.take().map(String::from).unwrap_or_default();
        if s.len() < 32 {
            s.push(c);
        }
        cell.extra = Some(s.into_boxed_str());
    }

    // ---- erasing, inserting, deleting ----

    fn erase_cells(&mut self, row: usize, from: usize, to: usize) {
        let blank = self.blank();
        let Some(r) = self.grid_mut().rows.get_mut(row) else {
            return;
        };
        let to = to.min(r.len());
        if from >= to {
            return;
        }
        for c in &mut r[from..to] {
            *c = blank.clone();
        }
        // A wide character cut in half loses both halves.
        if from > 0 && r[from - 1].width == Width::Wide {
            r[from - 1] = blank.clone();
        }
        if to < r.len() && r[to].width == Width::Tail {
            r[to] = blank;
        }
    }

    fn erase_display(&mut self, mode: u16) {
        let (row, col) = (self.row as usize, self.col as usize);
        let (rows, cols) = (self.rows as usize, self.cols as usize);
        match mode {
            0 => {
                self.erase_cells(row, col, cols);
                for r in row + 1..rows {
                    self.erase_cells(r, 0, cols);
                }
            }
            1 => {
                for r in 0..row {
                    self.erase_cells(r, 0, cols);
                }
                self.erase_cells(row, 0, col + 1);
            }
            2 => {
                for r in 0..rows {
                    self.erase_cells(r, 0, cols);
                }
            }
            _ => {}
        }
    }

    fn erase_line(&mut self, mode: u16) {
        let (row, col, cols) = (self.row as usize, self.col as usize, self.cols as usize);
        match mode {
            0 => self.erase_cells(row, col, cols),
            1 => self.erase_cells(row, 0, col + 1),
            2 => self.erase_cells(row, 0, cols),
            _ => {}
        }
    }

    /// ICH (`insert`: `n` blanks at the cursor, the rest of the row moves
    /// right) or DCH (`n` cells at the cursor go, the rest moves left and
    /// blanks fill the end); a wide character the cursor is inside is
    /// split first.
    fn shift_chars(&mut self, n: usize, insert: bool) {
        // With a wrap pending the cursor is past the last column (as
        // tmux): nothing there to shift.
        if self.pending {
            return;
        }
        let (row, col) = (self.row as usize, self.col as usize);
        let blank = self.blank();
        let cols = self.cols as usize;
        let n = n.min(cols - col);
        let r = &mut self.grid_mut().rows[row];
        if r[col].width == Width::Tail && col > 0 {
            r[col - 1] = blank.clone();
            if insert {
                r[col] = blank.clone();
            }
        }
        if insert {
            r.truncate(cols - n);
            r.splice(col..col, std::iter::repeat_n(blank, n));
            fix_wide_at_end(r);
        } else {
            r.drain(col..col + n);
            r.extend(std::iter::repeat_n(blank.clone(), n));
            if r[col].width == Width::Tail {
                r[col] = blank;
            }
        }
    }

    /// IL (`insert`) or DL: scrolls the part of the region from the
    /// cursor's row down.
    ///
    /// As tmux: the cursor stays where it is, and outside the region the
    /// lines from the cursor's to the screen's last are scrolled.
    fn insert_or_delete_lines(&mut self, n: usize, insert: bool) {
        let (top, bottom) = (self.top, self.bottom);
        if self.row < self.top || self.row > self.bottom {
            self.bottom = self.rows - 1;
        }
        self.top = self.row;
        if insert {
            self.scroll_down(n);
        } else {
            self.scroll_up(n);
        }
        self.top = top;
        self.bottom = bottom;
    }

    // ---- saved cursor, screens, resets ----

    fn saved_now(&self) -> Saved {
        Saved {
            row: self.row,
            col: self.col,
            pen: self.pen,
            origin: self.origin,
            pending: self.pending,
            g: self.g,
            gl: self.gl,
        }
    }

    fn save_cursor(&mut self) {
        self.saved = Some(self.saved_now());
    }

    fn restore_cursor(&mut self) {
        let s = self.saved.clone().unwrap_or_default();
        self.restore(s);
    }

    fn restore(&mut self, s: Saved) {
        self.row = s.row.min(self.rows - 1);
        if s.origin {
            // In origin mode the cursor stays inside the scroll region (as
            // xterm; tmux may leave it above the region, a place no CUP
            // could put it back, so a snapshot could not restore it).
            self.row = self.row.clamp(self.top, self.bottom);
        }
        self.col = s.col.min(self.cols - 1);
        self.pen = s.pen;
        self.origin = s.origin;
        self.pending = s.pending && self.autowrap;
        self.g = s.g;
        self.gl = s.gl;
    }

    /// Shows the alternate screen, blank.
    fn enter_alt(&mut self) {
        if self.alt_active {
            return;
        }
        self.alt_active = true;
        for r in &mut self.alt.rows {
            for c in r.iter_mut() {
                *c = Cell::blank(Color::Default);
            }
        }
    }

    fn leave_alt(&mut self) {
        self.alt_active = false;
    }

    fn soft_reset(&mut self) {
        self.pen = Pen::default();
        self.g = [Charset::Ascii; 2];
        self.gl = 0;
        self.top = 0;
        self.bottom = self.rows - 1;
        self.origin = false;
        self.autowrap = true;
        self.insert = false;
        self.app_cursor = false;
        self.app_keypad = false;
        self.cursor_hidden = false;
        self.pending = false;
        self.saved = None;
    }

    fn full_reset(&mut self) {
        *self = Term::new(self.rows, self.cols);
    }

    fn set_top_bottom(&mut self, top: u16, bottom: u16) {
        // 1-based, 0 = default.
        let top = top.max(1) - 1;
        let bottom = if bottom == 0 {
            self.rows
        } else {
            bottom.min(self.rows)
        } - 1;
        if top < bottom {
            self.top = top;
            self.bottom = bottom;
            // Home: in origin mode the region's top-left (as xterm; tmux
            // goes to the screen's, a place in origin mode that no CUP
            // reaches, so no snapshot could restore it).
            self.goto(0, 0);
        }
    }

    fn set_private_mode(&mut self, mode: u16, on: bool) {
        match mode {
            1 => self.app_cursor = on,
            6 => {
                self.origin = on;
                self.goto(0, 0);
            }
            7 => {
                self.autowrap = on;
                if !on {
                    self.pending = false;
                }
            }
            25 => self.cursor_hidden = !on,
            47 | 1047 => {
                // Entering always starts from a blank alternate screen (as
                // tmux does; xterm keeps 47's old contents), so what is
                // not shown never matters.
                if on {
                    self.enter_alt();
                } else {
                    // Left without 1049: what 1049 saved is forgotten, so
                    // the primary screen never carries hidden state a
                    // snapshot would have to restore.
                    self.leave_alt();
                    self.alt_saved = None;
                }
            }
            1048 => {
                if on {
                    self.save_cursor();
                } else {
                    self.restore_cursor();
                }
            }
            1049 => {
                if on {
                    if !self.alt_active {
                        self.alt_saved = Some(self.saved_now());
                        self.enter_alt();
                    }
                } else if self.alt_active {
                    self.leave_alt();
                    let s = self.alt_saved.take().unwrap_or_default();
                    self.restore(s);
                }
            }
            1004 => self.focus_events = on,
            2004 => self.bracketed_paste = on,
            m if MOUSE_MODES.contains(&m) => {
                if on {
                    self.mouse_mode = m;
                } else if self.mouse_mode == m {
                    self.mouse_mode = 0;
                }
            }
            m if MOUSE_ENCODINGS.contains(&m) => {
                if on {
                    self.mouse_encoding = m;
                } else if self.mouse_encoding == m {
                    self.mouse_encoding = 0;
                }
            }
            _ => {}
        }
    }

    fn sgr(&mut self, params: &vte::Params) {
        let mut it = params.iter();
        if params.is_empty() {
            self.pen = Pen::default();
            return;
        }
        while let Some(p) = it.next() {
            let code = p.first().copied().unwrap_or(0);
            let f = &mut self.pen.flags;
            match code {
                0 => self.pen = Pen::default(),
                1 => *f |= attr::BOLD,
                2 => *f |= attr::DIM,
                3 => *f |= attr::ITALIC,
                4 => {
                    if p.get(1) == Some(&0) {
                        *f &= !attr::UNDERLINE
                    } else {
                        *f |= attr::UNDERLINE
                    }
                }
                5 | 6 => *f |= attr::BLINK,
                7 => *f |= attr::INVERSE,
                8 => *f |= attr::HIDDEN,
                9 => *f |= attr::STRIKE,
                21 => *f |= attr::UNDERLINE,
                22 => *f &= !(attr::BOLD | attr::DIM),
                23 => *f &= !attr::ITALIC,
                24 => *f &= !attr::UNDERLINE,
                25 => *f &= !attr::BLINK,
                27 => *f &= !attr::INVERSE,
                28 => *f &= !attr::HIDDEN,
                29 => *f &= !attr::STRIKE,
                30..=37 => self.pen.fg = Color::Idx((code - 30) as u8),
                39 => self.pen.fg = Color::Default,
                40..=47 => self.pen.bg = Color::Idx((code - 40) as u8),
                49 => self.pen.bg = Color::Default,
                90..=97 => self.pen.fg = Color::Idx((code - 90 + 8) as u8),
                100..=107 => self.pen.bg = Color::Idx((code - 100 + 8) as u8),
                38 | 48 => {
                    let color = if p.len() > 1 {
                        // Colon form: 38:5:n or 38:2:[cs:]r:g:b.
                        extended_color(&p[1..], true)
                    } else {
                        // Semicolon form: the next parameters.
                        let mut rest = Vec::with_capacity(4);
                        if let Some(kind) = it.next() {
                            let kind = kind.first().copied().unwrap_or(0);
                            rest.push(kind);
                            let more = if kind == 5 {
                                1
                            } else if kind == 2 {
                                3
                            } else {
                                0
                            };
                            for _ in 0..more {
                                match it.next() {
                                    Some(v) => rest.push(v.first().copied().unwrap_or(0)),
                                    None => break,
                                }
                            }
                        }
                        extended_color(&rest, false)
                    };
                    if let Some(c) = color {
                        if code == 38 {
                            self.pen.fg = c;
                        } else {
                            self.pen.bg = c;
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// `38;5;n` / `38;2;r;g;b` (or the colon forms, where `2` may be followed
/// by a colour-space id).
fn extended_color(p: &[u16], colon: bool) -> Option<Color> {
    match p.first()? {
        5 => Some(Color::Idx((*p.get(1)?).min(255) as u8)),
        2 => {
            let rgb = if colon && p.len() >= 5 {
                &p[2..5]
            } else {
                p.get(1..4)?
            };
            let c = |v: u16| v.min(255) as u8;
            Some(Color::Rgb(c(rgb[0]), c(rgb[1]), c(rgb[2])))
        }
        _ => None,
    }
}

fn default_tabs(cols: u16) -> Vec<bool> {
    (0..cols).map(|c| c % 8 == 0 && c > 0).collect()
}

fn fit_row(r: &mut Vec<Cell>, cols: u16) {
    r.resize(cols as usize, Cell::blank(Color::Default));
    fix_wide_at_end(r);
}

/// A wide character whose right half fell off the end becomes a blank.
fn fix_wide_at_end(r: &mut [Cell]) {
    if let Some(last) = r.last_mut() {
        if last.width == Width::Wide {
            *last = Cell::blank(last.pen.bg);
        }
    }
    if let Some(first) = r.first_mut() {
        if first.width == Width::Tail {
            *first = Cell::blank(first.pen.bg);
        }
    }
}

/// True for the characters the DEC special graphics set replaces.
fn is_dec_graphic(c: char) -> bool {
    ('\u{5f}'..='\u{7e}').contains(&c)
}

/// The Unicode form of a DEC special graphics character.
pub fn dec_graphics(c: char) -> char {
    const MAP: [char; 32] = [
        ' ', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼', '⎺', '⎻',
        '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
    ];
    if is_dec_graphic(c) {
        MAP[(c as usize) - 0x5f]
    } else {
        c
    }
}

fn param(params: &vte::Params, i: usize, default: u16) -> u16 {
    match params.iter().nth(i).and_then(|p| p.first().copied()) {
        None | Some(0) => default,
        Some(v) => v,
    }
}

struct Performer<'a> {
    t: &'a mut Term,
    ev: &'a mut dyn Events,
}

impl vte::Perform for Performer<'_> {
    fn print(&mut self, c: char) {
        self.t.print(c);
    }

    fn execute(&mut self, b: u8) {
        let t = &mut *self.t;
        // REP repeats only a character printed right before it (as tmux).
        t.last = None;
        match b {
            0x07 => self.ev.bell(),
            0x08 => {
                // From a pending wrap, tmux goes back to the last column.
                if t.pending {
                    t.pending = false;
                } else if t.col > 0 {
                    t.col -= 1;
                }
            }
            // A tab while a wrap is pending does nothing (as tmux).
            0x09 if !t.pending => {
                let cols = t.cols as usize;
                let mut c = t.col as usize + 1;
                while c < cols && !t.tabs[c] {
                    c += 1;
                }
                t.col = c.min(cols - 1) as u16;
            }
            0x0a..=0x0c => {
                t.index();
                if t.newline {
                    t.col = 0;
                    t.pending = false;
                }
            }
            0x0d => {
                t.col = 0;
                t.pending = false;
            }
            0x0e => t.gl = 1,
            0x0f => t.gl = 0,
            _ => {}
        }
    }

    fn osc_dispatch(&mut self, params: &[&[u8]], _bell: bool) {
        match params {
            [b"0" | b"2", rest @ ..] if !rest.is_empty() => {
                // A title may itself contain ';'.
                let title = rest.join(&b';');
                self.ev.title(&title);
            }
            _ => self.ev.osc(params),
        }
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], _ignore: bool, b: u8) {
        let t = &mut *self.t;
        t.last = None;
        match (intermediates, b) {
            ([], b'7') => t.save_cursor(),
            ([], b'8') => t.restore_cursor(),
            ([], b'D') => {
                t.index();
            }
            ([], b'E') => {
                t.index();
                t.col = 0;
                t.pending = false;
            }
            ([], b'M') => {
                t.reverse_index();
            }
            ([], b'H') => {
                let c = t.col as usize;
                t.tabs[c] = true;
            }
            ([], b'c') => t.full_reset(),
            ([], b'=') => t.app_keypad = true,
            ([], b'>') => t.app_keypad = false,
            ([i @ (b'(' | b')')], f) => {
                let set = if f == b'0' {
                    Charset::DecGraphics
                } else {
                    Charset::Ascii
                };
                t.g[usize::from(*i == b')')] = set;
            }
            ([b'#'], b'8') => {
                for r in &mut t.grid_mut().rows {
                    for c in r.iter_mut() {
                        *c = Cell::blank(Color::Default);
                        c.ch = 'E';
                        c.pen.flags = 0;
                    }
                }
                t.top = 0;
                t.bottom = t.rows - 1;
                t.goto(0, 0);
            }
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &vte::Params, inter: &[u8], ignore: bool, action: char) {
        if ignore {
            return;
        }
        let t = &mut *self.t;
        let p0 = |d| param(params, 0, d);
        match (inter, action) {
            ([], '@') => t.shift_chars(p0(1) as usize, true),
            ([], 'A') => t.up(p0(1)),
            ([], 'B' | 'e') => t.down(p0(1)),
            ([], 'C' | 'a') => {
                t.col = t.col.saturating_add(p0(1)).min(t.cols - 1);
                t.pending = false;
            }
            ([], 'D') => {
                t.col = t.col.saturating_sub(p0(1));
                t.pending = false;
            }
            ([], 'E') => {
                t.down(p0(1));
                t.col = 0;
            }
            ([], 'F') => {
                t.up(p0(1));
                t.col = 0;
            }
            ([], 'G' | '`') => {
                t.col = (p0(1) - 1).min(t.cols - 1);
                t.pending = false;
            }
            ([], 'H' | 'f') => t.goto(p0(1) - 1, param(params, 1, 1) - 1),
            ([], 'I') => {
                for _ in 0..p0(1).min(t.cols) {
                    let cols = t.cols as usize;
                    let mut c = t.col as usize + 1;
                    while c < cols && !t.tabs[c] {
                        c += 1;
                    }
                    t.col = c.min(cols - 1) as u16;
                }
                t.pending = false;
            }
            ([], 'Z') => {
                for _ in 0..p0(1).min(t.cols) {
                    let mut c = t.col as usize;
                    while c > 0 {
                        c -= 1;
                        if t.tabs[c] {
                            break;
                        }
                    }
                    t.col = c as u16;
                }
                t.pending = false;
            }
            ([] | [b'?'], 'J') => t.erase_display(param(params, 0, 0)),
            ([] | [b'?'], 'K') => t.erase_line(param(params, 0, 0)),
            ([], 'L') => t.insert_or_delete_lines(p0(1) as usize, true),
            ([], 'M') => t.insert_or_delete_lines(p0(1) as usize, false),
            ([], 'P') => t.shift_chars(p0(1) as usize, false),
            ([], 'S') => t.scroll_up(p0(1) as usize),
            ([], 'T') if params.len() <= 1 => t.scroll_down(p0(1) as usize),
            // ECH leaves a pending wrap pending and erases from the last
            // column (tmux erases nothing there; a snapshot needs this to
            // restore a pending wrap over an erased last cell).
            ([], 'X') => {
                let (row, col) = (t.row as usize, t.col as usize);
                t.erase_cells(row, col, col + p0(1) as usize);
            }
            ([], 'b') => {
                if let Some(c) = t.last {
                    let n = (p0(1) as usize)
                        .min(MAX_REPEAT)
                        .min(t.rows as usize * t.cols as usize);
                    // REP repeats the character as printed (with the
                    // charset it was printed in: `last` is the raw one, and
                    // the charset in force is still applied).
                    for _ in 0..n {
                        t.print(c);
                    }
                }
            }
            ([], 'd') => {
                let col = t.col;
                t.goto(p0(1) - 1, col);
            }
            ([], 'g') => match param(params, 0, 0) {
                0 => {
                    let c = t.col as usize;
                    t.tabs[c] = false;
                }
                3 => t.tabs.iter_mut().for_each(|s| *s = false),
                _ => {}
            },
            ([], 'h' | 'l') => {
                let on = action == 'h';
                for p in params.iter() {
                    match p.first() {
                        Some(4) => t.insert = on,
                        Some(20) => t.newline = on,
                        _ => {}
                    }
                }
            }
            ([b'?'], 'h' | 'l') => {
                let on = action == 'h';
                for p in params.iter() {
                    if let Some(&m) = p.first() {
                        t.set_private_mode(m, on);
                    }
                }
            }
            ([], 'm') => t.sgr(params),
            ([], 'r') => t.set_top_bottom(param(params, 0, 0), param(params, 1, 0)),
            ([], 's') => t.save_cursor(),
            ([], 'u') => t.restore_cursor(),
            ([b' '], 'q') => t.cursor_style = param(params, 0, 0).min(6),
            ([b'!'], 'p') => t.soft_reset(),
            _ => {}
        }
        if action != 'b' {
            t.last = None;
        }
        t.clamp_cursor();
    }
}
