//! The linear Hamming search over 1M banked hashes at radius 31: one query, and the
//! eight dihedral variants of one frame in a single pass.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use celprint::fingerprint::Hash256;
use celprint::model::{AssetId, SegmentRef};
use celprint::search::{HammingIndex, LinearIndex};

/// xorshift64*: deterministic, dependency-free random hashes.
fn random_hashes(n: usize, mut seed: u64) -> Vec<Hash256> {
    let mut next = move || {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..n)
        .map(|_| Hash256::from_words([next(), next(), next(), next()]))
        .collect()
}

fn benches(c: &mut Criterion) {
    let hay = random_hashes(1_000_000, 0x9e37_79b9_7f4a_7c15);
    let mut index = LinearIndex::new();
    for (i, h) in hay.iter().enumerate() {
        index.insert(
            SegmentRef {
                asset: AssetId(i as u64 / 100),
                index: (i % 100) as u32,
            },
            *h,
            100,
        );
    }
    let queries = random_hashes(8, 42);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let all_threads = rayon::ThreadPoolBuilder::new().build().unwrap();
    let mut g = c.benchmark_group("linear_1M_r31");
    g.sample_size(20);
    g.bench_function("1_query_1_thread", |b| {
        one_thread.install(|| b.iter(|| index.search(black_box(&queries[..1]), 31)))
    });
    g.bench_function("8_queries_1_thread", |b| {
        one_thread.install(|| b.iter(|| index.search(black_box(&queries), 31)))
    });
    g.bench_function("1_query_all_threads", |b| {
        all_threads.install(|| b.iter(|| index.search(black_box(&queries[..1]), 31)))
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
