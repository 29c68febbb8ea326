//! The bank: a RocksDB directory holding banked assets, their segments, and the search
//! structure over their hashes.
//!
//! Column families:
//! - `meta`: format version, fingerprint parameters, the next asset number;
//! - `assets`: asset number → [`AssetRecord`] (JSON);
//! - `frames`: asset number → its [`Segment`]s, 61 bytes each, packed in order;
//! - `search`: asset number → each segment's hash and quality, 33 bytes each, packed in
//!   order: what the index is rebuilt from at open, read as one value per asset;
//! - `digests`: BLAKE3 digest → asset number, the identity of an asset;
//! - `paths`: path as indexed → what `index` last saw there ([`PathRecord`]: size,
//!   modification time, digest or failure), so a rerun skips unchanged files unread;
//! - `index`: unused since the multi-index is saved as a file under `search-index/`
//!   (see [`Bank::save_index`]); kept so older banks open, and emptied by a save;
//! - `features`: asset number → the keypoints of its sampled video frames, in banks
//!   with `local_features`;
//! - `keypoints`: the same keypoints as the keypoint index's buckets, which a scan
//!   reads instead of loading them all (see `keypoints.rs`).
//!
//! Every asset is written in one `WriteBatch`, so a crash leaves it whole or absent.
//! Segments are packed per asset because assets are written, read and deleted whole:
//! four keys per asset instead of two per segment makes bulk loads and the index's
//! rebuild at open stream large values instead of millions of small ones.

pub mod backup;
mod decisions;
mod dump;
mod error;
mod keypoints;
mod merge;
mod paths;
mod read;
mod reader;
pub(crate) mod records;
pub(crate) mod saved_index;
mod tokens;
pub mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};

use crate::model::{AssetId, Label, PanelPlace, Provenance, ProvenanceAction, SegmentRef};
pub use decisions::{in_force, Decision, DecisionKind, MatchKey, RANGE_SLACK_S};
use error::open_error;
pub use error::BankError;
pub use keypoints::FeatureSearch;
pub use merge::{merge_shards, MergeError, MergeOptions, MergeSummary, ShardMerged, MERGES_DIR};
pub use paths::{FileStamp, PathRecord};
pub use read::{BankRead, MemoryBank};
pub use reader::BankReader;
pub use records::AssetRecord;
pub use tokens::{find_token, token_hash, Role, TokenError, TokenRecord};

use crate::fingerprint::keypoints::FeatureSample;
use crate::fingerprint::{FingerprintParams, Hash256, Segment};
use crate::media::MediaKind;
use crate::search::{HammingIndex, Hit, Layout, MultiIndex};

/// The on-disk layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

const CF_META: &str = "meta";
const CF_ASSETS: &str = "assets";
const CF_FRAMES: &str = "frames";
const CF_SEARCH: &str = "search";
const CF_DIGESTS: &str = "digests";
const CF_INDEX: &str = "index";
const CF_PATHS: &str = "paths";
const CF_FEATURES: &str = "features";
use keypoints::{CF_KEYPOINTS, KEY_KEYPOINTS_ON_DISK};
const ALL_CFS: [&str; 9] = [
    CF_META,
    CF_ASSETS,
    CF_FRAMES,
    CF_SEARCH,
    CF_DIGESTS,
    CF_INDEX,
    CF_PATHS,
    CF_FEATURES,
    CF_KEYPOINTS,
];

const KEY_FORMAT: &[u8] = b"format_version";
const KEY_PARAMS: &[u8] = b"fingerprint_params";
const KEY_NEXT_ID: &[u8] = b"next_asset_id";
/// Bumped in the same batch as every change to the banked segments, so saved index
/// tables can tell whether they still describe the bank.
const KEY_GENERATION: &[u8] = b"generation";

/// Whether `path` holds a bank (RocksDB's `CURRENT`). A path that is a file is refused
/// here: RocksDB would fail on it with a raw I/O error, and "no bank, create one" would
/// send the user to `index`, which cannot create one there either.
pub fn holds_bank(path: &Path) -> Result<bool, BankError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => Err(BankError::NotADirectory(path.to_path_buf())),
        _ => Ok(path.join("CURRENT").is_file()),
    }
}

