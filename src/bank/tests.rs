//! Bank tests: round trips, refusals, the index against a brute-force model, saved
//! tables.

use super::*;

fn asset(digest_byte: u8, hashes: &[&str]) -> NewAsset {
    NewAsset {
        by: None,
        digest: [digest_byte; 32],
        kind: MediaKind::Still,
        label: Label::Leaked,
        source: Some("test".into()),
        note: None,
        path: format!("file-{digest_byte}.png"),
        bytes: 10,
        width: 64,
        height: 64,
        frame_rate: None,
        crops: Vec::new(),
        panels: Vec::new(),
        panel_pages: Vec::new(),
        page_dpi: Vec::new(),
        features: Vec::new(),
        segments: hashes
            .iter()
            .map(|h| Segment {
                start_s: None,
                end_s: None,
                pdq: h.parse().unwrap(),
                quality: 90,
                frames: 1,
                secondary: 7,
            })
            .collect(),
        seen: None,
    }
}

fn create(dir: &Path) -> Bank {
    Bank::open(
        dir,
        &OpenOptions {
            create: true,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn assets_survive_reopen_and_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let h = "ab".repeat(32);
    {
        let mut bank = create(dir.path());
        let id = bank.add_asset(asset(1, &[&h, &"00".repeat(32)])).unwrap();
        assert_eq!(bank.asset_by_digest(&[1; 32]).unwrap(), Some(id));
    }
    let bank = Bank::open(
        dir.path(),
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let hits = bank.search(&[h.parse().unwrap()], 0);
    assert_eq!(hits.len(), 1);
    assert_eq!(bank.segments(hits[0].segment.asset).unwrap().len(), 2);
    assert_eq!(bank.stats().unwrap().assets, 1);
}

/// A run killed while RocksDB was creating the bank leaves its files but not our
/// column families. A reader (a scan during the nightly's rerun) must see no bank yet,
/// not a damaged one, and the next writer must simply create it.
#[test]
fn a_bank_killed_while_being_created_is_new_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        DB::open(&opts, dir.path()).unwrap();
    }
    let read = Bank::open(
        dir.path(),
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    );
    assert!(
        matches!(read, Err(BankError::NotFound(_))),
        "{:?}",
        read.err()
    );
    let mut bank = create(dir.path());
    assert_eq!(bank.stats().unwrap().assets, 0);
    bank.add_asset(asset(1, &[&"ab".repeat(32)])).unwrap();
    assert_eq!(bank.stats().unwrap().assets, 1);
}

#[test]
fn newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let bank = create(dir.path());
        bank.db
            .put_cf(
                bank.cf(CF_META).unwrap(),
                KEY_FORMAT,
                (FORMAT_VERSION + 1).to_le_bytes(),
            )
            .unwrap();
    }
    let err = Bank::open(dir.path(), &OpenOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, BankError::FormatVersion { .. }), "{err}");
    assert!(err.to_string().contains("newer celprint"), "{err}");
}

#[test]
fn other_params_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(create(dir.path()));
    let other = FingerprintParams {
        secondary: crate::fingerprint::ImgHashAlgo::Dhash,
        ..FingerprintParams::default()
    };
    let err = Bank::open(
        dir.path(),
        &OpenOptions {
            params: Some(other),
            ..OpenOptions::default()
        },
    )
    .err()
    .expect("refused");
    assert!(matches!(err, BankError::ParamsMismatch { .. }), "{err}");
}

#[test]
fn missing_bank_is_not_created_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let err = Bank::open(&dir.path().join("none"), &OpenOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, BankError::NotFound(_)));
    assert!(!dir.path().join("none").exists());
}

