//! The Noise layer: keys, the IK handshake with its payloads, and the
//! transport that turns [`Message`]s into Noise messages and back.
//!
//! This module computes; it does not do I/O. The caller moves the bytes it
//! returns over a WebSocket, one Noise message per binary frame.
//!
//! Handshake (`Noise_IK_25519_ChaChaPoly_BLAKE2s`, prologue [`PROLOGUE`]):
//!
//! ```text
//! -> e, es, s, ss   payload: JSON Hello   {"version": 1, "client": "..."}
//! <- e, ee, se      payload: JSON Welcome {"version": 1, "principal": "..."} or {"version":1,"error":{...}}
//! ```
//!
//! After it, each direction keeps its own nonce counter starting at 0 and
//! incremented per message (the Noise default), so a replayed, dropped or
//! reordered message fails to decrypt and the connection is closed.

use std::sync::Arc;

use snow::{Builder, HandshakeState, StatelessTransportState};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::frame::{fragment, FrameError, Reassembler};
use crate::keys::KEY_LEN;
use crate::message::{DecodeError, Message};
use crate::methods::{Hello, Welcome};
use crate::{MAX_NOISE_MESSAGE, NOISE_PARAMS, PROLOGUE};

/// Errors of the Noise layer.
#[derive(Debug, thiserror::Error)]
pub enum NoiseError {
    /// The handshake failed: a wrong or unknown key, a tampered or garbage
    /// message, or a message out of order.
    #[error("noise handshake failed: {0}")]
    Handshake(String),
    /// A handshake payload was not the expected JSON.
    #[error("invalid handshake payload: {0}")]
    Payload(String),
    /// A transport message failed to decrypt (tampered, replayed or reordered).
    #[error("transport message failed to decrypt")]
    Decrypt,
    /// A transport message larger than Noise allows.
    #[error("transport message of {0} bytes exceeds the Noise limit")]
    TooLarge(usize),
    /// The fragment layer refused the plaintext.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The reassembled message did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The nonce space of this connection is exhausted.
    #[error("nonce exhausted; reconnect")]
    NonceExhausted,
}

/// An X25519 static key pair. The private half is wiped on drop and never
/// printed.
pub struct StaticKeypair {
    private: Zeroizing<[u8; KEY_LEN]>,
    public: [u8; KEY_LEN],
}

impl std::fmt::Debug for StaticKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StaticKeypair({})",
            crate::keys::encode_key(&self.public)
        )
    }
}

impl StaticKeypair {
    /// A fresh key pair from the OS random generator.
    pub fn generate() -> Self {
        let secret = StaticSecret::random_from_rng(rand::rngs::OsRng);
        Self::from_private(secret.to_bytes())
    }

    /// Rebuilds the pair from the 32 private bytes.
    pub fn from_private(private: [u8; KEY_LEN]) -> Self {
        let private = Zeroizing::new(private);
        let secret = StaticSecret::from(*private);
        let public = PublicKey::from(&secret).to_bytes();
        StaticKeypair { private, public }
    }

    /// The private bytes, for storing (0600 file, Keychain).
    pub fn private_bytes(&self) -> &[u8; KEY_LEN] {
        &self.private
    }

    /// The public key.
    pub fn public(&self) -> [u8; KEY_LEN] {
        self.public
    }
}

fn hs_err(e: snow::Error) -> NoiseError {
    NoiseError::Handshake(e.to_string())
}

fn builder() -> Builder<'static> {
    Builder::new(NOISE_PARAMS.parse().expect("valid noise params"))
        .prologue(PROLOGUE)
        .expect("prologue")
}

/// The client's side of a handshake in progress.
pub struct Initiator {
    hs: HandshakeState,
}

impl Initiator {
    /// Starts a handshake to the agent whose static key is `agent_key`.
    /// Returns the state and the first message to send.
    pub fn start(
        local: &StaticKeypair,
        agent_key: &[u8; KEY_LEN],
        hello: &Hello,
    ) -> Result<(Initiator, Vec<u8>), NoiseError> {
        let mut hs = builder()
            .local_private_key(local.private_bytes())
            .map_err(hs_err)?
            .remote_public_key(agent_key)
            .map_err(hs_err)?
            .build_initiator()
            .map_err(hs_err)?;
        let payload = serde_json::to_vec(hello).expect("hello serializes");
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        let n = hs.write_message(&payload, &mut buf).map_err(hs_err)?;
        buf.truncate(n);
        Ok((Initiator { hs }, buf))
    }