/// How to open a bank.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Create the bank if the directory holds none.
    pub create: bool,
    /// Open without taking the write lock; another process may be indexing.
    pub read_only: bool,
    /// Parameters the caller requires. A new bank is created with them (or the defaults
    /// with crop variants, [`FingerprintParams::banked`]); an existing bank built with
    /// others is refused.
    pub params: Option<FingerprintParams>,
}

/// A new asset to bank, fingerprinted and ready to write.
#[derive(Debug, Clone)]
pub struct NewAsset {
    pub digest: [u8; 32],
    pub kind: MediaKind,
    pub label: Label,
    pub source: Option<String>,
    pub note: Option<String>,
    /// Who banks it (`user@host`), for its first [`Provenance`] entry.
    pub by: Option<String>,
    pub path: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    /// Frames a second the container declares (`None` for stills).
    pub frame_rate: Option<f64>,
    pub segments: Vec<Segment>,
    /// Segments of centre crops of the same picture (per cent of each side kept), stored
    /// after `segments` and searched like them; see [`AssetRecord::crop_of`].
    pub crops: Vec<(u8, Vec<Segment>)>,
    /// Storyboard panels (blank ones left out), stored after the crops, a segment each.
    pub panels: Vec<(PanelPlace, Segment)>,
    /// Pages on which panels were found, blank ones included ([`AssetRecord::panel_pages`]).
    pub panel_pages: Vec<u32>,
    /// The resolution each page of a PDF was rendered at ([`AssetRecord::page_dpi`]).
    pub page_dpi: Vec<f64>,
    /// Keypoints of sampled frames, for banks with `local_features`; empty otherwise.
    pub features: Vec<FeatureSample>,
    /// The file as the walk saw it, recorded under `path` in the same batch so a rerun
    /// can skip it; `None` for assets that do not come from a file walk.
    pub seen: Option<FileStamp>,
}

impl NewAsset {
    /// The record of this asset as banked under `id` at `indexed_at`, with its first
    /// statement of provenance.
    pub(crate) fn record(&self, id: AssetId, indexed_at: String) -> AssetRecord {
        let first = Provenance {
            label: self.label,
            source: self.source.clone(),
            note: self.note.clone(),
            action: ProvenanceAction::Index,
            path: Some(self.path.clone()),
            at: indexed_at.clone(),
            by: self.by.clone(),
        };
        AssetRecord {
            id,
            digest: crate::media::digest_hex(&self.digest),
            kind: self.kind,
            label: self.label,
            source: self.source.clone(),
            note: self.note.clone(),
            paths: vec![self.path.clone()],
            bytes: self.bytes,
            width: self.width,
            height: self.height,
            segments: self.segments.len() as u32,
            indexed_at,
            frame_rate: self.frame_rate,
            crops: self
                .crops
                .iter()
                .map(|(keep, segs)| (*keep, segs.len() as u32))
                .collect(),
            provenance: vec![first],
            panels: self.panels.iter().map(|(place, _)| *place).collect(),
            panel_pages: self.panel_pages.clone(),
            page_dpi: self.page_dpi.clone(),
        }
    }

