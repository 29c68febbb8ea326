//! `celprint merge`: shard banks (`index --shard I/N` on each machine of a cluster)
//! brought into one bank.
//!
//! Each shard's assets get new numbers after the bank's, in the shard's order; their
//! records, segments, search entries and keypoints are written with RocksDB's
//! `SstFileWriter` and ingested, so the data is written once, into files, instead of
//! through the log and the memtables. Bytes already banked (by the bank or an earlier
//! shard) are not banked twice: the shard's paths and statements are added to the asset
//! there, as a rerun of `index` would.
//!
//! RocksDB ingests into one column family at a time, and an asset spans six, so the
//! merge does not ingest into the bank itself: it works on a checkpoint of it (hard
//! links, beside it), and the finished checkpoint takes the bank's place in one
//! `renameat2(RENAME_EXCHANGE)`. Until that exchange the bank is as it was, whatever
//! happens to the merge (an error, a refused shard, a cancel, `kill -9`); after it, the
//! bank is the merged one. The bank's write lock is held throughout, so no `index`
//! writes between the checkpoint and the exchange.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rocksdb::{IngestExternalFileOptions, Options, SstFileWriter};

use super::records;
use super::{
    holds_bank, Bank, BankError, OpenOptions, CF_ASSETS, CF_DIGESTS, CF_FEATURES, CF_FRAMES,
    CF_META, CF_PATHS, CF_SEARCH, KEY_GENERATION, KEY_NEXT_ID,
};
use crate::model::AssetId;

/// The folder, under the bank, that holds one record per merge.
pub const MERGES_DIR: &str = "merges";
/// The audit trail's folder of scan records, which is not in RocksDB and is carried
/// into the merged bank as files.
const RUNS_DIR: &str = "runs";

/// Why a merge did not happen. In every case the bank is as it was.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("nothing to merge: give the shard banks after the bank")]
    NoShards,
    #[error("{0} is given as a shard and as the bank, or twice as a shard")]
    Repeated(PathBuf),
    #[error(
        "shard {shard} was built with fingerprint parameters {found}, but the bank's are \
         {bank}; hashes made with different parameters cannot be compared. Index the shard \
         again with the bank's parameters."
    )]
    ParamsDiffer {
        shard: PathBuf,
        found: String,
        bank: String,
    },
    #[error("shard {shard} is damaged: {what}")]
    Damaged { shard: PathBuf, what: String },
    #[error("merge into {path}: cannot {what}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("merge into {path}: RocksDB could not {what}")]
    Rocks {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rocksdb::Error,
    },
    #[error("the bank at {0} was opened by another writer while the merge took its lock")]
    Raced(PathBuf),
    #[error("merge cancelled; the bank is as it was")]
    Cancelled,
}

/// How to merge.
pub struct MergeOptions<'a> {
    /// Who merges (`user@host`), for the merge record.
    pub by: Option<String>,
    /// Set to stop: the merge gives up and leaves the bank as it was.
    pub cancel: &'a AtomicBool,
    /// Called once each shard is in the staged copy, with its number (from 1): the
    /// caller's progress, and a test's moment to cancel.
    pub staged: &'a (dyn Fn(usize) + Sync),
}

/// What one shard brought.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ShardMerged {
    pub path: String,
    /// Assets in the shard.
    pub assets: u64,
    /// Of them, banked as new assets.
    pub added: u64,
    /// Of them, bytes already banked: their paths and statements were added there.
    pub known: u64,
    pub segments_added: u64,
    /// Path records copied.
    pub paths: u64,
    /// The shard's generation when merged.
    pub generation: u64,
}

