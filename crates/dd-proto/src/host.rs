//! The local protocol between the agent's network gateway and its session
//! host.
//!
//! The session host is a separate process that owns the sessions' PTYs and
//! child processes and appends their output to the transcripts. The gateway
//! reaches it over a Unix socket in the state directory (mode 0600, peer uid
//! checked); it never crosses a network. Restarting the gateway leaves the
//! host, and so every session, running.
//!
//! A frame is `len: u32 BE` (counting what follows), `kind: u8`, payload:
//!
//! | kind | direction | payload |
//! |---|---|---|
//! | 0x01 control | both | JSON: [`ToHost`] from the gateway, [`FromHost`] from the host |
//! | 0x02 input | gateway → host | `id_len: u8`, id, bytes to write to the PTY |
//! | 0x03 output | host → gateway | `id_len: u8`, id, `offset: u64 BE`, transcript bytes at that offset |
//!
//! Output frames of a followed session arrive in offset order; a receiver
//! that sees an offset beyond what it has reads the gap from the transcript
//! file (the host writes the file before it sends), and ignores bytes it
//! already has. An output frame with no bytes just announces the end offset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of this local protocol; the gateway refuses a host that
/// speaks another (see `Hello`).
pub const HOST_PROTOCOL_VERSION: u32 = 1;

/// Largest frame accepted (length field), either way.
pub const MAX_HOST_FRAME: usize = 8 * 1024 * 1024;

/// Frame kind: JSON control.
pub const KIND_CONTROL: u8 = 0x01;
/// Frame kind: input for a session.
pub const KIND_INPUT: u8 = 0x02;
/// Frame kind: output of a session.
pub const KIND_OUTPUT: u8 = 0x03;

/// Gateway → host control messages. Each carries a request number that the
/// reply repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ToHost {
    /// First message on a gateway's connection; makes it the host's
    /// gateway (a previous one is dropped). Reply: [`Reply::Hello`].
    Hello {
        /// Request number.
        req: u64,
        /// [`HOST_PROTOCOL_VERSION`].
        version: u32,
        /// Transcript size cap in bytes (0: none).
        transcript_cap: u64,
    },
    /// Starts a session whose directory and empty transcript the gateway has
    /// created. Its output is followed from offset 0. Reply: [`Reply::Created`].
    Create {
        /// Request number.
        req: u64,
        /// Session id (also its directory name).
        id: String,
        /// Program and arguments.
        command: Vec<String>,
        /// Working directory.
        cwd: String,
        /// Extra environment.
        env: BTreeMap<String, String>,
        /// PTY rows.
        rows: u16,
        /// PTY columns.
        cols: u16,
    },
    /// Lists every session the host knows. Reply: [`Reply::Sessions`].
    List {
        /// Request number.
        req: u64,
    },
    /// Sends this connection a session's output from now on, starting with
    /// an empty output frame at the current end. Reply: [`Reply::Ok`].
    Follow {
        /// Request number.
        req: u64,
        /// Session id.
        id: String,
    },
    /// Resizes a session's PTY. Reply: [`Reply::Ok`].
    Resize {
        /// Request number.
        req: u64,
        /// Session id.
        id: String,
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Signals a session's process group. Reply: [`Reply::Ok`].
    Signal {
        /// Request number.
        req: u64,
        /// Session id.
        id: String,
        /// Which signal.
        signal: HostSignal,
    },
    /// Ends every session and stops the host. Reply: [`Reply::Ok`]. May
    /// also be the first message of a connection (`dd-agent
    /// stop-sessions`): then it needs no hello and does not displace the
    /// gateway, and the host closes the connection once every session
    /// has ended.
    Shutdown {
        /// Request number.
        req: u64,
    },
}

impl ToHost {
    /// The request number.
    pub fn req(&self) -> u64 {
        match self {
            ToHost::Hello { req, .. }
            | ToHost::Create { req, .. }
            | ToHost::List { req }
            | ToHost::Follow { req, .. }
            | ToHost::Resize { req, .. }
            | ToHost::Signal { req, .. }
            | ToHost::Shutdown { req } => *req,
        }
    }
}

