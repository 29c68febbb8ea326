//! The keypoint index: the bank's keypoints in memory, looked up by locality-sensitive
//! hashing on disjoint 16-bit slices of the descriptor. It returns each banked sample
//! that shares enough of a delivered sample's keypoints; whether their positions agree
//! is matching's question (`matching::local`), not the index's. A bank keeps the same
//! tables on disk (`bank::keypoints`); [`FeatureSearch`] is what matching asks of either.

use crate::fingerprint::keypoints::{FeatureSample, Keypoint};

/// Descriptor distance (of 256 bits) up to which two keypoints may be the same corner.
pub(crate) const MAX_DESCRIPTOR_DISTANCE: u32 = 56;
/// How many 16-bit slices of the descriptor are tables: two corners 40 bits apart
/// share one of 8 slices with probability 0.42, unrelated ones each slice 1 in 65,536.
pub(crate) const TABLES: usize = 8;
/// A bucket holding more keypoints than this, or than 16 times the mean of a uniform
/// spread (a 4096th of all), is passed over.
const CROWDED_BUCKET: usize = 256;
/// A banked sample needs this many descriptor matches before its geometry is tried.
pub const MIN_MATCHES: usize = 8;
/// A banked sample in the index: its owner (an asset) and time.
#[derive(Debug, Clone, Copy)]
pub struct IndexedSample {
    pub owner: u64,
    pub time_s: f64,
    /// The picture's size in base pixels.
    pub base: (f32, f32),
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

/// A delivered keypoint and the banked keypoint its descriptor is close to.
#[derive(Debug, Clone, Copy)]
pub struct KeypointPair {
    pub query: Keypoint,
    pub bank: Keypoint,
    /// Descriptor distance, of 256 bits.
    pub distance: u32,
}

/// A banked sample that shares at least [`MIN_MATCHES`] keypoints with a delivered one.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub sample: IndexedSample,
    /// Each delivered keypoint paired with its closest banked keypoint in the sample.
    pub pairs: Vec<KeypointPair>,
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

    /// The banked samples that share at least [`MIN_MATCHES`] keypoints with `query`,
    /// in the order of their sample numbers.
    pub fn candidates(&self, query: &FeatureSample) -> Vec<Candidate> {
        if self.order.is_empty() {
            return Vec::new();
        }
        let mut pairs: Vec<Pairing<u32>> = Vec::new();
        let crowded = crowded_limit(self.keypoints.len() as u64);
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
                    let bank = self.keypoints[bi as usize];
                    let d = q.distance(&bank);
                    if d <= MAX_DESCRIPTOR_DISTANCE {
                        pairs.push(Pairing {
                            sample: self.sample_of[bi as usize],
                            query: qi as u32,
                            distance: d,
                            bank_number: bi,
                            bank,
                        });
                    }
                }
            }
        }
        let found: Result<_, std::convert::Infallible> =
            group_pairs(pairs, query, |s| Ok(self.samples[s as usize]));
        found.unwrap_or_else(|never| match never {})
    }
}

/// A delivered keypoint paired with a banked one of sample `sample` (in whatever
/// numbering orders samples as the bank does: owner, then time).
pub(crate) struct Pairing<S> {
    pub sample: S,
    pub query: u32,
    pub distance: u32,
    /// Orders the banked keypoints of one sample as they were banked.
    pub bank_number: u32,
    pub bank: Keypoint,
}

/// The pairs grouped into candidates: within a sample each delivered keypoint keeps its
/// closest banked one (the first banked of those equally close, so that any order of
/// reading the buckets pairs the same), and a sample needs [`MIN_MATCHES`] of them.
pub(crate) fn group_pairs<S: Ord + Copy, E>(
    mut pairs: Vec<Pairing<S>>,
    query: &FeatureSample,
    mut sample: impl FnMut(S) -> Result<IndexedSample, E>,
) -> Result<Vec<Candidate>, E> {
    pairs.sort_unstable_by_key(|p| (p.sample, p.query, p.distance, p.bank_number));
    pairs.dedup_by_key(|p| (p.sample, p.query));
    pairs
        .chunk_by(|a, b| a.sample == b.sample)
        .filter(|group| group.len() >= MIN_MATCHES)
        .map(|group| {
            Ok(Candidate {
                sample: sample(group[0].sample)?,
                pairs: group
                    .iter()
                    .map(|p| KeypointPair {
                        query: query.keypoints[p.query as usize],
                        bank: p.bank,
                        distance: p.distance,
                    })
                    .collect(),
            })
        })
        .collect()
}

/// How many keypoints a bucket may hold before it is passed over, for an index of
/// `total` keypoints. A slice value shared by many keypoints (flat patches make some far
/// commoner than others) says little and costs much.
pub(crate) fn crowded_limit(total: u64) -> usize {
    ((total >> 12) as usize).max(CROWDED_BUCKET)
}

/// Slice `t` of a keypoint's descriptor: 16 bits, disjoint from the other tables'.
pub(crate) fn slice(k: &Keypoint, t: usize) -> u16 {
    (k.descriptor[t / 4] >> ((t % 4) * 16)) as u16
}
