//! The bank: a RocksDB directory holding banked assets, their segments, and the search
//! structure over their hashes.
//!
//! Column families:
//! - `meta`: format version, fingerprint parameters, the next asset number;
//! - `assets`: asset number → [`AssetRecord`] (JSON);
//! - `frames`: (asset, segment index) → [`Segment`] (61-byte binary);
//! - `search`: (asset, segment index) → hash and quality, what the index loads at open;
//! - `digests`: BLAKE3 digest → asset number, the identity of an asset.
//!
//! Every asset is written in one `WriteBatch`, so a crash leaves it whole or absent.

mod records;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};

pub use records::{AssetId, AssetRecord, Label, SegmentRef};

use crate::fingerprint::{FingerprintParams, Hash256, Segment};
use crate::media::MediaKind;
use crate::search::{HammingIndex, Hit, LinearIndex};

/// The on-disk layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const CF_META: &str = "meta";
const CF_ASSETS: &str = "assets";
const CF_FRAMES: &str = "frames";
const CF_SEARCH: &str = "search";
const CF_DIGESTS: &str = "digests";
const ALL_CFS: [&str; 5] = [CF_META, CF_ASSETS, CF_FRAMES, CF_SEARCH, CF_DIGESTS];

const KEY_FORMAT: &[u8] = b"format_version";
const KEY_PARAMS: &[u8] = b"fingerprint_params";
const KEY_NEXT_ID: &[u8] = b"next_asset_id";

#[derive(Debug, thiserror::Error)]
pub enum BankError {
    #[error("no bank at {0} (create one with `celprint index --db {0} ...`)")]
    NotFound(PathBuf),
    #[error("bank at {path}: {source}")]
    Rocks {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("bank at {path} has format version {found}; this celprint reads version {supported}. {hint}")]
    FormatVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
        hint: &'static str,
    },
    #[error(
        "bank at {path} was built with fingerprint parameters {bank}, but {requested} were asked for; \
         hashes made with different parameters cannot be compared. Use a new bank, or drop the option."
    )]
    ParamsMismatch {
        path: PathBuf,
        bank: String,
        requested: String,
    },
    #[error("bank at {path} is damaged: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// How to open a bank.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Create the bank if the directory holds none.
    pub create: bool,
    /// Open without taking the write lock; another process may be indexing.
    pub read_only: bool,
    /// Parameters the caller requires. A new bank is created with them (or the defaults);
    /// an existing bank built with others is refused.
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
    pub path: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub segments: Vec<Segment>,
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
}

pub struct Bank {
    db: DB,
    path: PathBuf,
    params: FingerprintParams,
    next_id: u64,
    index: LinearIndex,
}

