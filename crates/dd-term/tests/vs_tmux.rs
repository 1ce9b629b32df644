//! Differential test against a real terminal: random output fed to tmux
//! and to our emulator at the same size must give the same cells and
//! cursor. tmux is the truth (it is what the fidelity suite compares the
//! companion's screen with); this finds where our model's semantics differ
//! from it, sequence by sequence, without a program in between.
//!
//! Skips (with a message) when tmux is not installed; CI installs it.
//! Where we follow xterm on purpose (origin-mode DECSTBM, CHT) the pieces
//! leave the sequence out; where we still differ the test says so (see
//! `KNOWN`).
//! `DD_VS_TMUX_CASES` sets the number of random cases (default 150).

use std::path::Path;
use std::time::{Duration, Instant};

use dd_term::{Cell, Color, NoEvents, Term};
use dd_testkit::tmux::{captured, Tmux};

fn key(c: &Cell) -> dd_term::Looks<'_> {
    c.looks()
}

/// tmux's screen of pane `name` as our cells, and its cursor (row, col).
fn tmux_screen(t: &Tmux, name: &str, rows: u16, cols: u16) -> (Term, (u16, u16)) {
    let cur = t.ok(&[
        "display-message",
        "-p",
        "-t",
        name,
        "#{cursor_y} #{cursor_x}",
    ]);
    let mut it = cur
        .split_whitespace()
        .map(|v| v.parse::<u16>().unwrap_or(0));
    let cursor = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    let capture = t.ok(&["capture-pane", "-p", "-e", "-t", name]);
    (captured(&capture, rows, cols), cursor)
}

/// The first difference between tmux's screen and ours, if any.
fn compare(theirs: &Term, cursor: (u16, u16), ours: &Term) -> Option<String> {
    let blank = Cell::blank(Color::Default);
    for r in 0..ours.rows as usize {
        let row = &ours.grid().rows[r];
        // `capture-pane` may leave out erased cells that end a row, whatever
        // their background (those an erase cleared; not those ICH made):
        // there, a default blank matches too.
        // And it trims the blanks that end a row, whatever their
        // attributes: past the end of tmux's line, ours must be blank.
        let shown = row.len() - row.iter().rev().take_while(|c| c.is_erased()).count();
        let trow = &theirs.grid().rows[r];
        let tshown = trow.len() - trow.iter().rev().take_while(|c| c.is_erased()).count();
        for c in 0..ours.cols as usize {
            let (a, b) = (&trow[c], &row[c]);
            if c >= tshown {
                if b.ch == ' ' && b.extra.is_none() {
                    continue;
                }
            } else if key(a) == key(b) || (c >= shown && key(a) == key(&blank)) {
                continue;
            }
            {
                return Some(format!(
                    "cell ({r},{c}): tmux {:?} ours {:?}\n tmux: {:?}\n ours: {:?}",
                    key(a),
                    key(b),
                    theirs.lines(),
                    ours.lines()
                ));
            }
        }
    }
    // A pending wrap: tmux reports the cursor in the last column too.
    if cursor != (ours.row, ours.col) {
        return Some(format!(
            "cursor: tmux {cursor:?} ours {:?}\n ours: {:?}",
            (ours.row, ours.col),
            ours.lines()
        ));
    }
    None
}

