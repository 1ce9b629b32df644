//! Checks the app's use of dd-mobile against the generated bindings.

use std::collections::BTreeSet;
use std::fmt;

use crate::decls::{Call, Member, MemberKind, Module, TypeKind};
use crate::manifest::{Entry, Symbol};

/// Which rule a [`Finding`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A manifest symbol is not declared (so) in the bindings.
    NotInBindings,
    /// A manifest symbol is not referenced by the app sources.
    NotUsed,
    /// An app call to a bindings name uses labels no declaration has.
    CallLabels,
    /// An app type conforming to a bindings protocol lacks a requirement.
    Conformance,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// Where and what, fit to print.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Names uniffi uses for its own plumbing, not the API.
fn is_internal(name: &str) -> bool {
    ["uniffi", "Uniffi", "FfiConverter", "ffi", "Rust", "Foreign"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The public API members of the bindings.
fn api(bindings: &Module) -> Vec<&Member> {
    bindings
        .members
        .iter()
        .filter(|m| {
            m.public && !is_internal(&m.name) && !m.owner.as_deref().is_some_and(is_internal)
        })
        .collect()
}

fn sig(name: &str, labels: &[String]) -> String {
    let labels: String = labels.iter().map(|l| format!("{l}:")).collect();
    format!("{name}({labels})")
}

/// Runs every rule; an empty result means the contract holds.
pub fn check(bindings: &Module, sources: &Module, manifest: &[Entry]) -> Vec<Finding> {
    let api = api(bindings);
    let mut out = Vec::new();
    for entry in manifest {
        manifest_entry(bindings, &api, sources, entry, &mut out);
    }
    calls(bindings, &api, sources, &mut out);
    conformances(bindings, &api, sources, &mut out);
    out
}

fn owner_is(member: &Member, owner: &str) -> bool {
    member
        .owner
        .as_deref()
        .is_some_and(|o| o == owner || o.strip_suffix("Protocol") == Some(owner))
}

fn manifest_entry(
    bindings: &Module,
    api: &[&Member],
    sources: &Module,
    entry: &Entry,
    out: &mut Vec<Finding>,
) {
    let has = |pred: &dyn Fn(&Member) -> bool| api.iter().any(|m| pred(m));
    let (declared, used_name) = match &entry.symbol {
        Symbol::Type { kind, name } => {
            let found: Vec<TypeKind> = bindings.type_named(name).map(|t| t.kind).collect();
            if !found.is_empty() && !found.contains(kind) {
                out.push(Finding {
                    rule: Rule::NotInBindings,
                    message: format!(
                        "manifest line {}: `{}`: the bindings declare {name} as a {}",
                        entry.line,
                        entry.symbol,
                        found[0].keyword()
                    ),
                });
                (true, name)
            } else {
                (found.contains(kind), name)
            }
        }
        Symbol::Init { owner, labels } => (
            has(&|m| {
                m.kind == MemberKind::Init
                    && m.owner.as_deref() == Some(owner)
                    && &m.labels() == labels
            }),
            owner,
        ),
        Symbol::Func {
            owner,
            name,
            labels,
        } => (
            has(&|m| {
                m.kind == MemberKind::Func
                    && &m.name == name
                    && &m.labels() == labels
                    && owner.as_deref().is_none_or(|o| owner_is(m, o))
            }),
            name,
        ),
        Symbol::Case {
            owner,
            name,
            labels,
        } => (
            has(&|m| {
                m.kind == MemberKind::Case
                    && m.owner.as_deref() == Some(owner)
                    && &m.name == name
                    && match labels {
                        Some(l) => m.has_payload && &m.labels() == l,
                        None => !m.has_payload,
                    }
            }),
            name,
        ),
        Symbol::Var { owner, name } => (
            has(&|m| m.kind == MemberKind::Var && owner_is(m, owner) && &m.name == name),
            name,
        ),
    };
    if !declared {
        let near: Vec<String> = near_names(api, &entry.symbol);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" (the bindings have: {})", near.join(", "))
        };
        out.push(Finding {
            rule: Rule::NotInBindings,
            message: format!(
                "manifest line {}: `{}` is not declared in the bindings{hint}",
                entry.line, entry.symbol
            ),
        });
    }
    if !sources.identifiers.contains(used_name.as_str()) {
        out.push(Finding {
            rule: Rule::NotUsed,
            message: format!(
                "manifest line {}: `{}` is not referenced by the app sources (stale manifest?)",
                entry.line, entry.symbol
            ),
        });
    }
}

