//! Seeds and commonness: the strict-radius hits of each usable query segment and its
//! rotations and flips, and how specific each seed is to one banked asset (a segment
//! that hits many assets shows what they share: an intro, a studio card).

use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

use super::{Match, MatchOptions, QuerySegment};
use crate::bank::BankRead;
use crate::fingerprint::{Dihedral, Hash256};
use crate::model::{AssetId, SegmentRef};

/// One banked segment within the strict radius of one query segment's variant.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    pub q: usize,
    pub seg: SegmentRef,
    pub distance: u32,
    pub transform: Dihedral,
    /// The delivered or the banked segment is faint: evidence only on a time line.
    pub faint: bool,
}

/// The weight of each seeding query segment: 1 when it hits at most `common_assets`
/// banked assets, and `common_assets / n` when it hits `n` of them, more than that.
pub(super) fn seed_weights(
    hits: &[Hit],
    cleared: &HashSet<usize>,
    is_ignore: &dyn Fn(&AssetId) -> bool,
    common_assets: usize,
) -> HashMap<usize, f64> {
    let mut assets_hit: HashMap<usize, HashSet<AssetId>> = HashMap::new();
    for h in hits
        .iter()
        .filter(|h| !cleared.contains(&h.q) && !is_ignore(&h.seg.asset))
    {
        assets_hit.entry(h.q).or_default().insert(h.seg.asset);
    }
    let k = common_assets.max(1) as f64;
    assets_hit
        .into_iter()
        .map(|(q, assets)| (q, (k / assets.len() as f64).min(1.0)))
        .collect()
}

/// Mean weight of the seeding segments a match rests on, by their duration: those
/// inside its delivered range (for a still, the still's own segment). 1 when none is
/// known.
pub(super) fn specificity(
    m: &Match,
    segments: &[QuerySegment],
    weights: &HashMap<usize, f64>,
) -> f64 {
    let inside = |q: &QuerySegment| match (m.query.start_s, m.query.end_s, q.segment.start_s) {
        (Some(s), Some(e), Some(t)) => t >= s - 1e-6 && t < e,
        (None, _, _) => true,
        _ => false,
    };
    let (mut weighted, mut total) = (0.0, 0.0);
    for (i, q) in segments.iter().enumerate().filter(|(_, q)| inside(q)) {
        if let Some(w) = weights.get(&i) {
            let seconds = match (q.segment.start_s, q.segment.end_s) {
                (Some(s), Some(e)) if e > s => e - s,
                _ => 1.0,
            };
            weighted += w * seconds;
            total += seconds;
        }
    }
    if total > 0.0 {
        weighted / total
    } else {
        1.0
    }
}

/// Strict-radius hits for every query segment that can be evidence and its variants,
/// searched in parallel on the caller's pool (a long delivery has thousands of segments,
/// eight queries each). Faint segments are searched only for a video, whose hits can
/// be checked against a time line.
pub(super) fn seed(
    bank: &dyn BankRead,
    segments: &[QuerySegment],
    opts: &MatchOptions,
) -> Vec<Hit> {
    let floor = opts.floor_for(segments.iter().any(|q| q.segment.start_s.is_some()));
    segments
        .par_iter()
        .enumerate()
        .filter(|(_, q)| q.segment.quality >= floor)
        .flat_map_iter(|(qi, q)| seed_one(bank, qi, q, floor, opts))
        .collect()
}

fn seed_one(
    bank: &dyn BankRead,
    qi: usize,
    q: &QuerySegment,
    floor: u8,
    opts: &MatchOptions,
) -> Vec<Hit> {
    let variants: Vec<(Dihedral, Hash256)> = q
        .variants
        .iter()
        .filter(|(t, _)| opts.dihedral || *t == Dihedral::Identity)
        .copied()
        .collect();
    let hashes: Vec<Hash256> = variants.iter().map(|(_, h)| *h).collect();
    bank.search(&hashes, opts.max_distance)
        .into_iter()
        .filter(|hit| hit.quality >= floor)
        .map(|hit| Hit {
            q: qi,
            seg: hit.segment,
            distance: hit.distance,
            transform: variants[hit.query].0,
            faint: opts.is_faint(q.segment.quality) || opts.is_faint(hit.quality),
        })
        .collect()
}
