//! Declarations, calls and identifiers read from a Swift syntax tree.

use std::collections::BTreeSet;

use tree_sitter::{Node, Tree};

/// What kind of nominal type a declaration introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// `class`
    Class,
    /// `struct`
    Struct,
    /// `enum`
    Enum,
    /// `protocol`
    Protocol,
    /// `extension` (not a new type; names the type it extends)
    Extension,
    /// `actor`
    Actor,
}

impl TypeKind {
    /// The Swift keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            TypeKind::Class => "class",
            TypeKind::Struct => "struct",
            TypeKind::Enum => "enum",
            TypeKind::Protocol => "protocol",
            TypeKind::Extension => "extension",
            TypeKind::Actor => "actor",
        }
    }
}

/// A type (or extension) declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDecl {
    /// The type's name (for an extension: the extended type, unqualified).
    pub name: String,
    /// class, struct, ...
    pub kind: TypeKind,
    /// Declared `public` or `open`.
    pub public: bool,
    /// Names in its inheritance clause.
    pub inherits: Vec<String>,
    /// 1-based line.
    pub line: usize,
}

/// What kind of member a [`Member`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A function or method (also a protocol requirement).
    Func,
    /// An initializer.
    Init,
    /// An enum case.
    Case,
    /// A stored or computed property.
    Var,
}

/// One parameter's external label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The argument label (`_` when none).
    pub label: String,
    /// Has a default value, so a call may leave it out.
    pub defaulted: bool,
}

/// A function, initializer, enum case or property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The enclosing type's name; `None` at top level.
    pub owner: Option<String>,
    /// The enclosing declaration's kind; `None` at top level.
    pub owner_kind: Option<TypeKind>,
    /// Func, init, case or var.
    pub kind: MemberKind,
    /// Base name (`init` for initializers).
    pub name: String,
    /// Parameters (empty for a property or a case without payload).
    pub params: Vec<Param>,
    /// An enum case with a payload (`case a(x: Int)`), as opposed to `case a`.
    pub has_payload: bool,
    /// Part of the public API: declared public/open, or a case or protocol
    /// requirement of a public type.
    pub public: bool,
    /// 1-based line.
    pub line: usize,
}

impl Member {
    /// The argument labels.
    pub fn labels(&self) -> Vec<String> {
        self.params.iter().map(|p| p.label.clone()).collect()
    }
}

/// A call expression `f(a: 1, 2)`, `x.f(a:)`, `.f(a:)` or `T(a:)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The called base name.
    pub name: String,
    /// Argument labels in order (`_` for unlabeled).
    pub labels: Vec<String>,
    /// Followed by a trailing closure.
    pub trailing_closure: bool,
    /// Called on a value (`monitor.start(...)`, receiver spelled in lower
    /// case), so it cannot be an enum case (`.start(...)`, `Type.start(...)`).
    pub on_value: bool,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// Everything read from one or more files.
#[derive(Debug, Default, Clone)]
pub struct Module {
    /// Type and extension declarations.
    pub types: Vec<TypeDecl>,
    /// Members and top-level functions.
    pub members: Vec<Member>,
    /// Calls, tagged with the file they are in.
    pub calls: Vec<(String, Call)>,
    /// Every identifier used or declared.
    pub identifiers: BTreeSet<String>,
}

impl Module {
    /// Adds one parsed file.
    pub fn add(&mut self, file: &str, source: &str, tree: &Tree) {
        let mut walker = Walker {
            src: source.as_bytes(),
            file,
            module: self,
        };
        walker.visit(tree.root_node(), None);
    }

    /// Type declarations (not extensions) named `name`.
    pub fn type_named(&self, name: &str) -> impl Iterator<Item = &TypeDecl> {
        let name = name.to_owned();
        self.types
            .iter()
            .filter(move |t| t.name == name && t.kind != TypeKind::Extension)
    }
}

struct Owner {
    name: String,
    kind: TypeKind,
    public: bool,
}

struct Walker<'a> {
    src: &'a [u8],
    file: &'a str,
    module: &'a mut Module,
}