    /// Reads the agent's reply. A [`Welcome`] with `error` set still
    /// completes the handshake; the caller must check it.
    pub fn finish(mut self, reply: &[u8]) -> Result<(Transport, Welcome), NoiseError> {
        if reply.len() > MAX_NOISE_MESSAGE {
            return Err(NoiseError::TooLarge(reply.len()));
        }
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        let n = self.hs.read_message(reply, &mut buf).map_err(hs_err)?;
        let welcome: Welcome =
            serde_json::from_slice(&buf[..n]).map_err(|e| NoiseError::Payload(e.to_string()))?;
        let ts = self.hs.into_stateless_transport_mode().map_err(hs_err)?;
        Ok((Transport::new(ts), welcome))
    }
}

/// The agent's side of a handshake in progress, after the first message.
pub struct Responder {
    hs: HandshakeState,
    remote: [u8; KEY_LEN],
    hello: Result<Hello, String>,
}

impl Responder {
    /// Reads the client's first message with the agent's key pair.
    pub fn read_first(local: &StaticKeypair, msg: &[u8]) -> Result<Responder, NoiseError> {
        if msg.len() > MAX_NOISE_MESSAGE {
            return Err(NoiseError::TooLarge(msg.len()));
        }
        let mut hs = builder()
            .local_private_key(local.private_bytes())
            .map_err(hs_err)?
            .build_responder()
            .map_err(hs_err)?;
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        let n = hs.read_message(msg, &mut buf).map_err(hs_err)?;
        let remote: [u8; KEY_LEN] = hs
            .get_remote_static()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| NoiseError::Handshake("no remote static key".into()))?;
        let hello = serde_json::from_slice::<Hello>(&buf[..n]).map_err(|e| e.to_string());
        Ok(Responder { hs, remote, hello })
    }

    /// The client's authenticated static public key.
    pub fn remote_key(&self) -> [u8; KEY_LEN] {
        self.remote
    }

    /// The client's hello, or why it did not parse.
    pub fn hello(&self) -> Result<&Hello, NoiseError> {
        self.hello
            .as_ref()
            .map_err(|e| NoiseError::Payload(e.clone()))
    }

    /// Writes the reply carrying `welcome`; returns the transport and the
    /// message to send.
    pub fn finish(mut self, welcome: &Welcome) -> Result<(Transport, Vec<u8>), NoiseError> {
        let payload = serde_json::to_vec(welcome).expect("welcome serializes");
        let mut buf = vec![0u8; MAX_NOISE_MESSAGE];
        let n = self.hs.write_message(&payload, &mut buf).map_err(hs_err)?;
        buf.truncate(n);
        let ts = self.hs.into_stateless_transport_mode().map_err(hs_err)?;
        Ok((Transport::new(ts), buf))
    }
}

/// An established Noise transport. [`Transport::split`] gives independent
/// halves for a reader task and a writer task.
pub struct Transport {
    state: Arc<StatelessTransportState>,
}

impl Transport {
    fn new(state: StatelessTransportState) -> Self {
        Transport {
            state: Arc::new(state),
        }
    }

    /// The peer's static key.
    pub fn remote_key(&self) -> Option<[u8; KEY_LEN]> {
        self.state
            .get_remote_static()
            .and_then(|k| k.try_into().ok())
    }

    /// Splits into the sending and the receiving half.
    pub fn split(self) -> (Sealer, Opener) {
        (
            Sealer {
                state: self.state.clone(),
                nonce: 0,
                scratch: Vec::new(),
            },
            Opener {
                state: self.state,
                nonce: 0,
                reassembler: Reassembler::default(),
            },
        )
    }
}

/// Largest plaintext buffer a [`Sealer`] keeps between messages.
const SCRATCH_KEEP: usize = 16 * 1024;

