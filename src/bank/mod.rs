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
//! - `index`: the multi-index's tables as last saved, with the bank generation they
//!   were built at (see [`Bank::save_index`]).
//!
//! Every asset is written in one `WriteBatch`, so a crash leaves it whole or absent.
//! Segments are packed per asset because assets are written, read and deleted whole:
//! four keys per asset instead of two per segment makes bulk loads and the index's
//! rebuild at open stream large values instead of millions of small ones.

mod records;
pub mod runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};

pub use records::{AssetId, AssetRecord, Label, SegmentRef};

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
const ALL_CFS: [&str; 7] = [
    CF_META, CF_ASSETS, CF_FRAMES, CF_SEARCH, CF_DIGESTS, CF_INDEX, CF_PATHS,
];

const KEY_FORMAT: &[u8] = b"format_version";
const KEY_PARAMS: &[u8] = b"fingerprint_params";
const KEY_NEXT_ID: &[u8] = b"next_asset_id";
/// Bumped in the same batch as every change to the banked segments, so saved index
/// tables can tell whether they still describe the bank.
const KEY_GENERATION: &[u8] = b"generation";
const KEY_INDEX_HEADER: &[u8] = b"header";
/// Saved tables are cut into values of this many 32-bit numbers (16 MiB).
const INDEX_PART: usize = 1 << 22;

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
    #[error("audit trail at {path}: {what}")]
    Audit { path: PathBuf, what: String },
    #[error("no recorded run {0} (see `celprint history`)")]
    NoSuchRun(String),
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
    /// The file as the walk saw it, recorded under `path` in the same batch so a rerun
    /// can skip it; `None` for assets that do not come from a file walk.
    pub seen: Option<FileStamp>,
}

/// A file's size and modification time, as a walk saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub modified_ns: Option<u64>,
}

/// What `index` last saw at a path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathRecord {
    pub stamp: FileStamp,
    /// BLAKE3 (hex) of the bytes banked from it; `None` if it failed.
    pub digest: Option<String>,
    /// Why it could not be fingerprinted; such paths are tried again on every run (a
    /// codec can be fixed).
    pub error: Option<String>,
    pub seen_at: String,
}

impl PathRecord {
    /// Whether a file with `stamp` can be taken to hold what was banked from this path:
    /// it was banked, and its size and modification time are the same.
    pub fn unchanged(&self, stamp: &FileStamp) -> bool {
        self.error.is_none()
            && self.digest.is_some()
            && stamp.modified_ns.is_some()
            && self.stamp == *stamp
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
    /// Whether the tables were loaded as saved or rebuilt at open.
    pub index_origin: String,
    /// Bumped with every asset added or removed: with the counts, the bank state a
    /// scan ran against.
    pub generation: u64,
}

pub struct Bank {
    db: DB,
    path: PathBuf,
    params: FingerprintParams,
    next_id: u64,
    generation: u64,
    index: MultiIndex,
    /// How the index came to be at open: loaded from saved tables, or rebuilt (and why).
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

/// What the `index` column family's header records about the saved tables.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct IndexHeader {
    generation: u64,
    entries: usize,
    widths: Vec<u32>,
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
                Err(BankError::Rocks { .. } | BankError::NotFound(_))
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
            // A reader cannot create a missing family (a bank from before `index`
            // existed); it opens those there are, and the index is then rebuilt.
            let existing = DB::list_cf(&db_opts, path).map_err(rocks)?;
            let names = ALL_CFS.iter().filter(|n| existing.iter().any(|e| e == *n));
            DB::open_cf_for_read_only(&db_opts, path, names, false).map_err(rocks)?
        } else {
            let cfs = ALL_CFS.map(|name| ColumnFamilyDescriptor::new(name, db_opts.clone()));
            DB::open_cf_descriptors(&db_opts, path, cfs).map_err(rocks)?
        };
        let mut bank = Bank {
            db,
            path: path.to_path_buf(),
            params: FingerprintParams::default(),
            next_id: 0,
            generation: 0,
            index: MultiIndex::new(),
            index_origin: String::new(),
            writer: !opts.read_only,
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
        let version = self.get(CF_META, KEY_FORMAT)?;
        let Some(version) = version else {
            // A bank whose creation was cut short (killed between RocksDB creating its
            // files and our first write) holds nothing at all: it is simply new.
            if existed && !self.holds_nothing() {
                return Err(self.corrupt("no format version recorded; is this a celprint bank?"));
            }
            if opts.read_only {
                return Err(BankError::NotFound(self.path.clone()));
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
            batch.put_cf(meta, KEY_GENERATION, 0u64.to_le_bytes());
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

    /// Rebuilds the search index from the `search` column family: one packed value per
    /// asset, then one table build over everything.
    fn load_index(&mut self) -> Result<(), BankError> {
        let mut index = MultiIndex::new();
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_SEARCH)?);
        iter.seek_to_first();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let asset = AssetId::from_key(key).ok_or_else(|| self.corrupt("bad search key"))?;
            let packed = records::decode_search_entries(value)
                .ok_or_else(|| self.corrupt(format!("bad search entries for asset {}", asset.0)))?;
            index.reserve(value.len() / records::SEARCH_ENTRY_BYTES);
            for (i, (hash, quality)) in packed.enumerate() {
                let segment = SegmentRef {
                    asset,
                    index: i as u32,
                };
                index.push(segment, hash, quality);
            }
            iter.next();
        }
        iter.status().map_err(|e| self.rocks(e))?;
        drop(iter);
        self.index_origin = match self.load_saved_tables(&mut index) {
            Ok(()) => "loaded from saved tables".to_string(),
            Err(why) => {
                index.rebuild();
                format!("rebuilt at open ({why})")
            }
        };
        self.index = index;
        Ok(())
    }

