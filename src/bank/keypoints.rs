//! Keypoints on disk: the keypoint index's tables kept in the bank, so that a scan
//! reads only the buckets its delivered keypoints fall in, and neither the bank's open
//! nor a scan's memory grows with the banked hours.
//!
//! The `keypoints` family holds three kinds of key, told apart by their first byte:
//! - `[table 0..8][slice u16][asset u64][sample u32][keypoint u16]` (big-endian) → the
//!   banked keypoint as the `features` record holds it (places in 1/32 base pixel,
//!   level, descriptor: 37 bytes), so both indexes see the same. One entry a table for
//!   each keypoint; a 3-byte prefix is one bucket, in the order (asset, sample,
//!   keypoint) that the in-memory index numbers them;
//! - `[0x10][asset u64][sample u32]` → the sample's time (f64) and base size (2 × f32);
//! - `[0x20][asset u64]` → how many keypoints the asset has (u64), whose sum is the
//!   total that the crowded-bucket rule is relative to.
//!
//! All little-endian values. They are written in the asset's batch, beside its
//! `features` record, which stays the source: a bank made before this family existed
//! gets it from those records when opened writable ([`Bank::migrate_keypoints`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rocksdb::{WriteBatch, DB};

use super::records::{self, decode_keypoint, encode_keypoint, KEYPOINT_BYTES};
use super::{AssetRecord, Bank, BankError, CF_FEATURES, CF_META};
use crate::fingerprint::keypoints::{FeatureSample, Keypoint};
use crate::media::MediaKind;
use crate::model::AssetId;
use crate::search::features::{
    crowded_limit, group_pairs, slice, Pairing, MAX_DESCRIPTOR_DISTANCE, TABLES,
};
use crate::search::{Candidate, FeatureIndex, IndexedSample};

/// A keypoint search over a bank's keypoints: in memory ([`FeatureIndex`]) or read
/// from the bank's buckets on disk (this module). Both give the same candidates. It
/// lives in the bank, not in `search`, because reading the disk can fail with a
/// [`BankError`].
pub trait FeatureSearch: Sync {
    /// How many banked keypoints there are to find.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The banked samples that share at least [`MIN_MATCHES`](crate::search::MIN_MATCHES) keypoints with `query`,
    /// in the order of their owners, then their times.
    fn candidates(&self, query: &FeatureSample) -> Result<Vec<Candidate>, BankError>;
}

impl FeatureSearch for FeatureIndex {
    fn len(&self) -> usize {
        FeatureIndex::len(self)
    }

    fn candidates(&self, query: &FeatureSample) -> Result<Vec<Candidate>, BankError> {
        Ok(FeatureIndex::candidates(self, query))
    }
}

pub(super) const CF_KEYPOINTS: &str = "keypoints";
/// In `meta`: present once every asset's keypoints are in the `keypoints` family.
pub(super) const KEY_KEYPOINTS_ON_DISK: &[u8] = b"keypoints_on_disk";

const TAG_SAMPLE: u8 = 0x10;
const TAG_COUNT: u8 = 0x20;
const BUCKET_KEY: usize = 17;
const SAMPLE_BYTES: usize = 16;

/// The family's options: large blocks, because a scan reads whole buckets (hundreds
/// of entries each in a bank of tens of hours) and each block's index entry stays in
/// memory for as long as the bank is open: 64 KiB blocks keep that near 100 MB at 500
/// banked hours, where RocksDB's 4 KiB would need over a gigabyte.
pub(super) fn family_options(base: &rocksdb::Options) -> rocksdb::Options {
    let mut opts = base.clone();
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_size(64 << 10);
    opts.set_block_based_table_factory(&table);
    opts
}

fn bucket_key(table: usize, slice: u16, asset: u64, sample: u32, keypoint: u16) -> [u8; 17] {
    let mut k = [0u8; BUCKET_KEY];
    k[0] = table as u8;
    k[1..3].copy_from_slice(&slice.to_be_bytes());
    k[3..11].copy_from_slice(&asset.to_be_bytes());
    k[11..15].copy_from_slice(&sample.to_be_bytes());
    k[15..17].copy_from_slice(&keypoint.to_be_bytes());
    k
}