/// What a merge did; also the merge's record in the bank, under `merges/`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MergeSummary {
    pub merged_at: String,
    pub by: Option<String>,
    pub bank: String,
    pub shards: Vec<ShardMerged>,
    /// The bank's assets and generation before and after.
    pub assets_before: u64,
    pub assets_after: u64,
    pub generation_before: u64,
    pub generation_after: u64,
    /// How the staged bank took the bank's place: `exchange` (one atomic rename),
    /// `rename` (the bank did not exist) or `two renames` (a file system without
    /// `RENAME_EXCHANGE`: for a moment the bank's path was empty).
    pub swap: String,
}

/// Merges `shards` into the bank at `bank_path` (created, with the shards' parameters,
/// if there is none), atomically: see the module's notes.
pub fn merge_shards(
    bank_path: &Path,
    shards: &[PathBuf],
    opts: &MergeOptions<'_>,
) -> Result<MergeSummary, MergeError> {
    if shards.is_empty() {
        return Err(MergeError::NoShards);
    }
    let mut seen = vec![canonical(bank_path)];
    for shard in shards {
        let c = canonical(shard);
        if seen.contains(&c) {
            return Err(MergeError::Repeated(shard.clone()));
        }
        seen.push(c);
    }
    let staging = staging_path(bank_path);
    let io = |what, source| MergeError::Io {
        path: bank_path.to_path_buf(),
        what,
        source,
    };
    let exists = holds_bank(bank_path)?;
    // Held from before the checkpoint until after the exchange, so that no writer comes
    // between them. A stale staged copy is from a merge that died: this one has the lock.
    let mut lock = None;
    let mut summary = MergeSummary {
        merged_at: super::now_rfc3339(),
        by: opts.by.clone(),
        bank: bank_path.display().to_string(),
        ..MergeSummary::default()
    };
    if exists {
        let bank = Bank::open(bank_path, &OpenOptions::default())?;
        remove_stale(&staging).map_err(|e| io("remove a stale staged copy", e))?;
        rocksdb::checkpoint::Checkpoint::new(&*bank.db)
            .and_then(|c| c.create_checkpoint(&staging))
            .map_err(|source| MergeError::Rocks {
                path: bank_path.to_path_buf(),
                what: "take a checkpoint",
                source,
            })?;
        // Read while the lock is ours: a writer that opens the bank once it is let go
        // rewrites it.
        let current =
            std::fs::read(bank_path.join("CURRENT")).map_err(|e| io("read CURRENT", e))?;
        drop(bank);
        lock = Some(FileLock::take(bank_path, &current)?);
        for dir in [RUNS_DIR, MERGES_DIR] {
            link_tree(&bank_path.join(dir), &staging.join(dir))
                .map_err(|e| io("copy the audit trail", e))?;
        }
    } else {
        remove_stale(&staging).map_err(|e| io("remove a stale staged copy", e))?;
    }
    let result = stage(bank_path, &staging, shards, exists, opts, &mut summary);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if opts.cancel.load(Ordering::SeqCst) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(MergeError::Cancelled);
    }
    summary.swap = match swap_in(&staging, bank_path, exists) {
        Ok(how) => how,
        Err(e) => {
            // Nothing was swapped: the bank is as it was.
            let _ = std::fs::remove_dir_all(&staging);
            return Err(io("swap the merged bank in", e));
        }
    };
    drop(lock);
    if exists {
        // What was the bank now sits at the staging path. A scan that recorded its run
        // there after the audit trail was linked keeps its record.
        let _ = link_tree(&staging.join(RUNS_DIR), &bank_path.join(RUNS_DIR));
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(summary)
}

