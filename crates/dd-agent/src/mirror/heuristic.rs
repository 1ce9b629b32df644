//! The input-needed heuristic: does a quiet screen end in a question or a
//! menu, and what are the likely answers? Pure functions over the screen's
//! text (from the vt100 model), never over raw output bytes.

use dd_proto::methods::Choice;

/// Most screen lines a prompt carries.
pub(crate) const PROMPT_LINES: usize = 10;
/// Most choices offered.
const MAX_CHOICES: usize = 12;
/// Longest choice label, in characters.
const MAX_LABEL_CHARS: usize = 80;
/// Lines allowed after a menu's last item (hints such as "Esc to cancel",
/// or the line prompt that reads the choice).
const MENU_TRAILER: usize = 2;
/// Words of a hint line under a menu.
const HINTS: &[&str] = &[
    "esc", "enter", "return", "cancel", "select", "confirm", "navigate", "choose", "↑", "↓",
];

/// Characters that frame boxes; stripped from both ends of a line.
const BORDER: &[char] = &[
    '│', '┃', '║', '|', '╭', '╮', '╰', '╯', '┌', '┐', '└', '┘', '├', '┤', '╔', '╗', '╚', '╝',
];
/// Characters that make up a line that is only a border.
const RULE: &[char] = &[
    '─', '━', '═', '╭', '╮', '╰', '╯', '┌', '┐', '└', '┘', '├', '┤', '╔', '╗', '╚', '╝', '┬', '┴',
    '┼', '│', '┃', '║', '-', '+', '=',
];
/// Selection markers in front of the highlighted menu item.
const MARKERS: &[char] = &['❯', '›', '>', '▶', '►', '→', '➜', '●', '◉', '*'];

/// What the heuristic found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The question line (or the prompt's last line).
    pub(crate) body: String,
    /// Likely answers.
    pub(crate) choices: Vec<Choice>,
}

/// The last non-empty screen lines (at most [`PROMPT_LINES`]), box borders
/// stripped and border-only lines dropped.
pub(crate) fn region(screen: &[String]) -> Vec<String> {
    let mut out: Vec<String> = screen
        .iter()
        .rev()
        .filter_map(|l| {
            let t = l.trim().trim_matches(BORDER).trim_end();
            let blank = t.trim().is_empty() || t.trim().chars().all(|c| RULE.contains(&c));
            (!blank).then(|| t.to_owned())
        })
        .take(PROMPT_LINES)
        .collect();
    out.reverse();
    // Keep relative indentation but drop the common left margin.
    let margin = out
        .iter()
        .map(|l| l.bytes().take_while(|&b| b == b' ').count())
        .min()
        .unwrap_or(0);
    out.iter().map(|l| l[margin..].to_owned()).collect()
}