fn sample_key(asset: u64, sample: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[0] = TAG_SAMPLE;
    k[1..9].copy_from_slice(&asset.to_be_bytes());
    k[9..13].copy_from_slice(&sample.to_be_bytes());
    k
}

fn count_key(asset: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = TAG_COUNT;
    k[1..9].copy_from_slice(&asset.to_be_bytes());
    k
}

/// (asset, sample, keypoint) of a bucket key.
fn decode_bucket_key(k: &[u8]) -> Option<(u64, u32, u16)> {
    if k.len() != BUCKET_KEY {
        return None;
    }
    Some((
        u64::from_be_bytes(k[3..11].try_into().ok()?),
        u32::from_be_bytes(k[11..15].try_into().ok()?),
        u16::from_be_bytes(k[15..17].try_into().ok()?),
    ))
}

/// Every key and value one asset's keypoints make in the `keypoints` family, handed
/// to `put` (a batch, or a check that they are there).
fn entries(asset: u64, samples: &[FeatureSample], mut put: impl FnMut(&[u8], &[u8])) {
    let mut total = 0u64;
    for (si, s) in samples.iter().enumerate() {
        let (w, h) = s.base();
        let mut v = [0u8; SAMPLE_BYTES];
        v[0..8].copy_from_slice(&s.time_s.to_le_bytes());
        v[8..12].copy_from_slice(&(w as f32).to_le_bytes());
        v[12..16].copy_from_slice(&(h as f32).to_le_bytes());
        put(&sample_key(asset, si as u32), &v);
        // As many as the record keeps (it counts them in a u16).
        let kept = &s.keypoints[..s.keypoints.len().min(usize::from(u16::MAX))];
        let mut value = Vec::with_capacity(KEYPOINT_BYTES);
        for (ki, k) in kept.iter().enumerate() {
            value.clear();
            encode_keypoint(k, &mut value);
            for t in 0..TABLES {
                put(
                    &bucket_key(t, slice(k, t), asset, si as u32, ki as u16),
                    &value,
                );
            }
        }
        total += kept.len() as u64;
    }
    put(&count_key(asset), &total.to_le_bytes());
}

impl Bank {
    fn keypoints_cf(&self) -> Result<&rocksdb::ColumnFamily, BankError> {
        self.cf(CF_KEYPOINTS)
    }

    /// Adds to `batch` the bucket entries of an asset's keypoints.
    pub(super) fn put_keypoints(
        &self,
        batch: &mut WriteBatch,
        id: AssetId,
        samples: &[FeatureSample],
    ) -> Result<(), BankError> {
        let cf = self.keypoints_cf()?;
        entries(id.0, samples, |k, v| batch.put_cf(cf, k, v));
        Ok(())
    }

    /// Adds to `batch` the deletion of an asset's bucket entries, found from its
    /// `features` record.
    pub(super) fn delete_keypoints(
        &self,
        batch: &mut WriteBatch,
        id: AssetId,
    ) -> Result<(), BankError> {
        let Some(value) = self.get(CF_FEATURES, &id.key())? else {
            return Ok(());
        };
        let samples = records::decode_features(&value)
            .ok_or_else(|| self.corrupt(format!("bad keypoint records for asset {}", id.0)))?;
        let cf = self.keypoints_cf()?;
        entries(id.0, &samples, |k, _| batch.delete_cf(cf, k));
        Ok(())
    }

    /// An asset's keypoint samples as banked; empty for an asset without any.
    pub fn asset_features(&self, id: AssetId) -> Result<Vec<FeatureSample>, BankError> {
        match self.get(CF_FEATURES, &id.key())? {
            None => Ok(Vec::new()),
            Some(v) => records::decode_features(&v)
                .ok_or_else(|| self.corrupt(format!("bad keypoint records for asset {}", id.0))),
        }
    }