/// Builds the merged bank at `staging`, and its merge record.
fn stage(
    bank_path: &Path,
    staging: &Path,
    shards: &[PathBuf],
    exists: bool,
    opts: &MergeOptions<'_>,
    summary: &mut MergeSummary,
) -> Result<(), MergeError> {
    let read_only = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    let params = if exists {
        None
    } else {
        Some(Bank::open(&shards[0], &read_only)?.params().clone())
    };
    let mut bank = Bank::open(
        staging,
        &OpenOptions {
            create: !exists,
            read_only: false,
            params,
        },
    )?;
    summary.assets_before = bank.stats()?.assets;
    summary.generation_before = bank.generation;
    let ingest_dir = staging.join(".ingest");
    for (n, shard_path) in shards.iter().enumerate() {
        let shard = Bank::open(shard_path, &read_only)?;
        if shard.params() != bank.params() {
            return Err(MergeError::ParamsDiffer {
                shard: shard_path.clone(),
                found: serde_json::to_string(shard.params()).unwrap_or_default(),
                bank: serde_json::to_string(bank.params()).unwrap_or_default(),
            });
        }
        std::fs::create_dir_all(&ingest_dir).map_err(|source| MergeError::Io {
            path: bank_path.to_path_buf(),
            what: "make a folder for the files to ingest",
            source,
        })?;
        let merged = stage_shard(&mut bank, &shard, shard_path, &ingest_dir, opts.cancel)?;
        summary.shards.push(merged);
        (opts.staged)(n + 1);
    }
    let _ = std::fs::remove_dir_all(&ingest_dir);
    let added: u64 = summary.shards.iter().map(|s| s.added + s.known).sum();
    bank.generation += added.max(1);
    let meta = bank.cf(CF_META)?;
    bank.db
        .put_cf(meta, KEY_NEXT_ID, bank.next_id.to_le_bytes())
        .and_then(|_| {
            bank.db
                .put_cf(meta, KEY_GENERATION, bank.generation.to_le_bytes())
        })
        .map_err(|e| bank.rocks(e))?;
    // The tables are built over the merged entries and saved, so that the first scan
    // loads them instead of building them.
    bank.load_index()?;
    bank.save_index()?;
    summary.assets_after = bank.stats()?.assets;
    summary.generation_after = bank.generation;
    drop(bank);
    let dir = staging.join(MERGES_DIR);
    std::fs::create_dir_all(&dir)
        .and_then(|_| {
            let stamp: String = summary
                .merged_at
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let name = format!("{stamp}-{:x}.json", std::process::id());
            let bytes = serde_json::to_vec_pretty(&*summary).expect("summary serialises");
            std::fs::write(dir.join(name), bytes)
        })
        .map_err(|source| MergeError::Io {
            path: bank_path.to_path_buf(),
            what: "write the merge record",
            source,
        })
}

/// One SST file being written for one column family.
struct Sst<'a> {
    cf: &'static str,
    path: PathBuf,
    writer: SstFileWriter<'a>,
    entries: u64,
}

