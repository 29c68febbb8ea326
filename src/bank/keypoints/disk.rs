//! The keypoint index read from the bank's buckets, a window of assets at a time.
//!
//! A delivered keypoint is compared with every banked keypoint of the buckets it falls
//! in, and the pairs close enough are kept until they are grouped by banked sample. A
//! bucket holds a 65,536th of the bank, so those pairs grow with the banked hours, and
//! so would a scan's memory. The buckets are therefore read a window of assets at a
//! time (their entries are in asset order): the pairs of one window are grouped into
//! candidates before the next is read, so what is held at once depends on the window,
//! not on the bank. Grouping is by banked sample, and a sample belongs to one asset,
//! so the candidates are those of the whole bucket, in the same order.
//!
//! The crowded-bucket rule looks at a bucket's whole size, which a window does not
//! see; when the bank spans several windows, each bucket's size is counted (up to the
//! limit) the first time a scan touches it, and remembered.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rocksdb::{DBRawIteratorWithThreadMode, DB};

use super::{decode_bucket_key, sample_key, Bank, FeatureSearch, CF_KEYPOINTS, SAMPLE_BYTES};
use super::{BankError, TAG_COUNT};
use crate::bank::records::{decode_keypoint, KEYPOINT_BYTES};
use crate::fingerprint::keypoints::{FeatureSample, Keypoint};
use crate::search::features::{
    crowded_limit, group_pairs, slice, Pairing, MAX_DESCRIPTOR_DISTANCE, TABLES,
};
use crate::search::{Candidate, IndexedSample};

/// How many banked keypoints a window of assets holds at most (about 30 banked hours
/// at 0.5 s a sample), unless one asset alone has more. A bank within one window is
/// read in one pass; each more window costs a seek a bucket, and sizing the buckets.
pub(crate) const WINDOW_KEYPOINTS: u64 = 1 << 25;
/// A bucket whose size is not known yet.
const UNKNOWN: u32 = u32::MAX;

/// The keypoint index read from the bank's buckets.
pub struct DiskFeatures {
    db: Arc<DB>,
    path: PathBuf,
    total: u64,
    /// The first asset of each window, ascending.
    pub(super) windows: Vec<u64>,
    /// Per bucket (table × slice): how many entries it holds, up to one past the
    /// crowded limit, or [`UNKNOWN`].
    sizes: Vec<AtomicU32>,
}

type Iter<'a> = DBRawIteratorWithThreadMode<'a, DB>;

impl DiskFeatures {
    pub(in crate::bank) fn open(bank: &Bank) -> Result<DiskFeatures, BankError> {
        DiskFeatures::with_windows(bank, WINDOW_KEYPOINTS)
    }

    /// The index, with windows of at most `window` keypoints (tests use small ones).
    pub(in crate::bank) fn with_windows(
        bank: &Bank,
        window: u64,
    ) -> Result<DiskFeatures, BankError> {
        let cf = bank.keypoints_cf()?;
        let mut it = bank.db.raw_iterator_cf(cf);
        it.seek([TAG_COUNT]);
        let (mut total, mut in_window) = (0u64, 0u64);
        let mut windows = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&TAG_COUNT) {
                break;
            }
            let bad = || bank.corrupt("bad keypoint count in the keypoints family");
            let n = u64::from_le_bytes(v.try_into().map_err(|_| bad())?);
            let asset = u64::from_be_bytes(k.get(1..9).ok_or_else(bad)?.try_into().unwrap());
            if windows.is_empty() || (in_window > 0 && in_window + n > window) {
                windows.push(asset);
                in_window = 0;
            }
            in_window += n;
            total += n;
            it.next();
        }
        it.status().map_err(|e| bank.rocks(e))?;
        Ok(DiskFeatures {
            db: Arc::clone(&bank.db),
            path: bank.path.clone(),
            total,
            windows,
            sizes: (0..TABLES << 16).map(|_| AtomicU32::new(UNKNOWN)).collect(),
        })
    }

    /// Where the size of bucket (table, slice) is remembered.
    fn size_slot(&self, (t, s): (usize, u16)) -> &AtomicU32 {
        &self.sizes[(t << 16) | usize::from(s)]
    }

    /// How many buckets a scan found crowded so far.
    #[cfg(test)]
    pub(in crate::bank) fn crowded_seen(&self) -> usize {
        let limit = crowded_limit(self.total) as u32;
        self.sizes
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&s| s != UNKNOWN && s > limit)
            .count()
    }

    fn corrupt(&self, what: String) -> BankError {
        BankError::Corrupt {
            path: self.path.clone(),
            what,
        }
    }

    fn rocks(&self, source: rocksdb::Error) -> BankError {
        BankError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    fn sample(&self, (asset, sample): (u64, u32)) -> Result<IndexedSample, BankError> {
        let cf = self
            .db
            .cf_handle(CF_KEYPOINTS)
            .ok_or_else(|| self.corrupt("column family keypoints is missing".into()))?;
        let v = self
            .db
            .get_cf(cf, sample_key(asset, sample))
            .map_err(|e| self.rocks(e))?
            .filter(|v| v.len() == SAMPLE_BYTES)
            .ok_or_else(|| {
                self.corrupt(format!(
                    "asset {asset}: keypoint sample {sample} is missing"
                ))
            })?;
        let f = |i: usize| f32::from_le_bytes(v[i..i + 4].try_into().unwrap());
        Ok(IndexedSample {
            owner: asset,
            time_s: f64::from_le_bytes(v[0..8].try_into().unwrap()),
            base: (f(8), f(12)),
        })
    }

    /// Reads into `bucket` the entries of bucket (`t`, `s`) whose asset is in
    /// `from..to`, at most `most` of them; false when there were more.
    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        it: &mut Iter<'_>,
        (t, s): (usize, u16),
        (from, to): (u64, u64),
        most: usize,
        bucket: &mut Vec<((u64, u32, u16), Keypoint)>,
    ) -> Result<bool, BankError> {
        let prefix = bucket_prefix((t, s));
        let mut start = [0u8; 11];
        start[..3].copy_from_slice(&prefix);
        start[3..].copy_from_slice(&from.to_be_bytes());
        it.seek(start);
        bucket.clear();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&prefix) {
                break;
            }
            let (Some(at), KEYPOINT_BYTES) = (decode_bucket_key(k), v.len()) else {
                return Err(self.corrupt("bad entry in the keypoints family".into()));
            };
            if at.0 >= to {
                break;
            }
            if bucket.len() == most {
                return Ok(false);
            }
            bucket.push((at, decode_keypoint(v)));
            it.next();
        }
        it.status().map_err(|e| self.rocks(e))?;
        Ok(true)
    }

    /// How many entries bucket (`t`, `s`) holds, up to `limit` + 1.
    fn size(
        &self,
        it: &mut Iter<'_>,
        (t, s): (usize, u16),
        limit: usize,
    ) -> Result<u32, BankError> {
        let at = self.size_slot((t, s));
        let known = at.load(Ordering::Relaxed);
        if known != UNKNOWN {
            return Ok(known);
        }
        let prefix = bucket_prefix((t, s));
        it.seek(prefix);
        let mut n = 0u32;
        while let Some(k) = it.key() {
            if !k.starts_with(&prefix) || n as usize > limit {
                break;
            }
            n += 1;
            it.next();
        }
        it.status().map_err(|e| self.rocks(e))?;
        at.store(n, Ordering::Relaxed);
        Ok(n)
    }
}

