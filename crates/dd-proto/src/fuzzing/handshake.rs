//! The `handshake` target: garbage into both sides of the Noise IK
//! handshake, and arbitrary ciphertexts into an [`Opener`] after a real one.

use super::Cursor;
use crate::message::Message;
use crate::methods::{Hello, Welcome};
use crate::noise::{Initiator, NoiseError, Opener, Responder, Sealer, StaticKeypair};
use crate::{MAX_FRAGMENT, MAX_NOISE_MESSAGE};

/// The agent's fixed private key in the fuzz harness (not a real key).
pub const AGENT_PRIVATE: [u8; 32] = [0x41; 32];
/// The client's fixed private key in the fuzz harness (not a real key).
pub const CLIENT_PRIVATE: [u8; 32] = [0x43; 32];

const MODE_RESPONDER: u8 = 0;
const MODE_TRANSPORT: u8 = 1;
const MODE_INITIATOR: u8 = 2;

const OP_RAW: u8 = 0;
const OP_FRAGMENT: u8 = 1;
const OP_REPLAY: u8 = 2;
const OP_TAMPER: u8 = 3;
const OP_MESSAGE: u8 = 4;
const OPS: u8 = 5;
/// Op flag: pad the bytes read to the full length with a fill byte.
const PAD: u8 = 0x80;

fn hello() -> Hello {
    Hello {
        version: crate::PROTOCOL_VERSION,
        client: "dd-fuzz".into(),
    }
}

fn welcome() -> Welcome {
    Welcome {
        version: crate::PROTOCOL_VERSION,
        principal: Some("owner".into()),
        error: None,
    }
}

/// The first byte picks a mode (mod 3):
/// * 0 — the rest is the client's first handshake message, read by a
///   [`Responder`] holding [`AGENT_PRIVATE`]; if it is accepted the
///   responder must be able to finish.
/// * 1 — after a real handshake, the rest is a script of ops against the
///   agent's [`Opener`]: raw ciphertexts, fragments sealed by the real
///   [`Sealer`], replays and tampered copies of sealed messages, and whole
///   messages that must arrive intact.
/// * 2 — the rest is the agent's reply, read by a real [`Initiator`].
pub fn handshake(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let agent = StaticKeypair::from_private(AGENT_PRIVATE);
    match mode % 3 {
        MODE_RESPONDER => {
            if let Ok(resp) = Responder::read_first(&agent, rest) {
                let _ = resp.remote_key();
                let _ = resp.hello();
                resp.finish(&welcome())
                    .expect("accepted handshake cannot finish");
            } else if rest.len() > MAX_NOISE_MESSAGE {
                assert!(matches!(
                    Responder::read_first(&agent, rest),
                    Err(NoiseError::TooLarge(_))
                ));
            }
        }
        MODE_TRANSPORT => transport(rest),
        _ => {
            let client = StaticKeypair::from_private(CLIENT_PRIVATE);
            let (init, _) = Initiator::start(&client, &agent.public(), &hello()).expect("start");
            let _ = init.finish(rest);
        }
    }
}

/// A real handshake between the fixed keys; the client's sealer and the
/// agent's opener.
fn connect() -> (Sealer, Opener) {
    let agent = StaticKeypair::from_private(AGENT_PRIVATE);
    let client = StaticKeypair::from_private(CLIENT_PRIVATE);
    let (init, m1) = Initiator::start(&client, &agent.public(), &hello()).expect("start");
    let resp = Responder::read_first(&agent, &m1).expect("read first");
    let (t_agent, m2) = resp.finish(&welcome()).expect("finish responder");
    let (t_client, _) = init.finish(&m2).expect("finish initiator");
    let (sealer, _) = t_client.split();
    let (_, opener) = t_agent.split();
    (sealer, opener)
}

/// Reads `n` bytes; with [`PAD`] set in `op`, pads them to `n` with a fill byte.
fn sized(c: &mut Cursor<'_>, op: u8, n: usize) -> Vec<u8> {
    let mut v = c.bytes(n).to_vec();
    if op & PAD != 0 {
        let fill = c.u8();
        v.resize(n, fill);
    }
    v
}

/// Opens `ct`, tracking whether the reassembler is between messages
/// (`clean`) and whether a fragment error made it unusable (`broken`).
fn open(
    opener: &mut Opener,
    ct: &[u8],
    clean: &mut bool,
    broken: &mut bool,
) -> Result<Option<Message>, NoiseError> {
    let r = opener.open(ct);
    match &r {
        Ok(Some(_)) | Err(NoiseError::Decode(_)) => *clean = true,
        Ok(None) => *clean = false,
        Err(NoiseError::Frame(_)) => *broken = true,
        Err(_) => {}
    }
    r
}