    /// Installs the saved tables if they were built at this generation over these
    /// entries; otherwise says why not.
    fn load_saved_tables(&self, index: &mut MultiIndex) -> Result<(), String> {
        let header = self
            .get(CF_INDEX, KEY_INDEX_HEADER)
            .map_err(|e| e.to_string())?
            .ok_or("no saved tables")?;
        let header: IndexHeader =
            serde_json::from_slice(&header).map_err(|e| format!("unreadable header: {e}"))?;
        if header.generation != self.generation || header.entries != index.len() {
            return Err("saved tables are older than the bank".to_string());
        }
        // One table per worker: each is 50-100 MB of values to read and convert.
        let tables = header
            .widths
            .par_iter()
            .enumerate()
            .map(|(k, width)| {
                let mut starts = self.read_part_array(k, b's', (1usize << width) + 1)?;
                // Stored as bucket sizes, which compress; summed back into offsets here.
                for v in 1..starts.len() {
                    starts[v] = starts[v].wrapping_add(starts[v - 1]);
                }
                let ids = self.read_part_array(k, b'i', header.entries)?;
                Ok((starts, ids))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let layout = Layout {
            widths: header.widths,
        };
        index.install_tables(layout, tables)
    }

    fn index_part_key(table: usize, kind: u8, part: usize) -> Vec<u8> {
        let mut key = vec![b't', table as u8, kind];
        key.extend_from_slice(&(part as u32).to_be_bytes());
        key
    }

    fn read_part_array(&self, table: usize, kind: u8, len: usize) -> Result<Vec<u32>, String> {
        let mut out = Vec::with_capacity(len);
        for part in 0..len.div_ceil(INDEX_PART) {
            let key = Self::index_part_key(table, kind, part);
            let cf = self.cf(CF_INDEX).map_err(|e| e.to_string())?;
            let value = self
                .db
                .get_pinned_cf(cf, &key)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("table {table} is missing a part"))?;
            if value.len() % 4 != 0 {
                return Err(format!("table {table} has a torn part"));
            }
            out.extend(
                value
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        if out.len() != len {
            return Err(format!("table {table} has {} values, not {len}", out.len()));
        }
        Ok(out)
    }

    /// Saves the index's tables, so the next open loads them instead of rebuilding
    /// (on 10M segments, a fraction of a second against several). Nothing is written
    /// when the saved tables are current, or when the bank is small enough to have none
    /// (any old ones are then removed). The header goes last, in its own write: a crash
    /// in between leaves a header-less set that the next open ignores and rebuilds.
    pub fn save_index(&mut self) -> Result<bool, BankError> {
        if self.index.tail_len() > 0 {
            self.index.rebuild();
        }
        let current = self
            .get(CF_INDEX, KEY_INDEX_HEADER)?
            .and_then(|h| serde_json::from_slice::<IndexHeader>(&h).ok())
            .is_some_and(|h| h.generation == self.generation && h.entries == self.index.len());
        if current {
            return Ok(false);
        }
        let cf = self.cf(CF_INDEX)?;
        let mut clear = WriteBatch::default();
        clear.delete_range_cf(cf, [0u8].as_slice(), [0xffu8; 16].as_slice());
        self.db.write(clear).map_err(|e| self.rocks(e))?;
        let Some((layout, tables)) = self.index.tables() else {
            return Ok(false);
        };
        let bytes =
            |values: &[u32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        for (k, (starts, ids)) in tables.iter().enumerate() {
            let sizes: Vec<u32> = std::iter::once(0)
                .chain(starts.windows(2).map(|w| w[1] - w[0]))
                .collect();
            for (kind, values) in [(b's', sizes.as_slice()), (b'i', *ids)] {
                for (part, slice) in values.chunks(INDEX_PART).enumerate() {
                    self.db
                        .put_cf(cf, Self::index_part_key(k, kind, part), bytes(slice))
                        .map_err(|e| self.rocks(e))?;
                }
            }
        }
        let header = IndexHeader {
            generation: self.generation,
            entries: self.index.len(),
            widths: layout.widths.clone(),
        };
        self.db
            .put_cf(
                cf,
                KEY_INDEX_HEADER,
                serde_json::to_vec(&header).expect("header serialises"),
            )
            .map_err(|e| self.rocks(e))?;
        // Flushed now, so that the next open reads tables from files instead of
        // replaying hundreds of megabytes of write-ahead log into memory.
        self.flush_all().map_err(|e| self.rocks(e))?;
        Ok(true)
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

    /// Records another path for bytes already banked, and what the walk saw there, in
    /// one batch. Returns false if the asset already had the path.
    pub fn add_path(
        &mut self,
        id: AssetId,
        path: &str,
        seen: Option<FileStamp>,
    ) -> Result<bool, BankError> {
        let mut record = self
            .asset(id)?
            .ok_or_else(|| self.corrupt(format!("digest points at missing asset {}", id.0)))?;
        let new = !record.paths.iter().any(|p| p == path);
        let mut batch = WriteBatch::default();
        if new {
            record.paths.push(path.to_string());
            let value = serde_json::to_vec(&record).expect("record serialises");
            batch.put_cf(self.cf(CF_ASSETS)?, id.key(), value);
        }
        if let Some(stamp) = seen {
            self.put_path(&mut batch, path, stamp, Some(record.digest.clone()), None)?;
        }
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        Ok(new)
    }

    fn put_path(
        &self,
        batch: &mut WriteBatch,
        path: &str,
        stamp: FileStamp,
        digest: Option<String>,
        error: Option<String>,
    ) -> Result<(), BankError> {
        let record = PathRecord {
            stamp,
            digest,
            error,
            seen_at: now_rfc3339(),
        };
        batch.put_cf(
            self.cf(CF_PATHS)?,
            path.as_bytes(),
            serde_json::to_vec(&record).expect("path record serialises"),
        );
        Ok(())
    }

    /// What `index` last saw at `path`. A reader of a bank older than the `paths`
    /// family sees nothing.
    pub fn path_record(&self, path: &str) -> Result<Option<PathRecord>, BankError> {
        let Some(cf) = self.db.cf_handle(CF_PATHS) else {
            return Ok(None);
        };
        match self
            .db
            .get_cf(cf, path.as_bytes())
            .map_err(|e| self.rocks(e))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.corrupt(format!("path record for {path} unreadable: {e}"))),
        }
    }

    /// Records that `path` could not be fingerprinted, and why; the next run retries it.
    pub fn record_failure(
        &mut self,
        path: &str,
        seen: FileStamp,
        error: &str,
    ) -> Result<(), BankError> {
        let mut batch = WriteBatch::default();
        self.put_path(&mut batch, path, seen, None, Some(error.to_string()))?;
        self.db.write(batch).map_err(|e| self.rocks(e))
    }

    /// Every recorded path that starts with `prefix`, in order.
    pub fn paths_under(&self, prefix: &str) -> Result<Vec<(String, PathRecord)>, BankError> {
        let Some(cf) = self.db.cf_handle(CF_PATHS) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in self.db.prefix_iterator_cf(cf, prefix.as_bytes()) {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let path = String::from_utf8_lossy(&key).into_owned();
            let record = serde_json::from_slice(&value)
                .map_err(|e| self.corrupt(format!("path record for {path} unreadable: {e}")))?;
            out.push((path, record));
        }
        Ok(out)
    }

    /// Forgets a path that has disappeared: drops it from its asset, and the asset with
    /// it when no other path is left, all in one batch. Returns whether an asset went.
    pub fn prune_path(&mut self, path: &str) -> Result<bool, BankError> {
        let digest = self
            .path_record(path)?
            .and_then(|r| r.digest)
            .and_then(|d| crate::media::digest_from_hex(&d));
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_PATHS)?, path.as_bytes());
        let mut removed = None;
        if let Some(id) = digest
            .map(|d| self.asset_by_digest(&d))
            .transpose()?
            .flatten()
        {
            if let Some(mut record) = self.asset(id)? {
                record.paths.retain(|p| p != path);
                if record.paths.is_empty() {
                    self.removal(&mut batch, id, &record)?;
                    removed = Some(id);
                } else {
                    let value = serde_json::to_vec(&record).expect("record serialises");
                    batch.put_cf(self.cf(CF_ASSETS)?, id.key(), value);
                }
            }
        }
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        if let Some(id) = removed {
            self.generation += 1;
            self.index.remove_asset(id);
        }
        Ok(removed.is_some())
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
            paths: vec![new.path.clone()],
            bytes: new.bytes,
            width: new.width,
            height: new.height,
            segments: new.segments.len() as u32,
            indexed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
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
            records::encode_segments(&new.segments),
        );
        batch.put_cf(
            self.cf(CF_SEARCH)?,
            id.key(),
            records::encode_search_entries(&new.segments),
        );
        if let Some(stamp) = new.seen {
            self.put_path(
                &mut batch,
                &new.path,
                stamp,
                Some(record.digest.clone()),
                None,
            )?;
        }
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        self.next_id += 1;
        self.generation += 1;
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
        Ok(self.segments(seg.asset)?.get(seg.index as usize).copied())
    }

