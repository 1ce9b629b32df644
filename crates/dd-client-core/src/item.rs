//! What an attach stream delivers, one item at a time.

use dd_proto::Event;

/// One item of an attach stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// The screen as it stood at `offset` (for `Resume::Screen`): bytes
    /// that repaint a `rows` x `cols` terminal. Output follows from `offset`.
    Snapshot {
        /// Transcript offset the snapshot corresponds to.
        offset: u64,
        /// Screen rows.
        rows: u16,
        /// Screen columns.
        cols: u16,
        /// Repaint bytes.
        data: Vec<u8>,
    },
    /// Output bytes starting at transcript offset `offset`.
    Output {
        /// Offset of `data[0]`.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A stream event. After [`Event::End`] the stream yields nothing more.
    Event(Event),
    /// The connection (or this stream, locally) went away; nothing more
    /// will come. The string says why.
    Disconnected(String),
}
