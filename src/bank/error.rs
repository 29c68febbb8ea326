//! Why the bank could not be opened, read or written.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BankError {
    #[error("no bank at {0} (create one with `celprint index --db {0} ...`)")]
    NotFound(PathBuf),
    #[error("{0} is a file, not a bank; give --db the bank's directory")]
    NotADirectory(PathBuf),
    #[error(
        "bank at {path} is locked: another process is writing it (an index?); \
         wait for it to finish, then run this again"
    )]
    Locked {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error(
        "bank at {path} cannot be written (a read-only file system, or no permission); \
         index and label write the bank, while scan, info, verify and backup only read it"
    )]
    ReadOnly {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("bank at {path}")]
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
    #[error("bank at {0} was being rewritten (a flush) each time it was opened; try again")]
    Torn(PathBuf),
    #[error("cannot write the search index file in {path}")]
    IndexFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// RocksDB's error at open, with the one a user can act on told apart: another writer
/// holds the lock. RocksDB says so only in the message: its lock on the `LOCK` file
/// failed (held by another process), or this process holds it already. A file system
/// without locks (`No locks available` from the first) is not a writer to wait for.
pub(super) fn open_error(path: &Path, source: rocksdb::Error) -> BankError {
    let text = source.to_string();
    let held = text.contains("lock hold by current process")
        || (text.contains("While lock file") && !text.contains("No locks available"));
    // RocksDB says so only in the OS's words, in the message.
    let unwritable = text.contains("Read-only file system") || text.contains("Permission denied");
    if held {
        BankError::Locked {
            path: path.to_path_buf(),
            source,
        }
    } else if unwritable {
        BankError::ReadOnly {
            path: path.to_path_buf(),
            source,
        }
    } else {
        BankError::Rocks {
            path: path.to_path_buf(),
            source,
        }
    }
}
