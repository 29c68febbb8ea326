//! The keypoint buckets on disk against the in-memory index they replace: the same
//! candidates, the same pairs, on random keypoints with crowded buckets and several
//! assets; and after a removal, a migration and a merge.

use proptest::prelude::*;
use rocksdb::DB;

use super::*;
use crate::bank::{NewAsset, OpenOptions};
use crate::fingerprint::inset::Rect;
use crate::fingerprint::keypoints::Keypoint;
use crate::fingerprint::Segment;
use crate::media::MediaKind;
use crate::model::Label;

/// Keypoints near a few shared descriptors, some pushed into one crowded bucket.
struct Maker {
    z: u64,
    bases: Vec<[u64; 4]>,
    /// Per mille of keypoints whose slice 3 is 0xBEEF.
    crowd: u64,
}

impl Maker {
    fn new(seed: u64, bases: usize, crowd: u64) -> Maker {
        let mut m = Maker {
            z: seed | 1,
            bases: Vec::new(),
            crowd,
        };
        m.bases = (0..bases)
            .map(|_| [m.next(), m.next(), m.next(), m.next()])
            .collect();
        m
    }

    fn next(&mut self) -> u64 {
        self.z ^= self.z << 13;
        self.z ^= self.z >> 7;
        self.z ^= self.z << 17;
        self.z
    }

    fn keypoint(&mut self) -> Keypoint {
        let pick = (self.next() % self.bases.len() as u64) as usize;
        let base = self.bases[pick];
        let mut descriptor = base;
        for _ in 0..self.next() % 48 {
            let bit = self.next() % 256;
            descriptor[(bit / 64) as usize] ^= 1 << (bit % 64);
        }
        if self.next() % 1000 < self.crowd {
            descriptor[0] = (descriptor[0] & !(0xFFFF << 48)) | (0xBEEF << 48);
        }
        Keypoint {
            // Any place, not only those the record keeps exactly (1/32 pixel).
            x: (self.next() % 40_000) as f32 / 97.0,
            y: (self.next() % 30_000) as f32 / 97.0,
            level: (self.next() % 4) as u8,
            descriptor,
        }
    }

    fn sample(&mut self, time_s: f64, keypoints: usize) -> FeatureSample {
        FeatureSample {
            time_s,
            picture: Rect {
                x: 0,
                y: 8 * (self.next() % 3) as usize,
                width: 640,
                height: 360,
            },
            keypoints: (0..keypoints).map(|_| self.keypoint()).collect(),
        }
    }
}

fn asset(n: u8, features: Vec<FeatureSample>) -> NewAsset {
    NewAsset {
        by: None,
        digest: [n; 32],
        kind: MediaKind::Video,
        label: Label::Leaked,
        source: None,
        note: None,
        path: format!("film-{n}.mp4"),
        bytes: 10,
        width: 640,
        height: 360,
        frame_rate: Some(24.0),
        crops: Vec::new(),
        panels: Vec::new(),
        panel_pages: Vec::new(),
        page_dpi: Vec::new(),
        features,
        segments: vec![Segment {
            start_s: Some(0.0),
            end_s: Some(1.0),
            pdq: "00".repeat(32).parse().unwrap(),
            quality: 90,
            frames: 24,
            secondary: 0,
        }],
        seen: None,
    }
}

fn create(dir: &std::path::Path) -> Bank {
    let opts = OpenOptions {
        create: true,
        ..OpenOptions::default()
    };
    Bank::open(dir, &opts).unwrap()
}

/// Banks `assets` assets of random samples; returns the maker, for queries.
fn fill(bank: &mut Bank, seed: u64, assets: u8, crowd: u64) -> Maker {
    let mut m = Maker::new(seed, 6, crowd);
    for n in 0..assets {
        let samples = (0..1 + m.next() % 4)
            .map(|i| {
                let count = (m.next() % 170) as usize;
                m.sample(i as f64 * 0.5, count)
            })
            .collect();
        bank.add_asset(asset(n + 1, samples)).unwrap();
    }
    m
}

/// Candidates as text: sample, then each pair's keypoints and distance.
fn shown(found: Vec<Candidate>) -> Vec<String> {
    found.iter().map(|c| format!("{c:?}")).collect()
}

/// Each query's candidates from the buckets equal the in-memory index's; returns how
/// many candidates there were, so a test can tell it compared something.
fn assert_same(bank: &Bank, queries: &[FeatureSample]) -> usize {
    assert_same_in_windows(bank, queries, disk::WINDOW_KEYPOINTS)
}

