//! Parsing Swift with tree-sitter and reporting syntax errors.

use std::fmt;
use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser, Tree};

/// Why a file could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum SyntaxError {
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// tree-sitter refused the grammar (version mismatch) or gave no tree.
    #[error("tree-sitter could not parse {0}")]
    Parser(PathBuf),
}

/// One `ERROR` or `MISSING` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file it is in.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What was found: `syntax error` or `missing <kind>`.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.what
        )
    }
}

/// Parses Swift source text.
pub fn parse_source(source: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_swift::LANGUAGE.into())
        .ok()?;
    parser.parse(source, None)
}

/// Every `ERROR` and `MISSING` node in `tree`, in document order.
pub fn problems(tree: &Tree, path: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    collect(tree.root_node(), path, &mut out);
    out
}

fn collect(node: Node<'_>, path: &Path, out: &mut Vec<Problem>) {
    if node.is_error() || node.is_missing() {
        let pos = node.start_position();
        let what = if node.is_missing() {
            format!("missing {}", node.kind())
        } else {
            "syntax error".to_owned()
        };
        out.push(Problem {
            path: path.to_owned(),
            line: pos.row + 1,
            col: pos.column + 1,
            what,
        });
    }
    if !node.has_error() {
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect(child, path, out);
    }
}

/// Reads and checks one file.
pub fn check_file(path: &Path) -> Result<Vec<Problem>, SyntaxError> {
    let source = std::fs::read_to_string(path).map_err(|source| SyntaxError::Io {
        path: path.to_owned(),
        source,
    })?;
    let tree = parse_source(&source).ok_or_else(|| SyntaxError::Parser(path.to_owned()))?;
    Ok(problems(&tree, path))
}

/// Expands files and directories (recursively) into the `*.swift` files they
/// name, sorted. A file given explicitly is kept whatever its extension.
pub fn swift_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, SyntaxError> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|source| SyntaxError::Io {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(input, &mut out)?;
        } else {
            out.push(input.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SyntaxError> {
    let io = |source| SyntaxError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "swift") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_source_has_no_problems() {
        let tree = parse_source("let x = 1\nfunc f(a b: Int) -> Int { b }\n").unwrap();
        assert!(problems(&tree, Path::new("x.swift")).is_empty());
    }

    #[test]
    fn unclosed_call_is_reported_with_position() {
        let tree = parse_source("let x = 1\nlet y = f(\n").unwrap();
        let found = problems(&tree, Path::new("x.swift"));
        assert!(!found.is_empty());
        assert!(found.iter().all(|p| p.line >= 1 && p.col >= 1));
        assert!(found[0].to_string().starts_with("x.swift:"));
    }
}
