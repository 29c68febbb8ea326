//! Matching by local features: a delivered video whose frames show a banked picture
//! moved or resized inside the frame (an off-centre reframe, a picture-in-picture
//! inset), which the whole-frame hash cannot see.
//!
//! Three steps, each a filter the next relies on:
//! 1. **Descriptors.** Each keypoint of a delivered sample looks up banked keypoints
//!    with close descriptors ([`FeatureSearch`], in `search`: locality-sensitive
//!    hashing on disjoint 16-bit slices of the descriptor, then the full distance).
//! 2. **Geometry.** A banked sample that shares enough keypoints is kept only if most
//!    of them agree on one mapping of the banked picture onto the delivered one: a
//!    scale and a shift per axis, found by consensus over pairs of matches
//!    (`geometry.rs`). Scenes of one show share drawings, colours and backgrounds, so
//!    close descriptors alone are weak evidence; one geometry across dozens of corners
//!    is not.
//! 3. **Time.** Samples that agree are chained along the time line ([`runs`],
//!    `runs.rs`): one offset between delivered and banked time, one geometry, for
//!    seconds on end. The geometry also fixes the offset: in a pan or a slow shot,
//!    banked samples seconds apart share corners, but the picture sits in the same
//!    place only at the right offset.
//!
//! A delivered still has one sample and no time line: `still.rs` decides on that one
//! sample alone, with a stronger geometric agreement.

mod geometry;
mod index;
mod runs;
mod still;

use rayon::prelude::*;

pub use self::geometry::{Mapping, MIN_INLIERS};
pub use self::index::{run_hits, sample_hits, SampleHit};
pub use self::runs::{runs, LocalRun, RunRules};
pub use self::still::{match_still_by_keypoints, STILL_MIN_KEYPOINTS};
use super::{times_overlap, FileMatches};
use super::{BankSide, LocalEvidence, Match, QuerySide};
use crate::bank::{BankError, BankRead, FeatureSearch};
use crate::fingerprint::inset::Rect;
use crate::fingerprint::keypoints::{FeatureSample, QUERY_STEP_S};
use crate::fingerprint::Dihedral;
use crate::model::{AssetId, Label};

/// How many neighbouring delivered samples (1 s of video) search the keypoint index
/// together, so that the search on disk reads a bucket they share once. Their pairs
/// are held together, so memory grows with it: 8 used a third less CPU than 1 and
/// twice the memory on a 15-hour bank (docs/keypoints-on-disk.md).
const SEARCH_RUN: usize = 4;

/// Adds to `found` the runs by keypoints of a delivered video's `samples` against the
/// banked ones in `index`. A run on an asset labelled `ignore` clears the delivered
/// time it covers for every other asset, as in the hash's negative bank, and is counted,
/// never reported; a run on an asset the whole frame or an inset already matched over
/// overlapping delivered time is not repeated.
pub fn match_by_keypoints(
    bank: &dyn BankRead,
    index: &dyn FeatureSearch,
    query_path: &str,
    samples: &[FeatureSample],
    found: &mut FileMatches,
) -> Result<(), BankError> {
    if index.is_empty() || samples.is_empty() {
        return Ok(());
    }
    let per_sample: Vec<Vec<SampleHit>> = samples
        .par_chunks(SEARCH_RUN)
        .map(|run| run_hits(index, run))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let hits: Vec<(f64, SampleHit)> = samples
        .iter()
        .zip(per_sample)
        .flat_map(|(s, found)| found.into_iter().map(move |h| (s.time_s, h)))
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
            page: None,
            panel: None,
            dpi: None,
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
            bank_asset: BankSide::of(
                &asset,
                Some((start + run.offset_s).max(0.0)),
                Some((end + run.offset_s).max(0.0)),
            ),
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
    let (bank_area, inset) = place(&run.mapping, run.bank_base, sample);
    let evidence = LocalEvidence {
        keypoints: run.median_inliers,
        samples: run.samples,
        scale_x: f64::from(run.mapping.sx),
        scale_y: f64::from(run.mapping.sy),
        bank_area,
    };
    (evidence, inset)
}

/// For a banked picture of `bank_base` base pixels laid by `m` on the delivered
/// `sample`: the part of the banked picture the delivered one shows (fractions, left,
/// top, right, bottom), and, when the banked picture covers under 80 % of the delivered
/// one, where it lies in the delivered frame's pixels.
pub(crate) fn place(
    m: &Mapping,
    (bw, bh): (f32, f32),
    sample: &FeatureSample,
) -> ([f64; 4], Option<Rect>) {
    let (qw, qh) = sample.base();
    let (qw, qh) = (qw as f32, qh as f32);
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
    (bank_area, inset)
}

#[cfg(test)]
mod tests {
    use super::geometry::{fit, Pair};
    use super::*;
    use crate::fingerprint::keypoints::Keypoint;
    use crate::search::FeatureIndex;

    pub(super) fn keypoint(x: f32, y: f32, level: u8, seed: u64) -> Keypoint {
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

    pub(super) fn picture() -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: 370,
            height: 208,
        }
    }

    /// 60 banked corners spread over the picture.
    pub(super) fn banked(seed: u64) -> Vec<Keypoint> {
        (0..60u64)
            .map(|i| {
                let (x, y) = (20.0 + (i % 10) as f32 * 33.0, 20.0 + (i / 10) as f32 * 30.0);
                keypoint(x, y, 0, seed * 1000 + i)
            })
            .collect()
    }

    /// The banked corners as a delivery shows them under `m`, those falling outside the
    /// delivered picture dropped, with 20 unrelated corners added.
    pub(super) fn delivered(bank: &[Keypoint], m: Mapping, level: u8, seed: u64) -> Vec<Keypoint> {
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
        let hits = sample_hits(&index, &query).unwrap();
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