/// Signals the gateway may send to a session's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostSignal {
    /// SIGHUP.
    Hup,
    /// SIGTERM.
    Term,
    /// SIGKILL.
    Kill,
}

/// Host → gateway control messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum FromHost {
    /// The answer to a request.
    Reply {
        /// The request's number.
        req: u64,
        /// What happened.
        result: Reply,
    },
    /// A session's process has ended and all its output has been sent.
    Exited {
        /// Session id.
        id: String,
        /// Exit code (None: killed by a signal).
        exit_code: Option<i32>,
        /// Transcript end offset.
        end: u64,
    },
    /// Bytes before `start` were dropped from a session's transcript (its
    /// size cap).
    Trimmed {
        /// Session id.
        id: String,
        /// The first offset still stored.
        start: u64,
    },
}

/// Replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// To `Hello`.
    Hello {
        /// [`HOST_PROTOCOL_VERSION`] as the host speaks it.
        version: u32,
        /// The host's process id.
        pid: u32,
    },
    /// To `Create`.
    Created {
        /// The session leader's process id.
        pid: u32,
    },
    /// To `List`.
    Sessions {
        /// Every session the host knows.
        sessions: Vec<HostSession>,
    },
    /// Done.
    Ok,
    /// Failed.
    Error {
        /// What kind of failure.
        kind: HostErrorKind,
        /// Human-readable detail.
        message: String,
    },
}

/// Failure kinds in [`Reply::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostErrorKind {
    /// No such session.
    NotFound,
    /// The session has ended.
    Ended,
    /// The request was invalid (e.g. bad size, spawn failed).
    BadRequest,
    /// The program could not be started.
    Spawn,
    /// An I/O failure in the host.
    Io,
    /// The versions differ.
    Version,
}

/// A session as the host sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSession {
    /// Session id.
    pub id: String,
    /// True while the process runs.
    pub running: bool,
    /// Exit code once ended.
    pub exit_code: Option<i32>,
    /// Transcript end offset.
    pub end: u64,
    /// First stored transcript offset (after trimming).
    pub start: u64,
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum HostFrame<'a> {
    /// JSON control.
    Control(&'a [u8]),
    /// Input for a session.
    Input {
        /// Session id.
        id: &'a str,
        /// Bytes.
        data: &'a [u8],
    },
    /// Output of a session.
    Output {
        /// Session id.
        id: &'a str,
        /// Transcript offset of `data`.
        offset: u64,
        /// Bytes.
        data: &'a [u8],
    },
}

/// Why a host frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostFrameError {
    /// Empty, cut short, or an id that is not UTF-8.
    #[error("malformed host frame")]
    Malformed,
    /// Unknown kind byte.
    #[error("unknown host frame kind {0:#04x}")]
    UnknownKind(u8),
    /// The length field exceeds [`MAX_HOST_FRAME`].
    #[error("host frame of {0} bytes is too large")]
    TooLarge(usize),
}

/// Encodes a control frame (length prefix included).
pub fn encode_control<T: Serialize>(msg: &T) -> Vec<u8> {
    let json = serde_json::to_vec(msg).expect("host control messages serialize");
    let mut out = Vec::with_capacity(5 + json.len());
    out.extend_from_slice(&((json.len() + 1) as u32).to_be_bytes());
    out.push(KIND_CONTROL);
    out.extend_from_slice(&json);
    out
}

/// Encodes an input frame. Ids are at most 255 bytes.
pub fn encode_input(id: &str, data: &[u8]) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(255)];
    let len = 1 + 1 + id.len() + data.len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(KIND_INPUT);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(data);
    out
}

