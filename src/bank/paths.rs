//! What `index` last saw at each path (the `paths` column family): size, modification
//! time, and the digest banked from it or why it failed. A rerun skips unchanged files
//! without reading them, retries failures, and finds what vanished.

use rocksdb::WriteBatch;

use super::{now_rfc3339, Bank, BankError, CF_ASSETS, CF_PATHS};
use crate::model::AssetId;
use crate::search::HammingIndex;

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
    /// What the last `index` of this path said of it ([`Provenance::words`]), so that a
    /// rerun saying the same skips an unchanged file without reading its asset either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<String>,
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

impl Bank {
    /// Records another path for bytes already banked, and what the walk saw there, in
    /// one batch. Returns false if the asset already had the path.
    pub fn add_path(
        &mut self,
        id: AssetId,
        path: &str,
        seen: Option<FileStamp>,
        said: Option<String>,
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
            let digest = Some(record.digest.clone());
            self.put_path(&mut batch, path, stamp, digest, None, said)?;
        }
        self.db.write(batch).map_err(|e| self.rocks(e))?;
        Ok(new)
    }

    pub(super) fn put_path(
        &self,
        batch: &mut WriteBatch,
        path: &str,
        stamp: FileStamp,
        digest: Option<String>,
        error: Option<String>,
        said: Option<String>,
    ) -> Result<(), BankError> {
        let record = PathRecord {
            stamp,
            digest,
            error,
            seen_at: now_rfc3339(),
            said,
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
        super::reader::path_record(&self.db, &self.path, path)
    }

    /// Records that `path` could not be fingerprinted, and why; the next run retries it.
    pub fn record_failure(
        &mut self,
        path: &str,
        seen: FileStamp,
        error: &str,
    ) -> Result<(), BankError> {
        let mut batch = WriteBatch::default();
        self.put_path(&mut batch, path, seen, None, Some(error.to_string()), None)?;
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
}