/// [`assert_same`] with the buckets read in windows of at most `window` keypoints,
/// each query alone and all as one run.
fn assert_same_in_windows(bank: &Bank, queries: &[FeatureSample], window: u64) -> usize {
    assert!(bank.keypoints_on_disk().unwrap());
    let disk = DiskFeatures::with_windows(bank, window).unwrap();
    let memory = bank.feature_index().unwrap();
    assert_eq!(disk.len(), memory.len());
    let mut seen = 0;
    for q in queries {
        let want = shown(memory.candidates(q));
        let got = shown(disk.candidates(q).unwrap());
        assert_eq!(got, want);
        seen += want.len();
    }
    // Fresh, so that the run meets the buckets' sizes unknown.
    let disk = DiskFeatures::with_windows(bank, window).unwrap();
    let run = disk.candidates_of_run(queries).unwrap();
    assert_eq!(run.len(), queries.len());
    for (q, got) in queries.iter().zip(run) {
        assert_eq!(shown(got), shown(memory.candidates(q)));
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn buckets_on_disk_find_what_the_index_in_memory_finds(
        seed in any::<u64>(),
        assets in 1u8..5,
        crowd in prop_oneof![Just(0u64), 100u64..400],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bank = create(dir.path());
        let mut m = fill(&mut bank, seed, assets, crowd);
        let queries: Vec<FeatureSample> = (0..3).map(|_| m.sample(0.0, 160)).collect();
        assert_same(&bank, &queries);
    }

    /// Read a few assets at a time, the buckets give what the whole bucket gives.
    #[test]
    fn buckets_read_in_windows_of_assets_find_the_same(
        seed in any::<u64>(),
        assets in 2u8..6,
        crowd in prop_oneof![Just(0u64), 100u64..400],
        window in 1u64..400,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bank = create(dir.path());
        let mut m = fill(&mut bank, seed, assets, crowd);
        let mut queries: Vec<FeatureSample> = (0..3).map(|_| m.sample(0.0, 160)).collect();
        // A banked sample again, so that there are candidates to compare.
        queries.push(bank.asset_features(AssetId(1)).unwrap().remove(0));
        assert_same_in_windows(&bank, &queries, window);
    }
}

/// A bank of several windows is read in several (the comparison above is not of one
/// window every time), and a crowded bucket is known by its size before it is read.
#[test]
fn small_windows_split_the_bank_and_size_crowded_buckets_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = create(dir.path());
    let mut m = fill(&mut bank, 7, 4, 300);
    let disk = DiskFeatures::with_windows(&bank, 1).unwrap();
    assert_eq!(disk.windows, vec![1, 2, 3, 4]);
    let queries: Vec<FeatureSample> = (0..4).map(|_| m.sample(0.0, 160)).collect();
    assert_eq!(disk.crowded_seen(), 0);
    disk.candidates_of_run(&queries).unwrap();
    assert!(disk.crowded_seen() >= 1, "the 0xBEEF bucket is crowded");
    assert!(assert_same_in_windows(&bank, &queries, 1) > 0 || queries.is_empty());
}

/// A bucket with more keypoints than the crowded rule allows is passed over on disk
/// as in memory, and the queries find candidates at all (the comparison is not of two
/// empty lists).
#[test]
fn crowded_buckets_are_passed_over_alike_and_candidates_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = create(dir.path());
    let mut m = fill(&mut bank, 7, 4, 300);
    let mut queries: Vec<FeatureSample> = (0..4).map(|_| m.sample(0.0, 160)).collect();
    // A banked sample delivered again: it must be a candidate.
    let banked = bank.feature_index().unwrap();
    assert!(banked.len() > 4 * 256, "{} keypoints", banked.len());
    let again =
        records::decode_features(&bank.get(CF_FEATURES, &AssetId(2).key()).unwrap().unwrap())
            .unwrap()
            .remove(0);
    queries.push(again);
    assert!(assert_same(&bank, &queries) > 0);
    let disk = DiskFeatures::open(&bank).unwrap();
    assert_eq!(disk.crowded_seen(), 0, "nothing read yet");
    disk.candidates(&queries[0]).unwrap();
    assert!(disk.crowded_seen() >= 1, "the 0xBEEF bucket is crowded");
}

/// Removing an asset removes its buckets (the rest still search alike, and verify
/// finds nothing wrong); a bank made before the buckets existed, reopened writable,
/// gets them from its `features` records.
#[test]
fn removal_and_migration_keep_the_buckets_equal_to_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let queries;
    {
        let mut bank = create(dir.path());
        let mut m = fill(&mut bank, 11, 3, 150);
        queries = (0..3).map(|_| m.sample(0.0, 160)).collect::<Vec<_>>();
        assert!(bank.remove_asset(AssetId(2)).unwrap());
        assert_same(&bank, &queries);
        assert!(bank.keypoint_faults().unwrap().is_empty());
    }
    {
        // What a bank made before the buckets holds: no family, no mark.
        let opts = rocksdb::Options::default();
        let names = DB::list_cf(&opts, dir.path()).unwrap();
        let mut db = DB::open_cf(&opts, dir.path(), names).unwrap();
        db.delete_cf(db.cf_handle(CF_META).unwrap(), KEY_KEYPOINTS_ON_DISK)
            .unwrap();
        db.drop_cf(CF_KEYPOINTS).unwrap();
    }
    let read_only = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    {
        let bank = Bank::open(dir.path(), &read_only).unwrap();
        assert!(!bank.keypoints_on_disk().unwrap());
        let search = bank.feature_search().unwrap();
        assert!(!search.is_empty(), "falls back to the records in memory");
    }
    let bank = create(dir.path());
    assert_same(&bank, &queries);
    assert!(bank.keypoint_faults().unwrap().is_empty());
    // Damage is seen: an asset's count changed.
    bank.db
        .put_cf(
            bank.keypoints_cf().unwrap(),
            count_key(1),
            5u64.to_le_bytes(),
        )
        .unwrap();
    assert_eq!(
        bank.keypoint_faults().unwrap(),
        vec!["asset 1: its keypoint buckets do not hold its keypoints".to_string()]
    );
}
