//! Fuzz target `message`: see `dd_proto::fuzzing::message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dd_proto::fuzzing::message(data));
