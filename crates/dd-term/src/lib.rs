//! dd's terminal emulator core.
//!
//! - [`Term`]: an xterm-class screen model driven by the `vte` parser (both
//!   screens, scroll region, charsets, pending wrap, modes); the agent keeps
//!   one per session.
//! - [`Term::snapshot`]: the bytes that restore a `Term`'s whole state on a
//!   fresh terminal of the same size (what a late joiner's Snapshot
//!   carries; docs/protocol.md, "Snapshot contents").
//! - [`viewport`]: draws a `Term` onto a terminal of another size (a
//!   companion whose terminal is not the session's size).
//!
//! Nothing here panics on any input.

mod snapshot;
mod term;
pub mod viewport;

#[cfg(test)]
mod tests;

pub use term::{
    attr, dec_graphics, Cell, Charset, Color, Events, Grid, Looks, Pen, Saved, Term, Width,
};
pub use viewport::Viewport;

/// An [`Events`] that ignores everything (a viewer's own model).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl Events for NoEvents {
    fn bell(&mut self) {}
    fn title(&mut self, _: &[u8]) {}
    fn osc(&mut self, _: &[&[u8]]) {}
}