/// Runs `bytes` in a fresh pane of `rows` x `cols` and compares.
fn run_case(t: &Tmux, dir: &Path, n: usize, rows: u16, cols: u16, bytes: &[u8]) -> Option<String> {
    let file = dir.join(format!("case{n}"));
    std::fs::write(&file, bytes).unwrap();
    let done = dir.join(format!("done{n}"));
    let name = format!("c{n}");
    let script = format!(
        "stty -opost -echo; cat {f}; touch {d}; exec sleep 600",
        f = file.display(),
        d = done.display()
    );
    t.ok(&[
        "new-session",
        "-d",
        "-s",
        &name,
        "-x",
        &cols.to_string(),
        "-y",
        &rows.to_string(),
        &script,
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.exists() {
        assert!(Instant::now() < deadline, "case {n} never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    // tmux parses what the pane wrote before it answers a command.
    std::thread::sleep(Duration::from_millis(50));
    let (theirs, cursor) = tmux_screen(t, &name, rows, cols);
    t.cmd(&["kill-session", "-t", &name]);
    let mut ours = Term::new(rows, cols);
    ours.process(&mut vte::Parser::new(), bytes, &mut NoEvents);
    compare(&theirs, cursor, &ours)
}

/// What programs send. Left out where we follow xterm on purpose: CHT
/// (`CSI I`, which tmux does not implement) and origin mode (`CSI ? 6 h`:
/// tmux's DECSTBM homes to the screen's top even then, xterm and we to
/// the region's).
const PIECES: &[&[u8]] = &[
    b"hello ",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x08",
    b"\t",
    b"\x1b[H",
    b"\x1b[3;4H",
    b"\x1b[2;5f",
    b"\x1b[A",
    b"\x1b[2B",
    b"\x1b[C",
    b"\x1b[3D",
    b"\x1b[K",
    b"\x1b[1K",
    b"\x1b[2K",
    b"\x1b[2J",
    b"\x1b[J",
    b"\x1b[1J",
    b"\x1b[2;4r",
    b"\x1b[3;6r",
    b"\x1b[r",
    b"\x1b[?7l",
    b"\x1b[?7h",
    b"\x1b[4h",
    b"\x1b[4l",
    b"\x1b(0",
    b"\x1b(B",
    b"lqqk",
    b"x",
    b"\x1b[3b",
    b"\x1b[?1049h",
    b"\x1b[?1049l",
    b"\x1b7",
    b"\x1b8",
    b"\x1b[1;31m",
    b"\x1b[0m",
    b"\x1b[7;44m",
    b"\x1b[4m",
    b"\x1b[38;5;99m",
    b"\x1b[48;2;1;2;3m",
    b"\x1bM",
    b"\x1bD",
    b"\x1bE",
    b"\x1b[L",
    b"\x1b[2L",
    b"\x1b[M",
    b"\x1b[2M",
    b"\x1b[P",
    b"\x1b[3P",
    b"\x1b[@",
    b"\x1b[2@",
    b"\x1b[X",
    b"\x1b[4X",
    b"\x1b[S",
    b"\x1b[2S",
    b"\x1b[T",
    b"\x1b[2T",
    b"\xe4\xb8\xad",
    b"e\xcc\x81",
    b"\x1b[5G",
    b"\x1b[3d",
    b"\x1b[20h",
    b"\x1b[20l",
    b"\x1bH",
    b"\x1b[g",
    b"\x1b[3g",
    b"\x1b[Z",
    b"0123456789",
    b"abcdefghijklmnopqrstuvwxyz",
    b"\x1b[41m\x1b[K",
    b"\x1b[44m\x1b[2J",
    b"\x1b[s",
    b"\x1b[u",
];

#[test]
fn our_screen_equals_tmuxs_for_random_output() {
    if !Tmux::installed() {
        eprintln!("SKIP vs_tmux: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::new(format!("dd-vs-{}", std::process::id()), None, Vec::new());
    // A session that keeps the server up between cases.
    t.ok(&["new-session", "-d", "-s", "keep", "sleep 3600"]);
    let cases = std::env::var("DD_VS_TMUX_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut seed: u64 = 0x853c_49e6_748f_ea9b;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut failures = Vec::new();
    for n in 0..cases {
        let (rows, cols) = (2 + rnd(8) as u16, 4 + rnd(20) as u16);
        let mut pieces: Vec<&[u8]> = (0..1 + rnd(40))
            .map(|_| PIECES[rnd(PIECES.len())])
            .collect();
        if run_case(&t, dir.path(), n, rows, cols, &pieces.concat()).is_none() {
            continue;
        }
        if failures.is_empty() {
            // The first failure, made as small as it stays failing.
            let mut i = 0;
            while i < pieces.len() {
                let mut fewer = pieces.clone();
                fewer.remove(i);
                if run_case(&t, dir.path(), n, rows, cols, &fewer.concat()).is_some() {
                    pieces = fewer;
                } else {
                    i += 1;
                }
            }
        }
        let bytes = pieces.concat();
        let d = run_case(&t, dir.path(), n, rows, cols, &bytes).unwrap_or_default();
        failures.push(format!(
            "case {n} {rows}x{cols} {:?}\n{d}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    for f in &failures {
        eprintln!("differs from tmux: {f}");
    }
    // A ratchet: with the default seed and 150 cases, 5 still differ
    // (docs/benchmarks.md lists them: 1049 l on the primary screen, REP of
    // a wide character, newline mode with IL/DL, and two longer mixes not
    // yet reduced). Fewer is progress: lower the bound; more is a
    // regression.
    const KNOWN: usize = 5;
    assert!(
        failures.len() <= KNOWN || cases != 150,
        "{} of {cases} cases differ from tmux (known: {KNOWN}; the first made smallest):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
