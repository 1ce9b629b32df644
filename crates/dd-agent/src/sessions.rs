//! Session host (being written).
