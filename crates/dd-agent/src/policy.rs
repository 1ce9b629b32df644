//! Authorization policy (being written).