    /// All segments of a banked asset, in order; empty for an unknown asset.
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
            seen: None,
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

    /// Adds and deletes assets at random, reopening now and then, and checks after every
    /// step that searching the bank gives exactly what a brute-force scan of a model of
    /// its contents gives. Assets are large enough that the index runs on tables, with
    /// a tail, and small clustered ones so results are not empty.
    #[test]
    fn index_equals_a_brute_force_model_through_adds_deletes_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        let centre = Hash256::from_words([next(), next(), next(), next()]);
        let mut model: BTreeMap<AssetId, Vec<Hash256>> = BTreeMap::new();
        let mut bank = create(dir.path());
        for step in 0..24u8 {
            match next() % 6 {
                0..=2 => {
                    let n = (next() % 4000) as usize;
                    let hashes: Vec<Hash256> = (0..n)
                        .map(|_| {
                            let mut h = centre;
                            for _ in 0..next() % 40 {
                                let bit = (next() % 256) as usize;
                                h.words[bit / 64] ^= 1 << (bit % 64);
                            }
                            if next() % 2 == 0 {
                                h = Hash256::from_words([next(), next(), next(), next()]);
                            }
                            h
                        })
                        .collect();
                    let hex: Vec<String> = hashes.iter().map(|h| h.to_string()).collect();
                    let refs: Vec<&str> = hex.iter().map(String::as_str).collect();
                    let id = bank.add_asset(asset(step, &refs)).unwrap();
                    model.insert(id, hashes);
                }
                3 | 4 if !model.is_empty() => {
                    let victim = *model.keys().nth((next() as usize) % model.len()).unwrap();
                    assert!(bank.remove_asset(victim).unwrap());
                    model.remove(&victim);
                    assert!(bank.segments(victim).unwrap().is_empty());
                }
                _ => {
                    if next() % 2 == 0 {
                        bank.save_index().unwrap();
                    }
                    drop(bank);
                    bank = create(dir.path());
                }
            }
            let queries = [
                centre,
                Hash256::from_words([next(), next(), next(), next()]),
            ];
            let mut expected: Vec<(usize, SegmentRef, u32)> = Vec::new();
            for (id, hashes) in &model {
                for (i, h) in hashes.iter().enumerate() {
                    for (q, query) in queries.iter().enumerate() {
                        let d = h.distance(query);
                        if d <= 31 {
                            let seg = SegmentRef {
                                asset: *id,
                                index: i as u32,
                            };
                            expected.push((q, seg, d));
                        }
                    }
                }
            }
            let mut got: Vec<(usize, SegmentRef, u32)> = bank
                .search(&queries, 31)
                .into_iter()
                .map(|h| (h.query, h.segment, h.distance))
                .collect();
            expected.sort();
            got.sort();
            assert_eq!(got, expected, "step {step}");
            let total: usize = model.values().map(Vec::len).sum();
            assert_eq!(bank.stats().unwrap().index_entries, total, "step {step}");
        }
    }

    fn random_asset(byte: u8, n: usize, seed: u64) -> NewAsset {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let hex: Vec<String> = (0..n)
            .map(|_| Hash256::from_words([next(), next(), next(), next()]).to_string())
            .collect();
        let refs: Vec<&str> = hex.iter().map(String::as_str).collect();
        asset(byte, &refs)
    }

    #[test]
    fn saved_tables_are_loaded_only_while_current() {
        let dir = tempfile::tempdir().unwrap();
        let probe: Hash256;
        {
            let mut bank = create(dir.path());
            let big = random_asset(1, 20_000, 3);
            probe = big.segments[12_345].pdq;
            bank.add_asset(big).unwrap();
            assert!(bank.save_index().unwrap());
            assert!(!bank.save_index().unwrap(), "nothing to do when current");
        }
        let origin = |bank: &Bank| bank.stats().unwrap().index_origin;
        let reader = OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        };
        {
            let bank = Bank::open(dir.path(), &reader).unwrap();
            assert_eq!(origin(&bank), "loaded from saved tables");
            assert_eq!(bank.search(&[probe], 0).len(), 1);
        }
        {
            // A change after the save makes the saved tables stale.
            let mut bank = create(dir.path());
            bank.add_asset(random_asset(2, 10, 4)).unwrap();
        }
        {
            let bank = Bank::open(dir.path(), &reader).unwrap();
            assert!(origin(&bank).starts_with("rebuilt"), "{}", origin(&bank));
            assert_eq!(bank.search(&[probe], 0).len(), 1);
        }
        {
            // Damaged tables are rebuilt, not trusted.
            let mut bank = create(dir.path());
            bank.save_index().unwrap();
            let cf = bank.cf(CF_INDEX).unwrap();
            bank.db
                .put_cf(cf, Bank::index_part_key(0, b'i', 0), vec![0u8; 8])
                .unwrap();
        }
        let bank = Bank::open(dir.path(), &reader).unwrap();
        assert!(origin(&bank).starts_with("rebuilt"), "{}", origin(&bank));
        assert_eq!(bank.search(&[probe], 0).len(), 1);
    }
}
