//! `compare`: align two files directly, without a standing bank.
//!
//! The reference file is banked into a throwaway bank in a private temporary folder and
//! the other file is scanned against it, so a comparison runs exactly the matcher a
//! scan runs, thresholds and all.

use std::path::{Path, PathBuf};

use super::FileError;
use super::{index_paths, scan_paths, Context, IndexOptions, ScanOptions};
use crate::bank::{Bank, BankError, OpenOptions};
use crate::fingerprint::FingerprintParams;
use crate::model::Label;
use crate::report::ScanReport;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("cannot make a temporary bank")]
    TempDir(#[source] std::io::Error),
    /// The reference file would not decode; like every per-file error, the cause is in
    /// the message.
    #[error("{path}: {error}")]
    Reference { path: String, error: FileError },
}

/// A folder removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Aligns `delivered` against `reference`: the report reads as if `reference` were the
/// only asset of a bank.
pub fn compare_files(
    delivered: &Path,
    reference: &Path,
    params: &FingerprintParams,
    opts: &ScanOptions,
    ctx: &Context<'_>,
) -> Result<ScanReport, CompareError> {
    let unique = format!(
        "celprint-compare-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let dir = TempDir(std::env::temp_dir().join(unique));
    std::fs::create_dir(&dir.0).map_err(CompareError::TempDir)?;
    let bank_dir = dir.0.join("bank");
    let mut bank = Bank::open(
        &bank_dir,
        &OpenOptions {
            create: true,
            read_only: false,
            params: Some(params.clone()),
        },
    )?;
    let index_opts = IndexOptions {
        label: Label::Suspicious,
        source: Some("celprint compare".to_string()),
        limits: opts.limits,
        sampling: opts.sampling,
        ..IndexOptions::default()
    };
    let mut summary = index_paths(&mut bank, &[reference.to_path_buf()], &index_opts, ctx);
    if let Some(e) = summary.bank_error {
        return Err(e.into());
    }
    if let Some((path, error)) = summary.errors.pop() {
        return Err(CompareError::Reference { path, error });
    }
    scan_paths(&bank, &[delivered.to_path_buf()], opts, ctx).map_err(CompareError::from)
}
