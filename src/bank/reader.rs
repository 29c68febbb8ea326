//! A handle that reads a bank while its [`Bank`] writes: what `index`'s workers need to
//! decide whether a file is new (its path record, its digest), so that the writer can
//! commit each asset the moment it is fingerprinted instead of after a whole batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::DB;

use super::{Bank, BankError, PathRecord, CF_DIGESTS, CF_PATHS};
use crate::model::AssetId;

/// Reads the digest and path families of a bank opened elsewhere; cheap to clone and
/// safe to share between threads.
#[derive(Clone)]
pub struct BankReader {
    db: Arc<DB>,
    path: PathBuf,
}

impl Bank {
    /// A reader over this bank's current state, for workers running beside the writer.
    pub fn reader(&self) -> BankReader {
        BankReader {
            db: Arc::clone(&self.db),
            path: self.path.clone(),
        }
    }
}

impl BankReader {
    pub fn asset_by_digest(&self, digest: &[u8; 32]) -> Result<Option<AssetId>, BankError> {
        asset_by_digest(&self.db, &self.path, digest)
    }

    pub fn path_record(&self, path: &str) -> Result<Option<PathRecord>, BankError> {
        path_record(&self.db, &self.path, path)
    }
}

pub(super) fn asset_by_digest(
    db: &DB,
    bank: &Path,
    digest: &[u8; 32],
) -> Result<Option<AssetId>, BankError> {
    let corrupt = |what: &str| BankError::Corrupt {
        path: bank.to_path_buf(),
        what: what.to_string(),
    };
    let cf = db
        .cf_handle(CF_DIGESTS)
        .ok_or_else(|| corrupt("column family digests is missing"))?;
    let value = db.get_cf(cf, digest).map_err(|source| BankError::Rocks {
        path: bank.to_path_buf(),
        source,
    })?;
    value
        .map(|v| AssetId::from_key(&v).ok_or_else(|| corrupt("digest entry is not 8 bytes")))
        .transpose()
}

/// A reader of a bank older than the `paths` family sees nothing.
pub(super) fn path_record(
    db: &DB,
    bank: &Path,
    path: &str,
) -> Result<Option<PathRecord>, BankError> {
    let Some(cf) = db.cf_handle(CF_PATHS) else {
        return Ok(None);
    };
    let value = db
        .get_cf(cf, path.as_bytes())
        .map_err(|source| BankError::Rocks {
            path: bank.to_path_buf(),
            source,
        })?;
    value
        .map(|v| {
            serde_json::from_slice(&v).map_err(|e| BankError::Corrupt {
                path: bank.to_path_buf(),
                what: format!("path record for {path} unreadable: {e}"),
            })
        })
        .transpose()
}
