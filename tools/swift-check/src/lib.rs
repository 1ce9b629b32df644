//! Linux-side checks for the iOS app's hand-written Swift.
//!
//! There is no Swift compiler on Linux CI, so two cheap, real checks stand in
//! for it:
//!
//! * [`syntax`]: parse every `*.swift` file with tree-sitter-swift and report
//!   each `ERROR` or `MISSING` node as `file:line:col`.
//! * [`contract`]: check that every dd-mobile symbol the app uses (listed in a
//!   hand-maintained manifest, see [`manifest`]) is declared, with the same
//!   argument labels, in the Swift bindings that uniffi-bindgen generated;
//!   that every manifest symbol is really used by the app; that every call in
//!   the app whose base name the bindings declare uses argument labels of one
//!   of those declarations; and that every app type conforming to a bindings
//!   protocol implements each of its requirements with the same labels.
//!
//! Declarations and calls are read from the syntax tree ([`decls`]), never by
//! regular expressions over text.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod contract;
pub mod decls;
pub mod manifest;
pub mod syntax;
