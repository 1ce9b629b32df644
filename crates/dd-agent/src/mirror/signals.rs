//! Explicit "look at me" signals a program sends its terminal: BEL, the
//! desktop-notification OSC sequences (9, 777, 99) and dd's own OSC 6464
//! that `dd-client hook` writes for an agent's hooks. The vt100 parser
//! finds them (so a BEL that ends an OSC sequence is not a bell); this
//! module turns an OSC's parameters into a [`Signal`].

use base64::Engine;
use dd_proto::methods::PromptSource;

/// Longest notification title or body kept, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 1024;

/// Largest kitty notification assembled from chunks, in bytes.
const MAX_KITTY_BYTES: usize = 8 * 1024;

/// Which notification sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `ESC ] 9 ; text ST` (iTerm2, kitty, WezTerm, ...).
    Osc9,
    /// `ESC ] 777 ; notify ; title ; body ST` (rxvt, foot, VTE).
    Osc777,
    /// `ESC ] 99 ; metadata ; payload ST` (kitty).
    Osc99,
}

/// dd's own OSC number (`d` is 0x64): `ESC ] 6464 ; needed ; t=B64 ; b=B64
/// ST` and `ESC ] 6464 ; cleared ST`, written by `dd-client hook`.
pub(crate) const DD_OSC: &[u8] = b"6464";

/// One signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    /// A bell outside any escape sequence.
    Bel,
    /// An agent's hook says it waits for the user (OSC 6464 `needed`).
    Hook {
        /// Its title (the agent's name, or empty).
        title: String,
        /// The agent's own message.
        body: String,
    },
    /// An agent's hook says its turn goes on (OSC 6464 `cleared`).
    HookCleared,
    /// A desktop notification.
    Notify {
        /// Which sequence carried it.
        kind: Kind,
        /// Its title (empty for OSC 9).
        title: String,
        /// Its text.
        body: String,
    },
}

impl Signal {
    #[cfg(test)]
    /// A notification, its texts cleaned.
    pub(crate) fn notify(kind: Kind, title: &str, body: &str) -> Signal {
        Signal::Notify {
            kind,
            title: clean(title.as_bytes()),
            body: clean(body.as_bytes()),
        }
    }

    /// The event source this signal is reported as.
    pub(crate) fn source(&self) -> PromptSource {
        match self {
            Signal::Bel => PromptSource::Bel,
            Signal::Hook { .. } | Signal::HookCleared => PromptSource::Hook,
            Signal::Notify { kind, .. } => match kind {
                Kind::Osc9 => PromptSource::Osc9,
                Kind::Osc777 => PromptSource::Osc777,
                Kind::Osc99 => PromptSource::Osc99,
            },
        }
    }
}

