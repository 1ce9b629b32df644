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
    "reveal",
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
const MARKERS: &[char] = &['❯', '›', '»', '>', '▶', '►', '→', '➜', '●', '◉', '*'];
/// First words of log lines that end in `:` without asking anything.
const LOG_WORDS: &[&str] = &[
    "error",
    "warning",
    "note",
    "help",
    "info",
    "debug",
    "trace",
    "hint",
    "caused",
    "at",
    "traceback",
    "compiling",
    "running",
    "downloading",
    "building",
    "fetching",
];
/// Longest field label (`Enter your email:`), in characters and words.
const FIELD_CHARS: usize = 60;
const FIELD_WORDS: usize = 10;

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
            // Boxed lines lose the box; others keep their indentation (a
            // select list's items are told apart by it).
            let t = if l.trim_start().starts_with(BORDER) {
                l.trim().trim_matches(BORDER).trim_end()
            } else {
                l.trim_end()
            };
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
            None => l.trim().trim_start_matches(MARKERS).trim().to_owned(),
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
    if let Some(found) = buttons(region, app_cursor) {
        return Some(found);
    }
    if let Some(found) = menu(region, app_cursor) {
        return Some(found);
    }
    if let Some(found) = select(region, app_cursor) {
        return Some(found);
    }
    if let Some(choices) = options(last) {
        return Some(Found {
            body: last.to_owned(),
            choices,
        });
    }
    let secret =
        (lower.contains("password") || lower.contains("passphrase")) && last.ends_with(':');
    if last.ends_with('?') || secret {
        return Some(Found {
            body: last.to_owned(),
            choices: Vec::new(),
        });
    }
    field(last)
}

/// Abbreviated options in brackets at the end of a line prompt:
/// `Stage this hunk [y,n,q,a,d,e,?]?`, `(a/b/c):`. Each is typed with
/// Enter; `?` (help) is left out.
fn options(line: &str) -> Option<Vec<Choice>> {
    let t = line.trim_end();
    let ask = t.strip_suffix(['?', ':', '>'])?.trim_end();
    let close = ask.chars().last()?;
    let open = match close {
        ']' => '[',
        ')' => '(',
        _ => return None,
    };
    let start = ask.rfind(open)?;
    let inner = &ask[start + 1..ask.len() - 1];
    let sep = if inner.contains(',') { ',' } else { '/' };
    let tokens: Vec<&str> = inner.split(sep).map(str::trim).collect();
    let short = |t: &&str| (1..=3).contains(&t.chars().count()) && !t.contains(' ');
    if tokens.len() < 2 || !tokens.iter().all(short) {
        return None;
    }
    let choices: Vec<Choice> = tokens
        .iter()
        .filter(|t| **t != "?")
        .take(MAX_CHOICES)
        .map(|t| Choice::new(*t, format!("{t}\r").as_bytes()))
        .collect();
    (choices.len() >= 2).then_some(choices)
}

/// A free-text field the cursor waits in: `Email:`, `package name: (demo)`,
/// `Save to (/root/key):`, inquirer's `? Project name (my-app)`, or a
/// question with a default (`Is this OK? (yes)`). A default becomes the
/// one choice (Enter takes it); the phone can always type something else.
fn field(line: &str) -> Option<Found> {
    let t = line.trim();
    let found = |choices| {
        Some(Found {
            body: t.to_owned(),
            choices,
        })
    };
    let qmark = t.strip_prefix("? ");
    // `label (default)` or `label (default):`
    let core = t.strip_suffix(':').unwrap_or(t).trim_end();
    if let Some(inner) = core.strip_suffix(')') {
        if let Some(open) = inner.rfind('(') {
            let default = inner[open + 1..].trim();
            let label = inner[..open].trim_end();
            let label_ok = qmark.is_some()
                || label.ends_with([':', '?'])
                || (t.ends_with(':') && is_label(label));
            if label_ok && !default.is_empty() && default.chars().count() <= MAX_LABEL_CHARS {
                return found(vec![Choice::new(default, b"\r")]);
            }
        }
    }
    // inquirer/questionary's `? Question` line; `Label:`
    if qmark.is_some_and(|q| !q.trim().is_empty()) {
        return found(Vec::new());
    }
    let label = t.strip_suffix(':')?;
    is_label(label).then(|| found(Vec::new()))?
}

/// Does this look like a field's label (a few words, not a log line)?
fn is_label(label: &str) -> bool {
    let words: Vec<&str> = label.split_whitespace().collect();
    let first = words.first().map(|w| w.to_lowercase()).unwrap_or_default();
    let first = first.trim_end_matches(':');
    !words.is_empty()
        && words.len() <= FIELD_WORDS
        && label.chars().count() <= FIELD_CHARS
        && label.chars().any(char::is_alphabetic)
        && !LOG_WORDS.contains(&first)
        && label
            .chars()
            .all(|c| c.is_alphanumeric() || " -_'/.,()".contains(c))
}

