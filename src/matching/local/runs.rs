//! The time step: hits chained along one offset between delivered and banked time and
//! one geometry.

use std::collections::HashMap;

use super::geometry::Mapping;
use super::index::SampleHit;
use crate::fingerprint::keypoints::BANK_STEP_S;

/// A run of delivered samples that show one banked asset at one offset in time and
/// one geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRun {
    pub owner: u64,
    /// The banked picture's size in base pixels.
    pub bank_base: (f32, f32),
    /// Times of the first and last delivered samples in the run.
    pub first_s: f64,
    pub last_s: f64,
    /// Banked time minus delivered time: the offset whose hits hold the most agreeing
    /// keypoints ([`best_run`]).
    pub offset_s: f64,
    /// How many delivered samples are evidence.
    pub samples: usize,
    /// The median mapping over the run's hits.
    pub mapping: Mapping,
    pub median_inliers: usize,
    pub median_distance: u32,
}

/// What makes a chain of hits a run.
#[derive(Debug, Clone, Copy)]
pub struct RunRules {
    /// Longest stretch of delivered time without a hit inside a run.
    pub max_gap_s: f64,
    /// Fewest delivered samples in a run.
    pub min_samples: usize,
    /// Shortest run, first to last sample.
    pub min_span_s: f64,
    /// Banked samples are this far apart in time.
    pub bank_step_s: f64,
}

impl Default for RunRules {
    fn default() -> Self {
        RunRules {
            max_gap_s: 1.5,
            min_samples: 5,
            min_span_s: 1.5,
            bank_step_s: BANK_STEP_S,
        }
    }
}

/// Chains hits into runs: per banked asset, the best run ([`best_run`]), then again
/// over the delivered time outside it, while a run qualifies. `hits` pairs each
/// delivered sample's time with what it hit.
pub fn runs(hits: &[(f64, SampleHit)], rules: RunRules) -> Vec<LocalRun> {
    let mut by_owner: HashMap<u64, Vec<(f64, SampleHit)>> = HashMap::new();
    for &(t, h) in hits {
        by_owner.entry(h.owner).or_default().push((t, h));
    }
    let mut owners: Vec<u64> = by_owner.keys().copied().collect();
    owners.sort_unstable();
    let mut out = Vec::new();
    for owner in owners {
        let mut left = by_owner.remove(&owner).unwrap_or_default();
        left.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.bank_time_s.total_cmp(&b.1.bank_time_s))
        });
        while let Some(found) = best_run(&left, rules) {
            left.retain(|(t, _)| *t < found.first_s || *t > found.last_s);
            out.push(found);
        }
    }
    out.sort_by(|a, b| a.first_s.total_cmp(&b.first_s).then(a.owner.cmp(&b.owner)));
    out
}

