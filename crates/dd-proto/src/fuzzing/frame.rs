//! The `frame` target: arbitrary fragment sequences through a
//! [`Reassembler`], checked against a model.

use super::Cursor;
use crate::frame::{fragment, FrameError, Reassembler, FLAG_FINAL, FLAG_MORE};
use crate::{MAX_FRAGMENT, MAX_MESSAGE_SIZE};

/// Input: a limit selector, then a script of fragments. Each fragment is
/// either literal (`op` even: a `u16` length and that many bytes) or
/// synthetic (`op` odd: a flag byte, a length up to a little over
/// [`MAX_FRAGMENT`] and a fill byte), so both the size limits and small
/// edge cases are reached. Every result of [`Reassembler::push`] is checked
/// against a model of the documented behaviour; finally the whole input is
/// cut with [`fragment`] and must reassemble to itself.
pub fn frame(data: &[u8]) {
    let mut c = Cursor::new(data);
    let limit = match c.u8() % 3 {
        0 => MAX_MESSAGE_SIZE,
        1 => c.u16() as usize,
        _ => c.u32() as usize % (MAX_MESSAGE_SIZE + 1),
    };
    let mut r = Reassembler::new(limit);
    let mut model: Vec<u8> = Vec::new();
    while !c.is_empty() {
        let op = c.u8();
        let frag: Vec<u8> = if op.is_multiple_of(2) {
            let n = c.u16() as usize;
            c.bytes(n).to_vec()
        } else {
            let flags = c.u8() % 4;
            let n = c.u32() as usize % (MAX_FRAGMENT + 64);
            let fill = c.u8();
            let mut f = vec![fill; n];
            if let Some(first) = f.first_mut() {
                *first = flags;
            }
            f
        };
        let got = r.push(&frag);
        let Some((&flags, body)) = frag.split_first() else {
            assert_eq!(got, Err(FrameError::Empty));
            return;
        };
        if frag.len() > MAX_FRAGMENT {
            assert_eq!(got, Err(FrameError::FragmentTooLarge(frag.len())));
            return;
        }
        if flags != FLAG_MORE && flags != FLAG_FINAL {
            assert_eq!(got, Err(FrameError::BadFlags(flags)));
            return;
        }
        if model.len() + body.len() > limit {
            assert_eq!(got, Err(FrameError::MessageTooLarge { limit }));
            return;
        }
        model.extend_from_slice(body);
        if flags == FLAG_FINAL {
            let msg = got
                .expect("valid fragment refused")
                .expect("final fragment gave no message");
            assert!(msg.len() <= limit);
            assert!(
                msg == model,
                "reassembled message differs from its fragments"
            );
            model.clear();
        } else {
            assert_eq!(got, Ok(None));
        }
    }
    round_trip(data);
}

fn round_trip(msg: &[u8]) {
    let frags: Vec<Vec<u8>> = fragment(msg).collect();
    let mut r = Reassembler::default();
    let mut out = None;
    for (i, f) in frags.iter().enumerate() {
        assert!(f.len() <= MAX_FRAGMENT && !f.is_empty());
        let last = i + 1 == frags.len();
        assert_eq!(f[0], if last { FLAG_FINAL } else { FLAG_MORE });
        assert!(out.is_none());
        out = r.push(f).expect("own fragment refused");
    }
    assert_eq!(out.as_deref(), Some(msg));
}