/// Copies one shard into the staged bank: new assets under new numbers, known bytes
/// as more paths and statements of the asset banked.
fn stage_shard(
    bank: &mut Bank,
    shard: &Bank,
    shard_path: &Path,
    dir: &Path,
    cancel: &AtomicBool,
) -> Result<ShardMerged, MergeError> {
    let damaged = |what: String| MergeError::Damaged {
        shard: shard_path.to_path_buf(),
        what,
    };
    let bank_dir = bank.path.clone();
    let rocks = |what, source| MergeError::Rocks {
        path: bank_dir.clone(),
        what,
        source,
    };
    let mut sst_opts = Options::default();
    sst_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let open = |cf: &'static str| -> Result<Sst<'_>, MergeError> {
        let path = dir.join(format!("{cf}.sst"));
        let _ = std::fs::remove_file(&path);
        let writer = SstFileWriter::create(&sst_opts);
        writer
            .open(&path)
            .map_err(|e| rocks("start a file to ingest", e))?;
        Ok(Sst {
            cf,
            path,
            writer,
            entries: 0,
        })
    };
    let mut out = ShardMerged {
        path: shard_path.display().to_string(),
        generation: shard.generation,
        ..ShardMerged::default()
    };
    let mut assets = open(CF_ASSETS)?;
    let mut frames = open(CF_FRAMES)?;
    let mut search = open(CF_SEARCH)?;
    let mut features = open(CF_FEATURES)?;
    let mut digests: Vec<([u8; 32], AssetId)> = Vec::new();
    // (number in the shard, number in the bank) of each asset added with keypoints.
    let mut with_keypoints: Vec<(AssetId, AssetId)> = Vec::new();
    // Statements for assets banked before this shard, written after its files go in.
    let mut known: BTreeMap<AssetId, super::AssetRecord> = BTreeMap::new();
    let put = |sst: &mut Sst<'_>, key: &[u8], value: &[u8]| {
        sst.entries += 1;
        sst.writer
            .put(key, value)
            .map_err(|e| rocks("write a file to ingest", e))
    };
    for record in shard.assets()? {
        if cancel.load(Ordering::Relaxed) {
            return Err(MergeError::Cancelled);
        }
        out.assets += 1;
        let digest = crate::media::digest_from_hex(&record.digest)
            .ok_or_else(|| damaged(format!("asset {} has a bad digest", record.id.0)))?;
        if let Some(id) = bank.asset_by_digest(&digest)? {
            out.known += 1;
            let mut banked = match known.remove(&id) {
                Some(r) => r,
                None => bank.asset(id)?.ok_or_else(|| {
                    bank.corrupt(format!("digest points at missing asset {}", id.0))
                })?,
            };
            for path in &record.paths {
                if !banked.paths.contains(path) {
                    banked.paths.push(path.clone());
                }
            }
            for statement in record.history() {
                banked.add_statement(statement);
            }
            known.insert(id, banked);
            continue;
        }
        let (old_id, old) = (record.id, record.id.key());
        let id = AssetId(bank.next_id);
        bank.next_id += 1;
        out.added += 1;
        out.segments_added += record.segments as u64;
        let key = id.key();
        let packed = shard
            .get(CF_FRAMES, &old)?
            .ok_or_else(|| damaged(format!("asset {} has no segments", record.id.0)))?;
        let entries = shard
            .get(CF_SEARCH, &old)?
            .ok_or_else(|| damaged(format!("asset {} has no search entries", record.id.0)))?;
        if records::decode_search_entries(&entries).is_none() {
            return Err(damaged(format!(
                "bad search entries for asset {}",
                record.id.0
            )));
        }
        let record = super::AssetRecord { id, ..record };
        put(
            &mut assets,
            &key,
            &serde_json::to_vec(&record).expect("record serialises"),
        )?;
        put(&mut frames, &key, &packed)?;
        put(&mut search, &key, &entries)?;
        if let Some(samples) = shard.get(CF_FEATURES, &old)? {
            put(&mut features, &key, &samples)?;
            with_keypoints.push((old_id, id));
        }
        digests.push((digest, id));
    }
    digests.sort_unstable();
    let mut digest_sst = open(CF_DIGESTS)?;
    for (digest, id) in &digests {
        put(&mut digest_sst, digest, &id.key())?;
    }
    let mut paths = open(CF_PATHS)?;
    for item in shard
        .db
        .iterator_cf(shard.cf(CF_PATHS)?, rocksdb::IteratorMode::Start)
    {
        let (key, value) = item.map_err(|e| shard.rocks(e))?;
        put(&mut paths, &key, &value)?;
        out.paths += 1;
    }
    let mut ingest = IngestExternalFileOptions::default();
    ingest.set_move_files(true);
    for mut sst in [assets, frames, search, features, digest_sst, paths] {
        if sst.entries == 0 {
            // RocksDB refuses to finish an empty file.
            drop(sst.writer);
            let _ = std::fs::remove_file(&sst.path);
            continue;
        }
        sst.writer
            .finish()
            .map_err(|e| rocks("finish a file to ingest", e))?;
        bank.db
            .ingest_external_file_cf_opts(bank.cf(sst.cf)?, &ingest, vec![&sst.path])
            .map_err(|e| rocks("ingest a shard's file", e))?;
    }
    // The buckets of the keypoints just ingested, under their new numbers: their keys
    // are spread over the whole family, so they go in through batches, not files.
    for (old, id) in with_keypoints {
        if cancel.load(Ordering::Relaxed) {
            return Err(MergeError::Cancelled);
        }
        let value = shard
            .get(CF_FEATURES, &old.key())?
            .ok_or_else(|| damaged(format!("asset {}: its keypoints went", old.0)))?;
        let samples = records::decode_features(&value)
            .ok_or_else(|| damaged(format!("bad keypoint records for asset {}", old.0)))?;
        let mut batch = rocksdb::WriteBatch::default();
        bank.put_keypoints(&mut batch, id, &samples)?;
        bank.db.write(batch).map_err(|e| bank.rocks(e))?;
    }
    for (id, record) in known {
        let value = serde_json::to_vec(&record).expect("record serialises");
        bank.db
            .put_cf(bank.cf(CF_ASSETS)?, id.key(), value)
            .map_err(|e| bank.rocks(e))?;
    }
    Ok(out)
}