/// What identifies a prompt for "never repeat": its lines, with the
/// selection marker removed (moving the highlight is the same prompt).
pub(crate) fn fingerprint(region: &[String]) -> String {
    region
        .iter()
        .map(|l| match parse_item(l) {
            Some(item) => format!("{} {}", item.key.text(), item.label),
            None => l.trim().to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Looks for a question or menu at the end of `region`.
pub(crate) fn analyze(region: &[String], app_cursor: bool) -> Option<Found> {
    let last = region.last()?.trim();
    if let Some(words) = yes_no(last) {
        let (y, n): (&[u8], &[u8]) = if words {
            (b"yes\r", b"no\r")
        } else {
            (b"y\r", b"n\r")
        };
        return Some(Found {
            body: last.to_owned(),
            choices: vec![Choice::new("Yes", y), Choice::new("No", n)],
        });
    }
    let lower = last.to_lowercase();
    if ["press enter", "press return", "hit enter", "press any key"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return Some(Found {
            body: last.to_owned(),
            choices: vec![Choice::new("Continue", b"\r")],
        });
    }
    if let Some(found) = menu(region, app_cursor) {
        return Some(found);
    }
    let secret =
        (lower.contains("password") || lower.contains("passphrase")) && last.ends_with(':');
    if last.ends_with('?') || secret {
        return Some(Found {
            body: last.to_owned(),
            choices: Vec::new(),
        });
    }
    None
}

/// `(y/n)`, `[Y/n]`, `[y/N]`, `(yes/no)` ... in `line`: `Some(true)` for
/// the spelled-out form.
fn yes_no(line: &str) -> Option<bool> {
    let lower = line.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find(['(', '[']) {
        let close = if rest[i..].starts_with('(') { ')' } else { ']' };
        let inner = &rest[i + 1..];
        let Some(j) = inner.find(close) else { break };
        let words: String = inner[..j].chars().filter(|c| !c.is_whitespace()).collect();
        match words.as_str() {
            "y/n" => return Some(false),
            "yes/no" => return Some(true),
            _ => rest = &inner[j..],
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Num(u32),
    Letter(char),
}

impl Key {
    fn text(self) -> String {
        match self {
            Key::Num(n) => n.to_string(),
            Key::Letter(c) => c.to_string(),
        }
    }

    fn first(self) -> bool {
        matches!(self, Key::Num(1) | Key::Letter('a'))
    }

    fn follows(self, prev: Key) -> bool {
        match (prev, self) {
            (Key::Num(a), Key::Num(b)) => b == a + 1,
            (Key::Letter(a), Key::Letter(b)) => b as u32 == a as u32 + 1,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    marked: bool,
    key: Key,
    label: String,
}

/// `❯ 1. Yes`, `2) No`, `a) Apply`, ... (one item).
fn parse_item(line: &str) -> Option<Item> {
    let t = line.trim_start();
    let (marked, t) = match t.chars().next() {
        Some(c) if MARKERS.contains(&c) => (true, t[c.len_utf8()..].trim_start()),
        _ => (false, t),
    };
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let (key, rest) = if (1..=2).contains(&digits) {
        let n: u32 = t[..digits].parse().ok()?;
        let rest = t[digits..]
            .strip_prefix('.')
            .or_else(|| t[digits..].strip_prefix(')'))?;
        (Key::Num(n), rest)
    } else {
        let c = t.chars().next().filter(char::is_ascii_lowercase)?;
        (Key::Letter(c), t[1..].strip_prefix(')')?)
    };
    if !rest.starts_with(' ') {
        return None;
    }
    let label: String = rest.trim().chars().take(MAX_LABEL_CHARS).collect();
    (!label.is_empty()).then_some(Item { marked, key, label })
}

/// The items on one line: one item, or several separated by two or more
/// spaces (`1. Yes  2. No`).
fn parse_items(line: &str) -> Vec<Item> {
    let parts: Vec<&str> = line
        .split("  ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() > 1 {
        let items: Vec<Item> = parts.iter().filter_map(|p| parse_item(p)).collect();
        if items.len() == parts.len() {
            return items;
        }
    }
    parse_item(line).into_iter().collect()
}

/// A numbered or lettered menu ending the region.
fn menu(region: &[String], app_cursor: bool) -> Option<Found> {
    let mut items: Vec<Item> = Vec::new();
    let (mut first_line, mut last_line) = (0, 0);
    for (i, line) in region.iter().enumerate() {
        for item in parse_items(line) {
            if item.key.first() {
                items.clear();
                first_line = i;
            } else if !items.last().is_some_and(|p| item.key.follows(p.key)) {
                continue;
            }
            items.push(item);
            last_line = i;
        }
    }
    let trailer = &region[last_line + 1..];
    if items.len() < 2 || trailer.len() > MENU_TRAILER {
        return None;
    }
    // Whatever follows the menu must still be about it: a hint or the line
    // prompt reading the choice, not later output (an answer, a log line).
    if let Some(end) = trailer.last() {
        let t = end.trim_end();
        let lower = t.to_lowercase();
        let asks = t.ends_with(['?', ':', '>']) || HINTS.iter().any(|h| lower.contains(h));
        if !asks {
            return None;
        }
    }
    let is_header = |l: &String| {
        let t = l.trim_end();
        t.ends_with('?') || t.ends_with(':')
    };
    let header = region[..first_line]
        .iter()
        .rev()
        .take(3)
        .find(|l| is_header(l));
    let trailer_asks = trailer.iter().any(is_header);
    let selected = items.iter().position(|i| i.marked);
    if selected.is_none() && header.is_none() && !trailer_asks {
        return None;
    }
    let (up, down): (&[u8], &[u8]) = if app_cursor {
        (b"\x1bOA", b"\x1bOB")
    } else {
        (b"\x1b[A", b"\x1b[B")
    };
    let choices = items
        .iter()
        .take(MAX_CHOICES)
        .enumerate()
        .map(|(i, item)| {
            let input = match selected {
                // A TUI select: move the highlight, then Enter. Arrows work
                // in every such widget; digit shortcuts do not.
                Some(s) => {
                    let (key, n) = if i >= s { (down, i - s) } else { (up, s - i) };
                    let mut b = key.repeat(n);
                    b.push(b'\r');
                    b
                }
                // A plain list read by a line prompt: type the key, Enter.
                None => format!("{}\r", item.key.text()).into_bytes(),
            };
            Choice::new(item.label.clone(), &input)
        })
        .collect();
    let body = header
        .map(|h| h.trim().to_owned())
        .or_else(|| {
            first_line
                .checked_sub(1)
                .map(|i| region[i].trim().to_owned())
        })
        .unwrap_or_else(|| "Choose an option".to_owned());
    Some(Found { body, choices })
}

#[cfg(test)]
#[path = "heuristic_tests.rs"]
mod tests;
