//! The bank at archive scale (10M to 100M segments), one phase per process so that the
//! script between them can evict the page cache and an open is measured from cold:
//!
//! - `SCALE_PHASE=build`: writes `SCALE_N` segments into a new bank at `SCALE_BANK` in
//!   assets of 1000, then saves the index; prints the ingest rate and the save time.
//! - `SCALE_PHASE=query`: opens that bank read-only, as `scan` does, and times
//!   `SCALE_QUERIES` queries one at a time at radius 31 (half near copies of banked
//!   segments, half random); prints open time, p50/p99, and the process's memory before
//!   the open, after it and after the queries. `SCALE_LABEL` names the run (cold, warm).
//!
//! `SCALE_DATA=uniform` (random hashes) or `clustered` (the hashes of `SCALE_SEEDS`, each
//! perturbed by up to 24 bits, in turn). Hashes are made from their position, not kept:
//! the query phase remakes the banked hashes its near copies need, and no haystack
//! competes with the bank for memory. Each phase prints one `json {...}` line.

use std::path::PathBuf;
use std::time::Instant;

use celprint::bank::{Bank, OpenOptions};
use celprint::fingerprint::Hash256;
use celprint::search::DESIGN_RADIUS;

use super::{env_usize, ingest_from, read_seeds, time_queries, Sync};

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Banked hash number `i` of a data set.
struct Data {
    seeds: Option<Vec<Hash256>>,
}

impl Data {
    fn from_env() -> (Data, &'static str) {
        match std::env::var("SCALE_DATA").as_deref() {
            Ok("clustered") => {
                let path = std::env::var_os("SCALE_SEEDS").expect("clustered needs SCALE_SEEDS");
                let seeds = read_seeds(std::path::Path::new(&path));
                assert!(!seeds.is_empty(), "no hashes in SCALE_SEEDS");
                (Data { seeds: Some(seeds) }, "clustered")
            }
            _ => (Data { seeds: None }, "uniform"),
        }
    }

    fn at(&self, i: usize) -> Hash256 {
        let i = i as u64;
        match &self.seeds {
            None => {
                Hash256::from_words([mix(4 * i), mix(4 * i + 1), mix(4 * i + 2), mix(4 * i + 3)])
            }
            Some(seeds) => perturb(seeds[i as usize % seeds.len()], mix(!i), 24),
        }
    }
}

/// `h` with up to `max_bits` bits flipped, chosen by `key`.
fn perturb(h: Hash256, key: u64, max_bits: u64) -> Hash256 {
    let mut out = h;
    for j in 0..mix(key) % (max_bits + 1) {
        let bit = (mix(key ^ (j + 1).wrapping_mul(0x5851_f42d_4c95_7f2d)) % 256) as usize;
        out.words[bit / 64] ^= 1 << (bit % 64);
    }
    out
}

/// What `/proc/self/status` says of the process's memory, in MiB.
fn memory_mib() -> serde_json::Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
    };
    serde_json::json!({
        "rss": field("VmRSS:"),
        "rss_anon": field("RssAnon:"),
        "rss_file": field("RssFile:"),
        "peak": field("VmHWM:"),
    })
}

pub fn run(phase: &str) {
    let n = env_usize("SCALE_N", 10_000_000);
    let dir = PathBuf::from(std::env::var_os("SCALE_BANK").expect("SCALE_BANK"));
    let (data, data_name) = Data::from_env();
    let line = match phase {
        "build" => {
            let (mut bank, ingest_s) = ingest_from(&dir, n, |i| data.at(i), Sync::Never);
            let t = Instant::now();
            bank.save_index().expect("save index");
            let save_s = t.elapsed().as_secs_f64();
            drop(bank);
            serde_json::json!({
                "phase": "build",
                "n": n,
                "data": data_name,
                "ingest_s": ingest_s,
                "ingest_per_s": n as f64 / ingest_s,
                "save_index_s": save_s,
                "memory_mib": memory_mib(),
            })
        }
        "query" => {
            let nq = env_usize("SCALE_QUERIES", 1000);
            let queries: Vec<Hash256> = (0..nq as u64)
                .map(|q| {
                    if q % 2 == 0 {
                        let j = (mix(q ^ 0xabcd) % n as u64) as usize;
                        perturb(data.at(j), mix(q ^ 0x1234), 12)
                    } else {
                        Hash256::from_words([mix(!q), mix(!q ^ 1), mix(!q ^ 2), mix(!q ^ 3)])
                    }
                })
                .collect();
            let before = memory_mib();
            let t = Instant::now();
            let reader = OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            };
            let bank = Bank::open(&dir, &reader).expect("open bank");
            let open_s = t.elapsed().as_secs_f64();
            let after_open = memory_mib();
            let l = time_queries(&queries, 1, |q| bank.search(q, DESIGN_RADIUS).len());
            let after_queries = memory_mib();
            let stats = bank.stats().expect("stats");
            serde_json::json!({
                "phase": "query",
                "label": std::env::var("SCALE_LABEL").unwrap_or_default(),
                "n": n,
                "data": data_name,
                "queries": nq,
                "open_s": open_s,
                "p50_ms": l.p50_ms,
                "p99_ms": l.p99_ms,
                "mean_hits": l.mean_hits,
                "memory_before_open_mib": before,
                "memory_after_open_mib": after_open,
                "memory_after_queries_mib": after_queries,
                "index_origin": stats.index_origin,
                "index_heap_bytes": stats.index_memory_bytes,
                "disk_bytes": stats.disk_bytes,
                "disk_bytes_per_segment": stats.disk_bytes as f64 / n as f64,
            })
        }
        other => panic!("SCALE_PHASE is build or query, not {other}"),
    };
    println!("json {line}");
}
