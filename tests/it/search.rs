//! The multi-index against the linear scan it replaced: identical result sets on random
//! haystacks, uniform and clustered, with neighbours planted at every distance from 0 to
//! r + 2, for every chunk layout the index may choose.

use proptest::prelude::*;

use celprint::fingerprint::Hash256;
use celprint::model::{AssetId, SegmentRef};
use celprint::search::index_file::{self, FileStamp};
use celprint::search::{HammingIndex, Hit, Layout, LinearIndex, MultiIndex};

/// xorshift64*, so a case is reproducible from its seed alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hash(&mut self) -> Hash256 {
        Hash256::from_words([self.next(), self.next(), self.next(), self.next()])
    }
}

fn flip(h: &mut Hash256, bit: usize) {
    h.words[bit / 64] ^= 1 << (bit % 64);
}

/// `h` with `d` distinct random bits flipped.
fn at_distance(rng: &mut Rng, h: Hash256, d: usize) -> Hash256 {
    let mut bits: Vec<usize> = (0..256).collect();
    let mut out = h;
    for i in 0..d {
        let j = i + rng.below((256 - i) as u64) as usize;
        bits.swap(i, j);
        flip(&mut out, bits[i]);
    }
    out
}

/// `h` with `d` bits flipped spread as evenly as possible over `m` chunks: the
/// neighbours that sit exactly on the pigeonhole bound of a layout with `m` chunks.
fn spread(h: Hash256, d: usize, layout: &Layout) -> Hash256 {
    let mut out = h;
    let mut starts = Vec::new();
    let mut at = 0usize;
    for w in &layout.widths {
        starts.push(at);
        at += *w as usize;
    }
    for i in 0..d {
        let chunk = i % starts.len();
        let within = i / starts.len();
        if within < layout.widths[chunk] as usize {
            flip(&mut out, starts[chunk] + within);
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Data {
    Uniform,
    /// A few hundred centres with many near copies each, as frames of one show are.
    Clustered,
}

fn haystack(rng: &mut Rng, data: Data, n: usize) -> Vec<Hash256> {
    match data {
        Data::Uniform => (0..n).map(|_| rng.hash()).collect(),
        Data::Clustered => {
            let centres: Vec<Hash256> = (0..200).map(|_| rng.hash()).collect();
            (0..n)
                .map(|_| {
                    let c = centres[rng.below(centres.len() as u64) as usize];
                    let d = rng.below(48) as usize;
                    at_distance(rng, c, d)
                })
                .collect()
        }
    }
}

fn seg(i: usize) -> SegmentRef {
    SegmentRef {
        asset: AssetId(i as u64 / 1000),
        index: (i % 1000) as u32,
    }
}

fn sorted(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort();
    hits
}

/// How the multi-index under test holds its tables.
#[derive(Debug, Clone, Copy)]
enum Held {
    InMemory,
    /// Written as a bank's index file and mapped back, then grown by inserts (which
    /// copy the mapped entries out to append to them).
    Mapped,
}

fn check(data: Data, seed: u64, n: usize, chunks: usize, radius: u32, tail: usize) {
    check_held(data, seed, n, chunks, radius, tail, Held::InMemory);
}

fn check_held(
    data: Data,
    seed: u64,
    n: usize,
    chunks: usize,
    radius: u32,
    tail: usize,
    held: Held,
) {
    let mut rng = Rng(seed | 1);
    let layout = Layout::with_chunks(chunks);
    let mut hay = haystack(&mut rng, data, n);
    let queries: Vec<Hash256> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                rng.hash()
            } else {
                hay[rng.below(hay.len() as u64) as usize]
            }
        })
        .collect();
    for q in &queries {
        for d in 0..=(radius as usize + 2).min(256) {
            let random = at_distance(&mut rng, *q, d);
            hay.push(random);
            hay.push(spread(*q, d, &layout));
        }
    }
    let split = hay.len() - tail.min(hay.len());
    let mut linear = LinearIndex::new();
    for (i, h) in hay.iter().enumerate() {
        linear.insert(seg(i), *h, 80);
    }
    let built = MultiIndex::from_entries(
        hay[..split]
            .iter()
            .enumerate()
            .map(|(i, h)| (seg(i), *h, 80)),
    )
    .with_layout(layout.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut multi = match held {
        Held::InMemory => built,
        Held::Mapped => {
            let stamp = FileStamp {
                generation: seed,
                next_asset: n as u64,
                last_asset: None,
            };
            index_file::write(dir.path(), &built, &stamp).unwrap();
            drop(built);
            let mapped = index_file::open(dir.path(), &stamp).unwrap();
            assert!(mapped.mapped_bytes() > 0 && mapped.memory_bytes() == 0);
            assert_eq!(mapped.layout(), Some(&layout));
            mapped
        }
    }
    .always_probe();
    for (i, h) in hay.iter().enumerate().skip(split) {
        multi.insert(seg(i), *h, 80);
    }
    let expected = sorted(linear.search(&queries, radius));
    // Planted neighbours make the check meaningful: every distance up to r was planted.
    assert!(expected.len() > (radius as usize + 1) * queries.len());
    let got = sorted(multi.search(&queries, radius));
    assert_eq!(
        got, expected,
        "{data:?} n={n} m={chunks} r={radius} tail={tail} {held:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn uniform_haystacks_give_the_linear_result(
        seed in any::<u64>(),
        n in 9_000usize..30_000,
        chunks in 11usize..=32,
        radius in prop::sample::select(vec![0u32, 1, 7, 16, 31, 32, 40]),
        tail in 0usize..3_000,
    ) {
        check(Data::Uniform, seed, n, chunks, radius, tail);
    }

    #[test]
    fn clustered_haystacks_give_the_linear_result(
        seed in any::<u64>(),
        n in 9_000usize..30_000,
        chunks in 11usize..=32,
        radius in prop::sample::select(vec![0u32, 1, 7, 16, 31, 32, 40]),
        tail in 0usize..3_000,
    ) {
        check(Data::Clustered, seed, n, chunks, radius, tail);
    }

    #[test]
    fn mapped_index_files_give_the_linear_result(
        seed in any::<u64>(),
        clustered in any::<bool>(),
        n in 9_000usize..30_000,
        chunks in 11usize..=32,
        radius in prop::sample::select(vec![0u32, 1, 7, 16, 31, 32, 40]),
        tail in 0usize..3_000,
    ) {
        let data = if clustered { Data::Clustered } else { Data::Uniform };
        check_held(data, seed, n, chunks, radius, tail, Held::Mapped);
    }
}

#[test]
fn the_chosen_layout_gives_the_linear_result_at_the_design_radius() {
    let mut rng = Rng(7);
    let hay = haystack(&mut rng, Data::Clustered, 50_000);
    let multi = MultiIndex::from_entries(hay.iter().enumerate().map(|(i, h)| (seg(i), *h, 80)));
    assert!(multi.layout().is_some(), "50 000 entries must be in tables");
    let mut linear = LinearIndex::new();
    for (i, h) in hay.iter().enumerate() {
        linear.insert(seg(i), *h, 80);
    }
    let queries: Vec<Hash256> = (0..8).map(|i| hay[i * 997]).collect();
    let expected = sorted(linear.search(&queries, 31));
    assert!(!expected.is_empty());
    assert_eq!(sorted(multi.search(&queries, 31)), expected);
}

#[test]
fn growing_by_inserts_rebuilds_the_tables() {
    let mut rng = Rng(11);
    let mut multi = MultiIndex::new();
    for i in 0..40_000 {
        multi.insert(seg(i), rng.hash(), 80);
    }
    assert!(multi.layout().is_some());
    assert!(
        multi.tail_len() <= multi.len() / 2,
        "tail {}",
        multi.tail_len()
    );
}

#[test]
fn removing_an_asset_removes_exactly_its_entries() {
    let mut rng = Rng(13);
    let hay = haystack(&mut rng, Data::Clustered, 20_000);
    let mut multi = MultiIndex::from_entries(hay.iter().enumerate().map(|(i, h)| (seg(i), *h, 80)));
    let mut linear = LinearIndex::new();
    for (i, h) in hay.iter().enumerate() {
        linear.insert(seg(i), *h, 80);
    }
    for asset in [3, 7, 19] {
        multi.remove_asset(AssetId(asset));
        linear.remove_asset(AssetId(asset));
    }
    assert_eq!(multi.len(), 17_000);
    let queries: Vec<Hash256> = (0..20).map(|i| hay[i * 1000 + 5]).collect();
    let got = sorted(multi.search(&queries, 31));
    assert!(got.iter().all(|h| ![3, 7, 19].contains(&h.segment.asset.0)));
    assert_eq!(got, sorted(linear.search(&queries, 31)));
}
