//! `celprint serve`: the bank behind an HTTP API (axum on tokio), for tools that ask "is
//! this file known?" and for scans started from elsewhere.
//!
//! The service owns the bank: it holds RocksDB's writer lock for its whole life, so
//! tokens, assets and decisions are written here, while reads (lookups, scans) run
//! side by side under a shared lock. Jobs (scans, asset uploads) run one at a time in
//! a queue on the engine's rayon pool, never on the async threads. Nothing here prints:
//! the caller is told the address and gets errors as values.

mod api;
mod auth;
mod jobs;
mod pages;
mod review;
mod upload;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bank::{Bank, BankError, TokenRecord};
use crate::engine::{IndexOptions, ScanOptions};

pub use jobs::{JobState, JobView};

/// What the service is started with; the CLI builds it from its arguments, with the
/// same scan and index options as `celprint scan` and `celprint index` would use.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Server-side folders a `{"path"}` scan may name; none means no path scans.
    pub scan_roots: Vec<PathBuf>,
    /// Where uploaded files are kept (one folder per job), so that a report's paths
    /// keep pointing at the files it judged.
    pub uploads: PathBuf,
    pub scan: ScanOptions,
    /// For `POST /v1/assets`; label, source, note and `by` are set per request.
    pub index: IndexOptions,
    pub limits: UploadLimits,
    /// Worker threads for jobs (0: one per core).
    pub jobs: usize,
    /// Recorded in the audit trail with each scan (`Custody::host`, `cwd`).
    pub host: String,
    pub cwd: String,
}

#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Bytes in one request, all parts together; over it: 413.
    pub max_request_bytes: usize,
    /// Files in one request; over it: 413.
    pub max_files: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_request_bytes: 2 << 30,
            max_files: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the service's threads")]
    Runtime(#[source] std::io::Error),
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the running service shares between requests and the job worker.
pub(crate) struct AppState {
    pub bank: RwLock<Bank>,
    pub bank_dir: PathBuf,
    pub config: Config,
    /// The bank's tokens, read at start and after every change (tokens change only
    /// through this service while it holds the bank).
    pub tokens: RwLock<Vec<TokenRecord>>,
    pub jobs: Mutex<HashMap<String, jobs::Job>>,
    pub queue: Mutex<Option<std::sync::mpsc::Sender<jobs::Work>>>,
    pub cancel: Arc<AtomicBool>,
    pub started_at: String,
    /// Browser sessions by id (in memory: a restart logs everyone out).
    pub sessions: Mutex<HashMap<String, auth::Session>>,
}

impl AppState {
    pub fn bank(&self) -> std::sync::RwLockReadGuard<'_, Bank> {
        // A panic while holding the lock cannot leave the bank half-written (every
        // write is one batch), so a poisoned lock is used as it is.
        self.bank.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn bank_mut(&self) -> std::sync::RwLockWriteGuard<'_, Bank> {
        self.bank.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The note a running service leaves in the bank directory, so that a CLI `index`
/// refused by RocksDB's lock can say who holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub listen: String,
}

const HOLDER_FILE: &str = "serve.json";

/// The running service that holds the bank at `bank_dir`, if one does: its note, and
/// its process still alive.
pub fn holder(bank_dir: &Path) -> Option<Holder> {
    let bytes = std::fs::read(bank_dir.join(HOLDER_FILE)).ok()?;
    let holder: Holder = serde_json::from_slice(&bytes).ok()?;
    Path::new(&format!("/proc/{}", holder.pid))
        .exists()
        .then_some(holder)
}

/// Runs the service on `listener` until `cancel` is set (the CLI sets it on SIGTERM
/// or Ctrl-C), then stops taking requests, lets the job in hand stop after its files
/// in flight (its partial report is recorded), drops the jobs still queued, and closes
/// the bank, which flushes it. Every asset was committed as it was banked, so nothing
/// banked is lost.
pub fn serve(
    bank: Bank,
    config: Config,
    listener: std::net::TcpListener,
    cancel: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    let bank_dir = bank.path().to_path_buf();
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.listen,
        source,
    })?;
    let holder_path = bank_dir.join(HOLDER_FILE);
    let note = Holder {
        pid: std::process::id(),
        listen: addr.to_string(),
    };
    std::fs::write(&holder_path, serde_json::to_vec(&note).expect("serialises")).map_err(
        |source| ServeError::Io {
            path: holder_path.clone(),
            source,
        },
    )?;
    let result = run(bank, bank_dir, config, listener, cancel);
    let _ = std::fs::remove_file(&holder_path);
    result
}

fn run(
    bank: Bank,
    bank_dir: PathBuf,
    config: Config,
    listener: std::net::TcpListener,
    cancel: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    let tokens = bank.tokens()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.jobs)
        .thread_name(|i| format!("celprint-job-{i}"))
        .build()
        .map_err(|e| ServeError::Runtime(std::io::Error::other(e)))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let state = Arc::new(AppState {
        bank: RwLock::new(bank),
        bank_dir,
        config,
        tokens: RwLock::new(tokens),
        jobs: Mutex::new(HashMap::new()),
        queue: Mutex::new(Some(tx)),
        cancel: cancel.clone(),
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        sessions: Mutex::new(HashMap::new()),
    });
    let worker = {
        let state = state.clone();
        std::thread::Builder::new()
            .name("celprint-queue".into())
            .spawn(move || jobs::work(&state, rx, &pool))
            .map_err(ServeError::Runtime)?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .enable_time()
        .thread_name("celprint-http")
        .build()
        .map_err(ServeError::Runtime)?;
    let served = runtime.block_on(async {
        listener
            .set_nonblocking(true)
            .map_err(ServeError::Runtime)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Runtime)?;
        let app = api::router(state.clone());
        let watched = cancel.clone();
        let stop = async move {
            while !watched.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .map_err(ServeError::Runtime)
    });
    // Connections still open (a browser's keep-alive) must not hold the bank open.
    runtime.shutdown_timeout(Duration::from_secs(5));
    cancel.store(true, Ordering::Relaxed);
    // Closing the queue ends the worker once the job in hand has stopped.
    state.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
    let _ = worker.join();
    served
}