/// Adds and deletes assets at random, reopening now and then, and checks after every
/// step that searching the bank gives exactly what a brute-force scan of a model of
/// its contents gives. Assets are large enough that the index runs on tables, with
/// a tail, and small clustered ones so results are not empty.
#[test]
fn index_equals_a_brute_force_model_through_adds_deletes_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    };
    let centre = Hash256::from_words([next(), next(), next(), next()]);
    let mut model: BTreeMap<AssetId, Vec<Hash256>> = BTreeMap::new();
    let mut bank = create(dir.path());
    for step in 0..24u8 {
        match next() % 6 {
            0..=2 => {
                let n = (next() % 4000) as usize;
                let hashes: Vec<Hash256> = (0..n)
                    .map(|_| {
                        let mut h = centre;
                        for _ in 0..next() % 40 {
                            let bit = (next() % 256) as usize;
                            h.words[bit / 64] ^= 1 << (bit % 64);
                        }
                        if next() % 2 == 0 {
                            h = Hash256::from_words([next(), next(), next(), next()]);
                        }
                        h
                    })
                    .collect();
                let hex: Vec<String> = hashes.iter().map(|h| h.to_string()).collect();
                let refs: Vec<&str> = hex.iter().map(String::as_str).collect();
                let id = bank.add_asset(asset(step, &refs)).unwrap();
                model.insert(id, hashes);
            }
            3 | 4 if !model.is_empty() => {
                let victim = *model.keys().nth((next() as usize) % model.len()).unwrap();
                assert!(bank.remove_asset(victim).unwrap());
                model.remove(&victim);
                assert!(bank.segments(victim).unwrap().is_empty());
            }
            _ => {
                if next() % 2 == 0 {
                    bank.save_index().unwrap();
                }
                drop(bank);
                bank = create(dir.path());
            }
        }
        let queries = [
            centre,
            Hash256::from_words([next(), next(), next(), next()]),
        ];
        let mut expected: Vec<(usize, SegmentRef, u32)> = Vec::new();
        for (id, hashes) in &model {
            for (i, h) in hashes.iter().enumerate() {
                for (q, query) in queries.iter().enumerate() {
                    let d = h.distance(query);
                    if d <= 31 {
                        let seg = SegmentRef {
                            asset: *id,
                            index: i as u32,
                        };
                        expected.push((q, seg, d));
                    }
                }
            }
        }
        let mut got: Vec<(usize, SegmentRef, u32)> = bank
            .search(&queries, 31)
            .into_iter()
            .map(|h| (h.query, h.segment, h.distance))
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "step {step}");
        let total: usize = model.values().map(Vec::len).sum();
        assert_eq!(bank.stats().unwrap().index_entries, total, "step {step}");
    }
}

fn random_asset(byte: u8, n: usize, seed: u64) -> NewAsset {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let hex: Vec<String> = (0..n)
        .map(|_| Hash256::from_words([next(), next(), next(), next()]).to_string())
        .collect();
    let refs: Vec<&str> = hex.iter().map(String::as_str).collect();
    asset(byte, &refs)
}

#[test]
fn the_index_file_is_mapped_only_while_current() {
    let dir = tempfile::tempdir().unwrap();
    let probe: Hash256;
    {
        let mut bank = create(dir.path());
        let big = random_asset(1, 20_000, 3);
        probe = big.segments[12_345].pdq;
        bank.add_asset(big).unwrap();
        assert!(bank.save_index().unwrap());
        assert!(!bank.save_index().unwrap(), "nothing to do when current");
    }
    let origin = |bank: &Bank| bank.stats().unwrap().index_origin;
    let reader = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    {
        let bank = Bank::open(dir.path(), &reader).unwrap();
        assert_eq!(origin(&bank), "mapped from the index file");
        assert_eq!(
            bank.stats().unwrap().index_memory_bytes,
            0,
            "nothing on the heap"
        );
        assert_eq!(bank.search(&[probe], 0).len(), 1);
    }
    {
        // A change after the save makes the saved tables stale.
        let mut bank = create(dir.path());
        bank.add_asset(random_asset(2, 10, 4)).unwrap();
    }
    {
        let bank = Bank::open(dir.path(), &reader).unwrap();
        assert!(origin(&bank).starts_with("rebuilt"), "{}", origin(&bank));
        assert_eq!(bank.search(&[probe], 0).len(), 1);
    }
    let file = || {
        let files: Vec<_> = std::fs::read_dir(dir.path().join(saved_index::INDEX_DIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "one file, the stale one removed: {files:?}");
        files[0].clone()
    };
    {
        // The next save replaces the stale file.
        let mut bank = create(dir.path());
        assert!(bank.save_index().unwrap());
    }
    let len = std::fs::metadata(file()).unwrap().len();
    assert_eq!(
        origin(&Bank::open(dir.path(), &reader).unwrap()),
        "mapped from the index file"
    );
    // A truncated file, or one whose header is damaged, is rebuilt from, not trusted.
    for damage in ["truncate", "header"] {
        let path = file();
        let mut bytes = std::fs::read(&path).unwrap();
        let kept = bytes.clone();
        match damage {
            "truncate" => bytes.truncate(bytes.len() - 4096),
            _ => bytes[60] ^= 1,
        }
        std::fs::write(&path, &bytes).unwrap();
        let bank = Bank::open(dir.path(), &reader).unwrap();
        assert!(
            origin(&bank).starts_with("rebuilt"),
            "{damage}: {}",
            origin(&bank)
        );
        assert_eq!(bank.search(&[probe], 0).len(), 1);
        std::fs::write(&path, kept).unwrap();
    }
    assert_eq!(std::fs::metadata(file()).unwrap().len(), len);
}

#[test]
fn a_save_removes_tables_an_older_celprint_kept_in_the_index_family() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = create(dir.path());
    bank.add_asset(random_asset(1, 9_000, 5)).unwrap();
    let cf = bank.cf(CF_INDEX).unwrap();
    bank.db
        .put_cf(cf, saved_index::KEY_INDEX_HEADER, b"{}")
        .unwrap();
    bank.db
        .put_cf(cf, b"t\x00i\x00\x00\x00\x00", [0u8; 8])
        .unwrap();
    assert!(bank.save_index().unwrap());
    let cf = bank.cf(CF_INDEX).unwrap();
    let left = bank.db.iterator_cf(cf, IteratorMode::Start).count();
    assert_eq!(left, 0);
}

