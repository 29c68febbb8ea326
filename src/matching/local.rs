//! Matching by local features: a delivered video whose frames show a banked picture
//! moved or resized inside the frame (an off-centre reframe, a picture-in-picture
//! inset), which the whole-frame hash cannot see.
//!
//! Three steps, each a filter the next relies on:
//! 1. **Descriptors.** Each keypoint of a delivered sample looks up banked keypoints
//!    with close descriptors ([`FeatureIndex`]: locality-sensitive hashing on disjoint
//!    16-bit slices of the descriptor, then the full distance).
//! 2. **Geometry.** A banked sample that shares enough keypoints is kept only if most
//!    of them agree on one mapping of the banked picture onto the delivered one: a
//!    scale and a shift per axis, found by consensus over pairs of matches
//!    ([`fit`]). Scenes of one show share drawings, colours and backgrounds, so close
//!    descriptors alone are weak evidence; one geometry across dozens of corners is not.
//! 3. **Time.** Samples that agree are chained along the time line ([`runs`]): one
//!    offset between delivered and banked time, one geometry, for seconds on end. The
//!    geometry also fixes the offset: in a pan or a slow shot, banked samples seconds
//!    apart share corners, but the picture sits in the same place only at the right
//!    offset.

use std::collections::HashMap;

use rayon::prelude::*;

use super::{times_overlap, FileMatches};
use crate::bank::{AssetId, Bank, BankError, Label};
use crate::fingerprint::inset::Rect;
use crate::fingerprint::keypoints::{FeatureSample, Keypoint, BANK_STEP_S, QUERY_STEP_S};
use crate::fingerprint::Dihedral;
use crate::report::{BankSide, LocalEvidence, Match, QuerySide};

/// Descriptor distance (of 256 bits) up to which two keypoints may be the same corner.
const MAX_DESCRIPTOR_DISTANCE: u32 = 56;
/// How many 16-bit slices of the descriptor are tables: two corners 40 bits apart
/// share one of 8 slices with probability 0.42, unrelated ones each slice 1 in 65,536.
const TABLES: usize = 8;
/// A bucket holding more keypoints than this, or than 16 times the mean of a uniform
/// spread (a 4096th of all), is passed over.
const CROWDED_BUCKET: usize = 256;
/// A banked sample needs this many descriptor matches before its geometry is tried.
const MIN_MATCHES: usize = 8;
/// ... and this many of them agreeing on one mapping to count as a hit.
pub const MIN_INLIERS: usize = 10;
/// Consensus draws per banked sample, at most and at least.
const DRAWS: usize = 96;
const MIN_DRAWS: usize = 12;

/// A mapping of banked base pixels onto delivered base pixels:
/// `x' = sx·x + tx`, `y' = sy·y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    pub sx: f32,
    pub sy: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Mapping {
    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.sx * x + self.tx, self.sy * y + self.ty)
    }

    /// The geometric mean of the two scales.
    pub fn scale(&self) -> f32 {
        (self.sx * self.sy).sqrt()
    }
}

/// A banked sample in the index: its owner (an asset) and time.
#[derive(Debug, Clone, Copy)]
struct IndexedSample {
    owner: u64,
    time_s: f64,
    /// The picture's size in base pixels.
    base: (f32, f32),
}

/// The banked keypoints, searchable by descriptor.
#[derive(Default)]
pub struct FeatureIndex {
    keypoints: Vec<Keypoint>,
    /// For each keypoint, its sample's number.
    sample_of: Vec<u32>,
    samples: Vec<IndexedSample>,
    /// Per table: keypoint numbers ordered by their slice, and where each slice value's
    /// run starts (65,537 offsets).
    order: Vec<Vec<u32>>,
    starts: Vec<Vec<u32>>,
}

/// One banked sample that a delivered sample shows.
#[derive(Debug, Clone, Copy)]
pub struct SampleHit {
    pub owner: u64,
    pub bank_time_s: f64,
    /// The banked picture's size in base pixels.
    pub bank_base: (f32, f32),
    pub inliers: usize,
    pub mapping: Mapping,
    /// Median descriptor distance over the agreeing keypoints.
    pub distance: u32,
}

