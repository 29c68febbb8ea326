//! Search at archive scale: the multi-index against the linear scan, in one run, on
//! uniform random hashes and on hashes derived from real frames; and the bank around it
//! (ingest rate, open time, bytes on disk, search on a freshly reopened bank).
//!
//! Not a criterion bench: a 10-million-entry haystack is built once and each figure is a
//! distribution over many single queries (p50/p99), which criterion does not report.
//! `scripts/eval bench search` runs it with the settings in the README. Environment:
//!
//! - `SCALE_N` (default 1000000): entries in the haystack;
//! - `SCALE_QUERIES` (default 1000): timed queries per figure;
//! - `SCALE_SEEDS`: a file of real PDQ hashes (hex, first field of each line, as
//!   `celprint hash --format csv` prints after its header); the clustered haystack is
//!   made of these, each perturbed by 0–24 random bits and repeated to `SCALE_N`;
//!   without it the clustered figures are skipped;
//! - `SCALE_EXPORT`: a directory to write `base.u8`, `queries.u8` and our result sets
//!   (`ours.txt`) into, for `scripts/eval.d/faiss_search.py`;
//! - `SCALE_BANK`: a directory to build a bank of `SCALE_N` segments in (ingest, reopen,
//!   search); it is kept, for `celprint scan` against it;
//! - `SCALE_SWEEP=1`: also time every chunk count from 11 to 20.
//! - `SCALE_DURABILITY=1` (with `SCALE_BANK`): also time the bank's ingest with `index`'s
//!   log sync every 2 s, and with one after every asset, against none, in one run.
//! - `SCALE_PHASE=build|query`: the bank alone at archive scale, one phase per process
//!   (see `search_scale/bank_scale.rs`; `scripts/eval bench scale` runs it).
//!
//! Queries are timed on one thread; builds and the bank's open use every core, as the
//! CLI does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use celprint::bank::{Bank, NewAsset, OpenOptions};
use celprint::fingerprint::{Hash256, Segment};
use celprint::media::MediaKind;
use celprint::model::{AssetId, Label, SegmentRef};
use celprint::search::{HammingIndex, Layout, LinearIndex, MultiIndex, DESIGN_RADIUS};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn hash(&mut self) -> Hash256 {
        Hash256::from_words([self.next(), self.next(), self.next(), self.next()])
    }

    fn perturb(&mut self, h: Hash256, max_bits: u64) -> Hash256 {
        let mut out = h;
        for _ in 0..self.next() % (max_bits + 1) {
            let bit = (self.next() % 256) as usize;
            out.words[bit / 64] ^= 1 << (bit % 64);
        }
        out
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seg(i: usize) -> SegmentRef {
    SegmentRef {
        asset: AssetId(i as u64 / 1000),
        index: (i % 1000) as u32,
    }
}

fn read_seeds(path: &Path) -> Vec<Hash256> {
    let text = std::fs::read_to_string(path).expect("read SCALE_SEEDS");
    text.lines()
        .filter_map(|l| l.split(',').next()?.trim().parse().ok())
        .collect()
}

/// Half the queries are near copies (up to 12 bits) of banked entries, so they have
/// hits; half are fresh random hashes, so they mostly have none.
fn queries_for(rng: &mut Rng, hay: &[Hash256], n: usize) -> Vec<Hash256> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let h = hay[(rng.next() % hay.len() as u64) as usize];
                rng.perturb(h, 12)
            } else {
                rng.hash()
            }
        })
        .collect()
}

struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    mean_hits: f64,
}

