//! The audit trail: every scan leaves one record in the bank directory, under `runs/`,
//! holding its whole report, the command line and the exit status, so that a compliance
//! team can show months later what was checked, when, against which bank state, and what
//! came out.
//!
//! Records are files, not RocksDB entries, because scans open the bank read-only: an
//! `index` may be writing it at the same time and holds RocksDB's lock. A record is
//! written to a temporary name and renamed into place, so a reader never sees half of
//! one, and two scans never contend for anything.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bank::{holds_bank, BankError};
use crate::report::ScanReport;

/// Why the audit trail could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No bank at the path given, or a file where the bank should be.
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("audit trail at {path}: cannot {what}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("audit trail at {path}: unreadable run record")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no recorded run {0} (see `celprint history`)")]
    NoSuchRun(String),
}

const RUNS_DIR: &str = "runs";

/// One recorded scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// The arguments the scan was started with, program name excluded.
    pub args: Vec<String>,
    pub exit_status: u8,
    /// Who ran the scan, where, and from which folder; absent in records from before
    /// it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Custody>,
    pub report: ScanReport,
}

/// Who ran a job and from where: the part of the chain of custody the process itself
/// can tell, as the caller found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custody {
    pub user: String,
    pub host: String,
    /// The working directory, which relative paths on the command line were taken from.
    pub cwd: String,
}

impl Custody {
    /// `user@host`, as recorded with each statement of provenance.
    pub fn by(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

/// A run as `celprint history` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub files: usize,
    pub matched_files: usize,
    pub matches: usize,
    pub errors: usize,
    pub exit_status: u8,
}

/// A run id that sorts by time: the report's start (UTC, to the second), then the
/// process id, so that scans started in the same second by other processes differ.
pub fn new_run_id(started_at: &str) -> String {
    let stamp: String = started_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{stamp}-{:x}", std::process::id())
}

fn runs_dir(bank_dir: &Path) -> PathBuf {
    bank_dir.join(RUNS_DIR)
}

fn io_error(path: &Path, what: &'static str, source: std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// Writes `record` under the bank's `runs/`, atomically. Returns the file written.
pub fn record_run(bank_dir: &Path, record: &RunRecord) -> Result<PathBuf, AuditError> {
    let dir = runs_dir(bank_dir);
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", e))?;
    let path = dir.join(format!("{}.json", record.run_id));
    let tmp = dir.join(format!(".{}.json.tmp", record.run_id));
    let bytes = serde_json::to_vec_pretty(record).expect("run record serialises");
    std::fs::write(&tmp, bytes).map_err(|e| io_error(&tmp, "write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, "rename into place", e))?;
    Ok(path)
}

/// Refuses a path that holds no bank, so that a mistyped `--db` is an error and not an
/// empty history: "no runs" must mean that nothing was scanned against this bank.
fn require_bank(bank_dir: &Path) -> Result<(), AuditError> {
    if holds_bank(bank_dir)? {
        Ok(())
    } else {
        Err(BankError::NotFound(bank_dir.to_path_buf()).into())
    }
}

/// Every recorded run, oldest first. A record that cannot be read is an error, not
/// skipped: an audit trail with a silent hole is worse than one that says it is damaged.
pub fn list_runs(bank_dir: &Path) -> Result<Vec<RunSummary>, AuditError> {
    require_bank(bank_dir)?;
    let dir = runs_dir(bank_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&dir, "list", e)),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(&dir, "list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
            ids.push(id.to_string());
        }
    }
    ids.sort();
    ids.iter()
        .map(|id| {
            let r = load_run(bank_dir, id)?;
            Ok(RunSummary {
                run_id: r.run_id,
                started_at: r.report.started_at,
                finished_at: r.report.finished_at,
                files: r.report.summary.files,
                matched_files: r.report.summary.matched_files,
                matches: r.report.summary.matches,
                errors: r.report.summary.errors,
                exit_status: r.exit_status,
            })
        })
        .collect()
}

/// The record of one run.
pub fn load_run(bank_dir: &Path, run_id: &str) -> Result<RunRecord, AuditError> {
    let valid = !run_id.is_empty()
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(AuditError::NoSuchRun(run_id.to_string()));
    }
    require_bank(bank_dir)?;
    let path = runs_dir(bank_dir).join(format!("{run_id}.json"));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuditError::NoSuchRun(run_id.to_string()))
        }
        Err(e) => return Err(io_error(&path, "read", e)),
    };
    serde_json::from_slice(&bytes).map_err(|source| AuditError::Unreadable { path, source })
}
