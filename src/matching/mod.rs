//! Matching: which banked assets a delivered file's segments match.
//!
//! Each usable query segment (quality at or above the threshold) is searched with all
//! eight of its rotations and flips, and every banked segment within the radius becomes
//! evidence. Per banked asset, the closest evidence is kept. Assets labelled `ignore`
//! form a negative bank: hits on them are counted, never reported as matches.

use std::collections::HashMap;

use crate::bank::{AssetId, Bank, BankError, Label};
use crate::fingerprint::{Dihedral, Hash256, Segment};
use crate::report::{BankSide, Match, QuerySide};

/// Thresholds for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchOptions {
    /// Largest PDQ Hamming distance (bits, inclusive) that counts as a match. Default 31,
    /// Meta's recommended threshold for PDQ.
    pub max_distance: u32,
    /// Segments below this PDQ quality (0–100) are never used as evidence, on either
    /// side. Default 50, as Meta recommends.
    pub min_quality: u8,
    /// Also search the seven rotations and flips of each query segment.
    pub dihedral: bool,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            max_distance: 31,
            min_quality: crate::fingerprint::pdq::DEFAULT_MIN_QUALITY,
            dihedral: true,
        }
    }
}

/// A delivered segment with the hashes to search for it: the hash as stored first,
/// then its dihedral variants.
#[derive(Debug, Clone)]
pub struct QuerySegment {
    pub segment: Segment,
    pub variants: Vec<(Dihedral, Hash256)>,
}

/// What matching one file produced.
#[derive(Debug, Default)]
pub struct FileMatches {
    pub matches: Vec<Match>,
    pub ignored_hits: usize,
}

/// Matches one file's segments against the bank.
pub fn match_file(
    bank: &Bank,
    query_path: &str,
    segments: &[QuerySegment],
    opts: &MatchOptions,
) -> Result<FileMatches, BankError> {
    // Best evidence per (query segment, banked asset): (distance, transform, bank segment).
    let mut best: HashMap<(usize, AssetId), (u32, Dihedral, crate::bank::SegmentRef)> =
        HashMap::new();
    for (qi, q) in segments.iter().enumerate() {
        if q.segment.quality < opts.min_quality {
            continue;
        }
        let variants: Vec<(Dihedral, Hash256)> = if opts.dihedral {
            q.variants.clone()
        } else {
            q.variants
                .iter()
                .filter(|(t, _)| *t == Dihedral::Identity)
                .copied()
                .collect()
        };
        let hashes: Vec<Hash256> = variants.iter().map(|(_, h)| *h).collect();
        for hit in bank.search(&hashes, opts.max_distance) {
            if hit.quality < opts.min_quality {
                continue;
            }
            let transform = variants[hit.query].0;
            let entry =
                best.entry((qi, hit.segment.asset))
                    .or_insert((u32::MAX, transform, hit.segment));
            // Prefer the smaller distance; on a tie prefer the identity, the plainer story.
            let better = hit.distance < entry.0
                || (hit.distance == entry.0 && transform == Dihedral::Identity);
            if better {
                *entry = (hit.distance, transform, hit.segment);
            }
        }
    }

    let mut assets: HashMap<AssetId, crate::bank::AssetRecord> = HashMap::new();
    for (_, asset_id) in best.keys() {
        if !assets.contains_key(asset_id) {
            if let Some(record) = bank.asset(*asset_id)? {
                assets.insert(*asset_id, record);
            }
        }
    }
    // A query segment that hits the negative bank is cleared for every asset: licensed
    // stock that also appears in leaked material must not raise a match through it.
    let cleared: std::collections::HashSet<usize> = best
        .keys()
        .filter(|(_, a)| assets.get(a).is_some_and(|r| r.label == Label::Ignore))
        .map(|(qi, _)| *qi)
        .collect();

    let mut out = FileMatches::default();
    let mut keys: Vec<_> = best.into_iter().collect();
    keys.sort_by_key(|((qi, asset), (d, _, _))| (*qi, *d, *asset));
    for ((qi, asset_id), (distance, transform, seg_ref)) in keys {
        let Some(asset) = assets.get(&asset_id) else {
            continue;
        };
        if cleared.contains(&qi) {
            if asset.label == Label::Ignore {
                out.ignored_hits += 1;
            }
            continue;
        }
        let Some(bank_seg) = bank.segment(seg_ref)? else {
            continue;
        };
        let q = &segments[qi].segment;
        let secondary_distance = (transform == Dihedral::Identity)
            .then(|| (q.secondary ^ bank_seg.secondary).count_ones());
        out.matches.push(Match {
            query: QuerySide {
                path: query_path.to_string(),
                start_s: q.start_s,
                end_s: q.end_s,
            },
            bank_asset: BankSide {
                path: asset.path().to_string(),
                label: asset.label,
                source: asset.source.clone(),
                note: asset.note.clone(),
                digest: asset.digest.clone(),
                start_s: bank_seg.start_s,
                end_s: bank_seg.end_s,
            },
            score: score_for_distance(distance),
            distance,
            transform,
            secondary_distance,
        });
    }
    Ok(out)
}

/// 1 at distance 0, 0 at 128 bits (what unrelated images typically differ by).
pub fn score_for_distance(distance: u32) -> f64 {
    (1.0 - distance as f64 / 128.0).max(0.0)
}
