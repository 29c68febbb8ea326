//! The keypoint index: the bank's keypoints in memory, looked up by locality-sensitive
//! hashing on disjoint 16-bit slices of the descriptor. It returns each banked sample
//! that shares enough of a delivered sample's keypoints; whether their positions agree
//! is matching's question (`matching::local`), not the index's.

use crate::fingerprint::keypoints::{FeatureSample, Keypoint};

/// Descriptor distance (of 256 bits) up to which two keypoints may be the same corner.
const MAX_DESCRIPTOR_DISTANCE: u32 = 56;
/// How many 16-bit slices of the descriptor are tables: two corners 40 bits apart
/// share one of 8 slices with probability 0.42, unrelated ones each slice 1 in 65,536.
const TABLES: usize = 8;
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
        pairs
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|group| group.len() >= MIN_MATCHES)
            .map(|group| Candidate {
                sample: self.samples[group[0].0 as usize],
                pairs: group
                    .iter()
                    .map(|&(_, qi, bi, distance)| KeypointPair {
                        query: query.keypoints[qi as usize],
                        bank: self.keypoints[bi as usize],
                        distance,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Slice `t` of a keypoint's descriptor: 16 bits, disjoint from the other tables'.
fn slice(k: &Keypoint, t: usize) -> u16 {
    (k.descriptor[t / 4] >> ((t % 4) * 16)) as u16
}