/// dialog/whiptail buttons ending the screen: `< Yes >  < No  >` (dialog
/// pads labels; it takes the first letter as a hotkey) or `<Yes>  <No>`
/// (whiptail: arrows move between buttons, without wrapping, then Enter).
fn buttons(region: &[String], app_cursor: bool) -> Option<Found> {
    let (at, line) = region.iter().enumerate().next_back()?;
    let mut labels = Vec::new();
    let mut padded = false;
    let mut rest = line.trim();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('<')?;
        let end = inner.find('>')?;
        let raw = &inner[..end];
        let label = raw.trim();
        let ok = label.chars().next().is_some_and(char::is_uppercase)
            && label.chars().count() <= 20
            && label.chars().all(|c| c.is_alphabetic() || c == ' ');
        if !ok {
            return None;
        }
        padded |= raw.starts_with(' ');
        labels.push(label.to_owned());
        rest = inner[end + 1..].trim_start();
    }
    if labels.is_empty() || labels.len() > 6 {
        return None;
    }
    let (left, right): (&[u8], &[u8]) = if app_cursor {
        (b"\x1bOD", b"\x1bOC")
    } else {
        (b"\x1b[D", b"\x1b[C")
    };
    let choices = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let input = if padded {
                label
                    .chars()
                    .take(1)
                    .flat_map(char::to_lowercase)
                    .collect::<String>()
                    .into_bytes()
            } else {
                let mut b = left.repeat(labels.len() - 1);
                b.extend(right.repeat(i));
                b.push(b'\r');
                b
            };
            Choice::new(label.clone(), &input)
        })
        .collect();
    let body = region[..at]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .unwrap_or("Choose a button")
        .to_owned();
    Some(Found { body, choices })
}

/// An arrow-key select list without numbers (inquirer, questionary,
/// prompts): one item has the cursor marker (`❯ red`, ` » apple`), the
/// others are indented to the same column, under a question (`? Pick a
/// color`, a line ending in `?` or `:`) or over a hint (`↑↓ navigate`).
fn select(region: &[String], app_cursor: bool) -> Option<Found> {
    let marked = |l: &str| -> Option<(usize, String)> {
        let lead = l.chars().take_while(|c| *c == ' ').count();
        let mut rest = l.chars().skip(lead);
        let c = rest.next()?;
        // `*` and `●` start bullet lists far more often than select lists.
        if !MARKERS.contains(&c) || matches!(c, '*' | '●') || rest.next() != Some(' ') {
            return None;
        }
        let label: String = rest.collect();
        let pad = label.chars().take_while(|c| *c == ' ').count();
        let label = label.trim().to_owned();
        (!label.is_empty()).then_some((lead + 2 + pad, label))
    };
    let at = region.iter().rposition(|l| marked(l).is_some())?;
    let (col, _) = marked(&region[at])?;
    let item = |l: &str| -> Option<String> {
        let lead = l.chars().take_while(|c| *c == ' ').count();
        (lead == col)
            .then(|| l.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let mut first = at;
    while first > 0 && item(&region[first - 1]).is_some() {
        first -= 1;
    }
    let mut last = at;
    while last + 1 < region.len() && item(&region[last + 1]).is_some() {
        last += 1;
    }
    if last == first || region.len() - last - 1 > MENU_TRAILER {
        return None;
    }
    let trailer = &region[last + 1..];
    let hint = |l: &String| {
        let lower = l.to_lowercase();
        HINTS.iter().any(|h| lower.contains(h)) || lower.contains("arrow")
    };
    if !trailer.iter().all(hint) {
        return None;
    }
    let header = first.checked_sub(1).map(|i| region[i].trim());
    let asks = header.is_some_and(|h| {
        h.starts_with("? ") || h.ends_with(['?', ':']) || h.to_lowercase().contains("arrow")
    });
    if !asks && trailer.is_empty() {
        return None;
    }
    let (up, down): (&[u8], &[u8]) = if app_cursor {
        (b"\x1bOA", b"\x1bOB")
    } else {
        (b"\x1b[A", b"\x1b[B")
    };
    let selected = at - first;
    let choices = (first..=last)
        .take(MAX_CHOICES)
        .enumerate()
        .map(|(i, l)| {
            let label = match marked(&region[l]) {
                Some((_, label)) => label,
                None => region[l].trim().to_owned(),
            };
            let (key, n) = if i >= selected {
                (down, i - selected)
            } else {
                (up, selected - i)
            };
            let mut b = key.repeat(n);
            b.push(b'\r');
            let label: String = label.chars().take(MAX_LABEL_CHARS).collect();
            Choice::new(label, &b)
        })
        .collect();
    let body = header
        .map(|h| {
            let h = h.strip_prefix("? ").unwrap_or(h);
            h.strip_suffix("(Use arrow keys)")
                .unwrap_or(h)
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| "Choose an option".to_owned());
    Some(Found { body, choices })
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
            .or_else(|| t[digits..].strip_prefix(')'))
            .or_else(|| t[digits..].strip_prefix(':'))?;
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
    // git's `What now>`: a word, then `>` (not a REPL's `>>>`).
    let line_prompt = |l: &String| {
        let t = l.trim_end();
        t.strip_suffix('>')
            .and_then(|p| p.chars().last())
            .is_some_and(char::is_alphanumeric)
    };
    let trailer_asks = trailer.iter().any(|l| is_header(l) || line_prompt(l));
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
            trailer
                .iter()
                .find(|l| is_header(l))
                .map(|l| l.trim().to_owned())
        })
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