/// Encodes an output frame.
pub fn encode_output(id: &str, offset: u64, data: &[u8]) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(255)];
    let len = 1 + 1 + id.len() + 8 + data.len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(KIND_OUTPUT);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Checks a frame's 4-byte length prefix; returns the body length.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, HostFrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_HOST_FRAME {
        return Err(HostFrameError::TooLarge(len));
    }
    if len == 0 {
        return Err(HostFrameError::Malformed);
    }
    Ok(len)
}

/// Decodes a frame body (what follows the length prefix).
pub fn decode(body: &[u8]) -> Result<HostFrame<'_>, HostFrameError> {
    let (&kind, rest) = body.split_first().ok_or(HostFrameError::Malformed)?;
    let id_of = |rest: &'_ [u8]| -> Result<(usize, usize), HostFrameError> {
        let n = *rest.first().ok_or(HostFrameError::Malformed)? as usize;
        if rest.len() < 1 + n {
            return Err(HostFrameError::Malformed);
        }
        Ok((1, 1 + n))
    };
    match kind {
        KIND_CONTROL => Ok(HostFrame::Control(rest)),
        KIND_INPUT => {
            let (a, b) = id_of(rest)?;
            let id = std::str::from_utf8(&rest[a..b]).map_err(|_| HostFrameError::Malformed)?;
            Ok(HostFrame::Input {
                id,
                data: &rest[b..],
            })
        }
        KIND_OUTPUT => {
            let (a, b) = id_of(rest)?;
            let id = std::str::from_utf8(&rest[a..b]).map_err(|_| HostFrameError::Malformed)?;
            let off: [u8; 8] = rest
                .get(b..b + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or(HostFrameError::Malformed)?;
            Ok(HostFrame::Output {
                id,
                offset: u64::from_be_bytes(off),
                data: &rest[b + 8..],
            })
        }
        k => Err(HostFrameError::UnknownKind(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = encode_output("s_abc", 42, b"hello");
        assert_eq!(body_len(f[..4].try_into().unwrap()), Ok(f.len() - 4));
        assert_eq!(
            decode(&f[4..]),
            Ok(HostFrame::Output {
                id: "s_abc",
                offset: 42,
                data: b"hello"
            })
        );
        let f = encode_input("s_x", b"ls\r");
        assert_eq!(
            decode(&f[4..]),
            Ok(HostFrame::Input {
                id: "s_x",
                data: b"ls\r"
            })
        );
        let f = encode_control(&ToHost::List { req: 7 });
        let HostFrame::Control(json) = decode(&f[4..]).unwrap() else {
            panic!("not control")
        };
        assert_eq!(
            serde_json::from_slice::<ToHost>(json).unwrap(),
            ToHost::List { req: 7 }
        );
    }

    #[test]
    fn documented_vectors() {
        // docs/protocol.md, "The local session-host protocol".
        assert_eq!(
            hex::encode(encode_output("s_abc", 42, b"hi")),
            "000000110305735f616263000000000000002a6869"
        );
        assert_eq!(
            hex::encode(encode_input("s_abc", b"ls\r")),
            "0000000a0205735f6162636c730d"
        );
    }

    #[test]
    fn bad_frames_are_refused() {
        assert_eq!(decode(&[]), Err(HostFrameError::Malformed));
        assert_eq!(decode(&[9]), Err(HostFrameError::UnknownKind(9)));
        assert_eq!(decode(&[KIND_INPUT]), Err(HostFrameError::Malformed));
        assert_eq!(
            decode(&[KIND_INPUT, 5, b'a']),
            Err(HostFrameError::Malformed)
        );
        assert_eq!(
            decode(&[KIND_OUTPUT, 1, b'a', 0, 0]),
            Err(HostFrameError::Malformed)
        );
        assert_eq!(
            decode(&[KIND_INPUT, 2, 0xff, 0xfe]),
            Err(HostFrameError::Malformed)
        );
        assert_eq!(body_len([0, 0, 0, 0]), Err(HostFrameError::Malformed));
        assert!(matches!(
            body_len([0xff, 0, 0, 0]),
            Err(HostFrameError::TooLarge(_))
        ));
    }
}