impl Walker<'_> {
    fn text(&self, node: Node<'_>) -> String {
        node.utf8_text(self.src).unwrap_or_default().to_owned()
    }

    fn visit(&mut self, node: Node<'_>, owner: Option<&Owner>) {
        match node.kind() {
            "simple_identifier" | "type_identifier" => {
                let text = self.text(node);
                self.module.identifiers.insert(text);
            }
            "class_declaration" | "protocol_declaration" => {
                if let Some(new_owner) = self.type_decl(node) {
                    return self.visit_children(node, Some(&new_owner));
                }
            }
            "function_declaration" | "protocol_function_declaration" => {
                self.function(node, owner, MemberKind::Func)
            }
            "init_declaration" => self.function(node, owner, MemberKind::Init),
            "enum_entry" => self.enum_entry(node, owner),
            "property_declaration" | "protocol_property_declaration" => self.property(node, owner),
            "call_expression" => self.call(node),
            _ => {}
        }
        self.visit_children(node, owner);
    }

    fn visit_children(&mut self, node: Node<'_>, owner: Option<&Owner>) {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
        for child in children {
            self.visit(child, owner);
        }
    }

    fn type_decl(&mut self, node: Node<'_>) -> Option<Owner> {
        let kind = if node.kind() == "protocol_declaration" {
            TypeKind::Protocol
        } else {
            match node.child_by_field_name("declaration_kind")?.kind() {
                "class" => TypeKind::Class,
                "struct" => TypeKind::Struct,
                "enum" => TypeKind::Enum,
                "extension" => TypeKind::Extension,
                "actor" => TypeKind::Actor,
                _ => return None,
            }
        };
        let raw = self.text(node.child_by_field_name("name")?);
        // `extension Foo.Bar` / generic arguments: keep the last plain name.
        let name = raw
            .split('<')
            .next()
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let public = self.is_public(node);
        let mut inherits = Vec::new();
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.kind() == "inheritance_specifier" {
                let text = self.text(child);
                inherits.push(text.trim_start_matches('@').trim().to_owned());
            }
        }
        self.module.types.push(TypeDecl {
            name: name.clone(),
            kind,
            public,
            inherits,
            line: node.start_position().row + 1,
        });
        Some(Owner { name, kind, public })
    }

    fn is_public(&self, node: Node<'_>) -> bool {
        let mut cursor = node.walk();
        let found = node.children(&mut cursor).any(|c| {
            c.kind() == "modifiers" && {
                let text = self.text(c);
                text.split_whitespace()
                    .any(|w| w == "public" || w == "open")
            }
        });
        found
    }

    fn function(&mut self, node: Node<'_>, owner: Option<&Owner>, kind: MemberKind) {
        let name = match kind {
            MemberKind::Init => "init".to_owned(),
            _ => match node.child_by_field_name("name") {
                Some(n) if n.kind() == "simple_identifier" => self.text(n),
                _ => return,
            },
        };
        let mut params: Vec<Param> = Vec::new();
        let mut cursor = node.walk();
        for (i, child) in node.children(&mut cursor).enumerate() {
            if child.kind() == "parameter" {
                if let Some(label) = self.param_label(child) {
                    params.push(Param {
                        label,
                        defaulted: false,
                    });
                }
            } else if node.field_name_for_child(i as u32) == Some("default_value") {
                if let Some(last) = params.last_mut() {
                    last.defaulted = true;
                }
            }
        }
        let in_protocol = owner.is_some_and(|o| o.kind == TypeKind::Protocol);
        let public = self.is_public(node) || (in_protocol && owner.is_some_and(|o| o.public));
        self.push_member(node, owner, kind, name, params, false, public);
    }

    fn param_label(&self, param: Node<'_>) -> Option<String> {
        if let Some(external) = param.child_by_field_name("external_name") {
            return Some(self.text(external));
        }
        param.child_by_field_name("name").map(|n| self.text(n))
    }

    fn enum_entry(&mut self, node: Node<'_>, owner: Option<&Owner>) {
        let public = owner.is_some_and(|o| o.public);
        let mut cases: Vec<(String, Vec<Param>, bool, usize)> = Vec::new();
        let mut cursor = node.walk();
        for (i, child) in node.children(&mut cursor).enumerate() {
            match node.field_name_for_child(i as u32) {
                Some("name") => cases.push((
                    self.text(child),
                    Vec::new(),
                    false,
                    child.start_position().row + 1,
                )),
                Some("data_contents") => {
                    if let Some(last) = cases.last_mut() {
                        last.1 = self.payload_labels(child);
                        last.2 = true;
                    }
                }
                _ => {}
            }
        }
        for (name, params, has_payload, line) in cases {
            self.module.members.push(Member {
                owner: owner.map(|o| o.name.clone()),
                owner_kind: owner.map(|o| o.kind),
                kind: MemberKind::Case,
                name,
                params,
                has_payload,
                public,
                line,
            });
        }
    }

    /// Labels of `(a: Int, _ b: Int, String)`: each element is a run of
    /// children between commas; a `simple_identifier` followed by `:` is
    /// its label.
    fn payload_labels(&self, node: Node<'_>) -> Vec<Param> {
        let mut out = Vec::new();
        let mut label: Option<String> = None;
        let mut pending: Option<String> = None;
        let mut saw_element = false;
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            match child.kind() {
                "(" => {}
                "," | ")" => {
                    if saw_element {
                        out.push(Param {
                            label: label.take().unwrap_or_else(|| "_".to_owned()),
                            defaulted: false,
                        });
                    }
                    saw_element = false;
                    pending = None;
                }
                ":" => {
                    label = pending.take();
                }
                "simple_identifier" if label.is_none() => {
                    pending = Some(self.text(child));
                    saw_element = true;
                }
                _ => saw_element = true,
            }
        }
        out
    }

    fn property(&mut self, node: Node<'_>, owner: Option<&Owner>) {
        let in_protocol = owner.is_some_and(|o| o.kind == TypeKind::Protocol);
        let public = self.is_public(node) || (in_protocol && owner.is_some_and(|o| o.public));
        let mut cursor = node.walk();
        let names: Vec<Node<'_>> = node.children_by_field_name("name", &mut cursor).collect();
        for name_node in names {
            let name = first_identifier(name_node).map(|n| self.text(n));
            if let Some(name) = name {
                self.push_member(
                    node,
                    owner,
                    MemberKind::Var,
                    name,
                    Vec::new(),
                    false,
                    public,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_member(
        &mut self,
        node: Node<'_>,
        owner: Option<&Owner>,
        kind: MemberKind,
        name: String,
        params: Vec<Param>,
        has_payload: bool,
        public: bool,
    ) {
        self.module.members.push(Member {
            owner: owner.map(|o| o.name.clone()),
            owner_kind: owner.map(|o| o.kind),
            kind,
            name,
            params,
            has_payload,
            public,
            line: node.start_position().row + 1,
        });
    }

    fn call(&mut self, node: Node<'_>) {
        let Some(callee) = node.child(0) else { return };
        let Some(suffix) = node.child(1).filter(|n| n.kind() == "call_suffix") else {
            return;
        };
        let name_node = match callee.kind() {
            "simple_identifier" => Some(callee),
            "navigation_expression" => callee
                .child_by_field_name("suffix")
                .and_then(|s| s.child_by_field_name("suffix")),
            "prefix_expression" => callee
                .child_by_field_name("target")
                .filter(|t| t.kind() == "simple_identifier"),
            _ => None,
        };
        let Some(name_node) = name_node.filter(|n| n.kind() == "simple_identifier") else {
            return;
        };
        let mut labels = Vec::new();
        let mut trailing_closure = false;
        let mut is_subscript = false;
        let mut cursor = suffix.walk();
        for part in suffix.children(&mut cursor) {
            match part.kind() {
                "lambda_literal" => trailing_closure = true,
                "value_arguments" => {
                    if part.child(0).is_some_and(|c| c.kind() == "[") {
                        is_subscript = true;
                    }
                    let mut args = part.walk();
                    for arg in part.children(&mut args) {
                        if arg.kind() == "value_argument" {
                            labels.push(
                                arg.child_by_field_name("name")
                                    .and_then(first_identifier)
                                    .map(|n| self.text(n))
                                    .unwrap_or_else(|| "_".to_owned()),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        if is_subscript {
            return;
        }
        let on_value = callee.kind() == "navigation_expression"
            && callee
                .child_by_field_name("target")
                .filter(|t| t.kind() == "simple_identifier")
                .is_some_and(|t| self.text(t).starts_with(|c: char| c.is_lowercase()));
        let pos = name_node.start_position();
        let call = Call {
            name: self.text(name_node),
            labels,
            trailing_closure,
            on_value,
            line: pos.row + 1,
            col: pos.column + 1,
        };
        self.module.calls.push((self.file.to_owned(), call));
    }
}

fn first_identifier(node: Node<'_>) -> Option<Node<'_>> {
    if node.kind() == "simple_identifier" {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
    children.into_iter().find_map(first_identifier)
}