#[test]
fn centre_crops_are_stored_after_the_picture_and_searched_as_its_parts() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = create(dir.path());
    let mut new = random_asset(7, 3, 11);
    let crops = random_asset(8, 5, 12).segments;
    let probe = crops[3].pdq;
    new.crops = vec![(90, crops[..2].to_vec()), (80, crops[2..].to_vec())];
    let id = bank.add_asset(new).unwrap();
    let record = bank.asset(id).unwrap().unwrap();
    assert_eq!(record.segments, 3, "the picture's own segments");
    assert_eq!(
        record.parts(),
        vec![(None, 0..3), (Some(90), 3..5), (Some(80), 5..8)]
    );
    assert_eq!(bank.segments(id).unwrap().len(), 8);
    let hits = bank.search(&[probe], 0);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].segment.index, 6);
    assert_eq!(record.crop_of(6), Some(80));
    assert_eq!(record.crop_of(1), None);
    // One segment is read alone, the same as from the whole list, crops included.
    let all = bank.segments(id).unwrap();
    for (i, s) in all.iter().enumerate() {
        let one = bank
            .segment(SegmentRef {
                asset: id,
                index: i as u32,
            })
            .unwrap();
        assert_eq!(one.map(|o| o.pdq), Some(s.pdq), "segment {i}");
        assert_eq!(one.map(|o| o.start_s), Some(s.start_s), "segment {i}");
    }
    assert!(bank
        .segment(SegmentRef {
            asset: id,
            index: 8
        })
        .unwrap()
        .is_none());
    let unknown = AssetId(id.0 + 100);
    assert!(bank
        .segment(SegmentRef {
            asset: unknown,
            index: 0
        })
        .unwrap()
        .is_none());
}

#[test]
fn a_bank_too_small_for_tables_saves_and_maps_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let small = random_asset(1, 5, 3);
    let probe = small.segments[4].pdq;
    {
        let mut bank = create(dir.path());
        bank.add_asset(small).unwrap();
        assert!(bank.save_index().unwrap());
    }
    let reader = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    let bank = Bank::open(dir.path(), &reader).unwrap();
    assert_eq!(
        bank.stats().unwrap().index_origin,
        "mapped from the index file"
    );
    let hits = bank.search(&[probe], 0);
    assert_eq!((hits.len(), hits[0].segment.index), (1, 4));
}

#[test]
fn a_save_builds_the_tables_as_it_writes_them_and_the_bank_then_maps_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = create(dir.path());
    let big = random_asset(1, 20_000, 3);
    let banked: Vec<Hash256> = big.segments.iter().map(|s| s.pdq).collect();
    bank.add_asset(big).unwrap();
    bank.add_asset(random_asset(2, 3_000, 5)).unwrap();
    assert!(
        bank.index.tail_len() > 0,
        "entries past the last rebuild, as an index run leaves them"
    );
    assert!(bank.save_index().unwrap());
    let stats = bank.stats().unwrap();
    assert_eq!(stats.index_origin, "mapped from the index file");
    assert_eq!(
        stats.index_memory_bytes, 0,
        "the tables were never all on the heap"
    );
    assert_eq!(stats.index_tail, 0);
    // The same answers as tables rebuilt in memory, at radii the tables probe.
    let reference = MultiIndex::from_entries(bank.index.entries()).always_probe();
    let mut queries: Vec<Hash256> = banked.iter().step_by(997).copied().collect();
    for (i, q) in queries.clone().iter().enumerate() {
        let mut near = *q;
        near.words[i % 4] ^= 0x0101_0101_0101_0101 << (i % 7);
        queries.push(near);
    }
    for radius in [0, 8, 31] {
        let sorted = |mut hits: Vec<crate::search::Hit>| {
            hits.sort_by_key(|h| (h.query, h.segment.asset, h.segment.index));
            hits.into_iter()
                .map(|h| (h.query, h.segment, h.distance))
                .collect::<Vec<_>>()
        };
        let ours = sorted(bank.search(&queries, radius));
        assert!(!ours.is_empty());
        assert_eq!(
            ours,
            sorted(reference.search(&queries, radius)),
            "radius {radius}"
        );
    }
    drop(bank);
    let checked = super::verify::verify(dir.path()).unwrap();
    assert!(checked.damage.is_empty(), "{:?}", checked.damage);
}
