//! The audit trail: every scan leaves one record in the bank directory, under `runs/`,
//! holding its whole report, the command line and the exit status, so that a compliance
//! team can show months later what was checked, when, against which bank state, and what
//! came out.
//!
//! Records are files, not RocksDB entries, because scans open the bank read-only: an
//! `index` may be writing it at the same time and holds RocksDB's lock. A record is
//! written to a temporary name and renamed into place, so a reader never sees half of
//! one.
//!
//! The records form a hash chain: each carries, in its report's `chain`, its position
//! and the BLAKE3 of the record file before it, and `runs/HEAD` names the last one. A
//! record edited, removed or moved after the fact no longer fits the record after it
//! (or the head), and [`verify_trail`] names it. Appending takes an exclusive lock on
//! `runs/.lock` (`flock`), so that concurrent scans take positions one after another.
//! Runs recorded before the chain existed carry no link: they are listed as unchained.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bank::{holds_bank, BankError};
use crate::media::digest_hex;
use crate::report::{ChainLink, ScanReport};

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
    #[error("audit trail at {path} is damaged: {what} (see `celprint history --verify`)")]
    Damaged { path: PathBuf, what: String },
}

const RUNS_DIR: &str = "runs";
/// The last chained record: its position, run id and digest.
const HEAD_FILE: &str = "HEAD";
const LOCK_FILE: &str = ".lock";

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
    /// The run's position in the chain; `None` for a run recorded before the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
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

/// Writes `record` under the bank's `runs/` as the next link of the chain. A caller
/// that must put the link in reports written before the record uses [`Trail`].
pub fn record_run(bank_dir: &Path, record: &mut RunRecord) -> Result<PathBuf, AuditError> {
    Trail::lock(bank_dir)?.append(record)
}

/// The chain's last link, as `runs/HEAD` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    position: u64,
    run_id: String,
    /// BLAKE3 (hex) of that run's record file.
    digest: String,
}

/// The trail, locked for one append: the position and previous digest the next record
/// gets ([`Trail::link`]) hold until [`Trail::append`] or until it is dropped, so a
/// scan can write them into its reports first.
pub struct Trail {
    dir: PathBuf,
    next: ChainLink,
    /// Held with `flock`; released when closed.
    _lock: File,
}

impl Trail {
    /// Waits for the trail's lock and reads its head. A trail whose head is missing
    /// while chained records exist is refused: a new chain started there would hide
    /// what came before.
    pub fn lock(bank_dir: &Path) -> Result<Trail, AuditError> {
        let dir = runs_dir(bank_dir);
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, "open the lock", e))?;
        flock_exclusive(&lock).map_err(|e| io_error(&lock_path, "lock", e))?;
        let next = match read_head(&dir)? {
            Some(head) => ChainLink {
                position: head.position + 1,
                previous: head.digest,
            },
            None => match chain_start(&dir)? {
                Ok(previous) => ChainLink {
                    position: 1,
                    previous,
                },
                Err(id) => {
                    return Err(AuditError::Damaged {
                        path: dir,
                        what: format!("run {id} is chained but the head (runs/HEAD) is gone"),
                    })
                }
            },
        };
        Ok(Trail {
            dir,
            next,
            _lock: lock,
        })
    }

    /// The link the next record gets.
    pub fn link(&self) -> &ChainLink {
        &self.next
    }

    /// Writes `record` (its report's `chain` set to [`Trail::link`]) and then the head,
    /// each under a temporary name, synced, and renamed into place. Returns the file.
    pub fn append(self, record: &mut RunRecord) -> Result<PathBuf, AuditError> {
        record.report.chain = Some(self.next.clone());
        let bytes = serde_json::to_vec_pretty(&*record).expect("run record serialises");
        let path = self.dir.join(format!("{}.json", record.run_id));
        if path.exists() {
            return Err(AuditError::Damaged {
                path: self.dir.clone(),
                what: format!("run {} is recorded already", record.run_id),
            });
        }
        write_synced(&self.dir, &format!("{}.json", record.run_id), &bytes)?;
        let head = Head {
            position: self.next.position,
            run_id: record.run_id.clone(),
            digest: digest_hex(blake3::hash(&bytes).as_bytes()),
        };
        let head = serde_json::to_vec_pretty(&head).expect("head serialises");
        write_synced(&self.dir, HEAD_FILE, &head)?;
        Ok(path)
    }
}

