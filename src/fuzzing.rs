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

/// Saved index tables as the bank stores them, damaged, then read back as the bank
/// reads them: `data` gives up to 64 hashes, a chunk count, and edits to the stored
/// values (5 bytes each: table, what to change, position, value). The damaged tables are
/// checked and installed, or refused and rebuilt, and the index is then searched.
pub fn saved_tables(data: &[u8]) -> usize {
    use crate::bank::saved_index::{part_bytes, part_values, sizes_from_starts, starts_from_sizes};
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
    let entries = || {
        hashes.iter().enumerate().map(|(i, h)| {
            let segment = SegmentRef {
                asset: AssetId(i as u64),
                index: 0,
            };
            (segment, *h, 100u8)
        })
    };
    // As the bank loads them: entries first, no tables until installed or rebuilt.
    let unbuilt = || {
        let mut index = MultiIndex::new();
        entries().for_each(|(segment, hash, quality)| index.push(segment, hash, quality));
        index
    };
    // 22 to 32 chunks: tables of 2^8 to 2^12 buckets, small enough to build thousands
    // of times a second (the bank's own layouts go up to 2^24, with the same code).
    let layout = Layout::with_chunks(22 + usize::from(*m % 11));
    let built = unbuilt().with_layout(layout);
    let Some((layout, tables)) = built.tables() else {
        return 0;
    };
    let mut widths = layout.widths.clone();
    let mut stored: Vec<[Vec<u8>; 2]> = tables
        .iter()
        .map(|(starts, ids)| [part_bytes(&sizes_from_starts(starts)), part_bytes(ids)])
        .collect();
    for e in edits.chunks_exact(5) {
        let k = usize::from(e[0]) % stored.len();
        let at = usize::from(u16::from_le_bytes([e[2], e[3]]));
        match e[1] % 4 {
            0 | 1 => {
                let value = &mut stored[k][usize::from(e[1] % 2)];
                if let Some(len) = value.len().checked_sub(1) {
                    value[at % (len + 1)] ^= e[4];
                }
            }
            2 => stored[k][usize::from(e[4] % 2)].truncate(at),
            _ => widths[k] ^= u32::from(e[4]),
        }
    }
    let tables: Result<Vec<_>, String> = stored
        .iter()
        .enumerate()
        .map(|(k, [sizes, ids])| {
            Ok((
                starts_from_sizes(part_values(k, sizes)?),
                part_values(k, ids)?,
            ))
        })
        .collect();
    let mut index = unbuilt();
    let installed = tables.and_then(|t| index.install_tables(Layout { widths }, t));
    if installed.is_err() {
        index.rebuild();
    }
    index.search(&hashes, 32).len()
}
