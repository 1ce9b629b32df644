//! Application messages: what a reassembled fragment stream decodes to.
//!
//! ```text
//! message  = type:u8 || payload
//! 0x01 Request   JSON {"id": u64, "method": str, "params": object}
//! 0x02 Response  JSON {"id": u64, "result": any} | {"id": u64, "error": {"code", "message"}}
//! 0x03 Output    stream:u64be || offset:u64be || data      (agent -> client)
//! 0x04 Input     stream:u64be || data                      (client -> agent)
//! 0x05 Event     JSON {"stream": u64, "event": {"type": ..., ...}}
//! 0x06 Snapshot  stream:u64be || offset:u64be || rows:u16be || cols:u16be || data
//! ```
//!
//! A stream id is the request id of the `session.attach` (or
//! `session.events`) that opened it.
//! `Output.offset` is the byte offset in the session's transcript of the
//! first byte of `data`; a `Snapshot` is the screen as it stood at `offset`,
//! as bytes that repaint it on a terminal of `rows` x `cols`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::ErrorBody;
use crate::methods::{InputNeeded, SessionInfo};
use crate::request::Params;

/// Type byte of a request.
pub const TYPE_REQUEST: u8 = 0x01;
/// Type byte of a response.
pub const TYPE_RESPONSE: u8 = 0x02;
/// Type byte of an output chunk.
pub const TYPE_OUTPUT: u8 = 0x03;
/// Type byte of an input chunk.
pub const TYPE_INPUT: u8 = 0x04;
/// Type byte of a stream event.
pub const TYPE_EVENT: u8 = 0x05;
/// Type byte of a screen snapshot.
pub const TYPE_SNAPSHOT: u8 = 0x06;

/// Bytes of an output message before its data: type, stream, offset.
pub const OUTPUT_HEADER_LEN: usize = 1 + 8 + 8;

/// One application message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A call from client to agent.
    Request {
        /// Chosen by the client, unique among its in-flight requests.
        id: u64,
        /// A method name from [`crate::methods`]; the agent types the
        /// request with [`crate::request::Request::decode`].
        method: String,
        /// Method parameters as their JSON text (an object; `{}` when none).
        params: Params,
    },
    /// The agent's answer to the request with the same id.
    Response {
        /// The request's id.
        id: u64,
        /// The result value, or the error.
        result: Result<Value, ErrorBody>,
    },
    /// Terminal output on an attach stream.
    Output {
        /// The stream (attach request id).
        stream: u64,
        /// Transcript offset of `data[0]`.
        offset: u64,
        /// The bytes, at most [`crate::MAX_OUTPUT_CHUNK`].
        data: Vec<u8>,
    },
    /// Terminal input for the session behind an attach stream.
    Input {
        /// The stream (attach request id).
        stream: u64,
        /// The bytes to write to the PTY.
        data: Vec<u8>,
    },
    /// A stream event (metadata change, exit, end of stream).
    Event {
        /// The stream (attach request id).
        stream: u64,
        /// The event.
        event: Event,
    },
    /// The screen as it stood at `offset`.
    Snapshot {
        /// The stream (attach request id).
        stream: u64,
        /// Transcript offset the snapshot corresponds to; live output follows from here.
        offset: u64,
        /// Screen rows.
        rows: u16,
        /// Screen columns.
        cols: u16,
        /// Bytes that repaint the screen (clear, contents, attributes, cursor).
        data: Vec<u8>,
    },
}

/// Events carried on an attach stream (all of them) and on an events
/// stream (`meta`, `input_needed`, `input_cleared`, `exited`, `error`, `end`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The session's metadata changed (size, title, status, clients).
    Meta {
        /// The new metadata.
        session: SessionInfo,
    },
    /// The session's process exited; output up to `end_offset` is final.
    Exited {
        /// The exit code, if the process exited normally.
        exit_code: Option<i32>,
        /// The transcript length at exit.
        end_offset: u64,
    },
    /// The session waits for input: a program asked a question, showed a
    /// menu or sent a notification. Sent after the output that caused it.
    /// At most one prompt waits at a time; a new one (higher `seq`) is
    /// preceded by `input_cleared` for the old one.
    InputNeeded {
        /// The prompt.
        prompt: InputNeeded,
    },
    /// The prompt with this `seq` no longer waits: input arrived, the screen
    /// moved on, or the session ended.
    InputCleared {
        /// The cleared prompt's `seq`.
        seq: u64,
    },
    /// A non-fatal error about this stream, e.g. input refused on a
    /// read-only grant. The stream stays open.
    Error {
        /// What went wrong.
        error: ErrorBody,
    },
    /// The stream is over; no more frames will arrive on it.
    End {
        /// Why: detached, session_ended, revoked, expired, too_slow, ...
        reason: EndReason,
        /// Human-readable detail.
        message: String,
    },
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The client detached.
    Detached,
    /// The session exited or was closed.
    SessionEnded,
    /// The grant behind this stream was revoked.
    Revoked,
    /// The grant behind this stream expired.
    Expired,
    /// The client fell too far behind.
    TooSlow,
    /// The agent is shutting down.
    Shutdown,
}

