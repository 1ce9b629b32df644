//! Which prompt waits, as the listener was told: every `on_input_needed`
//! is matched by one `on_input_cleared` (or the prompt is still shown),
//! a prompt is never delivered twice, and a reconnect or the attach
//! result brings the listener up to date.

use dd_proto::methods;

use dd_client_core::sync::lock;

use super::{Inner, SessionListener};
use crate::error::MobileError;
use crate::prompt::{sanitized, InputNeeded};

/// An `input_needed` event: delivers it unless it is already shown; one
/// shown before is cleared first.
pub(crate) fn raised(inner: &Inner, listener: &dyn SessionListener, p: methods::InputNeeded) {
    let p = sanitized(p);
    let old = {
        let mut w = lock(&inner.waiting);
        if w.as_ref().is_some_and(|w| w.seq == p.seq) {
            return;
        }
        w.replace(p.clone())
    };
    if let Some(old) = old {
        listener.on_input_cleared(old.seq);
    }
    listener.on_input_needed(InputNeeded::from(&p));
}

/// An `input_cleared` event: delivered when it clears the shown prompt.
pub(crate) fn cleared(inner: &Inner, listener: &dyn SessionListener, seq: u64) {
    let was = {
        let mut w = lock(&inner.waiting);
        if w.as_ref().is_some_and(|w| w.seq == seq) {
            w.take()
        } else {
            None
        }
    };
    if was.is_some() {
        listener.on_input_cleared(seq);
    }
}

/// The prompt waiting now per the agent (attach result, after a
/// (re)connect): clears a shown one that is gone, delivers a new one.
pub(crate) fn sync(
    inner: &Inner,
    listener: &dyn SessionListener,
    now: Option<&methods::InputNeeded>,
) {
    match now {
        Some(p) => raised(inner, listener, p.clone()),
        None => clear_all(inner, listener),
    }
}

/// Clears the shown prompt, if any (the attach is over or nothing waits).
pub(crate) fn clear_all(inner: &Inner, listener: &dyn SessionListener) {
    let was = lock(&inner.waiting).take();
    if let Some(old) = was {
        listener.on_input_cleared(old.seq);
    }
}

/// The bytes that answer the waiting prompt with `choice` (label, typed
/// key or 1-based index), and that prompt's seq.
pub(crate) fn answer_bytes(inner: &Inner, choice: &str) -> Result<(u64, Vec<u8>), MobileError> {
    let w = lock(&inner.waiting);
    let Some(p) = w.as_ref() else {
        return Err(MobileError::Agent {
            code: "not_waiting".into(),
            message: format!("session {} waits for no answer", inner.session_id),
        });
    };
    dd_client_core::prompt::choose(p, choice)
        .map(|(_, bytes)| (p.seq, bytes))
        .map_err(|e| MobileError::Agent {
            code: "no_such_choice".into(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ConnectionState, SessionMeta};
    use dd_proto::methods::Choice;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Rec(Mutex<Vec<String>>);

    impl SessionListener for Rec {
        fn on_snapshot(&self, _: u64, _: u16, _: u16, _: Vec<u8>) {}
        fn on_output(&self, _: u64, _: Vec<u8>) {}
        fn on_meta(&self, _: SessionMeta) {}
        fn on_state(&self, _: ConnectionState) {}
        fn on_notice(&self, _: String, _: String) {}
        fn on_input_needed(&self, p: InputNeeded) {
            let labels: Vec<_> = p.choices.iter().map(|c| c.label.clone()).collect();
            lock(&self.0).push(format!("needed {} {}", p.seq, labels.join("/")));
        }
        fn on_input_cleared(&self, seq: u64) {
            lock(&self.0).push(format!("cleared {seq}"));
        }
    }

    impl Rec {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *lock(&self.0))
        }
    }

    fn p(seq: u64) -> methods::InputNeeded {
        crate::prompt::sample(seq)
    }

    fn inner() -> Inner {
        Inner::new("s_1".into(), Arc::new(Mutex::new(HashMap::new())))
    }

    #[test]
    fn each_prompt_once_and_every_one_cleared() {
        let (i, l) = (inner(), Rec::default());
        raised(&i, &l, p(1));
        raised(&i, &l, p(1));
        sync(&i, &l, Some(&p(1)));
        assert_eq!(l.take(), ["needed 1 Yes/No"]);
        // A cleared that is not the shown prompt's is not passed on.
        cleared(&i, &l, 7);
        assert!(l.take().is_empty());
        // A new prompt without its predecessor's clear: cleared first.
        raised(&i, &l, p(2));
        assert_eq!(l.take(), ["cleared 1", "needed 2 Yes/No"]);
        cleared(&i, &l, 2);
        cleared(&i, &l, 2);
        assert_eq!(l.take(), ["cleared 2"]);
        // After a reconnect: gone → cleared; new → delivered.
        raised(&i, &l, p(3));
        sync(&i, &l, None);
        sync(&i, &l, Some(&p(4)));
        clear_all(&i, &l);
        clear_all(&i, &l);
        assert_eq!(
            l.take(),
            [
                "needed 3 Yes/No",
                "cleared 3",
                "needed 4 Yes/No",
                "cleared 4"
            ]
        );
    }

    #[test]
    fn answers_only_a_waiting_prompt_with_a_real_choice() {
        let (i, l) = (inner(), Rec::default());
        let e = answer_bytes(&i, "y").unwrap_err();
        assert_eq!(e.code(), "not_waiting");
        let mut odd = p(5);
        odd.choices.insert(
            0,
            Choice {
                label: "Broken".into(),
                input: "%%".into(),
            },
        );
        raised(&i, &l, odd);
        // The undecodable choice is dropped, so "1" is Yes, as the host shows.
        assert_eq!(l.take(), ["needed 5 Yes/No"]);
        assert_eq!(answer_bytes(&i, "1").unwrap(), (5, b"y\r".to_vec()));
        assert_eq!(answer_bytes(&i, "no").unwrap(), (5, b"n\r".to_vec()));
        assert_eq!(answer_bytes(&i, "N").unwrap(), (5, b"n\r".to_vec()));
        let e = answer_bytes(&i, "maybe").unwrap_err();
        assert_eq!(e.code(), "no_such_choice");
        assert!(e.message().contains("1) Yes, 2) No"), "{e}");
        assert_eq!(
            answer_bytes(&i, "Broken").unwrap_err().code(),
            "no_such_choice"
        );
        cleared(&i, &l, 5);
        assert_eq!(answer_bytes(&i, "y").unwrap_err().code(), "not_waiting");
    }
}
