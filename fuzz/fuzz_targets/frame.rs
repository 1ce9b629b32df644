//! Fuzz target `frame`: see `dd_proto::fuzzing::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dd_proto::fuzzing::frame(data));
