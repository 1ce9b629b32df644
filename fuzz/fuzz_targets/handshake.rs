//! Fuzz target `handshake`: see `dd_proto::fuzzing::handshake`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dd_proto::fuzzing::handshake(data));