    /// Whether every asset's keypoints are in the `keypoints` family.
    pub(super) fn keypoints_on_disk(&self) -> Result<bool, BankError> {
        if self.db.cf_handle(CF_KEYPOINTS).is_none() {
            return Ok(false);
        }
        Ok(self.get(CF_META, KEY_KEYPOINTS_ON_DISK)?.is_some())
    }

    /// Fills the `keypoints` family from the `features` records of a bank made before
    /// it existed, asset by asset; the mark that it is whole is written last, so a
    /// migration cut short is done again (the same entries) at the next open.
    pub(super) fn migrate_keypoints(&self) -> Result<(), BankError> {
        if self.keypoints_on_disk()? {
            return Ok(());
        }
        for item in self
            .db
            .iterator_cf(self.cf(CF_FEATURES)?, rocksdb::IteratorMode::Start)
        {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            let id = AssetId::from_key(&key)
                .ok_or_else(|| self.corrupt("bad key in the features family"))?;
            let samples = records::decode_features(&value)
                .ok_or_else(|| self.corrupt(format!("bad keypoint records for asset {}", id.0)))?;
            let mut batch = WriteBatch::default();
            self.put_keypoints(&mut batch, id, &samples)?;
            self.db.write(batch).map_err(|e| self.rocks(e))?;
        }
        self.db
            .put_cf(self.cf(CF_META)?, KEY_KEYPOINTS_ON_DISK, [1u8])
            .map_err(|e| self.rocks(e))
    }

    /// Every banked asset's keypoint samples, searchable ([`FeatureIndex`]), with the
    /// asset's number as owner; empty for a bank without `local_features`, and for a
    /// bank opened read-only from before they existed.
    pub fn feature_index(&self) -> Result<FeatureIndex, BankError> {
        let mut index = FeatureIndex::new();
        let Some(cf) = self.db.cf_handle(CF_FEATURES) else {
            return Ok(index);
        };
        for item in self.db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            let id = AssetId::from_key(&key)
                .ok_or_else(|| self.corrupt("bad key in the features family"))?;
            let samples = records::decode_features(&value)
                .ok_or_else(|| self.corrupt(format!("bad keypoint records for asset {}", id.0)))?;
            index.add(id.0, &samples);
        }
        index.build();
        Ok(index)
    }

    /// The banked keypoints, searchable: read from the bank's buckets, or, for a bank
    /// opened read-only from before they were kept there, loaded into memory
    /// ([`Bank::feature_index`]).
    pub fn feature_search(&self) -> Result<Box<dyn FeatureSearch>, BankError> {
        if self.keypoints_on_disk()? {
            Ok(Box::new(DiskFeatures::open(self)?))
        } else {
            Ok(Box::new(self.feature_index()?))
        }
    }

    /// The banked keypoints, split for matching: the samples of stills, pages and video
    /// frames ([`Bank::feature_search`], read from disk where the bank keeps them
    /// there), and those of storyboard panels ([`AssetRecord::is_panel_sample`]), which
    /// only the panel matcher searches (`matching::match_panels_by_keypoints`), at its
    /// own threshold. The panels' are loaded into memory: only storyboard pages have
    /// them, few beside a catalogue's video frames.
    pub fn feature_searches(&self) -> Result<(Box<dyn FeatureSearch>, FeatureIndex), BankError> {
        let mut panels = FeatureIndex::new();
        let mut boards = HashMap::new();
        for record in self.assets()? {
            if record.kind != MediaKind::Still || record.panels.is_empty() {
                continue;
            }
            let Some(value) = self.get(CF_FEATURES, &record.id.key())? else {
                continue;
            };
            let samples = records::decode_features(&value).ok_or_else(|| {
                self.corrupt(format!("bad keypoint records for asset {}", record.id.0))
            })?;
            let of_panels: Vec<FeatureSample> = samples
                .into_iter()
                .filter(|s| record.is_panel_sample(s.time_s))
                .collect();
            panels.add(record.id.0, &of_panels);
            boards.insert(record.id.0, record);
        }
        panels.build();
        let all = self.feature_search()?;
        let pictures: Box<dyn FeatureSearch> = if boards.is_empty() {
            all
        } else {
            Box::new(WithoutPanels { all, boards })
        };
        Ok((pictures, panels))
    }

    /// What each asset's keypoints should make in the `keypoints` family, from its
    /// `features` record (those that do not decode are the features check's to report).
    pub(super) fn keypoints_wanted(&self) -> Result<KeypointTally, BankError> {
        let mut want = KeypointTally::default();
        for item in self
            .db
            .iterator_cf(self.cf(CF_FEATURES)?, rocksdb::IteratorMode::Start)
        {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            let (Some(id), Some(samples)) =
                (AssetId::from_key(&key), records::decode_features(&value))
            else {
                continue;
            };
            let n: u64 = samples.iter().map(|s| s.keypoints.len() as u64).sum();
            let tally = want.assets.entry(id.0).or_default();
            *tally = (n * TABLES as u64, samples.len() as u64, n);
        }
        Ok(want)
    }

    /// [`Bank::keypoints_wanted`] against the family as it is, one line a fault.
    #[cfg(test)]
    pub(super) fn keypoint_faults(&self) -> Result<Vec<String>, BankError> {
        let want = self.keypoints_wanted()?;
        let mut found = KeypointTally::default();
        for item in self
            .db
            .iterator_cf(self.keypoints_cf()?, rocksdb::IteratorMode::Start)
        {
            let (k, v) = item.map_err(|e| self.rocks(e))?;
            found.add(&k, &v);
        }
        Ok(found.faults(&want))
    }
}

