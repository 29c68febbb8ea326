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

pub use celprint::model::with_causes;

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
pub fn vanished(path: &str, pruned: bool, dry_run: bool) {
    if json() {
        tracing::warn!(path, pruned, dry_run, "gone since it was banked");
    } else {
        let fate = match (pruned, dry_run) {
            (true, true) => "would be forgotten (dry run)",
            (true, false) => "forgotten, unless pruning was refused below",
            (false, _) => "kept in the bank",
        };
        eprintln!("celprint: {path}: gone since it was banked ({fate})");
    }
}

/// An input under which `--prune` did nothing, and why.
pub fn prune_refused(root: &str, why: &str) {
    if json() {
        tracing::error!(path = root, reason = why, "prune refused");
    } else {
        eprintln!("celprint: {root}: not pruned: {why}");
    }
}

/// A file in a folder that is not media, and so was not read.
pub fn skipped(path: &str, what: &str) {
    if json() {
        tracing::warn!(path, what, "skipped: not media");
    } else {
        eprintln!("celprint: {path}: skipped: not media ({what})");
    }
}

/// A banked file in which nothing can ever match.
pub fn unusable(path: &str) {
    if json() {
        tracing::warn!(path, "banked, but no picture in it is good enough to match");
    } else {
        eprintln!(
            "celprint: {path}: warning: banked, but no picture in it is good enough to match \
             (blank, flat or too dark): nothing will ever be found against it"
        );
    }
}

/// Known bytes given a new label, source or note.
pub fn restated(path: &str, label: celprint::model::Label) {
    if json() {
        tracing::info!(path, label = label.name(), "new provenance recorded");
    } else {
        eprintln!("celprint: {path}: already banked; new provenance recorded, label now {label}");
    }
}

/// The bank could not be written: the run stopped, and this is what it left.
pub fn bank_failed(error: &celprint::bank::BankError, s: &celprint::engine::IndexSummary) {
    let error = with_causes(error);
    if json() {
        tracing::error!(
            error = %error,
            banked = s.added,
            not_done = s.not_done,
            "bank write failed; run stopped"
        );
    } else {
        eprintln!(
            "celprint: STOPPED: the bank could not be written: {error}\n\
             celprint: {} new assets were banked and are safe; {} files were not banked. \
             Free space (or fix the cause) and run the same command again: it skips what \
             is banked.",
            s.added, s.not_done
        );
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