/// `flock(LOCK_EX)`, waiting, retried when a signal interrupts it.
fn flock_exclusive(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    loop {
        // SAFETY: the descriptor is open for the whole call; flock touches no memory.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Writes `name` in `dir` through a temporary file, synced before and after the rename,
/// so that a reader never sees half of it and a power cut keeps what was said done.
fn write_synced(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut file = File::create(&tmp).map_err(|e| io_error(&tmp, "write", e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(&tmp, "write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, "rename into place", e))?;
    // The rename itself is durable only once the folder is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "sync", e))
}

fn read_head(dir: &Path) -> Result<Option<Head>, AuditError> {
    let path = dir.join(HEAD_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| AuditError::Unreadable { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&path, "read", e)),
    }
}

/// Where a new chain starts: the `previous` of position 1 commits to the runs recorded
/// before the chain (64 zeros when there are none, else the BLAKE3 of one line per run,
/// `run_id digest`, in run id order), so that an older run added, removed or edited
/// later no longer fits. Read only when the head is missing, which is a new chain or a
/// damaged one: a chained record there means the latter, and its id comes back.
fn chain_start(dir: &Path) -> Result<Result<String, String>, AuditError> {
    let mut older = Vec::new();
    for id in run_ids(dir)? {
        let path = dir.join(format!("{id}.json"));
        let bytes = std::fs::read(&path).map_err(|e| io_error(&path, "read", e))?;
        let chained = serde_json::from_slice::<RunRecord>(&bytes)
            .map(|r| r.report.chain.is_some())
            // A record that does not parse may have been chained: not a new chain.
            .unwrap_or(true);
        if chained {
            return Ok(Err(id));
        }
        older.push((id, digest_hex(blake3::hash(&bytes).as_bytes())));
    }
    Ok(Ok(older_runs_digest(&older)))
}

fn older_runs_digest(older: &[(String, String)]) -> String {
    if older.is_empty() {
        return digest_hex(&[0; 32]);
    }
    let mut hasher = blake3::Hasher::new();
    for (id, digest) in older {
        hasher.update(format!("{id} {digest}\n").as_bytes());
    }
    digest_hex(hasher.finalize().as_bytes())
}

/// The run ids of every record file, sorted (by time, see [`new_run_id`]).
fn run_ids(dir: &Path) -> Result<Vec<String>, AuditError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, "list", e)),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, "list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
            ids.push(id.to_string());
        }
    }
    ids.sort();
    Ok(ids)
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
    run_ids(&runs_dir(bank_dir))?
        .iter()
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
                position: r.report.chain.map(|c| c.position),
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

/// What [`verify_trail`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrailCheck {
    /// Records that carry a chain link.
    pub chained: usize,
    /// Runs recorded before the chain began (by an older celprint), oldest first. The
    /// chain's first link commits to them as they were when it began.
    pub unchained: Vec<String>,
    /// The head's position, if the chain has begun.
    pub head: Option<u64>,
    /// Each way the trail does not hold together, naming the runs concerned.
    pub problems: Vec<String>,
}

impl TrailCheck {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One record file as found.
struct Found {
    id: String,
    digest: String,
    link: ChainLink,
}

/// Checks the trail: every record readable and under its own name, positions 1 to the
/// head's each held by one record, each record's `previous` the digest of the record
/// before it, and the head the digest of the last. A record edited, removed or moved
/// breaks one of these, and the problem names it.
pub fn verify_trail(bank_dir: &Path) -> Result<TrailCheck, AuditError> {
    require_bank(bank_dir)?;
    let dir = runs_dir(bank_dir);
    let mut check = TrailCheck::default();
    let mut by_position: BTreeMap<u64, Found> = BTreeMap::new();
    let mut unchained = Vec::new();
    for id in run_ids(&dir)? {
        let path = dir.join(format!("{id}.json"));
        let bytes = std::fs::read(&path).map_err(|e| io_error(&path, "read", e))?;
        let record: RunRecord = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                check
                    .problems
                    .push(format!("run {id}: the record does not parse ({e}): edited"));
                continue;
            }
        };
        if record.run_id != id {
            check.problems.push(format!(
                "run {id}: its file holds run {} (renamed or moved)",
                record.run_id
            ));
        }
        let digest = digest_hex(blake3::hash(&bytes).as_bytes());
        let Some(link) = record.report.chain else {
            unchained.push((id, digest));
            continue;
        };
        let found = Found { id, digest, link };
        if let Some(other) = by_position.get(&found.link.position) {
            check.problems.push(format!(
                "runs {} and {} both claim position {}",
                other.id, found.id, found.link.position
            ));
            continue;
        }
        by_position.insert(found.link.position, found);
    }
    check.chained = by_position.len();
    check_links(
        &by_position,
        &older_runs_digest(&unchained),
        &mut check.problems,
    );
    check.unchained = unchained.into_iter().map(|(id, _)| id).collect();
    let head = read_head(&dir);
    let last = by_position.iter().next_back();
    match (head, last) {
        (Err(e), _) => check.problems.push(format!("the head (runs/HEAD): {e}")),
        (Ok(None), None) => {}
        (Ok(None), Some((_, f))) => check.problems.push(format!(
            "the head (runs/HEAD) is missing; the last chained run is {}",
            f.id
        )),
        (Ok(Some(h)), last) => {
            check.head = Some(h.position);
            let last_position = last.map_or(0, |(p, _)| *p);
            if h.position > last_position {
                check.problems.push(format!(
                    "positions {} to {} are missing: the head names run {} at position {}",
                    last_position + 1,
                    h.position,
                    h.run_id,
                    h.position
                ));
            }
            for f in by_position.range(h.position + 1..).map(|(_, f)| f) {
                check.problems.push(format!(
                    "run {} (position {}) is past the head (position {})",
                    f.id, f.link.position, h.position
                ));
            }
            if let Some(f) = by_position.get(&h.position) {
                if f.id != h.run_id || f.digest != h.digest {
                    check.problems.push(format!(
                        "run {} (position {}, the last) is not the run the head recorded ({}): edited or replaced",
                        f.id, h.position, h.run_id
                    ));
                }
            }
        }
    }
    Ok(check)
}