/// The sending half: encrypts messages into Noise transport messages.
pub struct Sealer {
    state: Arc<StatelessTransportState>,
    nonce: u64,
    /// Plaintext buffer reused by [`Sealer::seal_output`].
    scratch: Vec<u8>,
}

impl Sealer {
    /// Encrypts one message; returns one Noise message per fragment, in order.
    pub fn seal(&mut self, message: &Message) -> Result<Vec<Vec<u8>>, NoiseError> {
        let encoded = message.encode();
        let mut out = Vec::with_capacity(1);
        for frag in fragment(&encoded) {
            out.push(self.seal_fragment(&frag)?);
        }
        Ok(out)
    }

    /// Encrypts an `Output` message without building the [`Message`]: the
    /// same bytes as `seal(&Message::Output { stream, offset, data })`, but
    /// for data that fits one fragment the plaintext is written once into a
    /// reused buffer and encrypted into the returned one (no other copy or
    /// allocation).
    pub fn seal_output(
        &mut self,
        stream: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<Vec<Vec<u8>>, NoiseError> {
        if data.len() > crate::MAX_OUTPUT_CHUNK {
            return self.seal(&Message::Output {
                stream,
                offset,
                data: data.to_vec(),
            });
        }
        let mut plain = std::mem::take(&mut self.scratch);
        plain.clear();
        plain.reserve(1 + crate::message::OUTPUT_HEADER_LEN + data.len());
        plain.push(crate::frame::FLAG_FINAL);
        plain.push(crate::message::TYPE_OUTPUT);
        plain.extend_from_slice(&stream.to_be_bytes());
        plain.extend_from_slice(&offset.to_be_bytes());
        plain.extend_from_slice(data);
        let sealed = self.seal_fragment(&plain);
        // Keep a small buffer only: one per connection adds up over many
        // connections, and a big one is cheap to allocate when needed.
        if plain.capacity() <= SCRATCH_KEEP {
            self.scratch = plain;
        }
        Ok(vec![sealed?])
    }

    /// Encrypts one already-built fragment (flag byte and body).
    pub fn seal_fragment(&mut self, fragment: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if self.nonce == u64::MAX {
            return Err(NoiseError::NonceExhausted);
        }
        let mut buf = vec![0u8; fragment.len() + crate::NOISE_TAG_LEN];
        let n = self
            .state
            .write_message(self.nonce, fragment, &mut buf)
            .map_err(|_| NoiseError::TooLarge(fragment.len()))?;
        buf.truncate(n);
        self.nonce += 1;
        Ok(buf)
    }
}

/// The receiving half: decrypts, reassembles and decodes.
pub struct Opener {
    state: Arc<StatelessTransportState>,
    nonce: u64,
    reassembler: Reassembler,
}

impl Opener {
    /// Opens one Noise message. Returns a message when it completed one.
    /// Any error is fatal for the connection.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Option<Message>, NoiseError> {
        if ciphertext.len() > MAX_NOISE_MESSAGE {
            return Err(NoiseError::TooLarge(ciphertext.len()));
        }
        if ciphertext.len() < crate::NOISE_TAG_LEN {
            return Err(NoiseError::Decrypt);
        }
        if self.nonce == u64::MAX {
            return Err(NoiseError::NonceExhausted);
        }
        let mut buf = vec![0u8; ciphertext.len()];
        let n = self
            .state
            .read_message(self.nonce, ciphertext, &mut buf)
            .map_err(|_| NoiseError::Decrypt)?;
        self.nonce += 1;
        match self.reassembler.push(&buf[..n])? {
            Some(bytes) => Ok(Some(Message::decode(&bytes)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hello() -> Hello {
        Hello {
            version: 1,
            client: "test".into(),
        }
    }

    fn pair() -> (StaticKeypair, StaticKeypair) {
        (StaticKeypair::generate(), StaticKeypair::generate())
    }

    fn handshake(client: &StaticKeypair, agent: &StaticKeypair) -> (Transport, Transport) {
        let (init, m1) = Initiator::start(client, &agent.public(), &hello()).unwrap();
        let resp = Responder::read_first(agent, &m1).unwrap();
        assert_eq!(resp.remote_key(), client.public());
        assert_eq!(resp.hello().unwrap(), &hello());
        let welcome = Welcome {
            version: 1,
            principal: Some("owner".into()),
            error: None,
        };
        let (t_agent, m2) = resp.finish(&welcome).unwrap();
        let (t_client, w) = init.finish(&m2).unwrap();
        assert_eq!(w, welcome);
        (t_client, t_agent)
    }

    #[test]
    fn keypair_round_trips_through_private_bytes() {
        let k = StaticKeypair::generate();
        let k2 = StaticKeypair::from_private(*k.private_bytes());
        assert_eq!(k.public(), k2.public());
        assert!(!format!("{k:?}").contains(&crate::keys::encode_bytes(k.private_bytes())));
    }

    #[test]
    fn messages_flow_both_ways_including_large_ones() {
        let (c, a) = pair();
        let (tc, ta) = handshake(&c, &a);
        let (mut cs, mut co) = tc.split();
        let (mut as_, mut ao) = ta.split();
        let req = Message::Request {
            id: 1,
            method: "session.list".into(),
            params: json!({}).into(),
        };
        let frames = cs.seal(&req).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(ao.open(&frames[0]).unwrap(), Some(req));
        let big = Message::Snapshot {
            stream: 1,
            offset: 0,
            rows: 24,
            cols: 80,
            data: vec![b'x'; 300_000],
        };
        let frames = as_.seal(&big).unwrap();
        assert!(frames.len() > 4);
        assert!(frames.iter().all(|f| f.len() <= MAX_NOISE_MESSAGE));
        let mut got = None;
        for f in &frames {
            got = co.open(f).unwrap();
        }
        assert_eq!(got, Some(big));
    }

    #[test]
    fn seal_output_matches_seal_of_the_message() {
        let (c, a) = pair();
        let (ct, at) = handshake(&c, &a);
        let (mut c_tx, _) = ct.split();
        let (_, mut a_rx) = at.split();
        let max = crate::MAX_OUTPUT_CHUNK;
        for len in [0usize, 1, 100, max, max + 1, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frames = c_tx.seal_output(7, 42, &data).unwrap();
            assert_eq!(frames.len() == 1, len <= max);
            let mut got = None;
            for f in &frames {
                assert!(f.len() <= MAX_NOISE_MESSAGE);
                assert!(got.is_none());
                got = a_rx.open(f).unwrap();
            }
            let want = Message::Output {
                stream: 7,
                offset: 42,
                data,
            };
            assert_eq!(got, Some(want));
        }
    }

    #[test]
    fn wrong_agent_key_fails_the_handshake() {
        let (c, a) = pair();
        let other = StaticKeypair::generate();
        let (_init, m1) = Initiator::start(&c, &other.public(), &hello()).unwrap();
        assert!(matches!(
            Responder::read_first(&a, &m1),
            Err(NoiseError::Handshake(_))
        ));
    }

    #[test]
    fn garbage_handshake_is_refused() {
        let a = StaticKeypair::generate();
        assert!(Responder::read_first(&a, b"GET / HTTP/1.1\r\n\r\n").is_err());
        assert!(Responder::read_first(&a, &[]).is_err());
        assert!(Responder::read_first(&a, &vec![0u8; 70_000]).is_err());
    }

    #[test]
    fn replayed_and_tampered_messages_fail() {
        let (c, a) = pair();
        let (tc, ta) = handshake(&c, &a);
        let (mut cs, _) = tc.split();
        let (_, mut ao) = ta.split();
        let m = Message::Input {
            stream: 1,
            data: b"a".to_vec(),
        };
        let f1 = cs.seal(&m).unwrap().remove(0);
        assert!(ao.open(&f1).unwrap().is_some());
        assert!(matches!(ao.open(&f1), Err(NoiseError::Decrypt)));
        let (tc, ta) = handshake(&c, &a);
        let (mut cs, _) = tc.split();
        let (_, mut ao) = ta.split();
        let mut f = cs.seal(&m).unwrap().remove(0);
        f[0] ^= 1;
        assert!(matches!(ao.open(&f), Err(NoiseError::Decrypt)));
        assert!(matches!(ao.open(&[1, 2, 3]), Err(NoiseError::Decrypt)));
    }
}