fn time_queries(
    queries: &[Hash256],
    per_call: usize,
    search: impl Fn(&[Hash256]) -> usize,
) -> Latency {
    let mut times = Vec::with_capacity(queries.len());
    let mut hits = 0usize;
    search(&queries[..per_call]);
    for q in queries.chunks_exact(per_call) {
        let t = Instant::now();
        hits += search(q);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    Latency {
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        mean_hits: hits as f64 / times.len() as f64,
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn line(data: &str, what: &str, n: usize, l: &Latency) {
    println!(
        "search {data} n={n} {what} p50_ms={:.3} p99_ms={:.3} mean_hits={:.2}",
        l.p50_ms, l.p99_ms, l.mean_hits
    );
}

/// Figures for one haystack: linear baseline, multi-index with the chosen layout, eight
/// dihedral-style queries per call, and optionally a sweep over chunk counts.
fn measure(
    data: &str,
    hay: &[Hash256],
    queries: &[Hash256],
    export: Option<&Path>,
    one_thread: &rayon::ThreadPool,
) {
    let n = hay.len();
    let r = DESIGN_RADIUS;
    let t = Instant::now();
    let multi = MultiIndex::from_entries(hay.iter().enumerate().map(|(i, h)| (seg(i), *h, 80)));
    let build_s = t.elapsed().as_secs_f64();
    let layout = multi.layout().cloned();
    println!(
        "search {data} n={n} build_s={build_s:.2} chunks={:?} memory_mib={:.0}",
        layout.as_ref().map(|l| l.widths.clone()),
        multi.memory_bytes() as f64 / (1 << 20) as f64
    );

    let mut linear = LinearIndex::new();
    for (i, h) in hay.iter().enumerate() {
        linear.insert(seg(i), *h, 80);
    }
    let linear_queries = &queries[..queries.len().min(200)];
    let lin = one_thread.install(|| time_queries(linear_queries, 1, |q| linear.search(q, r).len()));
    drop(linear);
    line(data, "linear r=31", n, &lin);
    let one = time_queries(queries, 1, |q| multi.search(q, r).len());
    line(data, "multi r=31", n, &one);
    let eight = time_queries(queries, 8, |q| multi.search(q, r).len());
    line(data, "multi r=31 x8-per-call", n, &eight);
    println!(
        "search {data} n={n} speedup_vs_linear_p50={:.1} eight_queries_cost_x={:.2}",
        lin.p50_ms / one.p50_ms,
        eight.p50_ms / one.p50_ms
    );

    if std::env::var("SCALE_SWEEP").as_deref() == Ok("1") {
        for m in 11..=20 {
            let swept = multi
                .clone()
                .with_layout(Layout::with_chunks(m))
                .always_probe();
            let l = time_queries(&queries[..queries.len().min(300)], 1, |q| {
                swept.search(q, r).len()
            });
            line(data, &format!("sweep m={m} r=31"), n, &l);
        }
    }

    if let Some(dir) = export {
        std::fs::create_dir_all(dir).expect("create SCALE_EXPORT");
        let raw = |hs: &[Hash256]| hs.iter().flat_map(|h| h.to_bytes()).collect::<Vec<u8>>();
        std::fs::write(dir.join("base.u8"), raw(hay)).expect("write base");
        std::fs::write(dir.join("queries.u8"), raw(queries)).expect("write queries");
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(dir.join("ours.txt")).expect("create ours.txt"),
        );
        for q in queries {
            let mut ids: Vec<usize> = multi
                .search(std::slice::from_ref(q), r)
                .iter()
                .map(|h| h.segment.asset.0 as usize * 1000 + h.segment.index as usize)
                .collect();
            ids.sort_unstable();
            let text: Vec<String> = ids.iter().map(usize::to_string).collect();
            writeln!(out, "{}", text.join(" ")).expect("write ours.txt");
        }
    }
}

/// How often an ingest makes its writes durable against a power cut.
#[derive(Clone, Copy, Debug)]
enum Sync {
    /// Never: a killed process loses nothing written, a power cut may.
    Never,
    /// As `celprint index` does: the log is synced when this long has passed.
    Every(std::time::Duration),
    /// After every asset.
    EachAsset,
}

/// Writes `hay` into a new bank at `dir` in assets of 1000 segments, syncing as asked;
/// returns the bank, still open, and the seconds it took.
fn ingest(dir: &Path, hay: &[Hash256], sync: Sync) -> (Bank, f64) {
    ingest_from(dir, hay.len(), |i| hay[i], sync)
}

/// As [`ingest`], with the `n` hashes made by `hash_at` as they are written, so that a
/// 100M-segment bank needs no 3.2 GB haystack beside it.
fn ingest_from(
    dir: &Path,
    n: usize,
    hash_at: impl Fn(usize) -> Hash256,
    sync: Sync,
) -> (Bank, f64) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("clear SCALE_BANK");
    }
    let create = OpenOptions {
        create: true,
        ..OpenOptions::default()
    };
    let t = Instant::now();
    let mut bank = Bank::open(dir, &create).expect("create bank");
    let mut last_sync = Instant::now();
    for (a, first) in (0..n).step_by(1000).enumerate() {
        let segments = (first..n.min(first + 1000))
            .map(|e| (e - first, hash_at(e)))
            .map(|(i, h)| Segment {
                start_s: Some(i as f64 / 24.0),
                end_s: Some((i + 1) as f64 / 24.0),
                pdq: h,
                quality: 90,
                frames: 1,
                secondary: 0,
            })
            .collect();
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&(a as u64).to_le_bytes());
        bank.add_asset(NewAsset {
            by: None,
            digest,
            kind: MediaKind::Video,
            label: Label::Leaked,
            source: Some("bench".into()),
            note: None,
            path: format!("synthetic/{a:06}.mp4"),
            bytes: 0,
            width: 1920,
            height: 1080,
            frame_rate: Some(24.0),
            crops: Vec::new(),
            panels: Vec::new(),
            panel_pages: Vec::new(),
            page_dpi: Vec::new(),
            features: Vec::new(),
            segments,
            seen: None,
        })
        .expect("add asset");
        let due = match sync {
            Sync::Never => false,
            Sync::Every(period) => last_sync.elapsed() >= period,
            Sync::EachAsset => true,
        };
        if due {
            bank.sync().expect("sync");
            last_sync = Instant::now();
        }
    }
    let took = t.elapsed().as_secs_f64();
    (bank, took)
}