/// Same-named declarations, to make a finding actionable.
fn near_names(api: &[&Member], symbol: &Symbol) -> Vec<String> {
    let name = match symbol {
        Symbol::Type { .. } => return Vec::new(),
        Symbol::Init { .. } => "init",
        Symbol::Func { name, .. } | Symbol::Case { name, .. } | Symbol::Var { name, .. } => name,
    };
    let mut near: Vec<String> = api
        .iter()
        .filter(|m| m.name == name)
        .map(|m| {
            let owner = m
                .owner
                .as_deref()
                .map(|o| format!("{o}."))
                .unwrap_or_default();
            format!("{owner}{}", sig(&m.name, &m.labels()))
        })
        .collect();
    near.sort();
    near.dedup();
    near
}

/// Can `call` invoke a declaration with these parameters?
fn labels_fit(call: &Call, member: &Member) -> bool {
    if member.kind == MemberKind::Case && !member.has_payload {
        return false;
    }
    let mut given = call.labels.iter().peekable();
    let mut unfilled_required = 0;
    for param in &member.params {
        match given.peek() {
            Some(label) if **label == param.label => {
                given.next();
            }
            _ if param.defaulted => {}
            _ => unfilled_required += 1,
        }
    }
    given.next().is_none()
        && (unfilled_required == 0 || (call.trailing_closure && unfilled_required == 1))
}

fn calls(bindings: &Module, api: &[&Member], sources: &Module, out: &mut Vec<Finding>) {
    let api_types: BTreeSet<&str> = bindings
        .types
        .iter()
        .filter(|t| t.public && t.kind != TypeKind::Extension && !is_internal(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    fn callable(m: &Member) -> bool {
        matches!(m.kind, MemberKind::Func | MemberKind::Case)
    }
    for (file, call) in &sources.calls {
        let candidates: Vec<&Member> = if api_types.contains(call.name.as_str()) {
            api.iter()
                .copied()
                .filter(|m| m.kind == MemberKind::Init && m.owner.as_deref() == Some(&call.name))
                .collect()
        } else if api.iter().any(|m| {
            callable(m)
                && m.name == call.name
                // A value's method is not an enum case of the same name.
                && !(call.on_value && m.kind == MemberKind::Case)
        }) {
            api.iter()
                .copied()
                .chain(sources.members.iter())
                .filter(|m| callable(m) && m.name == call.name)
                .collect()
        } else {
            continue;
        };
        if candidates.iter().any(|m| labels_fit(call, m)) {
            continue;
        }
        let mut known: Vec<String> = candidates
            .iter()
            .map(|m| sig(&call.name, &m.labels()))
            .collect();
        known.sort();
        known.dedup();
        out.push(Finding {
            rule: Rule::CallLabels,
            message: format!(
                "{file}:{}:{}: call `{}` matches no declaration in the bindings (declared: {})",
                call.line,
                call.col,
                sig(&call.name, &call.labels),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        });
    }
}

fn conformances(bindings: &Module, api: &[&Member], sources: &Module, out: &mut Vec<Finding>) {
    let protocols: BTreeSet<&str> = bindings
        .types
        .iter()
        .filter(|t| t.kind == TypeKind::Protocol && t.public && !is_internal(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    for ty in &sources.types {
        for proto in ty
            .inherits
            .iter()
            .filter(|p| protocols.contains(p.as_str()))
        {
            for req in api
                .iter()
                .filter(|m| m.kind == MemberKind::Func && m.owner.as_deref() == Some(proto))
            {
                let implemented = sources.members.iter().any(|m| {
                    m.kind == MemberKind::Func
                        && m.owner.as_deref() == Some(&ty.name)
                        && m.name == req.name
                        && m.labels() == req.labels()
                });
                if !implemented {
                    out.push(Finding {
                        rule: Rule::Conformance,
                        message: format!(
                            "line {}: {} conforms to {proto} but does not implement `{}`",
                            ty.line,
                            ty.name,
                            sig(&req.name, &req.labels())
                        ),
                    });
                }
            }
        }
    }
}
