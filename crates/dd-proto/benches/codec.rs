//! Micro-benchmarks of the message codec and the fragment layer, on the
//! hot path's typical message: a 32 KiB `Output`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dd_proto::{fragment, Message, Reassembler};

const CHUNK: usize = 32 * 1024;

fn output() -> Message {
    Message::Output {
        stream: 7,
        offset: 1 << 30,
        data: (0..CHUNK).map(|i| b'a' + (i % 26) as u8).collect(),
    }
}

fn codec(c: &mut Criterion) {
    let msg = output();
    let encoded = msg.encode();
    let mut g = c.benchmark_group("output_32k");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&msg).encode()));
    g.bench_function("encode_into_reused", |b| {
        let mut buf = Vec::with_capacity(encoded.len());
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode_into(&mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&encoded)).expect("decodes"))
    });
    g.bench_function("fragment", |b| {
        b.iter(|| fragment(black_box(&encoded)).count())
    });
    let frags: Vec<Vec<u8>> = fragment(&encoded).collect();
    g.bench_function("reassemble", |b| {
        let mut r = Reassembler::default();
        b.iter(|| {
            let mut done = None;
            for f in &frags {
                done = r.push(black_box(f)).expect("reassembles");
            }
            done.expect("complete")
        })
    });
    g.finish();

    // A message larger than one fragment: a 256 KiB screen snapshot.
    let big = Message::Snapshot {
        stream: 1,
        offset: 0,
        rows: 50,
        cols: 200,
        data: vec![b'x'; 256 * 1024],
    };
    let big_enc = big.encode();
    let big_frags: Vec<Vec<u8>> = fragment(&big_enc).collect();
    let mut g = c.benchmark_group("snapshot_256k");
    g.throughput(Throughput::Bytes(big_enc.len() as u64));
    g.bench_function("fragment", |b| {
        b.iter(|| fragment(black_box(&big_enc)).count())
    });
    g.bench_function("reassemble", |b| {
        let mut r = Reassembler::default();
        b.iter(|| {
            let mut done = None;
            for f in &big_frags {
                done = r.push(black_box(f)).expect("reassembles");
            }
            done.expect("complete")
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
