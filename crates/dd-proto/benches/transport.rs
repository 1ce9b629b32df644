//! Micro-benchmarks of the Noise transport path: sealing and opening a
//! 32 KiB `Output` message (encode + fragment + encrypt, and decrypt +
//! reassemble + decode), and the IK handshake.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dd_proto::methods::{Hello, Welcome};
use dd_proto::noise::{Initiator, Opener, Responder, Sealer, StaticKeypair};
use dd_proto::{Message, PROTOCOL_VERSION};

const CHUNK: usize = 32 * 1024;

fn hello() -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        client: "bench".into(),
    }
}

fn welcome() -> Welcome {
    Welcome {
        version: PROTOCOL_VERSION,
        principal: Some("owner".into()),
        error: None,
    }
}

/// A completed handshake: (agent sealer, client opener).
fn pair() -> (Sealer, Opener) {
    let agent = StaticKeypair::generate();
    let client = StaticKeypair::generate();
    let (init, first) = Initiator::start(&client, &agent.public(), &hello()).expect("start");
    let resp = Responder::read_first(&agent, &first).expect("read_first");
    let (agent_t, reply) = resp.finish(&welcome()).expect("finish");
    let (client_t, _) = init.finish(&reply).expect("client finish");
    let (sealer, _) = agent_t.split();
    let (_, opener) = client_t.split();
    (sealer, opener)
}

fn transport(c: &mut Criterion) {
    let msg = Message::Output {
        stream: 3,
        offset: 42,
        data: vec![b'x'; CHUNK],
    };
    let mut g = c.benchmark_group("noise_output_32k");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.bench_function("seal", |b| {
        let (mut sealer, _) = pair();
        b.iter(|| sealer.seal(black_box(&msg)).expect("seal"))
    });
    g.bench_function("seal_open", |b| {
        let (mut sealer, mut opener) = pair();
        b.iter(|| {
            let mut got = None;
            for ct in sealer.seal(black_box(&msg)).expect("seal") {
                got = opener.open(&ct).expect("open");
            }
            got.expect("one message")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("noise_keystroke");
    let key = Message::Input {
        stream: 3,
        data: b"x".to_vec(),
    };
    g.bench_function("seal_open_1_byte", |b| {
        let (mut sealer, mut opener) = pair();
        b.iter(|| {
            let mut got = None;
            for ct in sealer.seal(black_box(&key)).expect("seal") {
                got = opener.open(&ct).expect("open");
            }
            got.expect("one message")
        })
    });
    g.finish();

    c.bench_function("noise_ik_handshake", |b| {
        let agent = StaticKeypair::generate();
        let client = StaticKeypair::generate();
        b.iter(|| {
            let (init, first) =
                Initiator::start(&client, &agent.public(), &hello()).expect("start");
            let resp = Responder::read_first(&agent, &first).expect("read_first");
            let (_, reply) = resp.finish(&welcome()).expect("finish");
            init.finish(&reply).expect("client finish")
        })
    });
}

criterion_group!(benches, transport);
criterion_main!(benches);
