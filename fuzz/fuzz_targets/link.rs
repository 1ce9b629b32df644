//! Fuzz target `link`: see `dd_proto::fuzzing::link`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dd_proto::fuzzing::link(data));