/// What making an index's writes durable costs (`SCALE_DURABILITY=1`): the same ingest
/// with no sync (the baseline), with `index`'s sync every 2 s, and with one after every
/// asset, in rounds that take the three in turn (the machine is shared: a lone pair of
/// runs says more about its neighbours than about syncing), as medians and their ratios
/// to the baseline's.
fn measure_durability(dir: &Path, hay: &[Hash256]) {
    let rounds = env_usize("SCALE_ROUNDS", 3);
    let kinds = [
        Sync::Never,
        Sync::Every(std::time::Duration::from_secs(2)),
        Sync::EachAsset,
    ];
    let mut took: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for round in 0..rounds {
        for (k, sync) in kinds.iter().enumerate() {
            let s = ingest(dir, hay, *sync).1;
            println!(
                "durability n={} round={round} sync={sync:?} ingest_s={s:.1}",
                hay.len()
            );
            took[k].push(s);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&mut took[0]);
    for (k, sync) in kinds.iter().enumerate() {
        let m = median(&mut took[k]);
        println!(
            "durability n={} sync={sync:?} median_ingest_s={m:.1} ratio_to_no_sync={:.2}",
            hay.len(),
            m / base
        );
    }
}

/// Builds a bank of `hay.len()` segments in assets of 1000, reopens it, searches it.
fn measure_bank(dir: &Path, hay: &[Hash256], queries: &[Hash256]) {
    {
        let (mut bank, ingest_s) = ingest(dir, hay, Sync::Never);
        let t = Instant::now();
        bank.save_index().expect("save index");
        println!(
            "bank n={} ingest_s={ingest_s:.1} ingest_per_s={:.0} save_index_s={:.1}",
            hay.len(),
            hay.len() as f64 / ingest_s,
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    let bank = Bank::open(dir, &OpenOptions::default()).expect("reopen bank");
    let open_s = t.elapsed().as_secs_f64();
    let stats = bank.stats().expect("stats");
    println!(
        "bank n={} open_s={open_s:.2} index={:?} disk_bytes_per_segment={:.1} layout={:?}",
        hay.len(),
        stats.index_origin,
        stats.disk_bytes as f64 / hay.len() as f64,
        stats.index_layout.map(|l| l.widths)
    );
    let l = time_queries(queries, 1, |q| bank.search(q, DESIGN_RADIUS).len());
    line("bank-reopened", "multi r=31", hay.len(), &l);
}

#[path = "search_scale/bank_scale.rs"]
mod bank_scale;

fn main() {
    // Cargo passes `--bench`; this binary takes its settings from the environment.
    if let Ok(phase) = std::env::var("SCALE_PHASE") {
        bank_scale::run(&phase);
        return;
    }
    let n = env_usize("SCALE_N", 1_000_000);
    let nq = env_usize("SCALE_QUERIES", 1000);
    let export = std::env::var_os("SCALE_EXPORT").map(PathBuf::from);
    // Queries run on one thread (the multi-index never splits one; the linear scan is
    // held to one for a fair baseline); builds and the bank's open use every core, as
    // the CLI does.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let uniform: Vec<Hash256> = (0..n).map(|_| rng.hash()).collect();
        let queries = queries_for(&mut rng, &uniform, nq);
        measure(
            "uniform",
            &uniform,
            &queries,
            export.as_deref(),
            &one_thread,
        );
        if let Some(dir) = std::env::var_os("SCALE_BANK") {
            if std::env::var("SCALE_DURABILITY").as_deref() == Ok("1") {
                measure_durability(Path::new(&dir), &uniform);
            }
            measure_bank(Path::new(&dir), &uniform, &queries);
        }
        drop(uniform);
        if let Some(seeds) = std::env::var_os("SCALE_SEEDS") {
            let seeds = read_seeds(Path::new(&seeds));
            assert!(!seeds.is_empty(), "no hashes in SCALE_SEEDS");
            let clustered: Vec<Hash256> = (0..n)
                .map(|i| {
                    let s = seeds[i % seeds.len()];
                    rng.perturb(s, 24)
                })
                .collect();
            let queries = queries_for(&mut rng, &clustered, nq);
            println!("search clustered seeds={}", seeds.len());
            let export = export.as_ref().map(|d| d.join("clustered"));
            measure(
                "clustered",
                &clustered,
                &queries,
                export.as_deref(),
                &one_thread,
            );
        }
    }
    println!("peak_rss_mib={:.0}", peak_rss_mib());
}
