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

use rocksdb::WriteBatch;

use super::records::{self, encode_keypoint, KEYPOINT_BYTES};
use super::{AssetRecord, Bank, BankError, CF_FEATURES, CF_META};
use crate::fingerprint::keypoints::FeatureSample;
use crate::media::MediaKind;
use crate::model::AssetId;
use crate::search::features::{slice, TABLES};
use crate::search::{Candidate, FeatureIndex};

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
    /// [`FeatureSearch::candidates`] of each of `queries`, in their order. The search
    /// on disk reads each bucket once for all of them: a video's neighbouring samples
    /// share many of their buckets.
    fn candidates_of_run(
        &self,
        queries: &[FeatureSample],
    ) -> Result<Vec<Vec<Candidate>>, BankError> {
        queries.iter().map(|q| self.candidates(q)).collect()
    }
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

/// What RocksDB may keep in memory for the family while a bank is open, whatever its
/// size: its table files' index blocks and the data blocks last read.
pub(super) const CACHE_BYTES: usize = 64 << 20;

/// The family's options: large blocks, because a scan reads whole buckets (hundreds of
/// entries each in a bank of tens of hours); and one cache of [`CACHE_BYTES`] that
/// holds the tables' index blocks with the data blocks, instead of each open table
/// file holding its index for as long as the bank is open, which grows with the banked
/// hours. The level-0 files' index blocks stay pinned: they are few, and read by every
/// seek.
pub(super) fn family_options(base: &rocksdb::Options) -> rocksdb::Options {
    let mut opts = base.clone();
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_size(64 << 10);
    table.set_block_cache(&rocksdb::Cache::new_lru_cache(CACHE_BYTES));
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
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
        self.drop_panels(&mut found);
        Ok(found)
    }

    fn candidates_of_run(
        &self,
        queries: &[FeatureSample],
    ) -> Result<Vec<Vec<Candidate>>, BankError> {
        let mut found = self.all.candidates_of_run(queries)?;
        for one in &mut found {
            self.drop_panels(one);
        }
        Ok(found)
    }
}

impl WithoutPanels {
    fn drop_panels(&self, found: &mut Vec<Candidate>) {
        found.retain(|c| {
            self.boards
                .get(&c.sample.owner)
                .is_none_or(|board| !board.is_panel_sample(c.sample.time_s))
        });
    }
}

mod disk;
#[cfg(test)]
mod tests;

pub use disk::DiskFeatures;