/// The key prefix of bucket (table, slice): its entries' keys start with it.
fn bucket_prefix((t, s): (usize, u16)) -> [u8; 3] {
    [t as u8, (s >> 8) as u8, s as u8]
}

impl FeatureSearch for DiskFeatures {
    fn len(&self) -> usize {
        self.total as usize
    }

    fn candidates(&self, query: &FeatureSample) -> Result<Vec<Candidate>, BankError> {
        let mut found = self.candidates_of_run(std::slice::from_ref(query))?;
        Ok(found.pop().unwrap_or_default())
    }

    fn candidates_of_run(
        &self,
        queries: &[FeatureSample],
    ) -> Result<Vec<Vec<Candidate>>, BankError> {
        let mut found: Vec<Vec<Candidate>> = queries.iter().map(|_| Vec::new()).collect();
        if self.total == 0 {
            return Ok(found);
        }
        let cf = self
            .db
            .cf_handle(CF_KEYPOINTS)
            .ok_or_else(|| self.corrupt("column family keypoints is missing".into()))?;
        let limit = crowded_limit(self.total);
        // Each bucket is read once a window, however many delivered keypoints of the
        // run fall in it, and in key order, so the reads move forward through the
        // family.
        let mut touches: Vec<(usize, u16, u32, u32)> = queries
            .iter()
            .enumerate()
            .flat_map(|(qs, query)| {
                query.keypoints.iter().enumerate().flat_map(move |(qi, q)| {
                    (0..TABLES).map(move |t| (t, slice(q, t), qs as u32, qi as u32))
                })
            })
            .collect();
        touches.sort_unstable();
        let mut it = self.db.raw_iterator_cf(cf);
        let whole = self.windows.len() <= 1;
        let mut groups = Vec::new();
        for group in touches.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let bucket = (group[0].0, group[0].1);
            let known = self.size_slot(bucket).load(Ordering::Relaxed);
            // One window reads the whole bucket and learns its size as it goes.
            let size = if whole && known == UNKNOWN {
                0
            } else {
                self.size(&mut it, bucket, limit)?
            };
            if size as usize <= limit {
                groups.push(group);
            }
        }
        let mut pairs: Vec<Vec<Pairing<(u64, u32)>>> = queries.iter().map(|_| Vec::new()).collect();
        let mut entries = Vec::new();
        for (w, &from) in self.windows.iter().enumerate() {
            let to = self.windows.get(w + 1).copied().unwrap_or(u64::MAX);
            for group in &groups {
                let bucket = (group[0].0, group[0].1);
                if !self.read(&mut it, bucket, (from, to), limit, &mut entries)? {
                    // Only a whole bucket, read unsized, can be found crowded here.
                    self.size_slot(bucket)
                        .store(limit as u32 + 1, Ordering::Relaxed);
                    continue;
                }
                if whole {
                    self.size_slot(bucket)
                        .store(entries.len() as u32, Ordering::Relaxed);
                }
                for &(_, _, qs, qi) in *group {
                    let q = &queries[qs as usize].keypoints[qi as usize];
                    let pairs = &mut pairs[qs as usize];
                    for &((asset, sample, ki), bank) in &entries {
                        let d = q.distance(&bank);
                        if d <= MAX_DESCRIPTOR_DISTANCE {
                            pairs.push(Pairing {
                                sample: (asset, sample),
                                query: qi,
                                distance: d,
                                bank_number: u32::from(ki),
                                bank,
                            });
                        }
                    }
                }
            }
            for ((query, pairs), found) in queries.iter().zip(&mut pairs).zip(&mut found) {
                found.extend(group_pairs(std::mem::take(pairs), query, |s| {
                    self.sample(s)
                })?);
            }
        }
        Ok(found)
    }
}