fn transport(script: &[u8]) {
    let (mut sealer, mut opener) = connect();
    let mut c = Cursor::new(script);
    let mut last: Option<Vec<u8>> = None;
    // True while the opener's reassembler holds no partial message.
    let mut clean = true;
    // True once a fragment error left the reassembler unusable.
    let mut broken = false;
    while !c.is_empty() {
        let op = c.u8();
        match (op & !PAD) % OPS {
            OP_RAW => {
                let n = c.u32() as usize % (MAX_NOISE_MESSAGE + 64);
                let ct = sized(&mut c, op, n);
                let r = open(&mut opener, &ct, &mut clean, &mut broken);
                if ct.len() > MAX_NOISE_MESSAGE {
                    assert!(matches!(r, Err(NoiseError::TooLarge(_))));
                } else {
                    assert!(
                        matches!(r, Err(NoiseError::Decrypt)),
                        "forged ciphertext accepted"
                    );
                }
            }
            OP_FRAGMENT | OP_TAMPER => {
                let n = c.u16() as usize % (MAX_FRAGMENT + 32);
                let frag = sized(&mut c, op, n);
                let sealed = sealer.seal_fragment(&frag);
                if frag.len() > MAX_FRAGMENT {
                    assert!(sealed.is_err(), "oversized fragment sealed");
                    continue;
                }
                let ct = sealed.expect("fragment within the limit refused");
                if (op & !PAD) % OPS == OP_TAMPER {
                    let mut bad = ct.clone();
                    let at = c.u16() as usize % bad.len();
                    bad[at] ^= c.u8() | 1;
                    let r = open(&mut opener, &bad, &mut clean, &mut broken);
                    assert!(
                        matches!(r, Err(NoiseError::Decrypt)),
                        "tampered ciphertext accepted"
                    );
                }
                let r = open(&mut opener, &ct, &mut clean, &mut broken);
                assert!(
                    !matches!(r, Err(NoiseError::Decrypt)),
                    "genuine ciphertext refused"
                );
                last = Some(ct);
            }
            OP_REPLAY => {
                if let Some(ct) = &last {
                    let r = open(&mut opener, ct, &mut clean, &mut broken);
                    assert!(matches!(r, Err(NoiseError::Decrypt)), "replay accepted");
                }
            }
            _ => {
                let n = c.u16() as usize;
                let Ok(m) = Message::decode(c.bytes(n)) else {
                    continue;
                };
                let cts = sealer.seal(&m).expect("seal message");
                let mut got = None;
                for ct in &cts {
                    got = open(&mut opener, ct, &mut clean, &mut broken)
                        .ok()
                        .flatten();
                    last = Some(ct.clone());
                }
                if !broken && clean {
                    assert_eq!(got.as_ref(), Some(&m), "message did not arrive intact");
                }
            }
        }
    }
}

/// A seed for mode 0: a genuine first handshake message from
/// [`CLIENT_PRIVATE`] to [`AGENT_PRIVATE`].
pub fn seed_first_message() -> Vec<u8> {
    let agent = StaticKeypair::from_private(AGENT_PRIVATE);
    let client = StaticKeypair::from_private(CLIENT_PRIVATE);
    let (_, m1) = Initiator::start(&client, &agent.public(), &hello()).expect("start");
    let mut out = vec![MODE_RESPONDER];
    out.extend_from_slice(&m1);
    out
}

/// A seed for mode 2: a genuine agent reply (to another initiator's first
/// message, so it carries the right shape but not this run's keys).
pub fn seed_reply() -> Vec<u8> {
    let agent = StaticKeypair::from_private(AGENT_PRIVATE);
    let client = StaticKeypair::from_private(CLIENT_PRIVATE);
    let (_, m1) = Initiator::start(&client, &agent.public(), &hello()).expect("start");
    let resp = Responder::read_first(&agent, &m1).expect("read first");
    let (_, m2) = resp.finish(&welcome()).expect("finish responder");
    let mut out = vec![MODE_INITIATOR];
    out.extend_from_slice(&m2);
    out
}

/// A seed for mode 1: a transport script sending `messages` whole, then a
/// two-fragment message, a replay, a tampered fragment and a raw forgery.
pub fn seed_transport_script(messages: &[Message]) -> Vec<u8> {
    let mut out = vec![MODE_TRANSPORT];
    for m in messages {
        let enc = m.encode();
        out.push(OP_MESSAGE);
        out.extend_from_slice(&(enc.len() as u16).to_be_bytes());
        out.extend_from_slice(&enc);
    }
    let req = Message::Request {
        id: 9,
        method: crate::methods::SESSION_LIST.into(),
        params: serde_json::json!({}).into(),
    }
    .encode();
    let (a, b) = req.split_at(req.len() / 2);
    for (flag, part) in [(crate::frame::FLAG_MORE, a), (crate::frame::FLAG_FINAL, b)] {
        out.push(OP_FRAGMENT);
        out.extend_from_slice(&((part.len() + 1) as u16).to_be_bytes());
        out.push(flag);
        out.extend_from_slice(part);
    }
    out.push(OP_REPLAY);
    out.extend_from_slice(&[
        OP_TAMPER,
        0,
        3,
        crate::frame::FLAG_FINAL,
        0x04,
        0x00,
        0,
        5,
        0x40,
    ]);
    out.extend_from_slice(&[OP_RAW, 0, 0, 0, 20]);
    out.extend_from_slice(&[0xaa; 20]);
    out
}