impl FeatureIndex {
    pub fn new() -> FeatureIndex {
        FeatureIndex::default()
    }

    /// Adds one asset's samples. [`FeatureIndex::build`] must run before searching.
    pub fn add(&mut self, owner: u64, samples: &[FeatureSample]) {
        for s in samples {
            let n = self.samples.len() as u32;
            let (w, h) = s.base();
            self.samples.push(IndexedSample {
                owner,
                time_s: s.time_s,
                base: (w as f32, h as f32),
            });
            self.keypoints.extend_from_slice(&s.keypoints);
            self.sample_of
                .extend(std::iter::repeat_n(n, s.keypoints.len()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keypoints.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keypoints.len()
    }

    /// Sorts the keypoints into the tables (a counting sort per table).
    pub fn build(&mut self) {
        self.order.clear();
        self.starts.clear();
        for t in 0..TABLES {
            let mut starts = vec![0u32; (1 << 16) + 1];
            for k in &self.keypoints {
                starts[usize::from(slice(k, t)) + 1] += 1;
            }
            for i in 1..starts.len() {
                starts[i] += starts[i - 1];
            }
            let mut fill = starts.clone();
            let mut order = vec![0u32; self.keypoints.len()];
            for (i, k) in self.keypoints.iter().enumerate() {
                let s = usize::from(slice(k, t));
                order[fill[s] as usize] = i as u32;
                fill[s] += 1;
            }
            self.order.push(order);
            self.starts.push(starts);
        }
    }

    /// The banked samples that `query` shows, with their mappings: at most one a
    /// banked sample, each with at least [`MIN_INLIERS`] agreeing keypoints.
    pub fn search(&self, query: &FeatureSample) -> Vec<SampleHit> {
        if self.order.is_empty() {
            return Vec::new();
        }
        // (sample, query keypoint, banked keypoint, distance)
        let mut pairs: Vec<(u32, u32, u32, u32)> = Vec::new();
        // A slice value shared by many keypoints (flat patches make some far commoner
        // than others) says little and costs much: such buckets are passed over.
        let crowded = (self.keypoints.len() >> 12).max(CROWDED_BUCKET);
        for (qi, q) in query.keypoints.iter().enumerate() {
            for t in 0..TABLES {
                let s = usize::from(slice(q, t));
                let (a, b) = (self.starts[t][s] as usize, self.starts[t][s + 1] as usize);
                if b - a > crowded {
                    continue;
                }
                // A keypoint found through several tables is paired more than once;
                // the pairs are deduplicated below.
                for &bi in &self.order[t][a..b] {
                    let d = q.distance(&self.keypoints[bi as usize]);
                    if d <= MAX_DESCRIPTOR_DISTANCE {
                        pairs.push((self.sample_of[bi as usize], qi as u32, bi, d));
                    }
                }
            }
        }
        pairs.sort_unstable_by_key(|&(s, q, _, d)| (s, q, d));
        // Within a sample, each delivered keypoint keeps its closest banked one.
        pairs.dedup_by_key(|p| (p.0, p.1));
        let mut hits = Vec::new();
        for group in pairs.chunk_by(|a, b| a.0 == b.0) {
            if group.len() < MIN_MATCHES {
                continue;
            }
            let matches: Vec<Pair> = group
                .iter()
                .map(|&(_, qi, bi, d)| {
                    Pair::new(query.keypoints[qi as usize], self.keypoints[bi as usize], d)
                })
                .collect();
            if let Some((mapping, inliers, distance)) = fit(&matches) {
                let s = self.samples[group[0].0 as usize];
                hits.push(SampleHit {
                    owner: s.owner,
                    bank_time_s: s.time_s,
                    bank_base: s.base,
                    inliers,
                    mapping,
                    distance,
                });
            }
        }
        hits
    }
}

/// Slice `t` of a keypoint's descriptor: 16 bits, disjoint from the other tables'.
fn slice(k: &Keypoint, t: usize) -> u16 {
    (k.descriptor[t / 4] >> ((t % 4) * 16)) as u16
}

/// A delivered keypoint and the banked one its descriptor is close to.
#[derive(Debug, Clone, Copy)]
struct Pair {
    q: Keypoint,
    b: Keypoint,
    distance: u32,
    /// The delivered corner's patch size, and over the banked one's.
    q_size: f32,
    size_ratio: f32,
}

impl Pair {
    fn new(q: Keypoint, b: Keypoint, distance: u32) -> Pair {
        Pair {
            q,
            b,
            distance,
            q_size: q.size(),
            size_ratio: q.size() / b.size(),
        }
    }
}

/// The mapping most pairs agree on, with how many agree and their median descriptor
/// distance; `None` when fewer than [`MIN_INLIERS`] do.
///
/// Consensus over draws of two pairs (each pair of pairs fixes both scales and both
/// shifts), drawn in a fixed order so that a scan is repeatable; the winner is refitted
/// by least squares over the pairs that agree with it. A pair agrees when the mapping
/// puts its banked corner within a few pixels of its delivered one (more at coarser
/// levels, where corners are placed less finely) and their patch sizes fit the scale.
fn fit(pairs: &[Pair]) -> Option<(Mapping, usize, u32)> {
    let n = pairs.len();
    let mut best: Option<(Mapping, usize)> = None;
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ n as u64;
    let mut draw = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    // Draws stop once a draw of two agreeing pairs would have come up with 99 %
    // probability, given the share that agrees with the best so far.
    let mut needed = DRAWS;
    let mut drawn = 0;
    while drawn < needed {
        drawn += 1;
        let (i, j) = (draw(), draw());
        let Some(m) = mapping_of(&pairs[i], &pairs[j]) else {
            continue;
        };
        let count = pairs.iter().filter(|p| agrees(&m, p)).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((m, count));
            let share = count as f64 / n as f64;
            let miss = 1.0 - share * share;
            if miss <= 0.0 {
                break;
            }
            needed = ((0.01f64.ln() / miss.ln()).ceil() as usize).clamp(MIN_DRAWS, DRAWS);
        }
    }
    let (m, _) = best?;
    let refit = least_squares(pairs.iter().filter(|p| agrees(&m, p)))?;
    let mapping = if plausible(&refit) { refit } else { m };
    let agreeing: Vec<&Pair> = pairs.iter().filter(|p| agrees(&mapping, p)).collect();
    if agreeing.len() < MIN_INLIERS {
        return None;
    }
    let mut d: Vec<u32> = agreeing.iter().map(|p| p.distance).collect();
    d.sort_unstable();
    Some((mapping, agreeing.len(), d[d.len() / 2]))
}

/// The mapping two pairs fix, if they are far enough apart on both axes to fix it and
/// it is one a delivery could show.
fn mapping_of(a: &Pair, b: &Pair) -> Option<Mapping> {
    let (dbx, dby) = (a.b.x - b.b.x, a.b.y - b.b.y);
    if dbx.abs() < 8.0 || dby.abs() < 8.0 {
        return None;
    }
    let sx = (a.q.x - b.q.x) / dbx;
    let sy = (a.q.y - b.q.y) / dby;
    let m = Mapping {
        sx,
        sy,
        tx: a.q.x - sx * a.b.x,
        ty: a.q.y - sy * a.b.y,
    };
    plausible(&m).then_some(m)
}

/// Scales from a fifth to three times, and no more than a third wider one way than the
/// other (an anamorphic squeeze): no mirror, which the whole-frame hash covers.
fn plausible(m: &Mapping) -> bool {
    let ok = |s: f32| (0.2..=3.0).contains(&s);
    ok(m.sx) && ok(m.sy) && (0.75..=1.34).contains(&(m.sx / m.sy))
}

fn agrees(m: &Mapping, p: &Pair) -> bool {
    let (x, y) = m.apply(p.b.x, p.b.y);
    let tolerance = 2.5 * p.q_size;
    let (dx, dy) = (x - p.q.x, y - p.q.y);
    // The patch sizes: a corner seen at a level whose scale is far from the mapping's
    // is a different corner (the scale's square against the sizes', to spare a root).
    let ratio = p.size_ratio * p.size_ratio / (m.sx * m.sy);
    dx * dx + dy * dy <= tolerance * tolerance && (0.62 * 0.62..=1.6 * 1.6).contains(&ratio)
}

/// Least-squares scale and shift per axis over `pairs`.
fn least_squares<'a>(pairs: impl Iterator<Item = &'a Pair>) -> Option<Mapping> {
    let pairs: Vec<&Pair> = pairs.collect();
    let axis = |get: &dyn Fn(&Keypoint) -> f32| -> Option<(f32, f32)> {
        let n = pairs.len() as f64;
        let (mut sb, mut sq, mut sbb, mut sbq) = (0f64, 0f64, 0f64, 0f64);
        for p in &pairs {
            let (b, q) = (f64::from(get(&p.b)), f64::from(get(&p.q)));
            sb += b;
            sq += q;
            sbb += b * b;
            sbq += b * q;
        }
        let var = sbb - sb * sb / n;
        if n < 2.0 || var <= 1e-6 {
            return None;
        }
        let s = (sbq - sb * sq / n) / var;
        Some((s as f32, ((sq - s * sb) / n) as f32))
    };
    let (sx, tx) = axis(&|k| k.x)?;
    let (sy, ty) = axis(&|k| k.y)?;
    Some(Mapping { sx, sy, tx, ty })
}

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

/// Adds to `found` the runs by keypoints of a delivered video's `samples` against the
/// banked ones in `index`. A run on an asset labelled `ignore` clears the delivered
/// time it covers for every other asset, as in the hash's negative bank, and is counted,
/// never reported; a run on an asset the whole frame or an inset already matched over
/// overlapping delivered time is not repeated.
pub fn match_by_keypoints(
    bank: &Bank,
    index: &FeatureIndex,
    query_path: &str,
    samples: &[FeatureSample],
    found: &mut FileMatches,
) -> Result<(), BankError> {
    if index.is_empty() || samples.is_empty() {
        return Ok(());
    }
    let hits: Vec<(f64, SampleHit)> = samples
        .par_iter()
        .flat_map_iter(|s| index.search(s).into_iter().map(move |h| (s.time_s, h)))
        .collect();
    let mut candidates = Vec::new();
    let mut cleared: Vec<QuerySide> = Vec::new();
    for run in runs(&hits, RunRules::default()) {
        let Some(asset) = bank.asset(AssetId(run.owner))? else {
            continue;
        };
        let query = QuerySide {
            path: query_path.to_string(),
            start_s: Some((run.first_s - QUERY_STEP_S / 2.0).max(0.0)),
            end_s: Some(run.last_s + QUERY_STEP_S / 2.0),
            frame_rate: None,
        };
        if asset.label == Label::Ignore {
            found.ignored_hits += run.samples;
            cleared.push(query);
            continue;
        }
        candidates.push((run, asset, query));
    }
    let before = found.matches.len();
    for (run, asset, query) in candidates {
        let repeats = found.matches[..before]
            .iter()
            .any(|m| m.bank_asset.digest == asset.digest && times_overlap(&m.query, &query));
        if repeats || cleared.iter().any(|c| times_overlap(c, &query)) {
            continue;
        }
        let Some(sample) = samples
            .iter()
            .find(|s| s.time_s >= run.first_s)
            .or(samples.last())
        else {
            continue;
        };
        let (start, end) = (query.start_s.unwrap_or(0.0), query.end_s.unwrap_or(0.0));
        let expected = ((run.last_s - run.first_s) / QUERY_STEP_S).round() + 1.0;
        let coverage = (run.samples as f64 / expected).min(1.0);
        let (evidence, inset) = placement(&run, sample);
        found.matches.push(Match {
            query,
            bank_asset: BankSide {
                path: asset.path().to_string(),
                label: asset.label,
                source: asset.source.clone(),
                note: asset.note.clone(),
                digest: asset.digest.clone(),
                start_s: Some((start + run.offset_s).max(0.0)),
                end_s: Some((end + run.offset_s).max(0.0)),
                frame_rate: asset.frame_rate,
            },
            score: super::score_for_distance(run.median_distance) * coverage,
            specificity: 1.0,
            distance: run.median_distance,
            median_distance: run.median_distance,
            matched_duration_s: Some((run.samples as f64 * QUERY_STEP_S).min(end - start)),
            segments: run.samples as u32,
            rate: Some(1.0),
            transform: Dihedral::Identity,
            bank_crop: None,
            query_inset: inset,
            faint_only: false,
            secondary_distance: None,
            local: Some(evidence),
        });
    }
    Ok(())
}

/// Where the two pictures of a run lie on each other: the evidence for the report,
/// and, when the banked picture fills less than most of the delivered one, its place in
/// the delivered frame (an inset).
fn placement(run: &LocalRun, sample: &FeatureSample) -> (LocalEvidence, Option<Rect>) {
    let m = run.mapping;
    let (qw, qh) = sample.base();
    let (qw, qh) = (qw as f32, qh as f32);
    let (bw, bh) = run.bank_base;
    // The delivered picture's corners, in banked base pixels.
    let fraction = |v: f32, len: f32| f64::from((v / len).clamp(0.0, 1.0));
    let bank_area = [
        fraction(-m.tx / m.sx, bw),
        fraction(-m.ty / m.sy, bh),
        fraction((qw - m.tx) / m.sx, bw),
        fraction((qh - m.ty) / m.sy, bh),
    ];
    // The banked picture's corners, in delivered base pixels, clipped to the picture.
    let (x0, y0) = (m.tx.clamp(0.0, qw), m.ty.clamp(0.0, qh));
    let (x1, y1) = (
        (m.tx + m.sx * bw).clamp(0.0, qw),
        (m.ty + m.sy * bh).clamp(0.0, qh),
    );
    let covers = (x1 - x0) * (y1 - y0) / (qw * qh);
    let (px, py) = sample.pixels_per_base();
    let inset = (covers < 0.8).then(|| {
        let at = |v: f32, per: f64, origin: usize| (f64::from(v) * per).round() as usize + origin;
        let (left, top) = (at(x0, px, sample.picture.x), at(y0, py, sample.picture.y));
        let (right, bottom) = (at(x1, px, sample.picture.x), at(y1, py, sample.picture.y));
        Rect {
            x: left,
            y: top,
            width: right.saturating_sub(left),
            height: bottom.saturating_sub(top),
        }
    });
    let evidence = LocalEvidence {
        keypoints: run.median_inliers,
        samples: run.samples,
        scale_x: f64::from(m.sx),
        scale_y: f64::from(m.sy),
        bank_area,
    };
    (evidence, inset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypoint(x: f32, y: f32, level: u8, seed: u64) -> Keypoint {
        let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            z
        };
        Keypoint {
            x,
            y,
            level,
            descriptor: [next(), next(), next(), next()],
        }
    }

    fn picture() -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: 370,
            height: 208,
        }
    }

    /// 60 banked corners spread over the picture.
    fn banked(seed: u64) -> Vec<Keypoint> {
        (0..60u64)
            .map(|i| {
                let (x, y) = (20.0 + (i % 10) as f32 * 33.0, 20.0 + (i / 10) as f32 * 30.0);
                keypoint(x, y, 0, seed * 1000 + i)
            })
            .collect()
    }

    /// The banked corners as a delivery shows them under `m`, those falling outside the
    /// delivered picture dropped, with 20 unrelated corners added.
    fn delivered(bank: &[Keypoint], m: Mapping, level: u8, seed: u64) -> Vec<Keypoint> {
        let mut out: Vec<Keypoint> = bank
            .iter()
            .filter_map(|k| {
                let (x, y) = m.apply(k.x, k.y);
                ((0.0..370.0).contains(&x) && (0.0..208.0).contains(&y)).then_some(Keypoint {
                    x,
                    y,
                    level,
                    ..*k
                })
            })
            .collect();
        out.extend((0..20).map(|i| keypoint(i as f32 * 17.0, 100.0, 0, seed + 7_000 + i)));
        out
    }

    const REFRAME: Mapping = Mapping {
        sx: 1.25,
        sy: 1.25,
        tx: -18.5,
        ty: -41.6,
    };

    #[test]
    fn a_reframed_sample_finds_its_banked_sample_and_mapping() {
        let mut index = FeatureIndex::new();
        let sample = |t: f64, keypoints| FeatureSample {
            time_s: t,
            picture: picture(),
            keypoints,
        };
        index.add(7, &[sample(3.0, banked(1)), sample(3.5, banked(2))]);
        index.add(9, &[sample(0.0, banked(3))]);
        index.build();
        // Level 1 delivered against level 0 banked: a corner 1.25 times the size.
        let query = sample(0.25, delivered(&banked(2), REFRAME, 1, 5));
        let hits = index.search(&query);
        assert_eq!(hits.len(), 1, "{hits:?}");
        let h = hits[0];
        assert_eq!((h.owner, h.bank_time_s), (7, 3.5));
        assert!(h.inliers >= 30, "{h:?}");
        assert!((h.mapping.sx - 1.25).abs() < 0.01 && (h.mapping.tx + 18.5).abs() < 0.5);
        assert!((h.mapping.sy - 1.25).abs() < 0.01 && (h.mapping.ty + 41.6).abs() < 0.5);
    }

    #[test]
    fn corners_that_match_without_one_geometry_are_no_hit() {
        let bank = banked(4);
        // Every banked corner present, each moved on its own.
        let scattered: Vec<Pair> = bank
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let q = Keypoint {
                    x: (i as f32 * 97.0) % 370.0,
                    y: (i as f32 * 61.0) % 208.0,
                    ..*k
                };
                Pair::new(q, *k, 0)
            })
            .collect();
        assert_eq!(fit(&scattered), None);
    }

    fn hit(owner: u64, bank_time_s: f64, inliers: usize, m: Mapping) -> SampleHit {
        SampleHit {
            owner,
            bank_time_s,
            bank_base: (370.0, 208.0),
            inliers,
            mapping: m,
            distance: 20,
        }
    }

    #[test]
    fn hits_along_one_offset_and_geometry_make_a_run_and_stray_ones_do_not() {
        let mut hits = Vec::new();
        for i in 0..24 {
            let t = 2.0 + f64::from(i) * 0.25;
            // The banked sample nearest delivered time plus 10.1 s, on its 0.5 s grid,
            // and a neighbour that a slow shot makes look alike.
            let b = ((t + 10.1) / 0.5).round() * 0.5;
            hits.push((t, hit(3, b, 40, REFRAME)));
            hits.push((t, hit(3, b + 0.5, 30, REFRAME)));
        }
        // Strays: another asset now and then, and the same asset at random times.
        for i in 0..6 {
            let t = f64::from(i) * 1.75;
            hits.push((t, hit(4, 50.0 - t, 12, REFRAME)));
            hits.push((t + 0.25, hit(3, f64::from(i * 7 % 5) * 3.0, 12, REFRAME)));
        }
        hits.sort_by(|a, b| a.0.total_cmp(&b.0));
        let found = runs(&hits, RunRules::default());
        assert_eq!(found.len(), 1, "{found:#?}");
        let r = &found[0];
        assert_eq!(
            (r.owner, r.first_s, r.last_s, r.samples),
            (3, 2.0, 7.75, 24)
        );
        assert!((r.offset_s - 10.1).abs() <= 0.15, "{r:?}");
        assert_eq!(r.mapping, REFRAME);
    }

    #[test]
    fn a_run_needs_one_geometry() {
        // The right offset throughout, but each sample maps the picture somewhere else:
        // pictures that share drawings, not one copied.
        let hits: Vec<(f64, SampleHit)> = (0..24)
            .map(|i| {
                let t = f64::from(i) * 0.25;
                let m = Mapping {
                    tx: f64::from(i * 37 % 7) as f32 * 25.0,
                    ..REFRAME
                };
                (t, hit(3, t + 5.0, 30, m))
            })
            .collect();
        assert!(runs(&hits, RunRules::default()).is_empty());
    }
}