    /// The segments as stored, taken out of `self`: the picture's own, each centre
    /// crop's, then each panel's.
    pub(super) fn take_stored_segments(&mut self) -> Vec<Segment> {
        let mut all = std::mem::take(&mut self.segments);
        for (_, segs) in std::mem::take(&mut self.crops) {
            all.extend(segs);
        }
        all.extend(std::mem::take(&mut self.panels).into_iter().map(|(_, s)| s));
        all
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Counts for `celprint info`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BankStats {
    pub assets_by_label: BTreeMap<Label, u64>,
    pub assets: u64,
    pub segments: u64,
    pub disk_bytes: u64,
    pub index_entries: usize,
    pub index_memory_bytes: usize,
    /// Chunk widths of the multi-index tables; `None` while the bank is small enough
    /// to be scanned linearly.
    pub index_layout: Option<Layout>,
    /// Entries added since the tables were built, scanned linearly.
    pub index_tail: usize,
    /// Whether the index was mapped from the bank's index file or rebuilt at open.
    pub index_origin: String,
    /// Bumped with every asset added or removed: with the counts, the bank state a
    /// scan ran against.
    pub generation: u64,
}

pub struct Bank {
    /// Shared with the [`BankReader`]s handed to workers, which read while this
    /// handle writes.
    db: Arc<DB>,
    path: PathBuf,
    params: FingerprintParams,
    next_id: u64,
    generation: u64,
    index: MultiIndex,
    /// How the index came to be at open: mapped from the index file, or rebuilt (and why).
    index_origin: String,
    /// Opened for writing: flushed when dropped.
    writer: bool,
}

impl Drop for Bank {
    /// A writer leaves its data in files, not only in the write-ahead log, so the next
    /// open has no log to replay and a reader opening during that open sees it whole.
    fn drop(&mut self) {
        if self.writer {
            let _ = self.flush_all();
        }
    }
}

impl Bank {
    /// Opens (or creates) the bank at `path`.
    ///
    /// A reader may open a bank while an `index` writes it. RocksDB's read-only open
    /// then reads the files the writer had at that moment; if the writer retires one
    /// in between (a flush or a compaction), the open fails or sees a state between two
    /// writes, so a reader tries again, briefly, before giving up. Once open, a reader
    /// holds its files and sees one consistent state.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Bank, BankError> {
        const READER_ATTEMPTS: u32 = 40;
        let mut attempt = 1;
        loop {
            match Bank::open_once(path, opts) {
                Err(BankError::Rocks { .. } | BankError::NotFound(_) | BankError::Torn(_))
                    if opts.read_only
                        && attempt < READER_ATTEMPTS
                        && path.join("CURRENT").is_file() =>
                {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                result => return result,
            }
        }
    }

    fn open_once(path: &Path, opts: &OpenOptions) -> Result<Bank, BankError> {
        let exists = holds_bank(path)?;
        let may_create = opts.create && !opts.read_only;
        if !exists && !may_create {
            return Err(BankError::NotFound(path.to_path_buf()));
        }
        let rocks = |source| open_error(path, source);
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // All column families' flushes are committed together, so that a reader opening
        // the files while the writer flushes never sees one family flushed and another
        // not, with the write-ahead log that held the other already gone.
        db_opts.set_atomic_flush(true);
        // Each family with its own options, for a reader as for the writer: the
        // keypoints family's bound what RocksDB holds in memory for it.
        let family = |name: &str| {
            let cf_opts = match name {
                CF_KEYPOINTS => keypoints::family_options(&db_opts),
                _ => db_opts.clone(),
            };
            ColumnFamilyDescriptor::new(name, cf_opts)
        };
        let db = if opts.read_only {
            // A reader cannot create a missing family (a bank from before `index`
            // existed); it opens those there are, and the index is then rebuilt.
            let existing = DB::list_cf(&db_opts, path).map_err(rocks)?;
            let cfs = ALL_CFS
                .iter()
                .filter(|n| existing.iter().any(|e| e == *n))
                .map(|n| family(n));
            DB::open_cf_descriptors_read_only(&db_opts, path, cfs, false).map_err(rocks)?
        } else {
            DB::open_cf_descriptors(&db_opts, path, ALL_CFS.map(family)).map_err(rocks)?
        };
        let mut bank = Bank {
            db: Arc::new(db),
            path: path.to_path_buf(),
            params: FingerprintParams::default(),
            next_id: 0,
            generation: 0,
            index: MultiIndex::new(),
            index_origin: String::new(),
            writer: !opts.read_only,
        };
        bank.check_or_init_meta(opts, exists)?;
        if !opts.read_only {
            bank.migrate_keypoints()?;
        }
        bank.load_index()?;
        // A reader catches the writer's files between two column families' flushes
        // rarely but really (seen under load: 401 asset records, 1 search entry). Every
        // asset is written with its search entries in one batch, under an id that only
        // grows, so in a whole view both families end at the same asset.
        if opts.read_only && bank.last_key(CF_ASSETS)? != bank.last_key(CF_SEARCH)? {
            return Err(BankError::Torn(path.to_path_buf()));
        }
        Ok(bank)
    }

    fn last_key(&self, cf: &str) -> Result<Option<Vec<u8>>, BankError> {
        let mut it = self.db.raw_iterator_cf(self.cf(cf)?);
        it.seek_to_last();
        it.status().map_err(|e| self.rocks(e))?;
        Ok(it.key().map(<[u8]>::to_vec))
    }

    fn corrupt(&self, what: impl Into<String>) -> BankError {
        BankError::Corrupt {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn rocks(&self, source: rocksdb::Error) -> BankError {
        BankError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    /// Every JSON record in the `meta` family under `prefix`, in key order; `what` names
    /// them in the error for one that does not parse.
    fn meta_records<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &[u8],
        what: &str,
    ) -> Result<Vec<T>, BankError> {
        let cf = self.cf(CF_META)?;
        let mut out = Vec::new();
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek(prefix);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(prefix) {
                break;
            }
            let record = serde_json::from_slice(v)
                .map_err(|e| self.corrupt(format!("unreadable {what} record: {e}")))?;
            out.push(record);
            it.next();
        }
        it.status().map_err(|e| self.rocks(e))?;
        Ok(out)
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, BankError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| self.corrupt(format!("column family {name} is missing")))
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, BankError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(|e| self.rocks(e))
    }

    /// Whether no column family has a single key.
    fn holds_nothing(&self) -> bool {
        ALL_CFS.iter().all(|name| {
            self.db.cf_handle(name).is_none_or(|cf| {
                let mut it = self.db.raw_iterator_cf(cf);
                it.seek_to_first();
                !it.valid()
            })
        })
    }

    fn check_or_init_meta(&mut self, opts: &OpenOptions, existed: bool) -> Result<(), BankError> {
        // A reader of a bank killed before RocksDB made our families has no meta family.
        let version = match self.db.cf_handle(CF_META) {
            Some(_) => self.get(CF_META, KEY_FORMAT)?,
            None => None,
        };
        let Some(version) = version else {
            // A bank whose creation was cut short (killed between RocksDB creating its
            // files and our first write) holds nothing at all: it is simply new, and to a
            // reader not there yet.
            if existed && !self.holds_nothing() {
                return Err(self.corrupt("no format version recorded; is this a celprint bank?"));
            }
            if opts.read_only {
                return Err(BankError::NotFound(self.path.clone()));
            }
            let params = opts
                .params
                .clone()
                .unwrap_or_else(|| FingerprintParams::default().banked());
            let meta = self.cf(CF_META)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(meta, KEY_FORMAT, FORMAT_VERSION.to_le_bytes());
            batch.put_cf(
                meta,
                KEY_PARAMS,
                serde_json::to_vec(&params).expect("params serialise"),
            );
            batch.put_cf(meta, KEY_NEXT_ID, 1u64.to_le_bytes());
            batch.put_cf(meta, KEY_GENERATION, 0u64.to_le_bytes());
            batch.put_cf(meta, KEY_KEYPOINTS_ON_DISK, [1u8]);
            self.db.write(batch).map_err(|e| self.rocks(e))?;
            self.params = params;
            self.next_id = 1;
            return Ok(());
        };
        let found = u32::from_le_bytes(
            version
                .as_slice()
                .try_into()
                .map_err(|_| self.corrupt("format version is not 4 bytes"))?,
        );
        if found != FORMAT_VERSION {
            let hint = if found > FORMAT_VERSION {
                "It was written by a newer celprint; upgrade celprint to read it."
            } else {
                "It was written by an older celprint, and no migration exists for it; re-index into a new bank."
            };
            return Err(BankError::FormatVersion {
                path: self.path.clone(),
                found,
                supported: FORMAT_VERSION,
                hint,
            });
        }
        let params = self
            .get(CF_META, KEY_PARAMS)?
            .ok_or_else(|| self.corrupt("no fingerprint parameters recorded"))?;
        self.params = serde_json::from_slice(&params)
            .map_err(|e| self.corrupt(format!("fingerprint parameters unreadable: {e}")))?;
        if let Some(requested) = &opts.params {
            if requested != &self.params {
                return Err(BankError::ParamsMismatch {
                    path: self.path.clone(),
                    bank: serde_json::to_string(&self.params).unwrap_or_default(),
                    requested: serde_json::to_string(requested).unwrap_or_default(),
                });
            }
        }
        let next = self
            .get(CF_META, KEY_NEXT_ID)?
            .ok_or_else(|| self.corrupt("no asset counter"))?;
        self.next_id = u64::from_le_bytes(
            next.as_slice()
                .try_into()
                .map_err(|_| self.corrupt("asset counter is not 8 bytes"))?,
        );
        self.generation = self.read_u64(CF_META, KEY_GENERATION)?.unwrap_or(0);
        Ok(())
    }

    fn flush_all(&self) -> Result<(), rocksdb::Error> {
        let all: Vec<_> = ALL_CFS
            .iter()
            .filter_map(|n| self.db.cf_handle(n))
            .collect();
        self.db
            .flush_cfs_opt(&all, &rocksdb::FlushOptions::default())
    }

    fn read_u64(&self, cf: &str, key: &[u8]) -> Result<Option<u64>, BankError> {
        match self.get(cf, key)? {
            None => Ok(None),
            Some(v) => Ok(Some(u64::from_le_bytes(v.as_slice().try_into().map_err(
                |_| self.corrupt(format!("{} is not 8 bytes", String::from_utf8_lossy(key))),
            )?))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn params(&self) -> &FingerprintParams {
        &self.params
    }

    /// The asset these bytes already are, if any.
    pub fn asset_by_digest(&self, digest: &[u8; 32]) -> Result<Option<AssetId>, BankError> {
        reader::asset_by_digest(&self.db, &self.path, digest)
    }

    pub fn asset(&self, id: AssetId) -> Result<Option<AssetRecord>, BankError> {
        match self.get(CF_ASSETS, &id.key())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.corrupt(format!("asset {} unreadable: {e}", id.0))),
        }
    }

    /// Banks a new asset: record, digest, segments and search entries in one batch.
    pub fn add_asset(&mut self, mut new: NewAsset) -> Result<AssetId, BankError> {
        let id = AssetId(self.next_id);
        let record = new.record(id, now_rfc3339());
        let words = record.provenance[0].words();
        let all = new.take_stored_segments();
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META)?, KEY_NEXT_ID, (id.0 + 1).to_le_bytes());
        batch.put_cf(
            self.cf(CF_META)?,
            KEY_GENERATION,
            (self.generation + 1).to_le_bytes(),
        );
        batch.put_cf(
            self.cf(CF_ASSETS)?,
            id.key(),
            serde_json::to_vec(&record).expect("record serialises"),
        );
        batch.put_cf(self.cf(CF_DIGESTS)?, new.digest, id.key());
        batch.put_cf(
            self.cf(CF_FRAMES)?,
            id.key(),
            records::encode_segments(&all),
        );
        batch.put_cf(
            self.cf(CF_SEARCH)?,
            id.key(),
            records::encode_search_entries(&all),
        );
        if !new.features.is_empty() {
            batch.put_cf(
                self.cf(CF_FEATURES)?,
                id.key(),
                records::encode_features(&new.features),
            );
            self.put_keypoints(&mut batch, id, &new.features)?;
        }
        if let Some(stamp) = new.seen {
            let said = Some(words);
            let digest = Some(record.digest.clone());
            self.put_path(&mut batch, &new.path, stamp, digest, None, said)?;
        }
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        self.next_id += 1;
        self.generation += 1;
        for (i, seg) in all.iter().enumerate() {
            self.index.insert(
                SegmentRef {
                    asset: id,
                    index: i as u32,
                },
                seg.pdq,
                seg.quality,
            );
        }
        Ok(id)
    }

    /// Adds a statement of provenance to an asset (see [`Provenance`] for how the
    /// label is decided). Returns the record as it now is, and whether it changed; a
    /// repeated `index` statement changes nothing.
    pub fn add_provenance(
        &mut self,
        id: AssetId,
        statement: Provenance,
    ) -> Result<(AssetRecord, bool), BankError> {
        let mut record = self
            .asset(id)?
            .ok_or_else(|| self.corrupt(format!("no asset {}", id.0)))?;
        if !record.add_statement(statement) {
            return Ok((record, false));
        }
        let value = serde_json::to_vec(&record).expect("record serialises");
        self.db
            .put_cf(self.cf(CF_ASSETS)?, id.key(), value)
            .map_err(|e| self.rocks(e))?;
        Ok((record, true))
    }

    /// Makes every write so far durable against a power cut, not only a killed
    /// process (which a write already survives, once it returns: the log is in the
    /// kernel's hands).
    pub fn sync(&self) -> Result<(), BankError> {
        self.db.flush_wal(true).map_err(|e| self.rocks(e))
    }

    /// One segment of a banked asset. Decodes that record alone: a hit's lookup must not
    /// cost in proportion to the length of the asset it falls in.
    pub fn segment(&self, seg: SegmentRef) -> Result<Option<Segment>, BankError> {
        let value = self
            .db
            .get_pinned_cf(self.cf(CF_FRAMES)?, seg.asset.key())
            .map_err(|e| self.rocks(e))?;
        let Some(value) = value else {
            return Ok(None);
        };
        if value.len() % records::SEGMENT_BYTES != 0 {
            return Err(self.corrupt(format!("bad segment records for asset {}", seg.asset.0)));
        }
        let at = seg.index as usize * records::SEGMENT_BYTES;
        match value.get(at..at + records::SEGMENT_BYTES) {
            None => Ok(None),
            Some(b) => records::decode_segment(b).map(Some).ok_or_else(|| {
                self.corrupt(format!("bad segment records for asset {}", seg.asset.0))
            }),
        }
    }

    /// All segments of a banked asset, in order, then those of its centre crops (see
    /// [`AssetRecord::parts`]); empty for an unknown asset.
    pub fn segments(&self, id: AssetId) -> Result<Vec<Segment>, BankError> {
        match self.get(CF_FRAMES, &id.key())? {
            None => Ok(Vec::new()),
            Some(v) => records::decode_segments(&v)
                .ok_or_else(|| self.corrupt(format!("bad segment records for asset {}", id.0))),
        }
    }

    /// Adds to `batch` the deletion of an asset's record, digest, segments and search
    /// entries, and the generation bump that goes with it.
    fn removal(
        &self,
        batch: &mut WriteBatch,
        id: AssetId,
        record: &AssetRecord,
    ) -> Result<(), BankError> {
        let digest = crate::media::digest_from_hex(&record.digest)
            .ok_or_else(|| self.corrupt(format!("asset {} has a bad digest", id.0)))?;
        batch.delete_cf(self.cf(CF_ASSETS)?, id.key());
        batch.delete_cf(self.cf(CF_DIGESTS)?, digest);
        batch.delete_cf(self.cf(CF_FRAMES)?, id.key());
        batch.delete_cf(self.cf(CF_SEARCH)?, id.key());
        self.delete_keypoints(batch, id)?;
        batch.delete_cf(self.cf(CF_FEATURES)?, id.key());
        batch.put_cf(
            self.cf(CF_META)?,
            KEY_GENERATION,
            (self.generation + 1).to_le_bytes(),
        );
        Ok(())
    }

    /// Deletes an asset: its record, digest, segments and search entries in one batch.
    /// Returns false if there was no such asset.
    pub fn remove_asset(&mut self, id: AssetId) -> Result<bool, BankError> {
        let Some(record) = self.asset(id)? else {
            return Ok(false);
        };
        let mut batch = WriteBatch::default();
        self.removal(&mut batch, id, &record)?;
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        self.generation += 1;
        self.index.remove_asset(id);
        Ok(true)
    }

    /// Every banked asset, in asset-number order.
    pub fn assets(&self) -> Result<Vec<AssetRecord>, BankError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_ASSETS)?, IteratorMode::Start)
        {
            let (_, value) = item.map_err(|e| self.rocks(e))?;
            out.push(
                serde_json::from_slice(&value)
                    .map_err(|e| self.corrupt(format!("asset unreadable: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Banked segments within `radius` of any of `queries`.
    pub fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        self.index.search(queries, radius)
    }

    /// Expected cache misses of one search query at `radius` (see
    /// [`MultiIndex::expected_misses`]).
    pub fn search_cost(&self, radius: u32) -> f64 {
        self.index.expected_misses(radius)
    }

    pub fn stats(&self) -> Result<BankStats, BankError> {
        let mut stats = BankStats::default();
        for asset in self.assets()? {
            *stats.assets_by_label.entry(asset.label).or_default() += 1;
            stats.assets += 1;
            stats.segments += asset.segments as u64;
        }
        stats.disk_bytes = dir_size(&self.path);
        stats.index_entries = self.index.len();
        stats.index_memory_bytes = self.index.memory_bytes();
        stats.index_layout = self.index.layout().cloned();
        stats.index_tail = self.index.tail_len();
        stats.index_origin = self.index_origin.clone();
        stats.generation = self.generation;
        Ok(stats)
    }
}

fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests;