/// Text from the terminal: lossy UTF-8, control characters dropped,
/// whitespace runs kept, cut to [`MAX_TEXT_CHARS`].
pub(crate) fn clean(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_TEXT_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Rejoins OSC parameters the parser split at `;`.
fn join(params: &[&[u8]]) -> Vec<u8> {
    params.join(&b';')
}

/// A kitty notification being assembled from `d=0` chunks.
#[derive(Debug, Default)]
pub(crate) struct KittyAssembler {
    pending: Option<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    id: String,
    title: Vec<u8>,
    body: Vec<u8>,
}

/// The signal an unhandled OSC sequence carries, if any.
pub(crate) fn from_osc(params: &[&[u8]], kitty: &mut KittyAssembler) -> Option<Signal> {
    let (&code, rest) = params.split_first()?;
    match code {
        b"9" => {
            let text = join(rest);
            // ConEmu's OSC 9 ; <n> ; ... subcommands (progress bars, tab
            // titles, ...) are not notifications.
            let first = rest.first().copied().unwrap_or_default();
            if text.is_empty() || (!first.is_empty() && first.iter().all(u8::is_ascii_digit)) {
                return None;
            }
            Some(Signal::Notify {
                kind: Kind::Osc9,
                title: String::new(),
                body: clean(&text),
            })
        }
        b"777" => {
            let (&sub, rest) = rest.split_first()?;
            if sub != b"notify" {
                return None;
            }
            let title = rest.first().copied().unwrap_or_default();
            let body = join(rest.get(1..).unwrap_or_default());
            Some(Signal::Notify {
                kind: Kind::Osc777,
                title: clean(title),
                body: clean(&body),
            })
        }
        b"99" => kitty.chunk(rest),
        DD_OSC => hook(rest),
        _ => None,
    }
}

/// OSC 6464's parameters: `needed` with optional `t=` (title) and `b=`
/// (body) in base64 (standard alphabet, padding optional; a value that
/// does not decode is dropped), or `cleared`. Unknown keys are ignored so
/// later versions can add some.
fn hook(rest: &[&[u8]]) -> Option<Signal> {
    let (&verb, params) = rest.split_first()?;
    match verb {
        b"cleared" => Some(Signal::HookCleared),
        b"needed" => {
            let (mut title, mut body) = (String::new(), String::new());
            for p in params {
                let (key, value) = match p.iter().position(|&b| b == b'=') {
                    Some(i) => (&p[..i], &p[i + 1..]),
                    None => continue,
                };
                let value: Vec<u8> = value.iter().copied().filter(|&b| b != b'=').collect();
                let Ok(text) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(value)
                else {
                    continue;
                };
                match key {
                    b"t" => title = clean(&text),
                    b"b" => body = clean(&text),
                    _ => {}
                }
            }
            Some(Signal::Hook { title, body })
        }
        _ => None,
    }
}

impl KittyAssembler {
    /// Feeds one OSC 99 (`metadata ; payload`); returns the notification
    /// once complete (`d=1`, the default).
    fn chunk(&mut self, rest: &[&[u8]]) -> Option<Signal> {
        let (&meta, payload) = rest.split_first()?;
        let payload = join(payload);
        let (mut id, mut done, mut part, mut b64) = (String::new(), true, "title", false);
        for kv in meta.split(|&b| b == b':') {
            match kv {
                [b'i', b'=', v @ ..] => id = String::from_utf8_lossy(v).into_owned(),
                [b'd', b'=', v @ ..] => done = v != b"0",
                [b'e', b'=', v @ ..] => b64 = v == b"1",
                [b'p', b'=', v @ ..] => {
                    part = match v {
                        b"title" => "title",
                        b"body" => "body",
                        // Icons, buttons, queries, close requests: not text.
                        _ => "other",
                    }
                }
                _ => {}
            }
        }
        let data = if b64 {
            base64::engine::general_purpose::STANDARD
                .decode(&payload)
                .unwrap_or_default()
        } else {
            payload
        };
        let same = self.pending.as_ref().is_some_and(|p| p.id == id);
        if !same {
            self.pending = Some(Pending {
                id,
                ..Pending::default()
            });
        }
        let p = self.pending.as_mut()?;
        let target = match part {
            "title" => Some(&mut p.title),
            "body" => Some(&mut p.body),
            _ => None,
        };
        if let Some(t) = target {
            if t.len() + data.len() <= MAX_KITTY_BYTES {
                t.extend_from_slice(&data);
            }
        }
        if !done {
            return None;
        }
        let p = self.pending.take()?;
        if p.title.is_empty() && p.body.is_empty() {
            return None;
        }
        Some(Signal::Notify {
            kind: Kind::Osc99,
            title: clean(&p.title),
            body: clean(&p.body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn osc(s: &str, k: &mut KittyAssembler) -> Option<Signal> {
        let parts: Vec<&[u8]> = s.as_bytes().split(|&b| b == b';').collect();
        from_osc(&parts, k)
    }

    #[test]
    fn osc9_and_777() {
        let k = &mut KittyAssembler::default();
        assert_eq!(
            osc("9;Build done; 3 warnings", k),
            Some(Signal::notify(Kind::Osc9, "", "Build done; 3 warnings"))
        );
        assert_eq!(osc("9;4;1;50", k), None, "ConEmu progress");
        assert_eq!(osc("9;", k), None);
        assert_eq!(osc("9", k), None);
        assert_eq!(
            osc("777;notify;Claude;Needs your permission", k),
            Some(Signal::notify(
                Kind::Osc777,
                "Claude",
                "Needs your permission"
            ))
        );
        assert_eq!(
            osc("777;notify;T", k),
            Some(Signal::notify(Kind::Osc777, "T", ""))
        );
        assert_eq!(osc("777;preexec", k), None);
        assert_eq!(osc("777", k), None);
        assert_eq!(osc("1337;File=x", k), None);
        assert_eq!(osc("", k), None);
    }

    #[test]
    fn dd_hook_sequences() {
        let k = &mut KittyAssembler::default();
        let hook = |t: &str, b: &str| Signal::Hook {
            title: t.into(),
            body: b.into(),
        };
        // "Claude Code" / "Claude needs your permission to use Bash"
        assert_eq!(
            osc(
                "6464;needed;t=Q2xhdWRlIENvZGU=;b=Q2xhdWRlIG5lZWRzIHlvdXIgcGVybWlzc2lvbiB0byB1c2UgQmFzaA",
                k
            ),
            Some(hook(
                "Claude Code",
                "Claude needs your permission to use Bash"
            ))
        );
        assert_eq!(osc("6464;needed", k), Some(hook("", "")));
        // Unknown keys, bare words and bad base64 are ignored; control
        // characters in the decoded text are removed.
        assert_eq!(
            osc("6464;needed;x=1;junk;t=!!;b=YQdi", k),
            Some(hook("", "ab"))
        );
        assert_eq!(osc("6464;cleared", k), Some(Signal::HookCleared));
        assert_eq!(osc("6464;other", k), None);
        assert_eq!(osc("6464", k), None);
        assert_eq!(Signal::HookCleared.source(), PromptSource::Hook);
    }

    #[test]
    fn kitty_notifications() {
        let k = &mut KittyAssembler::default();
        assert_eq!(
            osc("99;;Hello world", k),
            Some(Signal::notify(Kind::Osc99, "Hello world", ""))
        );
        assert_eq!(osc("99;i=1:d=0;Title", k), None);
        assert_eq!(
            osc("99;i=1:p=body;The body", k),
            Some(Signal::notify(Kind::Osc99, "Title", "The body"))
        );
        // base64 payload
        assert_eq!(
            osc("99;e=1:p=body;aGk=", k),
            Some(Signal::notify(Kind::Osc99, "", "hi"))
        );
        assert_eq!(osc("99;e=1;!!notbase64", k), None);
        assert_eq!(osc("99;p=icon;abc", k), None);
        assert_eq!(osc("99", k), None);
        // Oversized chunks are bounded.
        let big = format!("99;i=2:d=0;{}", "a".repeat(MAX_KITTY_BYTES));
        assert_eq!(osc(&big, k), None);
        match osc("99;i=2;b", k) {
            Some(Signal::Notify { title, .. }) => assert!(title.chars().count() <= MAX_TEXT_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(clean(b"  a\x1b[2Jb\x07\xff  "), "a[2Jb\u{fffd}");
        assert_eq!(clean(&[b'x'; 5000]).len(), MAX_TEXT_CHARS);
    }
}
