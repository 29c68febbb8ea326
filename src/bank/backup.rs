//! Backups of a bank's RocksDB files with RocksDB's `BackupEngine`, into a folder that
//! keeps every backup made there: table files are shared between backups by name and
//! checksum, so a backup after a small change copies only the files that change made.
//!
//! The bank is opened read-only, as a scan opens it, so a backup needs no lock and runs
//! while an `index` writes. RocksDB backs a read-only open up without its write-ahead
//! log: the backup holds the state the writer last flushed, whole but without the assets
//! committed since (seen: 1 asset backed up while the bank held 211). The `runs/`
//! folder is not RocksDB's; `audit` copies it next to this. Nor is the search index file
//! (`search-index/`), a cache of the `search` family: a restore rebuilds it.

use std::path::{Path, PathBuf};

use rocksdb::backup::{BackupEngine, BackupEngineOptions, RestoreOptions};
use rocksdb::Env;

use super::verify::open_raw;
use super::{holds_bank, BankError};

/// The folder under a backup destination that RocksDB's backups live in.
pub const ENGINE_DIR: &str = "rocksdb";

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("backup at {path}")]
    Rocks {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("{0} is not empty: a restore goes only into a new or empty folder (move the old bank aside first)")]
    NotEmpty(PathBuf),
    #[error("no backup at {0} (make one with `celprint backup --db DIR {0}`)")]
    NoBackup(PathBuf),
    #[error("cannot {what} {path}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// One backup made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupMade {
    /// RocksDB's number for it, one more than the last.
    pub backup_id: u32,
    /// Backups the destination now holds.
    pub backups: usize,
    /// Bytes and files this backup refers to, shared ones included.
    pub bytes: u64,
    pub files: u32,
}

fn engine(dest: &Path) -> Result<BackupEngine, BackupError> {
    let dir = dest.join(ENGINE_DIR);
    let rocks = |source| BackupError::Rocks {
        path: dest.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(|source| BackupError::Io {
        path: dir.clone(),
        what: "create",
        source,
    })?;
    let opts = BackupEngineOptions::new(&dir).map_err(rocks)?;
    let env = Env::new().map_err(rocks)?;
    BackupEngine::open(&opts, &env).map_err(rocks)
}

/// Backs the bank at `bank_dir` up into `dest`, then checks the backup's files against
/// their recorded sizes. A writer that retires a file while it is copied fails the
/// attempt; it is tried again from a fresh open, three times in all.
pub fn backup(bank_dir: &Path, dest: &Path) -> Result<BackupMade, BackupError> {
    if !holds_bank(bank_dir)? {
        return Err(BankError::NotFound(bank_dir.to_path_buf()).into());
    }
    let mut engine = engine(dest)?;
    let rocks = |source| BackupError::Rocks {
        path: dest.to_path_buf(),
        source,
    };
    let mut attempt = 1;
    loop {
        let db = open_raw(bank_dir).map_err(|source| BankError::Rocks {
            path: bank_dir.to_path_buf(),
            source,
        })?;
        match engine.create_new_backup(&db) {
            Ok(()) => break,
            Err(_) if attempt < 3 => attempt += 1,
            Err(e) => return Err(rocks(e)),
        }
    }
    let infos = engine.get_backup_info();
    let last = infos
        .iter()
        .max_by_key(|i| i.backup_id)
        .ok_or_else(|| BackupError::NoBackup(dest.to_path_buf()))?;
    engine.verify_backup(last.backup_id).map_err(rocks)?;
    Ok(BackupMade {
        backup_id: last.backup_id,
        backups: infos.len(),
        bytes: last.size,
        files: last.num_files,
    })
}

/// Restores the latest backup in `dest` into `bank_dir`, which must be absent or
/// empty: a restore never overwrites a bank.
pub fn restore(dest: &Path, bank_dir: &Path) -> Result<u32, BackupError> {
    match std::fs::read_dir(bank_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::NotEmpty(bank_dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(BackupError::Io {
                path: bank_dir.to_path_buf(),
                what: "read",
                source,
            })
        }
    }
    if !dest.join(ENGINE_DIR).is_dir() {
        return Err(BackupError::NoBackup(dest.to_path_buf()));
    }
    let mut engine = engine(dest)?;
    let latest = engine
        .get_backup_info()
        .iter()
        .map(|i| i.backup_id)
        .max()
        .ok_or_else(|| BackupError::NoBackup(dest.to_path_buf()))?;
    engine
        .restore_from_latest_backup(bank_dir, bank_dir, &RestoreOptions::default())
        .map_err(|source| BackupError::Rocks {
            path: dest.to_path_buf(),
            source,
        })?;
    // A backup holds RocksDB's files only; the index file is rebuilt from them here, so
    // that the restored bank's first scan maps it instead of rebuilding in memory.
    super::Bank::open(bank_dir, &super::OpenOptions::default())?.save_index()?;
    Ok(latest)
}