/// The path as the file system resolves it, to tell a shard given twice; the path
/// itself when it does not resolve (a bank not made yet).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Beside the bank, so that hard links reach it and the exchange is a rename.
fn staging_path(bank: &Path) -> PathBuf {
    let name = bank
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bank".to_string());
    let parent = match bank.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.join(format!(".{name}.merging"))
}

fn remove_stale(staging: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(staging) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Hard-links (or, across file systems, copies) every file under `from` into `to`,
/// leaving files already in `to`. A missing `from` is nothing to do.
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(from) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    std::fs::create_dir_all(to)?;
    for entry in entries {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else if !target.exists() && std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Puts the staged bank at the bank's path. Says how ([`MergeSummary::swap`]).
fn swap_in(staging: &Path, bank: &Path, exists: bool) -> std::io::Result<String> {
    if !exists {
        // An empty folder may stand where the bank will be; rename replaces it.
        std::fs::rename(staging, bank)?;
        return Ok("rename".to_string());
    }
    let (a, b) = (cpath(staging)?, cpath(bank)?);
    // SAFETY: both are valid NUL-terminated paths; the call only renames.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        return Ok("exchange".to_string());
    }
    let e = std::io::Error::last_os_error();
    if !matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    ) {
        return Err(e);
    }
    // A file system without the exchange (NFS, some FUSE): the old bank steps aside,
    // then the new one takes its name. The old one is moved to the staging path, where
    // the caller removes it, and where a crash in between would leave it whole.
    let aside = staging.with_extension("old");
    std::fs::rename(bank, &aside)?;
    std::fs::rename(staging, bank)?;
    std::fs::rename(&aside, staging)?;
    Ok("two renames".to_string())
}

fn cpath(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// RocksDB's own lock on the bank (an `fcntl` lock on its `LOCK` file), held by the
/// merge between closing its handle on the bank and the exchange. A writer that opened
/// the bank in the moment between is noticed by the `CURRENT` file it rewrote.
struct FileLock {
    /// Closing it lets the lock go.
    _file: std::fs::File,
}

impl FileLock {
    /// Takes the lock, or says the bank was raced: `before` is `CURRENT` as it was
    /// while the merge's handle held the lock.
    fn take(bank: &Path, before: &[u8]) -> Result<FileLock, MergeError> {
        let io = |what, source| MergeError::Io {
            path: bank.to_path_buf(),
            what,
            source,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(bank.join("LOCK"))
            .map_err(|e| io("open the lock file", e))?;
        let lock = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor and a valid flock structure.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } != 0 {
            return Err(MergeError::Raced(bank.to_path_buf()));
        }
        let after = std::fs::read(bank.join("CURRENT")).map_err(|e| io("read CURRENT", e))?;
        if before != after {
            return Err(MergeError::Raced(bank.to_path_buf()));
        }
        Ok(FileLock { _file: file })
    }
}
