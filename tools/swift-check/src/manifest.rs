//! The hand-maintained list of dd-mobile symbols the app uses.
//!
//! One symbol per line; `#` starts a comment. Labels are written the Swift
//! way, `name(label:label:)`, with `_:` for an unlabeled argument.
//!
//! ```text
//! class Companion                 # also: struct, enum, protocol
//! init Companion(store:)
//! func parseLink(url:)            # a function or method anywhere
//! func Companion.redeem(link:label:)  # a method of Companion (or CompanionProtocol)
//! case ConnectionState.live
//! case ConnectionState.reconnecting(attempt:retryInMs:)
//! var PairingOffer.agentUrl
//! ```

use std::fmt;

use crate::decls::TypeKind;

/// A manifest line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("manifest line {line}: {reason}: {text:?}")]
pub struct ManifestError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
    /// The line.
    pub text: String,
}

/// One symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symbol {
    /// A type of the given kind.
    Type {
        /// Its kind (never `Extension`).
        kind: TypeKind,
        /// Its name.
        name: String,
    },
    /// An initializer of `owner`.
    Init {
        /// The type.
        owner: String,
        /// Argument labels.
        labels: Vec<String>,
    },
    /// A function or method.
    Func {
        /// The type it must be declared in, if given.
        owner: Option<String>,
        /// Base name.
        name: String,
        /// Argument labels.
        labels: Vec<String>,
    },
    /// An enum case.
    Case {
        /// The enum.
        owner: String,
        /// Case name.
        name: String,
        /// Payload labels; `None` for a case without payload.
        labels: Option<Vec<String>>,
    },
    /// A property of `owner`.
    Var {
        /// The type.
        owner: String,
        /// Property name.
        name: String,
    },
}

fn labels_str(labels: &[String]) -> String {
    labels.iter().map(|l| format!("{l}:")).collect()
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Symbol::Type { kind, name } => write!(f, "{} {name}", kind.keyword()),
            Symbol::Init { owner, labels } => write!(f, "init {owner}({})", labels_str(labels)),
            Symbol::Func {
                owner,
                name,
                labels,
            } => {
                let owner = owner.as_ref().map(|o| format!("{o}.")).unwrap_or_default();
                write!(f, "func {owner}{name}({})", labels_str(labels))
            }
            Symbol::Case {
                owner,
                name,
                labels,
            } => match labels {
                Some(l) => write!(f, "case {owner}.{name}({})", labels_str(l)),
                None => write!(f, "case {owner}.{name}"),
            },
            Symbol::Var { owner, name } => write!(f, "var {owner}.{name}"),
        }
    }
}

/// A manifest entry and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The symbol.
    pub symbol: Symbol,
}

/// Parses a whole manifest.
pub fn parse(text: &str) -> Result<Vec<Entry>, ManifestError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let err = |reason| ManifestError {
            line: i + 1,
            reason,
            text: raw.to_owned(),
        };
        let (keyword, rest) = line
            .split_once(char::is_whitespace)
            .ok_or(err("no symbol"))?;
        let rest = rest.trim();
        let (path, labels) = split_labels(rest).map_err(err)?;
        let (owner, name) = match path.rsplit_once('.') {
            Some((o, n)) => (Some(o.to_owned()), n.to_owned()),
            None => (None, path.to_owned()),
        };
        if !is_identifier(&name) || owner.as_deref().is_some_and(|o| !is_identifier(o)) {
            return Err(err("not an identifier"));
        }
        let symbol = match keyword {
            "class" | "struct" | "enum" | "protocol" => {
                if owner.is_some() || labels.is_some() {
                    return Err(err("a type takes a plain name"));
                }
                let kind = match keyword {
                    "class" => TypeKind::Class,
                    "struct" => TypeKind::Struct,
                    "enum" => TypeKind::Enum,
                    _ => TypeKind::Protocol,
                };
                Symbol::Type { kind, name }
            }
            "init" => {
                if owner.is_some() {
                    return Err(err("write init Type(labels:)"));
                }
                Symbol::Init {
                    owner: name,
                    labels: labels.ok_or(err("init needs (labels:)"))?,
                }
            }
            "func" => Symbol::Func {
                owner,
                name,
                labels: labels.ok_or(err("func needs (labels:)"))?,
            },
            "case" => Symbol::Case {
                owner: owner.ok_or(err("write case Enum.name"))?,
                name,
                labels,
            },
            "var" => {
                if labels.is_some() {
                    return Err(err("a var takes no labels"));
                }
                Symbol::Var {
                    owner: owner.ok_or(err("write var Type.name"))?,
                    name,
                }
            }
            _ => return Err(err("unknown keyword")),
        };
        out.push(Entry {
            line: i + 1,
            symbol,
        });
    }
    Ok(out)
}

/// `name(a:b:)` → (`name`, Some([a, b])); `name` → (`name`, None).
fn split_labels(s: &str) -> Result<(&str, Option<Vec<String>>), &'static str> {
    let Some((path, rest)) = s.split_once('(') else {
        return Ok((s, None));
    };
    let inner = rest.strip_suffix(')').ok_or("unclosed (")?;
    let mut labels = Vec::new();
    if !inner.is_empty() {
        let body = inner.strip_suffix(':').ok_or("each label ends with ':'")?;
        for label in body.split(':') {
            if !(label == "_" || is_identifier(label)) {
                return Err("bad label");
            }
            labels.push(label.to_owned());
        }
    }
    Ok((path.trim(), Some(labels)))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_round_trips() {
        let text = "class Companion\n# c\n\ninit Companion(store:)\nfunc parseLink(url:) # x\n\
                    func Companion.detach()\ncase ConnectionState.live\n\
                    case ConnectionState.reconnecting(attempt:retryInMs:)\nvar PairingOffer.agentUrl\n\
                    func f(_:b:)\n";
        let entries = parse(text).unwrap();
        let shown: Vec<String> = entries.iter().map(|e| e.symbol.to_string()).collect();
        assert_eq!(
            shown,
            [
                "class Companion",
                "init Companion(store:)",
                "func parseLink(url:)",
                "func Companion.detach()",
                "case ConnectionState.live",
                "case ConnectionState.reconnecting(attempt:retryInMs:)",
                "var PairingOffer.agentUrl",
                "func f(_:b:)",
            ]
        );
        assert_eq!(entries[1].line, 4);
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "widget Foo",
            "class",
            "class A.B",
            "func f",
            "func f(a)",
            "func f(a:",
            "func f(a b:)",
            "case live",
            "var x",
            "var A.x(y:)",
            "init A.B(x:)",
            "func 9f()",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