/// Per asset, what its entries in the `keypoints` family come to: bucket entries,
/// samples, keypoints counted; and entries of no known kind.
#[derive(Default)]
pub(super) struct KeypointTally {
    assets: BTreeMap<u64, (u64, u64, u64)>,
    odd: u64,
}

impl KeypointTally {
    pub(super) fn add(&mut self, k: &[u8], v: &[u8]) {
        let asset = |at: usize| u64::from_be_bytes(k[at..at + 8].try_into().unwrap());
        match (k.first(), k.len(), v.len()) {
            (Some(&t), BUCKET_KEY, KEYPOINT_BYTES) if usize::from(t) < TABLES => {
                self.assets.entry(asset(3)).or_default().0 += 1;
            }
            (Some(&TAG_SAMPLE), 13, SAMPLE_BYTES) => {
                self.assets.entry(asset(1)).or_default().1 += 1;
            }
            (Some(&TAG_COUNT), 9, 8) => {
                self.assets.entry(asset(1)).or_default().2 +=
                    u64::from_le_bytes(v.try_into().unwrap());
            }
            _ => self.odd += 1,
        }
    }

    /// Each asset whose entries are not what its keypoints make, or that has entries
    /// and no keypoints.
    pub(super) fn faults(&self, want: &KeypointTally) -> Vec<String> {
        let mut faults = Vec::new();
        if self.odd > 0 {
            faults.push(format!("keypoints: {} entries of no known kind", self.odd));
        }
        let ids: BTreeSet<&u64> = want.assets.keys().chain(self.assets.keys()).collect();
        for id in ids {
            if want.assets.get(id) != self.assets.get(id) {
                faults.push(format!(
                    "asset {id}: its keypoint buckets do not hold its keypoints"
                ));
            }
        }
        faults
    }
}

/// The keypoint index read from the bank's buckets.
pub struct DiskFeatures {
    db: Arc<DB>,
    path: PathBuf,
    total: u64,
    /// One bit a bucket (table × slice): known to be crowded, so not read again.
    crowded: Vec<AtomicU64>,
}