#[derive(Serialize)]
struct RequestOut<'a> {
    id: u64,
    method: &'a str,
    params: &'a RawValue,
}

#[derive(Deserialize)]
struct RequestIn {
    id: u64,
    method: String,
    #[serde(default)]
    params: Option<Box<RawValue>>,
}

#[derive(Serialize, Deserialize)]
struct ResponseJson {
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    error: Option<ErrorBody>,
}

#[derive(Serialize, Deserialize)]
struct EventJson {
    stream: u64,
    event: Event,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No type byte.
    #[error("empty message")]
    Empty,
    /// A type byte this version does not know.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// A binary message shorter than its header.
    #[error("truncated {0} message")]
    Truncated(&'static str),
    /// A JSON payload that does not parse or has the wrong shape.
    #[error("invalid {what} JSON: {detail}")]
    Json {
        /// Which message type.
        what: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// A response with both or neither of `result` and `error`.
    #[error("response must carry exactly one of result and error")]
    AmbiguousResponse,
}

fn json_err(what: &'static str) -> impl FnOnce(serde_json::Error) -> DecodeError {
    move |e| DecodeError::Json {
        what,
        detail: e.to_string(),
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl Message {
    /// Encodes the message (type byte and payload).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded message to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request { id, method, params } => {
                out.push(TYPE_REQUEST);
                let body = RequestOut {
                    id: *id,
                    method,
                    params: params.raw(),
                };
                serde_json::to_writer(&mut *out, &body).expect("JSON to a Vec cannot fail");
            }
            Message::Response { id, result } => {
                out.push(TYPE_RESPONSE);
                let body = match result {
                    Ok(v) => ResponseJson {
                        id: *id,
                        result: Some(v.clone()),
                        error: None,
                    },
                    Err(e) => ResponseJson {
                        id: *id,
                        result: None,
                        error: Some(e.clone()),
                    },
                };
                serde_json::to_writer(&mut *out, &body).expect("JSON to a Vec cannot fail");
            }
            Message::Output {
                stream,
                offset,
                data,
            } => {
                out.reserve(OUTPUT_HEADER_LEN + data.len());
                out.push(TYPE_OUTPUT);
                out.extend_from_slice(&stream.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(data);
            }
            Message::Input { stream, data } => {
                out.push(TYPE_INPUT);
                out.extend_from_slice(&stream.to_be_bytes());
                out.extend_from_slice(data);
            }
            Message::Event { stream, event } => {
                out.push(TYPE_EVENT);
                let body = EventJson {
                    stream: *stream,
                    event: event.clone(),
                };
                serde_json::to_writer(&mut *out, &body).expect("JSON to a Vec cannot fail");
            }
            Message::Snapshot {
                stream,
                offset,
                rows,
                cols,
                data,
            } => {
                out.push(TYPE_SNAPSHOT);
                out.extend_from_slice(&stream.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&rows.to_be_bytes());
                out.extend_from_slice(&cols.to_be_bytes());
                out.extend_from_slice(data);
            }
        }
    }

    /// Decodes one message. Never panics, whatever the input.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let (&ty, p) = bytes.split_first().ok_or(DecodeError::Empty)?;
        match ty {
            TYPE_REQUEST => {
                let r: RequestIn = serde_json::from_slice(p).map_err(json_err("request"))?;
                Ok(Message::Request {
                    id: r.id,
                    method: r.method,
                    params: r.params.map(Params::from_raw).unwrap_or_else(Params::empty),
                })
            }
            TYPE_RESPONSE => {
                let r: ResponseJson = serde_json::from_slice(p).map_err(json_err("response"))?;
                let result = match (r.result, r.error) {
                    (Some(v), None) => Ok(v),
                    (None, Some(e)) => Err(e),
                    _ => return Err(DecodeError::AmbiguousResponse),
                };
                Ok(Message::Response { id: r.id, result })
            }
            TYPE_OUTPUT => {
                if p.len() < 16 {
                    return Err(DecodeError::Truncated("output"));
                }
                Ok(Message::Output {
                    stream: u64_at(p, 0),
                    offset: u64_at(p, 8),
                    data: p[16..].to_vec(),
                })
            }
            TYPE_INPUT => {
                if p.len() < 8 {
                    return Err(DecodeError::Truncated("input"));
                }
                Ok(Message::Input {
                    stream: u64_at(p, 0),
                    data: p[8..].to_vec(),
                })
            }
            TYPE_EVENT => {
                let e: EventJson = serde_json::from_slice(p).map_err(json_err("event"))?;
                Ok(Message::Event {
                    stream: e.stream,
                    event: e.event,
                })
            }
            TYPE_SNAPSHOT => {
                if p.len() < 20 {
                    return Err(DecodeError::Truncated("snapshot"));
                }
                Ok(Message::Snapshot {
                    stream: u64_at(p, 0),
                    offset: u64_at(p, 8),
                    rows: u16_at(p, 16),
                    cols: u16_at(p, 18),
                    data: p[20..].to_vec(),
                })
            }
            other => Err(DecodeError::UnknownType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;
    use serde_json::json;

    fn round_trip(m: Message) {
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(Message::Request {
            id: 1,
            method: "session.list".into(),
            params: json!({}).into(),
        });
        round_trip(Message::Response {
            id: 1,
            result: Ok(json!({"sessions": []})),
        });
        round_trip(Message::Response {
            id: 2,
            result: Err(ErrorBody::new(ErrorCode::Forbidden, "no")),
        });
        round_trip(Message::Output {
            stream: 3,
            offset: 1 << 40,
            data: b"hello\r\n".to_vec(),
        });
        round_trip(Message::Input {
            stream: 3,
            data: b"ls\r".to_vec(),
        });
        round_trip(Message::Event {
            stream: 3,
            event: Event::End {
                reason: EndReason::Revoked,
                message: "grant revoked".into(),
            },
        });
        round_trip(Message::Event {
            stream: 4,
            event: Event::InputNeeded {
                prompt: crate::methods::InputNeeded {
                    session: "s_1".into(),
                    seq: 2,
                    title: "sh".into(),
                    body: "Continue?".into(),
                    prompt: "Continue? [y/N]".into(),
                    choices: vec![crate::methods::Choice {
                        label: "y".into(),
                        input: "eQ0".into(),
                    }],
                    at: 1_700_000_000,
                    source: crate::methods::PromptSource::Heuristic,
                },
            },
        });
        round_trip(Message::Event {
            stream: 4,
            event: Event::InputCleared { seq: 2 },
        });
        round_trip(Message::Snapshot {
            stream: 3,
            offset: 42,
            rows: 24,
            cols: 80,
            data: b"\x1b[H\x1b[Jprompt$ ".to_vec(),
        });
    }

    /// The vectors printed in docs/protocol.md.
    #[test]
    fn documented_vectors() {
        let out = Message::Output {
            stream: 7,
            offset: 1024,
            data: b"hi".to_vec(),
        };
        assert_eq!(
            hex::encode(out.encode()),
            "03000000000000000700000000000004006869"
        );
        let input = Message::Input {
            stream: 7,
            data: b"\r".to_vec(),
        };
        assert_eq!(hex::encode(input.encode()), "0400000000000000070d");
        let req = Message::Request {
            id: 1,
            method: "session.list".into(),
            params: json!({}).into(),
        };
        assert_eq!(
            req.encode(),
            b"\x01{\"id\":1,\"method\":\"session.list\",\"params\":{}}".to_vec()
        );
        let resp = Message::Response {
            id: 1,
            result: Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "companions may not list sessions",
            )),
        };
        assert_eq!(
            resp.encode(),
            b"\x02{\"id\":1,\"error\":{\"code\":\"forbidden\",\"message\":\"companions may not list sessions\"}}".to_vec()
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Message::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(Message::decode(&[0x09]), Err(DecodeError::UnknownType(9)));
        assert_eq!(
            Message::decode(&[TYPE_OUTPUT, 0, 0]),
            Err(DecodeError::Truncated("output"))
        );
        assert_eq!(
            Message::decode(&[TYPE_SNAPSHOT; 10]),
            Err(DecodeError::Truncated("snapshot"))
        );
        assert!(matches!(
            Message::decode(b"\x01{not json"),
            Err(DecodeError::Json { .. })
        ));
        assert!(matches!(
            Message::decode(b"\x01\xff\xfe"),
            Err(DecodeError::Json { .. })
        ));
        assert_eq!(
            Message::decode(b"\x02{\"id\":1}"),
            Err(DecodeError::AmbiguousResponse)
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn output_round_trips(stream in any::<u64>(), offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..1000)) {
            let m = Message::Output { stream, offset, data };
            prop_assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }
}