impl Bank {
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Bank, BankError> {
        let exists = path.join("CURRENT").is_file();
        let may_create = opts.create && !opts.read_only;
        if !exists && !may_create {
            return Err(BankError::NotFound(path.to_path_buf()));
        }
        let rocks = |source| BankError::Rocks {
            path: path.to_path_buf(),
            source,
        };
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let db = if opts.read_only {
            DB::open_cf_for_read_only(&db_opts, path, ALL_CFS, false).map_err(rocks)?
        } else {
            let cfs = ALL_CFS.map(|name| ColumnFamilyDescriptor::new(name, db_opts.clone()));
            DB::open_cf_descriptors(&db_opts, path, cfs).map_err(rocks)?
        };
        let mut bank = Bank {
            db,
            path: path.to_path_buf(),
            params: FingerprintParams::default(),
            next_id: 0,
            index: LinearIndex::new(),
        };
        bank.check_or_init_meta(opts, exists)?;
        bank.load_index()?;
        Ok(bank)
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

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, BankError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| self.corrupt(format!("column family {name} is missing")))
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, BankError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(|e| self.rocks(e))
    }

    fn check_or_init_meta(&mut self, opts: &OpenOptions, existed: bool) -> Result<(), BankError> {
        let version = self.get(CF_META, KEY_FORMAT)?;
        let Some(version) = version else {
            if existed {
                return Err(self.corrupt("no format version recorded; is this a celprint bank?"));
            }
            let params = opts.params.clone().unwrap_or_default();
            let meta = self.cf(CF_META)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(meta, KEY_FORMAT, FORMAT_VERSION.to_le_bytes());
            batch.put_cf(
                meta,
                KEY_PARAMS,
                serde_json::to_vec(&params).expect("params serialise"),
            );
            batch.put_cf(meta, KEY_NEXT_ID, 1u64.to_le_bytes());
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
        Ok(())
    }

    fn load_index(&mut self) -> Result<(), BankError> {
        let mut index = LinearIndex::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_SEARCH)?, IteratorMode::Start)
        {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            let seg = SegmentRef::from_key(&key).ok_or_else(|| self.corrupt("bad search key"))?;
            let (hash, quality) = records::decode_search_entry(&value)
                .ok_or_else(|| self.corrupt("bad search entry"))?;
            index.insert(seg, hash, quality);
        }
        self.index = index;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn params(&self) -> &FingerprintParams {
        &self.params
    }

    /// The asset these bytes already are, if any.
    pub fn asset_by_digest(&self, digest: &[u8; 32]) -> Result<Option<AssetId>, BankError> {
        match self.get(CF_DIGESTS, digest)? {
            None => Ok(None),
            Some(v) => {
                let id = u64::from_be_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| self.corrupt("digest entry is not 8 bytes"))?,
                );
                Ok(Some(AssetId(id)))
            }
        }
    }

    pub fn asset(&self, id: AssetId) -> Result<Option<AssetRecord>, BankError> {
        match self.get(CF_ASSETS, &id.key())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.corrupt(format!("asset {} unreadable: {e}", id.0))),
        }
    }

    /// Records another path for bytes already banked. Returns false if it was known.
    pub fn add_path(&mut self, id: AssetId, path: &str) -> Result<bool, BankError> {
        let mut record = self
            .asset(id)?
            .ok_or_else(|| self.corrupt(format!("digest points at missing asset {}", id.0)))?;
        if record.paths.iter().any(|p| p == path) {
            return Ok(false);
        }
        record.paths.push(path.to_string());
        let value = serde_json::to_vec(&record).expect("record serialises");
        self.db
            .put_cf(self.cf(CF_ASSETS)?, id.key(), value)
            .map_err(|e| self.rocks(e))?;
        Ok(true)
    }

    /// Banks a new asset: record, digest, segments and search entries in one batch.
    pub fn add_asset(&mut self, new: NewAsset) -> Result<AssetId, BankError> {
        let id = AssetId(self.next_id);
        let record = AssetRecord {
            id,
            digest: crate::media::digest_hex(&new.digest),
            kind: new.kind,
            label: new.label,
            source: new.source,
            note: new.note,
            paths: vec![new.path],
            bytes: new.bytes,
            width: new.width,
            height: new.height,
            segments: new.segments.len() as u32,
            indexed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META)?, KEY_NEXT_ID, (id.0 + 1).to_le_bytes());
        batch.put_cf(
            self.cf(CF_ASSETS)?,
            id.key(),
            serde_json::to_vec(&record).expect("record serialises"),
        );
        batch.put_cf(self.cf(CF_DIGESTS)?, new.digest, id.key());
        for (i, seg) in new.segments.iter().enumerate() {
            let key = SegmentRef {
                asset: id,
                index: i as u32,
            }
            .key();
            batch.put_cf(self.cf(CF_FRAMES)?, key, records::encode_segment(seg));
            batch.put_cf(
                self.cf(CF_SEARCH)?,
                key,
                records::encode_search_entry(&seg.pdq, seg.quality),
            );
        }
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        self.next_id += 1;
        for (i, seg) in new.segments.iter().enumerate() {
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

    /// One segment of a banked asset.
    pub fn segment(&self, seg: SegmentRef) -> Result<Option<Segment>, BankError> {
        match self.get(CF_FRAMES, &seg.key())? {
            None => Ok(None),
            Some(v) => records::decode_segment(&v)
                .map(Some)
                .ok_or_else(|| self.corrupt("bad segment record")),
        }
    }

    /// All segments of a banked asset, in order.
    pub fn segments(&self, id: AssetId) -> Result<Vec<Segment>, BankError> {
        let mut out = Vec::new();
        let prefix = id.key();
        for item in self.db.prefix_iterator_cf(self.cf(CF_FRAMES)?, prefix) {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.push(
                records::decode_segment(&value)
                    .ok_or_else(|| self.corrupt("bad segment record"))?,
            );
        }
        Ok(out)
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
mod tests {
    use super::*;

    fn asset(digest_byte: u8, hashes: &[&str]) -> NewAsset {
        NewAsset {
            digest: [digest_byte; 32],
            kind: MediaKind::Still,
            label: Label::Leaked,
            source: Some("test".into()),
            note: None,
            path: format!("file-{digest_byte}.png"),
            bytes: 10,
            width: 64,
            height: 64,
            segments: hashes
                .iter()
                .map(|h| Segment {
                    start_s: None,
                    end_s: None,
                    pdq: h.parse().unwrap(),
                    quality: 90,
                    frames: 1,
                    secondary: 7,
                })
                .collect(),
        }
    }

    fn create(dir: &Path) -> Bank {
        Bank::open(
            dir,
            &OpenOptions {
                create: true,
                ..OpenOptions::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn assets_survive_reopen_and_are_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let h = "ab".repeat(32);
        {
            let mut bank = create(dir.path());
            let id = bank.add_asset(asset(1, &[&h, &"00".repeat(32)])).unwrap();
            assert_eq!(bank.asset_by_digest(&[1; 32]).unwrap(), Some(id));
        }
        let bank = Bank::open(
            dir.path(),
            &OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        let hits = bank.search(&[h.parse().unwrap()], 0);
        assert_eq!(hits.len(), 1);
        assert_eq!(bank.segments(hits[0].segment.asset).unwrap().len(), 2);
        assert_eq!(bank.stats().unwrap().assets, 1);
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let bank = create(dir.path());
            bank.db
                .put_cf(
                    bank.cf(CF_META).unwrap(),
                    KEY_FORMAT,
                    (FORMAT_VERSION + 1).to_le_bytes(),
                )
                .unwrap();
        }
        let err = Bank::open(dir.path(), &OpenOptions::default())
            .err()
            .expect("refused");
        assert!(matches!(err, BankError::FormatVersion { .. }), "{err}");
        assert!(err.to_string().contains("newer celprint"), "{err}");
    }

    #[test]
    fn other_params_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(create(dir.path()));
        let other = FingerprintParams {
            secondary: crate::fingerprint::ImgHashAlgo::Dhash,
            ..FingerprintParams::default()
        };
        let err = Bank::open(
            dir.path(),
            &OpenOptions {
                params: Some(other),
                ..OpenOptions::default()
            },
        )
        .err()
        .expect("refused");
        assert!(matches!(err, BankError::ParamsMismatch { .. }), "{err}");
    }

    #[test]
    fn missing_bank_is_not_created_by_readers() {
        let dir = tempfile::tempdir().unwrap();
        let err = Bank::open(&dir.path().join("none"), &OpenOptions::default())
            .err()
            .expect("refused");
        assert!(matches!(err, BankError::NotFound(_)));
        assert!(!dir.path().join("none").exists());
    }
}
