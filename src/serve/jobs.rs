//! The job queue: scans and asset uploads, one at a time, on the engine's pool.
//!
//! One job at a time because each already uses every core (files in parallel, a lone
//! video cut into ranges); two would only share them and both finish later. Lookups and
//! hashes do not queue: they are short and run beside the job.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use serde::Serialize;

use super::AppState;
use crate::audit::{self, Custody, RunRecord};
use crate::engine::{self, Context, IndexOptions, Progress};
use crate::report::{ScanReport, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

/// A job's counters, updated by the engine's workers as files finish.
#[derive(Debug, Default)]
pub struct Counter {
    files: AtomicUsize,
    done: AtomicUsize,
    bytes: AtomicU64,
    bytes_done: AtomicU64,
}

impl Progress for Counter {
    fn start(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
    }
    fn file_done(&self, _path: &str, bytes: u64) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
}

pub(crate) struct Job {
    pub state: JobState,
    pub progress: Arc<Counter>,
    pub by: String,
    pub run_id: Option<String>,
    pub error: Option<String>,
    pub report: Option<Arc<ScanReport>>,
}

/// A scan job as `GET /v1/scans/{id}` shows it.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: String,
    pub state: JobState,
    pub progress: ProgressView,
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The CLI's JSON report, once done.
    #[serde(serialize_with = "shared_report")]
    pub report: Option<Arc<ScanReport>>,
}

fn shared_report<S: serde::Serializer>(
    r: &Option<Arc<ScanReport>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    r.as_deref().serialize(s)
}

#[derive(Debug, Serialize)]
pub struct ProgressView {
    pub files: usize,
    pub files_done: usize,
    pub bytes: u64,
    pub bytes_done: u64,
}

impl Job {
    pub fn view(&self, id: &str) -> JobView {
        let p = &self.progress;
        JobView {
            id: id.to_string(),
            state: self.state,
            progress: ProgressView {
                files: p.files.load(Ordering::Relaxed),
                files_done: p.done.load(Ordering::Relaxed),
                bytes: p.bytes.load(Ordering::Relaxed),
                bytes_done: p.bytes_done.load(Ordering::Relaxed),
            },
            by: self.by.clone(),
            run_id: self.run_id.clone(),
            error: self.error.clone(),
            report: self.report.clone(),
        }
    }
}

/// What the queue runs.
pub(crate) enum Work {
    Scan {
        id: String,
        inputs: Vec<PathBuf>,
        /// The request, for the audit trail's `args`.
        args: Vec<String>,
    },
    Index {
        inputs: Vec<PathBuf>,
        opts: IndexOptions,
        reply: tokio::sync::oneshot::Sender<engine::IndexSummary>,
    },
}

/// The exit status a CLI scan with this report would have had.
pub fn exit_status(report: &ScanReport) -> u8 {
    match report.verdict() {
        Verdict::Clean => 0,
        Verdict::Matches => 1,
        Verdict::NotChecked | Verdict::Error => 2,
    }
}

pub(crate) fn work(state: &AppState, rx: Receiver<Work>, pool: &rayon::ThreadPool) {
    for work in rx {
        match work {
            Work::Scan { id, inputs, args } => scan(state, pool, &id, &inputs, args),
            Work::Index {
                inputs,
                opts,
                reply,
            } => {
                let ctx = Context {
                    pool,
                    progress: &engine::NoProgress,
                    cancel: &state.cancel,
                };
                let summary = engine::index_paths(&mut state.bank_mut(), &inputs, &opts, &ctx);
                // The caller may have gone (client hung up): the assets are banked all the same.
                let _ = reply.send(summary);
            }
        }
    }
}

fn update(state: &AppState, id: &str, f: impl FnOnce(&mut Job)) {
    let mut jobs = state.jobs.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(job) = jobs.get_mut(id) {
        f(job);
    }
}

fn scan(
    state: &AppState,
    pool: &rayon::ThreadPool,
    id: &str,
    inputs: &[PathBuf],
    args: Vec<String>,
) {
    let (progress, by) = {
        let mut jobs = state.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(job) = jobs.get_mut(id) else { return };
        job.state = JobState::Running;
        (job.progress.clone(), job.by.clone())
    };
    if state.cancel.load(Ordering::Relaxed) {
        update(state, id, |j| {
            j.state = JobState::Failed;
            j.error = Some("the service stopped before this scan began".into());
        });
        return;
    }
    let ctx = Context {
        pool,
        progress: &*progress,
        cancel: &state.cancel,
    };
    let result = engine::scan_paths(&state.bank(), inputs, &state.config.scan, &ctx);
    let mut report = match result {
        Ok(report) => report,
        Err(e) => {
            update(state, id, |j| {
                j.state = JobState::Failed;
                j.error = Some(crate::serve::api::with_causes(&e));
            });
            return;
        }
    };
    let run_id = audit::new_run_id(&report.started_at);
    // Several scans a second from one process: the job's id keeps run ids apart.
    let run_id = format!("{run_id}-{}", &id[..8.min(id.len())]);
    report.run_id = Some(run_id.clone());
    let record = RunRecord {
        run_id: run_id.clone(),
        args,
        exit_status: exit_status(&report),
        custody: Some(Custody {
            user: by,
            host: state.config.host.clone(),
            cwd: state.config.cwd.clone(),
        }),
        report,
    };
    let recorded = audit::record_run(&state.bank_dir, &record);
    let cancelled = record.report.summary.cancelled;
    let report = Arc::new(record.report);
    update(state, id, |j| {
        j.report = Some(report);
        j.run_id = Some(run_id);
        match recorded {
            // As for the CLI: a scan that cannot be shown later has not done its job.
            Err(e) => {
                j.state = JobState::Failed;
                j.error = Some(format!(
                    "the scan ran but could not be recorded: {}",
                    crate::serve::api::with_causes(&e)
                ));
            }
            Ok(_) if cancelled => {
                j.state = JobState::Failed;
                j.error = Some(
                    "the service stopped during this scan; the partial report is recorded".into(),
                );
            }
            Ok(_) => j.state = JobState::Done,
        }
    });
}
