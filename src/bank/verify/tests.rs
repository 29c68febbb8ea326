//! `verify` against banks damaged through RocksDB itself: each edit is one a bug or a
//! hand could make, and each must be named.

use super::super::*;
use super::verify;

fn asset(byte: u8, segments: usize) -> NewAsset {
    let mut seed = u64::from(byte) * 7919 + 1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    NewAsset {
        by: None,
        digest: [byte; 32],
        kind: MediaKind::Still,
        label: Label::Leaked,
        source: None,
        note: None,
        path: format!("file-{byte}.png"),
        bytes: 10,
        width: 64,
        height: 64,
        frame_rate: None,
        crops: Vec::new(),
        panels: Vec::new(),
        panel_pages: Vec::new(),
        page_dpi: Vec::new(),
        features: Vec::new(),
        segments: (0..segments)
            .map(|_| Segment {
                start_s: None,
                end_s: None,
                pdq: Hash256::from_bytes(&std::array::from_fn(|_| next() as u8)),
                quality: 90,
                frames: 1,
                secondary: 7,
            })
            .collect(),
        seen: None,
    }
}

/// A bank of three assets, then `damage` done to it through RocksDB; what verify says.
fn damaged(damage: impl FnOnce(&Bank)) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut bank = Bank::open(
            dir.path(),
            &OpenOptions {
                create: true,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        for byte in 1..=3 {
            bank.add_asset(asset(byte, 2)).unwrap();
        }
        damage(&bank);
    }
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.damage_count, v.damage.len());
    v.damage
}

