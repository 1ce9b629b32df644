//! Durable store (being written).
