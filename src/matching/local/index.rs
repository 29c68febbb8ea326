//! The step between the keypoint index and the runs: each banked sample the index
//! offers (it shares enough keypoints with a delivered sample) is kept when one mapping
//! agrees with most of its pairs.

use super::geometry::{fit, Mapping, Pair};
use crate::bank::{BankError, FeatureSearch};
use crate::fingerprint::keypoints::FeatureSample;
use crate::search::Candidate;

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

/// The banked samples that `query` shows, with their mappings: at most one a banked
/// sample, each with at least [`MIN_INLIERS`](super::MIN_INLIERS) agreeing keypoints.
pub fn sample_hits(
    index: &dyn FeatureSearch,
    query: &FeatureSample,
) -> Result<Vec<SampleHit>, BankError> {
    Ok(fitted(index.candidates(query)?))
}

/// [`sample_hits`] of each of a run of neighbouring samples, searched together
/// ([`FeatureSearch::candidates_of_run`]).
pub fn run_hits(
    index: &dyn FeatureSearch,
    queries: &[FeatureSample],
) -> Result<Vec<Vec<SampleHit>>, BankError> {
    Ok(index
        .candidates_of_run(queries)?
        .into_iter()
        .map(fitted)
        .collect())
}

/// The candidates whose pairs agree on one mapping.
fn fitted(candidates: Vec<Candidate>) -> Vec<SampleHit> {
    let mut hits = Vec::new();
    for candidate in candidates {
        let matches: Vec<Pair> = candidate
            .pairs
            .iter()
            .map(|p| Pair::new(p.query, p.bank, p.distance))
            .collect();
        if let Some((mapping, inliers, distance)) = fit(&matches) {
            let s = candidate.sample;
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
