//! A `SessionListener` that forwards everything into a channel, so the
//! commands can consume an attach as an async stream.

use dd_mobile::{ConnectionState, InputNeeded, SessionListener, SessionMeta};
use tokio::sync::mpsc;

/// What the core delivered.
#[derive(Debug)]
pub enum Item {
    /// A repaint: the session's size (rows, cols) and its bytes.
    Snapshot((u16, u16), Vec<u8>),
    /// Output bytes.
    Output(Vec<u8>),
    /// Metadata changed: the session's size (rows, cols) now.
    Meta((u16, u16)),
    /// A state change.
    State(ConnectionState),
    /// A notice: code and message.
    Notice(String, String),
    /// The session waits for an answer.
    InputNeeded(InputNeeded),
    /// Prompt `seq` no longer waits.
    InputCleared(u64),
}

/// Forwards each call as an [`Item`].
pub struct Forward(pub mpsc::UnboundedSender<Item>);

impl Forward {
    /// A listener and the receiving end.
    pub fn channel() -> (std::sync::Arc<Forward>, mpsc::UnboundedReceiver<Item>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (std::sync::Arc::new(Forward(tx)), rx)
    }
}

impl SessionListener for Forward {
    fn on_snapshot(&self, _offset: u64, rows: u16, cols: u16, data: Vec<u8>) {
        let _ = self.0.send(Item::Snapshot((rows, cols), data));
    }
    fn on_output(&self, _offset: u64, data: Vec<u8>) {
        let _ = self.0.send(Item::Output(data));
    }
    fn on_meta(&self, meta: SessionMeta) {
        let _ = self.0.send(Item::Meta((meta.rows, meta.cols)));
    }
    fn on_state(&self, state: ConnectionState) {
        let _ = self.0.send(Item::State(state));
    }
    fn on_notice(&self, code: String, message: String) {
        let _ = self.0.send(Item::Notice(code, message));
    }
    fn on_input_needed(&self, prompt: InputNeeded) {
        let _ = self.0.send(Item::InputNeeded(prompt));
    }
    fn on_input_cleared(&self, seq: u64) {
        let _ = self.0.send(Item::InputCleared(seq));
    }
}

/// The error a final state means for a command, if any
/// (`Detached` and `SessionEnded` are normal ends).
pub fn final_error(state: &ConnectionState) -> Option<crate::errors::CliError> {
    use crate::errors::CliError;
    match state {
        ConnectionState::Revoked => Some(CliError::coded(
            "revoked",
            "the owner revoked this device's access to the session",
        )),
        ConnectionState::Expired => Some(CliError::coded(
            "expired",
            "this device's access to the session has expired",
        )),
        ConnectionState::Failed { message } => Some(CliError::coded("failed", message.clone())),
        _ => None,
    }
}
