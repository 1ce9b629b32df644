//! The client side of dd: connect to an agent, run the Noise IK handshake,
//! make RPC calls and consume attach streams.
//!
//! [`connect`] opens a WebSocket to the agent's Noise endpoint (with
//! `TCP_NODELAY`, since keystrokes travel on it), pins the agent's static key
//! in the IK handshake and returns a [`Connection`] plus the agent's
//! [`Welcome`](dd_proto::methods::Welcome). Behind the connection, one reader
//! task decrypts every frame and routes it: responses to the waiting
//! [`Connection::call`] by request id, stream messages (output, snapshots,
//! events) to the [`AttachStream`] whose id they carry. One writer task seals
//! outgoing messages in order. Every stream has a bounded queue; while it is
//! full the reader waits (backpressure reaches the agent through TCP), and a
//! stream whose consumer stays away too long, or is gone, is dropped locally.
//!
//! When a stream or a connection is lost, [`resume`] is the one place
//! that decides what happens next: whether to retry, on which backoff
//! schedule, and from which offset (nothing lost, nothing repeated).
//!
//! This crate has no terminal or CLI code: the desktop CLI and the mobile
//! core both build on it. Nothing the agent sends can make it panic; any
//! undecryptable or malformed frame ends the connection with a reason that
//! every pending call and open stream receives.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alive;
pub mod clock;
mod connection;
mod error;
mod item;
pub mod prompt;
mod pump;
pub mod resume;
mod shared;
mod stream;
pub mod sync;
mod tls;
mod transport;
pub mod until;

pub use connection::{connect, connect_with, ConnectOptions, Connection};
pub use error::{ClientError, TlsError};
pub use item::StreamItem;
pub use stream::AttachStream;
pub use tls::TlsOptions;

/// Re-exported so callers need not depend on dd-proto for the basics.
pub use dd_proto;
