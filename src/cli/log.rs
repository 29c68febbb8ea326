//! Messages for whoever watches stderr: plain `celprint: ...` lines for a person, or,
//! with `--log-format json`, one JSON object per line (tracing's JSON formatter) for a
//! scheduler's log collector, with the path, the reason and the counts as fields.

use std::fmt::Display;
use std::sync::OnceLock;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

pub fn init(format: LogFormat) {
    if FORMAT.set(format).is_ok() && format == LogFormat::Json {
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_current_span(false)
            .init();
    }
}

fn json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// A file that could not be fingerprinted or scanned.
pub fn file_error(path: &str, error: &dyn Display) {
    if json() {
        tracing::error!(path, error = %error, "file failed");
    } else {
        eprintln!("celprint: {path}: {error}");
    }
}

/// A video banked or hashed from the part that decoded: `done` says which ("banked in
/// part", "hashed in part").
pub fn file_partial(path: &str, done: &str, why: &str) {
    if json() {
        tracing::warn!(path, reason = why, "{done}");
    } else {
        eprintln!("celprint: {path}: {done}: {why}");
    }
}

/// A path banked before that the walk no longer finds.
pub fn vanished(path: &str, pruned: bool) {
    if json() {
        tracing::warn!(path, pruned, "gone since it was banked");
    } else {
        let fate = if pruned {
            "forgotten"
        } else {
            "kept in the bank"
        };
        eprintln!("celprint: {path}: gone since it was banked ({fate})");
    }
}

pub fn interrupted(not_done: usize) {
    if json() {
        tracing::warn!(not_done, "interrupted; the same command finishes the rest");
    } else {
        eprintln!(
            "celprint: interrupted: {not_done} files not done; what finished is banked, and the same command finishes the rest"
        );
    }
}

/// Something worth knowing that is not about one file.
pub fn note(message: &str) {
    if json() {
        tracing::info!("{message}");
    } else {
        eprintln!("celprint: {message}");
    }
}

/// The error that ends the job.
pub fn fatal(error: &anyhow::Error) {
    if json() {
        tracing::error!(error = format!("{error:#}"), "job failed");
    } else {
        eprintln!("celprint: {error:#}");
    }
}

/// An index run's counts, as one event (JSON only: in text the summary line on stdout
/// says it).
pub fn index_finished(s: &celprint::engine::IndexSummary, exit_status: u8) {
    if json() {
        tracing::info!(
            job = "index",
            exit_status,
            files = s.files,
            added = s.added,
            segments_added = s.segments_added,
            new_paths = s.new_paths,
            skipped_unread = s.skipped_unchanged,
            errors = s.errors.len(),
            partial = s.partial.len(),
            vanished = s.vanished.len(),
            pruned_assets = s.pruned_assets,
            not_done = s.not_done,
            "finished"
        );
    }
}

/// A scan's counts, as one event (JSON only).
pub fn scan_finished(r: &celprint::report::ScanReport, exit_status: u8) {
    if json() {
        let s = &r.summary;
        tracing::info!(
            job = "scan",
            exit_status,
            run_id = r.run_id.as_deref().unwrap_or(""),
            files = s.files,
            matched_files = s.matched_files,
            matches = s.matches,
            errors = s.errors,
            partial = s.partial,
            low_quality_files = s.low_quality_files,
            not_done = s.not_done,
            "finished"
        );
    }
}