impl DiskFeatures {
    fn open(bank: &Bank) -> Result<DiskFeatures, BankError> {
        let cf = bank.keypoints_cf()?;
        let mut it = bank.db.raw_iterator_cf(cf);
        it.seek([TAG_COUNT]);
        let mut total = 0u64;
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&TAG_COUNT) {
                break;
            }
            let n: [u8; 8] = v
                .try_into()
                .map_err(|_| bank.corrupt("bad keypoint count in the keypoints family"))?;
            total += u64::from_le_bytes(n);
            it.next();
        }
        it.status().map_err(|e| bank.rocks(e))?;
        Ok(DiskFeatures {
            db: Arc::clone(&bank.db),
            path: bank.path.clone(),
            total,
            crowded: (0..(TABLES << 16) / 64)
                .map(|_| AtomicU64::new(0))
                .collect(),
        })
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
}

impl FeatureSearch for DiskFeatures {
    fn len(&self) -> usize {
        self.total as usize
    }

    fn candidates(&self, query: &FeatureSample) -> Result<Vec<Candidate>, BankError> {
        if self.total == 0 {
            return Ok(Vec::new());
        }
        let cf = self
            .db
            .cf_handle(CF_KEYPOINTS)
            .ok_or_else(|| self.corrupt("column family keypoints is missing".into()))?;
        let crowded = crowded_limit(self.total);
        // Each bucket is read once, however many delivered keypoints fall in it, and
        // in key order, so the reads move forward through the family.
        let mut touches: Vec<(usize, u16, u32)> = query
            .keypoints
            .iter()
            .enumerate()
            .flat_map(|(qi, q)| (0..TABLES).map(move |t| (t, slice(q, t), qi as u32)))
            .collect();
        touches.sort_unstable();
        let mut pairs: Vec<Pairing<(u64, u32)>> = Vec::new();
        let mut bucket: Vec<((u64, u32, u16), Keypoint)> = Vec::new();
        let mut it = self.db.raw_iterator_cf(cf);
        for group in touches.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (t, s) = (group[0].0, group[0].1);
            let bit = (t << 16) | usize::from(s);
            let word = &self.crowded[bit / 64];
            if word.load(Ordering::Relaxed) & (1 << (bit % 64)) != 0 {
                continue;
            }
            let prefix = [t as u8, (s >> 8) as u8, s as u8];
            it.seek(prefix);
            bucket.clear();
            let mut passed_over = false;
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if !k.starts_with(&prefix) {
                    break;
                }
                if bucket.len() == crowded {
                    passed_over = true;
                    break;
                }
                let (Some(at), KEYPOINT_BYTES) = (decode_bucket_key(k), v.len()) else {
                    return Err(self.corrupt("bad entry in the keypoints family".into()));
                };
                bucket.push((at, decode_keypoint(v)));
                it.next();
            }
            it.status().map_err(|e| self.rocks(e))?;
            if passed_over {
                word.fetch_or(1 << (bit % 64), Ordering::Relaxed);
                continue;
            }
            for &(_, _, qi) in group {
                let q = &query.keypoints[qi as usize];
                for &((asset, sample, ki), bank) in &bucket {
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
        group_pairs(pairs, query, |s| self.sample(s))
    }
}

/// A keypoint search that passes over storyboard panels' samples, which the panel
/// matcher searches apart at its own threshold.
struct WithoutPanels {
    all: Box<dyn FeatureSearch>,
    /// The storyboard assets, by number: which of their samples are panels'.
    boards: HashMap<u64, AssetRecord>,
}

impl FeatureSearch for WithoutPanels {
    fn len(&self) -> usize {
        self.all.len()
    }

    fn candidates(&self, query: &FeatureSample) -> Result<Vec<Candidate>, BankError> {
        let mut found = self.all.candidates(query)?;
        found.retain(|c| {
            self.boards
                .get(&c.sample.owner)
                .is_none_or(|board| !board.is_panel_sample(c.sample.time_s))
        });
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
