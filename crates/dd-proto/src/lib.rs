//! The dd wire contract, defined once and imported by every side.
//!
//! A dd connection is a WebSocket whose binary frames each carry exactly one
//! Noise transport message (`Noise_IK_25519_ChaChaPoly_BLAKE2s`, prologue
//! [`PROLOGUE`]). Inside the encryption, each Noise plaintext is a *fragment*
//! ([`frame`]): a flag byte and a slice of an application [`message::Message`].
//! Fragments let one message (a large screen snapshot, a long audit list) be
//! bigger than the 65535-byte Noise limit, up to [`MAX_MESSAGE_SIZE`].
//! Messages are typed: JSON requests, responses and events for control, and
//! binary output, input and snapshot frames for the terminal stream, so one
//! connection carries RPCs and any number of attach streams at once.
//!
//! This crate also owns the error codes ([`error`]), the method names and
//! their parameter and result types ([`methods`]), the typed request
//! ([`request`]), and the one parser for
//! pairing and enrollment links ([`link`]). It does no I/O and reads no clock:
//! callers pass the time in.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod duration;
pub mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod keepalive;
pub mod keys;
pub mod link;
pub mod message;
pub mod methods;
pub mod noise;
pub mod request;

pub use error::{ErrorBody, ErrorCode};
pub use frame::{fragment, Reassembler};
pub use link::{Link, LinkError, LinkKind};
pub use message::{DecodeError, Event, Message};
pub use request::{Method, Params, Request, RequestError};

/// The protocol version spoken by this crate. Sent in the handshake payloads
/// and named in the Noise prologue; a peer with another version is refused
/// with [`ErrorCode::UnsupportedVersion`].
pub const PROTOCOL_VERSION: u32 = 1;

/// The Noise protocol name used by every dd connection.
pub const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";

/// The Noise prologue: binds the handshake to this protocol and version, so a
/// peer speaking another version fails the handshake instead of misparsing.
pub const PROLOGUE: &[u8] = b"dd-proto/1";

/// The largest Noise message (ciphertext), fixed by the Noise specification.
pub const MAX_NOISE_MESSAGE: usize = 65535;

/// Bytes the AEAD tag adds to each Noise transport message.
pub const NOISE_TAG_LEN: usize = 16;

/// The largest plaintext a single Noise transport message can carry.
pub const MAX_FRAGMENT: usize = MAX_NOISE_MESSAGE - NOISE_TAG_LEN;

/// The largest application message after reassembly (4 MiB). A peer that
/// announces more is refused with [`ErrorCode::TooLarge`].
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// The largest data chunk an `Output` message carries, chosen so that one
/// output message always fits in one Noise message.
pub const MAX_OUTPUT_CHUNK: usize = MAX_FRAGMENT - 1 - message::OUTPUT_HEADER_LEN;

/// The path of the agent's Noise WebSocket endpoint.
pub const WS_PATH: &str = "/noise/ws";

/// The path of the agent's health endpoint.
pub const HEALTH_PATH: &str = "/health";
