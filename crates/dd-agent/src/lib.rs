//! The dd agent: owns terminal sessions and serves them over Noise.
//!
//! The agent is the only party that holds sessions. Each session is a real
//! PTY whose output is numbered by byte offset, appended to a transcript on
//! disk and fed to a terminal screen model, so any number of clients can
//! attach, leave and come back (from an offset, from the current screen, or
//! from a tail) without losing or repeating a byte. The PTYs themselves live
//! in a separate process, the session host ([`host`]); the gateway keeps a
//! [`mirror`] of each session (screen, tail, subscribers, prompts).
//!
//! Clients reach the agent through the [`gateway`]: a WebSocket carrying the
//! Noise IK protocol defined in `dd-proto`. The agent identifies every peer
//! by its static key; [`policy`] decides each request from one capability
//! table, for owners (enrolled devices) and companions (grants for one
//! session, made by redeeming a pairing token). Durable state — devices,
//! tokens, grants, audit — lives in a SQLite database ([`store`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod gateway;
pub mod host;
pub mod layout;
pub mod mirror;
pub mod policy;
pub mod state;
pub mod store;
pub mod util;