/// Each position from 1 to the last held, each record's `previous` the digest of the
/// record before it, and position 1's the digest of the unchained runs (`start`).
fn check_links(by_position: &BTreeMap<u64, Found>, start: &str, problems: &mut Vec<String>) {
    let mut before: Option<&Found> = None;
    for (&position, found) in by_position {
        let expected = before.map_or(1, |b| b.link.position + 1);
        if position > expected {
            let after = before.map_or("the start".to_string(), |b| format!("run {}", b.id));
            problems.push(format!(
                "{} missing at position {}: removed between {after} and run {}",
                if position - expected == 1 {
                    "a run is"
                } else {
                    "runs are"
                },
                if position - expected == 1 {
                    expected.to_string()
                } else {
                    format!("{expected} to {}", position - 1)
                },
                found.id
            ));
        } else if let Some(b) = before {
            if found.link.previous != b.digest {
                problems.push(format!(
                    "run {} (position {}) is not the run that run {} (position {position}) followed: \
                     {} was edited after it was recorded, or the runs were reordered",
                    b.id, b.link.position, found.id, b.id
                ));
            }
        } else if found.link.previous != start {
            problems.push(format!(
                "run {} (position 1) does not fit the runs unchained before it: an older run was \
                 added, removed or edited since the chain began, or the chain's start was edited",
                found.id
            ));
        }
        before = Some(found);
    }
}

/// Copies the trail into `dest/runs/`, under the trail's lock so that no record is
/// caught half-appended: records not there yet (a record never changes once written),
/// then the head. Returns how many records were copied. A bank without runs has
/// nothing to copy.
pub fn back_up_trail(bank_dir: &Path, dest: &Path) -> Result<usize, AuditError> {
    let from = runs_dir(bank_dir);
    if !from.is_dir() {
        return Ok(0);
    }
    let trail = Trail::lock(bank_dir);
    // A trail whose head is gone is copied as it is; `verify` says what is wrong.
    let _held = match trail {
        Ok(t) => Some(t),
        Err(AuditError::Damaged { .. }) => None,
        Err(e) => return Err(e),
    };
    copy_trail(&from, &runs_dir(dest), false)
}

/// Copies a backup's `runs/` into a restored bank.
pub fn restore_trail(dest: &Path, bank_dir: &Path) -> Result<usize, AuditError> {
    let from = runs_dir(dest);
    if !from.is_dir() {
        return Ok(0);
    }
    copy_trail(&from, &runs_dir(bank_dir), true)
}

fn copy_trail(from: &Path, to: &Path, overwrite: bool) -> Result<usize, AuditError> {
    std::fs::create_dir_all(to).map_err(|e| io_error(to, "create", e))?;
    let mut copied = 0;
    for id in run_ids(from)? {
        let name = format!("{id}.json");
        if !overwrite && to.join(&name).exists() {
            continue;
        }
        let bytes = std::fs::read(from.join(&name)).map_err(|e| io_error(from, "read", e))?;
        write_synced(to, &name, &bytes)?;
        copied += 1;
    }
    match std::fs::read(from.join(HEAD_FILE)) {
        Ok(head) => write_synced(to, HEAD_FILE, &head)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(from, "read", e)),
    }
    Ok(copied)
}