fn contains(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

#[test]
fn an_undamaged_bank_is_clean() {
    assert_eq!(damaged(|_| {}), Vec::<String>::new());
}

#[test]
fn search_entries_that_disagree_with_the_segments_are_named() {
    let lines = damaged(|bank| {
        let cf = bank.cf(CF_SEARCH).unwrap();
        let mut value = bank.db.get_cf(cf, AssetId(2).key()).unwrap().unwrap();
        value[5] ^= 1;
        bank.db.put_cf(cf, AssetId(2).key(), value).unwrap();
    });
    assert!(
        contains(
            &lines,
            "asset 2: its search entries disagree with its segments"
        ),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[test]
fn torn_segments_and_orphan_keypoints_are_named() {
    let lines = damaged(|bank| {
        let frames = bank.cf(CF_FRAMES).unwrap();
        let value = bank.db.get_cf(frames, AssetId(1).key()).unwrap().unwrap();
        let torn = &value[..value.len() - 3];
        bank.db.put_cf(frames, AssetId(1).key(), torn).unwrap();
        let features = bank.cf(CF_FEATURES).unwrap();
        bank.db
            .put_cf(features, AssetId(9).key(), records::encode_features(&[]))
            .unwrap();
    });
    assert!(
        contains(&lines, "asset 1: its segments do not decode"),
        "{lines:?}"
    );
    assert!(
        contains(&lines, "keypoints of asset 9, which has no record"),
        "{lines:?}"
    );
}

#[test]
fn a_digest_banked_twice_or_missing_is_named() {
    let lines = damaged(|bank| {
        // Asset 3's record rewritten with asset 1's digest, as a bug in a relabel might.
        let assets = bank.cf(CF_ASSETS).unwrap();
        let mut record = bank.asset(AssetId(3)).unwrap().unwrap();
        record.digest = crate::media::digest_hex(&[1; 32]);
        let value = serde_json::to_vec(&record).unwrap();
        bank.db.put_cf(assets, AssetId(3).key(), value).unwrap();
    });
    assert!(
        contains(&lines, "assets 1 and 3 have the same digest"),
        "{lines:?}"
    );
    assert!(
        contains(&lines, "points at asset 3, whose record has another digest"),
        "{lines:?}"
    );
}

/// The index file's path, and where `values` first lie in it.
fn find_in_index_file(dir: &std::path::Path, values: &[u32]) -> (std::path::PathBuf, usize) {
    let path = std::fs::read_dir(dir.join(super::super::saved_index::INDEX_DIR))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&path).unwrap();
    let pattern: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern.as_slice())
        .unwrap();
    (path, at)
}

/// The chunk value of the bucket each position of a table's entry numbers lies in.
fn bucket_values(table: &crate::search::TableArrays, width: u32) -> Vec<u32> {
    let values: Vec<u32> = if table.filled.is_empty() {
        (0..1u32 << width).collect()
    } else {
        (0..1u32 << width)
            .filter(|&v| table.filled[v as usize / 64] >> (v % 64) & 1 == 1)
            .collect()
    };
    (0..table.ids.len())
        .map(|pos| values[table.starts.partition_point(|&s| s as usize <= pos) - 1])
        .collect()
}

/// Banks 9000 segments and saves the index file, lets `damage` edit the file (given the
/// bank folder and the bank as saved), then checks that a read-only open still maps it
/// (the edit lies where the open's sample does not look) and that `verify` names table 0.
fn a_damaged_table_is_named(damage: impl FnOnce(&std::path::Path, &Bank)) {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut bank = Bank::open(
            dir.path(),
            &OpenOptions {
                create: true,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        bank.add_asset(asset(1, 9000)).unwrap();
        assert!(bank.save_index().unwrap());
        damage(dir.path(), &bank);
    }
    let reopened = Bank::open(
        dir.path(),
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert_eq!(reopened.index_origin, "mapped from the index file");
    drop(reopened);
    let v = verify(dir.path()).unwrap();
    assert!(
        v.damage
            .iter()
            .any(|l| l.contains("table 0 of the index file disagrees with the search entries")),
        "{:?}",
        v.damage
    );
}

/// An index file with two entries swapped between buckets that an open's sampled check
/// does not look at: the open maps it (and a scan would miss both entries), and only the
/// full comparison finds them.
#[test]
fn an_index_file_whose_tables_disagree_with_the_entries_is_named() {
    a_damaged_table_is_named(|dir, bank| {
        let (layout, tables) = bank.index.tables().unwrap();
        let width = layout.widths[0];
        let values = bucket_values(&tables[0], width);
        let ids = tables[0].ids.to_vec();
        // Two entries in different buckets, neither at a sampled bucket (every
        // 2^width / 32th).
        let step = (1usize << width) / 32;
        let unsampled = |pos: &usize| values[*pos] as usize % step != 0;
        let p = (0..ids.len()).find(unsampled).unwrap();
        let q = (p..ids.len())
            .filter(unsampled)
            .find(|&q| values[q] != values[p])
            .unwrap();
        let (path, at) = find_in_index_file(dir, &ids);
        let mut bytes = std::fs::read(&path).unwrap();
        let (pp, qq) = (at + 4 * p, at + 4 * q);
        for i in 0..4 {
            bytes.swap(pp + i, qq + i);
        }
        std::fs::write(&path, bytes).unwrap();
    });
}

/// An index file whose sparse table's bitmap says a bucket that holds entries is empty,
/// in a block of counts the open's sample does not look at: probes would skip those
/// entries (and read the wrong offsets for the block's later buckets), and the full
/// comparison names the table.
#[test]
fn an_index_file_whose_bitmap_hides_a_bucket_is_named() {
    a_damaged_table_is_named(|dir, bank| {
        let (layout, tables) = bank.index.tables().unwrap();
        let width = layout.widths[0];
        let filled = tables[0].filled.to_vec();
        assert!(!filled.is_empty(), "9000 entries make sparse tables");
        // A non-empty bucket whose value and block of counts the open does not sample
        // (every 2^width / 32th value, and the blocks those lie in).
        let step = (1usize << width) / 32;
        let block = |v: usize| v / 512;
        let sampled_blocks: Vec<usize> = (0..1usize << width).step_by(step).map(block).collect();
        let hidden = (0..1usize << width)
            .find(|&v| {
                v % step != 0
                    && !sampled_blocks.contains(&block(v))
                    && filled[v / 64] >> (v % 64) & 1 == 1
            })
            .unwrap();
        let words: Vec<u32> = filled
            .iter()
            .flat_map(|w| [*w as u32, (*w >> 32) as u32])
            .collect();
        let (path, at) = find_in_index_file(dir, &words);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at + hidden / 8] &= !(1 << (hidden % 8));
        std::fs::write(&path, bytes).unwrap();
    });
}

/// A hash changed in the index file (the open checks none of them whole) is named.
#[test]
fn an_index_file_whose_entries_disagree_with_the_search_family_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = Bank::open(
        dir.path(),
        &OpenOptions {
            create: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    bank.add_asset(asset(1, 9000)).unwrap();
    assert!(bank.save_index().unwrap());
    let first: Vec<u32> = bank
        .index
        .entries()
        .take(2)
        .flat_map(|(_, h, _)| {
            h.words
                .iter()
                .flat_map(|w| [*w as u32, (*w >> 32) as u32])
                .collect::<Vec<_>>()
        })
        .collect();
    drop(bank);
    let (path, at) = find_in_index_file(dir.path(), &first);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at + 40] ^= 0x10;
    std::fs::write(&path, bytes).unwrap();
    let v = verify(dir.path()).unwrap();
    assert!(
        v.damage
            .iter()
            .any(|l| l.contains("entry 1 of the index file disagrees with the search family")),
        "{:?}",
        v.damage
    );
}
