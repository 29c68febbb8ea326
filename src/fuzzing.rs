//! Entry points for the libFuzzer targets in `fuzz/`: the parsers that are private to
//! their modules, reachable from outside the crate. Not an API; nothing else calls
//! these.

use crate::bank::records;
use crate::fingerprint::Hash256;
use crate::model::{AssetId, SegmentRef};
use crate::search::{HammingIndex, Layout, MultiIndex};

/// The bank's binary record decoders: segments, search entries, keypoint samples.
/// Returns how many items decoded, so the work is not optimised away.
pub fn bank_binary_records(bytes: &[u8]) -> usize {
    let segments = records::decode_segments(bytes).map_or(0, |s| s.len());
    let entries = records::decode_search_entries(bytes).map_or(0, |e| e.count());
    let features = records::decode_features(bytes).map_or(0, |f| {
        // What was decoded encodes again: the decoder accepts nothing the encoder
        // could not have written in shape.
        let again = records::encode_features(&f);
        assert!(records::decode_features(&again).is_some());
        f.len()
    });
    segments + entries + features
}

/// The bank's JSON records, an asset's and a path's, read as the bank reads them, and
/// an asset's segment numbers mapped to their places as the matcher does.
pub fn bank_json_records(bytes: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(record) = serde_json::from_slice::<crate::bank::AssetRecord>(bytes) {
        let stored = u64::from(record.segments)
            + record.crops.iter().map(|&(_, k)| u64::from(k)).sum::<u64>()
            + record.panels.len() as u64;
        // Every stored segment number, and a few past the end, as a damaged segments
        // value could hold.
        for index in (0..stored.saturating_add(4).min(4096)).map(|i| i as u32) {
            let (page, panel) = record.place_of(index);
            n += page.map_or(0, |p| p as usize) + usize::from(panel.is_some());
            n += record.picture_of(index) as usize % 2;
            n += usize::from(record.crop_of(index).is_some());
        }
        n += record.history().len() + record.path().len();
    }
    if let Ok(record) = serde_json::from_slice::<crate::bank::PathRecord>(bytes) {
        n += usize::from(
            record
                .digest
                .as_deref()
                .and_then(crate::media::digest_from_hex)
                .is_some(),
        );
    }
    n
}

/// `pdfinfo -box` output read as the PDF reader reads it, then each page's
/// resolution; and `pdftohtml -xml` output's picture tags.
pub fn pdf_tool_output(text: &str) -> usize {
    let pages = crate::media::pdf::fuzz_info(text);
    pages + crate::media::pdf::fuzz_image_tags(text)
}

/// The bank's index file, damaged, then opened as the bank opens it: `data` gives up to
/// 64 hashes, a chunk count, and edits to the file's bytes (5 bytes each: a position and
/// a value to XOR there; a zero value truncates the file there instead). The damaged
/// file is mapped, or refused and the index rebuilt, and the index is then searched:
/// damage the open's checks let through must give wrong answers, never a panic.
pub fn saved_tables(data: &[u8]) -> usize {
    use crate::search::index_file::{self, FileStamp};
    let [n, m, rest @ ..] = data else {
        return 0;
    };
    let n = usize::from(*n % 64) + 1;
    let Some(hash_bytes) = rest.get(..n * 32) else {
        return 0;
    };
    let edits = &rest[n * 32..];
    let hashes: Vec<Hash256> = hash_bytes
        .chunks_exact(32)
        .map(|c| Hash256::from_bytes(c.try_into().expect("32 bytes")))
        .collect();
    let mut unbuilt = MultiIndex::new();
    for (i, h) in hashes.iter().enumerate() {
        let segment = SegmentRef {
            asset: AssetId(i as u64 / 3),
            index: (i % 3) as u32,
        };
        unbuilt.push(segment, *h, 100);
    }
    // 22 to 32 chunks: tables of 2^8 to 2^12 buckets, small enough to write thousands
    // of times a second (the bank's own layouts go up to 2^24, with the same code).
    let built = unbuilt
        .clone()
        .with_layout(Layout::with_chunks(22 + usize::from(*m % 11)));
    let stamp = FileStamp {
        generation: 1,
        next_asset: 1,
        last_asset: None,
    };
    let Ok(dir) = tempfile::tempdir() else {
        return 0;
    };
    let Ok(path) = index_file::write(dir.path(), &built, &stamp) else {
        return 0;
    };
    let Ok(mut bytes) = std::fs::read(&path) else {
        return 0;
    };
    for e in edits.chunks_exact(5) {
        let at = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as usize;
        match (e[4], bytes.len()) {
            (_, 0) => break,
            (0, len) => bytes.truncate(at % len),
            (x, len) => bytes[at % len] ^= x,
        }
    }
    if std::fs::write(&path, &bytes).is_err() {
        return 0;
    }
    let index = index_file::open(dir.path(), &stamp).unwrap_or_else(|_| {
        let mut rebuilt = unbuilt;
        rebuilt.rebuild();
        rebuilt
    });
    index.search(&hashes, 32).len()
}
