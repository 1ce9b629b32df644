//! Parse speed of the agent's screen model (`mirror::term` on `vte`),
//! which the gateway feeds every byte of every session's output.
//!
//! Each workload is ~4 MiB of typical output, fed as the gateway feeds it
//! under a flood: in the session host's 64 KiB pieces, each through
//! `Screen::process`, then the signals taken (`mirror::ScreenBench`).
//! Throughput is in MB/s (10^6 bytes), like `docs/benchmarks.md`.
//!
//! `cargo bench -p dd-agent --bench screen`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dd_agent::mirror::ScreenBench;
use std::fmt::Write;
use std::time::Duration;

/// Size of each workload.
const TARGET: usize = 4 << 20;
/// The host hands a flood to the gateway in pieces of up to 64 KiB.
const CHUNK: usize = 64 * 1024;
const ROWS: u16 = 40;
const COLS: u16 = 120;

/// `ls --color` output: short names, each in its own SGR colour, reset
/// after each, several per line; the PTY's `\r\n`.
fn ls_color() -> Vec<u8> {
    let kinds = [
        "\x1b[01;34m",
        "\x1b[01;32m",
        "\x1b[01;36m",
        "\x1b[00m",
        "\x1b[01;31m",
        "\x1b[40;33;01m",
    ];
    let exts = ["", ".rs", ".txt", ".tar.gz", ".sh", ".md", ""];
    let mut s = String::new();
    let mut i = 0usize;
    while s.len() < TARGET {
        for _ in 0..5 {
            let k = kinds[i % kinds.len()];
            let e = exts[i % exts.len()];
            let _ = write!(s, "{k}file_{i:05}{e}\x1b[0m  ");
            i += 1;
        }
        s.push_str("\r\n");
    }
    s.into_bytes()
}

/// What `scripts/bench.sh`'s throughput measure prints: `cat` of a file of
/// 100-byte lines (99 `x` and a newline, which the PTY makes `\r\n`).
fn cat_lines() -> Vec<u8> {
    let mut line = vec![b'x'; 99];
    line.extend_from_slice(b"\r\n");
    line.iter().copied().cycle().take(TARGET).collect()
}

/// `seq 1 N`: plain short lines, the screen scrolling on every one.
fn seq() -> Vec<u8> {
    let mut s = String::new();
    let mut i = 1u64;
    while s.len() < TARGET {
        let _ = write!(s, "{i}\r\n");
        i += 1;
    }
    s.into_bytes()
}

/// A vim-like editor: full-screen redraws on the alternate screen (cursor
/// hidden, every row positioned with CUP, syntax colours in 256-colour
/// SGR, erase to end of line, a reverse-video status line, a UTF-8
/// character now and then), plus scrolling inside a scroll region with
/// cursor moves between redraws.
fn vim_redraw() -> Vec<u8> {
    let mut s = String::from("\x1b[?1049h\x1b[?1h\x1b=\x1b[H\x1b[2J");
    let words = [
        ("\x1b[38;5;130m", "fn"),
        ("\x1b[38;5;28m", "let"),
        ("\x1b[m", "screen"),
        ("\x1b[38;5;124m", "\"héllo\""),
        ("\x1b[m", "=>"),
        ("\x1b[38;5;25m", "Vec<u8>"),
        ("\x1b[1m", "return"),
        ("\x1b[m", "│"),
    ];
    let mut frame = 0usize;
    while s.len() < TARGET {
        s.push_str("\x1b[?25l\x1b[H");
        for r in 1..ROWS - 1 {
            let _ = write!(
                s,
                "\x1b[{r};1H\x1b[38;5;130m{:>4} \x1b[m",
                frame + r as usize
            );
            let mut width = 5;
            let mut w = (frame + r as usize) % words.len();
            while width < 90 {
                let (sgr, text) = words[w];
                let _ = write!(s, "{sgr}{text}\x1b[m ");
                width += text.chars().count() + 1;
                w = (w + 3) % words.len();
            }
            s.push_str("\x1b[K");
        }
        let _ = write!(
            s,
            "\x1b[{};1H\x1b[7m src/main.rs [+]{:>90}\x1b[27m\x1b[{};1H-- INSERT --\x1b[K",
            ROWS - 1,
            format!("{},{} All ", frame % 500, frame % 80),
            ROWS
        );
        // Scroll the text area by a few lines, as <C-e> or a search does.
        let _ = write!(s, "\x1b[1;{}r\x1b[{};1H", ROWS - 2, ROWS - 2);
        for _ in 0..3 {
            s.push_str("\n\x1b[38;5;28mlet\x1b[m scrolled = 1;\x1b[K");
        }
        let _ = write!(
            s,
            "\x1b[r\x1b[{};{}H\x1b[?25h",
            frame % 30 + 1,
            frame % 70 + 1
        );
        frame += 1;
    }
    s.push_str("\x1b[?1049l");
    s.into_bytes()
}

fn feed_all(data: &[u8]) -> usize {
    let mut screen = ScreenBench::new(ROWS, COLS);
    let mut signals = 0;
    for chunk in data.chunks(CHUNK) {
        signals += screen.feed(black_box(chunk));
    }
    black_box(screen.lines().len()) + signals
}

fn parse(c: &mut Criterion) {
    let workloads = [
        ("cat_lines", cat_lines()),
        ("ls_color", ls_color()),
        ("seq", seq()),
        ("vim_redraw", vim_redraw()),
    ];
    let mut mixed = Vec::new();
    // A third each of `ls`, `seq` and the editor (not the `cat` file).
    for (_, w) in &workloads[1..] {
        mixed.extend_from_slice(&w[..w.len() / 3]);
    }
    let mut g = c.benchmark_group("screen_4mib");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(6));
    for (name, data) in workloads.iter().chain(std::iter::once(&("mixed", mixed))) {
        g.throughput(Throughput::BytesDecimal(data.len() as u64));
        g.bench_function(*name, |b| b.iter(|| feed_all(data)));
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
