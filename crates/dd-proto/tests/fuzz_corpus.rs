//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the same entry
//! functions the cargo-fuzz targets run, so `cargo test` on stable catches a
//! regression on any stored input without libFuzzer.
//!
//! The seed files are real encodings written by `write_seed_corpus`:
//! `cargo test -p dd-proto --test fuzz_corpus -- --ignored write_seed_corpus`.

use std::fs;
use std::path::PathBuf;

use dd_proto::fuzzing;
use dd_proto::link::Link;
use dd_proto::message::Message;

mod fuzz_seeds;

/// A fuzz target's entry function.
type Entry = fn(&[u8]);

const TARGETS: [(&str, Entry); 4] = [
    ("frame", fuzzing::frame),
    ("message", fuzzing::message),
    ("link", fuzzing::link),
    ("handshake", fuzzing::handshake),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn corpus_replays_without_panics() {
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let mut n = 0;
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "{target}: {} panicked", path.display());
            n += 1;
        }
        assert!(n >= 3, "{target}: only {n} corpus files");
    }
}

/// The seeds must reach the success paths, not only the rejections.
#[test]
fn seeds_are_real_encodings() {
    let links = corpus_dir("link");
    for name in ["pair-dd", "pair-https", "enroll-dd", "enroll-https"] {
        let s = fs::read_to_string(links.join(name)).unwrap();
        Link::parse(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let msgs = corpus_dir("message");
    for name in [
        "request-attach",
        "response-ok",
        "output",
        "snapshot",
        "event-end",
    ] {
        Message::decode(&fs::read(msgs.join(name)).unwrap()).unwrap();
    }
    let hs = fs::read(corpus_dir("handshake").join("first-message")).unwrap();
    let agent = dd_proto::noise::StaticKeypair::from_private(fuzzing::AGENT_PRIVATE);
    dd_proto::noise::Responder::read_first(&agent, &hs[1..]).unwrap();
}

#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the seeds"]
fn write_seed_corpus() {
    for (target, name, data) in fuzz_seeds::all() {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), data).unwrap();
    }
}