/// The hits along one offset: per delivered sample, its hit on the banked sample
/// nearest to its time plus `offset` (within half a banked step), and, of those, the
/// ones whose mapping agrees with their median (scales within a tenth, shifts within
/// [`SHIFT_TOLERANCE`]), with that median.
fn along(
    hits: &[(f64, SampleHit)],
    offset: f64,
    rules: RunRules,
) -> (Vec<(f64, SampleHit)>, Option<Mapping>) {
    let mut nearest: Vec<(f64, SampleHit)> = Vec::new();
    for group in hits.chunk_by(|a, b| a.0 == b.0) {
        let miss = |h: &&(f64, SampleHit)| (h.1.bank_time_s - h.0 - offset).abs();
        if let Some(h) = group
            .iter()
            .filter(|h| miss(h) <= rules.bank_step_s / 2.0)
            .min_by(|a, b| miss(a).total_cmp(&miss(b)))
        {
            nearest.push(*h);
        }
    }
    if nearest.is_empty() {
        return (nearest, None);
    }
    let median_of = |get: &dyn Fn(&Mapping) -> f32| {
        let mut v: Vec<f32> = nearest.iter().map(|h| get(&h.1.mapping)).collect();
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let median = Mapping {
        sx: median_of(&|m| m.sx),
        sy: median_of(&|m| m.sy),
        tx: median_of(&|m| m.tx),
        ty: median_of(&|m| m.ty),
    };
    nearest.retain(|h| {
        let m = h.1.mapping;
        (m.sx / median.sx - 1.0).abs() <= 0.1
            && (m.sy / median.sy - 1.0).abs() <= 0.1
            && (m.tx - median.tx).abs() <= SHIFT_TOLERANCE
            && (m.ty - median.ty).abs() <= SHIFT_TOLERANCE
    });
    (nearest, Some(median))
}

/// How well an offset explains the hits: the agreeing keypoints along it.
fn support(hits: &[(f64, SampleHit)], offset: f64, rules: RunRules) -> usize {
    along(hits, offset, rules)
        .0
        .iter()
        .map(|h| h.1.inliers)
        .sum()
}

/// The run the hits of one banked asset support best.
///
/// The offset between delivered and banked time is the one whose hits hold the most
/// keypoints that agree on one geometry ([`along`]). A delivered sample's own best hit
/// is a poor guide: in a slow shot or a pan, banked samples seconds apart look alike,
/// but only at the right offset does the picture sit in the same place sample after
/// sample. Candidates are the offsets with the most hits near them, then
/// refined on a 0.05 s grid (ties give the middle of the best). The run is the longest
/// chain of agreeing samples without a gap over `max_gap_s`.
fn best_run(hits: &[(f64, SampleHit)], rules: RunRules) -> Option<LocalRun> {
    let offset = |(t, h): &(f64, SampleHit)| h.bank_time_s - t;
    let grid = |d: f64| (d / 0.05).round() as i64;
    // Candidates: the offsets (on the grid) with the most hits near them.
    let mut sorted: Vec<f64> = hits.iter().map(offset).collect();
    sorted.sort_by(f64::total_cmp);
    let mut offsets: Vec<i64> = sorted.iter().map(|&d| grid(d)).collect();
    offsets.dedup();
    let half = rules.bank_step_s / 2.0;
    let near = |d: f64| {
        sorted.partition_point(|&o| o <= d + half) - sorted.partition_point(|&o| o < d - half)
    };
    let mut counted: Vec<(usize, i64)> = offsets
        .iter()
        .map(|&k| (near(k as f64 * 0.05), k))
        .collect();
    counted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut best: Option<(usize, i64)> = None;
    for &(_, k) in counted.iter().take(CANDIDATE_OFFSETS) {
        let score = support(hits, k as f64 * 0.05, rules);
        if best.is_none_or(|(s, b)| score > s || (score == s && k < b)) {
            best = Some((score, k));
        }
    }
    let (_, centre) = best?;
    // Refined: the middle of the best offsets within half a banked step.
    let reach = (rules.bank_step_s / 2.0 / 0.05).round() as i64;
    let mut top = (0usize, Vec::new());
    for k in centre - reach..=centre + reach {
        let score = support(hits, k as f64 * 0.05, rules);
        if score > top.0 {
            top = (score, vec![k]);
        } else if score == top.0 {
            top.1.push(k);
        }
    }
    let offset_s = top.1.iter().sum::<i64>() as f64 * 0.05 / top.1.len().max(1) as f64;
    let (agreeing, mapping) = along(hits, offset_s, rules);
    let mapping = mapping?;
    let chain = agreeing
        .chunk_by(|a, b| b.0 - a.0 <= rules.max_gap_s)
        .max_by_key(|c| (c.len(), std::cmp::Reverse(grid(c[0].0))))?;
    let (first_s, last_s) = (chain[0].0, chain[chain.len() - 1].0);
    if chain.len() < rules.min_samples || last_s - first_s < rules.min_span_s {
        return None;
    }
    let mut inliers: Vec<usize> = chain.iter().map(|h| h.1.inliers).collect();
    inliers.sort_unstable();
    let mut distances: Vec<u32> = chain.iter().map(|h| h.1.distance).collect();
    distances.sort_unstable();
    Some(LocalRun {
        owner: chain[0].1.owner,
        bank_base: chain[0].1.bank_base,
        first_s,
        last_s,
        offset_s,
        samples: chain.len(),
        mapping,
        median_inliers: inliers[inliers.len() / 2],
        median_distance: distances[distances.len() / 2],
    })
}

/// How far apart, in delivered base pixels, two samples' shifts may be and still be one
/// geometry. In a steady pan, shift and time trade off (the banked picture a moment
/// later sits a little further along), so this bounds how far off in time a run in a
/// pan can be placed: 6 pixels is a second of a slow pan.
const SHIFT_TOLERANCE: f32 = 6.0;

/// How many of the best-supported offsets are scored in full.
const CANDIDATE_OFFSETS: usize = 24;
