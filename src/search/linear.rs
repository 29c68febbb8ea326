//! The exact linear scan: four 64-bit XOR-popcounts per comparison, split across the
//! rayon pool the caller runs in.

use rayon::prelude::*;

use super::{HammingIndex, Hit};
use crate::fingerprint::Hash256;
use crate::model::{AssetId, SegmentRef};

/// Hashes and their owners in two parallel arrays, so the scan streams 32-byte hashes
/// and touches owners only on a hit.
#[derive(Debug, Default, Clone)]
pub struct LinearIndex {
    hashes: Vec<[u64; 4]>,
    owners: Vec<(SegmentRef, u8)>,
}

/// Below this many hashes a scan stays on one thread; splitting costs more than it buys.
const PARALLEL_MIN: usize = 1 << 14;
const CHUNK: usize = 1 << 13;

impl LinearIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn scan_range(&self, start: usize, queries: &[[u64; 4]], radius: u32, out: &mut Vec<Hit>) {
        let end = (start + CHUNK).min(self.hashes.len());
        for (offset, h) in self.hashes[start..end].iter().enumerate() {
            for (qi, q) in queries.iter().enumerate() {
                let d = (h[0] ^ q[0]).count_ones()
                    + (h[1] ^ q[1]).count_ones()
                    + (h[2] ^ q[2]).count_ones()
                    + (h[3] ^ q[3]).count_ones();
                if d <= radius {
                    let (segment, quality) = self.owners[start + offset];
                    out.push(Hit {
                        query: qi,
                        segment,
                        distance: d,
                        quality,
                    });
                }
            }
        }
    }
}

impl HammingIndex for LinearIndex {
    fn insert(&mut self, segment: SegmentRef, hash: Hash256, quality: u8) {
        self.hashes.push(hash.words);
        self.owners.push((segment, quality));
    }

    fn remove_asset(&mut self, asset: AssetId) {
        let mut keep = self.owners.iter().map(|(o, _)| o.asset != asset);
        self.hashes.retain(|_| keep.next().unwrap_or(true));
        self.owners.retain(|(o, _)| o.asset != asset);
    }

    fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        let queries: Vec<[u64; 4]> = queries.iter().map(|q| q.words).collect();
        let starts = (0..self.hashes.len()).step_by(CHUNK);
        if self.hashes.len() < PARALLEL_MIN {
            let mut out = Vec::new();
            for start in starts {
                self.scan_range(start, &queries, radius, &mut out);
            }
            return out;
        }
        starts
            .collect::<Vec<_>>()
            .into_par_iter()
            .fold(Vec::new, |mut out, start| {
                self.scan_range(start, &queries, radius, &mut out);
                out
            })
            .reduce(Vec::new, |mut a, mut b| {
                a.append(&mut b);
                a
            })
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }

    fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self.owners.capacity() * std::mem::size_of::<(SegmentRef, u8)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(a: u64, i: u32) -> SegmentRef {
        SegmentRef {
            asset: AssetId(a),
            index: i,
        }
    }

    #[test]
    fn finds_exactly_the_hashes_within_radius() {
        let base: Hash256 = "a5".repeat(32).parse().unwrap();
        let mut idx = LinearIndex::new();
        for d in 0..40u32 {
            let mut h = base;
            for b in 0..d as usize {
                h.words[b / 64] ^= 1 << (b % 64);
            }
            idx.insert(seg(1, d), h, 100);
        }
        let mut hits = idx.search(&[base], 31);
        hits.sort();
        assert_eq!(hits.len(), 32);
        assert!(hits.iter().all(|h| h.distance == h.segment.index));
    }

    #[test]
    fn remove_asset_drops_only_that_asset() {
        let mut idx = LinearIndex::new();
        idx.insert(seg(1, 0), Hash256::default(), 100);
        idx.insert(seg(2, 0), Hash256::default(), 100);
        idx.insert(seg(1, 1), Hash256::default(), 100);
        idx.remove_asset(AssetId(1));
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.search(&[Hash256::default()], 0)[0].segment, seg(2, 0));
    }
}
