//! Keypoints at archive scale: adds hours of synthetic keypoints to a bank, for
//! `scripts/eval.d/measure-keypoints-disk.sh` to scan against. Not a benchmark itself.
//!
//! The keypoints are real ones, replicated with perturbation: each synthetic sample is
//! a sample of a seed bank's (picked at random) whose keypoints each have 16-40 random
//! bits of their 256-bit descriptor flipped and a random place, so that the buckets
//! fill as real footage fills them (flat patches crowd some slice values) while no
//! replica is a copy of its seed that geometry would accept. Environment:
//!
//! - `KP_SEED_BANK`: a bank with keypoints (`celprint index` of some real footage);
//! - `KP_BANK`: the bank to add to (made if missing, with the seed bank's parameters);
//! - `KP_HOURS`: banked hours to add, as 10-minute assets of a sample every 0.5 s;
//! - `KP_BEFORE=DIR`: instead, make DIR a checkpoint of `KP_BANK` (hard links) turned
//!   into a bank from before keypoints were kept on disk (no `keypoints` family, no
//!   mark), so that a read-only scan of it loads them into memory as every scan did.

use std::path::PathBuf;
use std::time::Instant;

use celprint::bank::{Bank, NewAsset, OpenOptions};
use celprint::fingerprint::keypoints::{FeatureSample, BANK_STEP_S};
use celprint::fingerprint::{Hash256, Segment};
use celprint::media::MediaKind;
use celprint::model::Label;

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
}

fn path_var(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")))
}

fn before(bank: &std::path::Path, dir: &std::path::Path) {
    let opts = rocksdb::Options::default();
    {
        let families = rocksdb::DB::list_cf(&opts, bank).expect("a bank");
        let db = rocksdb::DB::open_cf(&opts, bank, families).expect("bank opens");
        rocksdb::checkpoint::Checkpoint::new(&db)
            .and_then(|c| c.create_checkpoint(dir))
            .expect("checkpoint");
    }
    let families = rocksdb::DB::list_cf(&opts, dir).expect("a checkpoint");
    let mut db = rocksdb::DB::open_cf(&opts, dir, families).expect("checkpoint opens");
    db.delete_cf(db.cf_handle("meta").unwrap(), b"keypoints_on_disk")
        .unwrap();
    db.drop_cf("keypoints").unwrap();
    eprintln!("keypoints_scale: {} has no keypoint buckets", dir.display());
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to do without the environment.
    if std::env::var_os("KP_BANK").is_none() {
        return;
    }
    let out = path_var("KP_BANK");
    if let Some(dir) = std::env::var_os("KP_BEFORE") {
        before(&out, std::path::Path::new(&dir));
        return;
    }
    let hours: f64 = std::env::var("KP_HOURS")
        .expect("KP_HOURS")
        .parse()
        .expect("KP_HOURS is a number");
    let read_only = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    let seed_bank = Bank::open(&path_var("KP_SEED_BANK"), &read_only).expect("seed bank");
    let mut seeds: Vec<FeatureSample> = Vec::new();
    for asset in seed_bank.assets().expect("seed assets") {
        seeds.extend(seed_bank.asset_features(asset.id).expect("seed keypoints"));
    }
    seeds.retain(|s| !s.keypoints.is_empty());
    assert!(!seeds.is_empty(), "the seed bank has no keypoints");
    let params = seed_bank.params().clone();
    drop(seed_bank);
    let mut bank = Bank::open(
        &out,
        &OpenOptions {
            create: true,
            read_only: false,
            params: Some(params),
        },
    )
    .expect("bank");
    let per_asset = (600.0 / BANK_STEP_S) as usize;
    let assets = (hours * 6.0).round() as usize;
    let first = bank.stats().expect("stats").assets;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (first << 20) ^ assets as u64);
    let started = Instant::now();
    let mut keypoints = 0u64;
    for a in 0..assets {
        let samples: Vec<FeatureSample> = (0..per_asset)
            .map(|i| {
                let seed = &seeds[rng.below(seeds.len() as u64) as usize];
                let (w, h) = seed.base();
                let mut s = seed.clone();
                s.time_s = i as f64 * BANK_STEP_S;
                for k in &mut s.keypoints {
                    for _ in 0..16 + rng.below(25) {
                        let bit = rng.below(256);
                        k.descriptor[(bit / 64) as usize] ^= 1 << (bit % 64);
                    }
                    k.x = rng.below(w as u64 * 32) as f32 / 32.0;
                    k.y = rng.below(h as u64 * 32) as f32 / 32.0;
                }
                s
            })
            .collect();
        keypoints += samples
            .iter()
            .map(|s| s.keypoints.len() as u64)
            .sum::<u64>();
        let mut digest = [0u8; 32];
        for chunk in digest.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let hash = Hash256::from_words([rng.next(), rng.next(), rng.next(), rng.next()]);
        bank.add_asset(NewAsset {
            digest,
            kind: MediaKind::Video,
            label: Label::Leaked,
            source: None,
            note: None,
            by: None,
            path: format!("synthetic/{:05}.mp4", first + a as u64),
            bytes: 0,
            width: 854,
            height: 480,
            frame_rate: Some(24.0),
            segments: vec![Segment {
                start_s: Some(0.0),
                end_s: Some(600.0),
                pdq: hash,
                quality: 90,
                frames: 14_400,
                secondary: 0,
            }],
            crops: Vec::new(),
            panels: Vec::new(),
            panel_pages: Vec::new(),
            page_dpi: Vec::new(),
            features: samples,
            seen: None,
        })
        .expect("asset banked");
        if (a + 1) % 30 == 0 {
            eprintln!(
                "keypoints_scale: {:.1} h of {hours} in {:.0} s",
                (a + 1) as f64 / 6.0,
                started.elapsed().as_secs_f64()
            );
        }
    }
    bank.sync().expect("sync");
    drop(bank);
    println!(
        "added hours={:.1} keypoints={keypoints} seconds={:.1}",
        assets as f64 / 6.0,
        started.elapsed().as_secs_f64()
    );
}
