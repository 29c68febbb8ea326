//! Where reports may be written, checked before any work starts.
//!
//! A report path is only a word on the command line, and the shell fills command lines:
//! `scan --csv deliv/*.mp4` makes the first delivered video the CSV path, and a report
//! written there destroys it after the scan. So each `--json`, `--csv` and `--html` path
//! is resolved (its folder canonicalised, so `B/../B/CURRENT` is `B/CURRENT`) and
//! refused when writing it would destroy something:
//!
//! - always: a path inside the bank directory, a path that is one of the inputs (the same
//!   file, hard links included), an existing media file or archive (no report is named
//!   so; a glob put it there), a directory, two reports into one file, and two reports
//!   to stdout (interleaved, neither could be parsed);
//! - unless `--force`: a path under an input directory, and an existing file that is not
//!   a celprint report (recognised by content; an empty file holds nothing to lose).
//!
//! Files that are not regular files (`/dev/null`, a FIFO) are written to as they are.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::args::{CompareArgs, ScanArgs};

/// Which report a path was given for: the option named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Json,
    Csv,
    Html,
}

impl Report {
    fn flag(self) -> &'static str {
        match self {
            Report::Json => "--json",
            Report::Csv => "--csv",
            Report::Html => "--html",
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.flag())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0} and {1} both write to stdout ('-'); give one of them a file")]
    BothToStdout(Report, Report),
    #[error("refusing {report} {path}: {other} writes to the same file")]
    SameFile {
        report: Report,
        other: Report,
        path: PathBuf,
    },
    #[error(
        "refusing {report} {path}: it is inside the bank directory {bank}; \
         write reports outside the bank"
    )]
    InBank {
        report: Report,
        path: PathBuf,
        bank: PathBuf,
    },
    #[error(
        "refusing {report} {path}: it is one of the inputs to check \
         (did a shell glob fill {report}?); give the report another path"
    )]
    IsInput { report: Report, path: PathBuf },
    #[error(
        "refusing {report} {path}: it is an existing media file \
         (did a shell glob fill {report}?); give the report another path"
    )]
    IsMedia { report: Report, path: PathBuf },
    #[error(
        "refusing {report} {path}: it is under the input directory {dir}; \
         write it elsewhere, or add --force"
    )]
    UnderInput {
        report: Report,
        path: PathBuf,
        dir: PathBuf,
    },
    #[error(
        "refusing {report} {path}: the file exists and is not a celprint report; \
         give another path, or add --force to overwrite it"
    )]
    NotAReport { report: Report, path: PathBuf },
    #[error("refusing {report} {path}: it is a directory; give a file name")]
    Directory { report: Report, path: PathBuf },
    #[error("cannot write {report} {path}: {error}")]
    Unreachable {
        report: Report,
        path: PathBuf,
        error: std::io::Error,
    },
}

/// `scan`'s report paths, against its inputs and its bank.
pub fn check_scan(a: &ScanArgs) -> Result<(), TargetError> {
    let reports = [
        (Report::Json, a.json.as_deref()),
        (Report::Csv, a.csv.as_deref()),
        (Report::Html, a.html.as_deref()),
    ];
    check(&reports, &a.paths, Some(&a.db.db), a.force.force)
}

/// `report merge`'s report path, against the slices' reports it joins and the bank.
pub fn check_report_merge(a: &super::cluster::ReportMergeArgs) -> Result<(), TargetError> {
    check(
        &[(Report::Json, a.json.as_deref())],
        &a.slices,
        Some(&a.db.db),
        a.force.force,
    )
}

/// `compare`'s report path, against the two files it compares.
pub fn check_compare(a: &CompareArgs) -> Result<(), TargetError> {
    let inputs = [a.a.clone(), a.b.clone()];
    check(
        &[(Report::Json, a.json.as_deref())],
        &inputs,
        None,
        a.force.force,
    )
}

/// A report path resolved to the file it would write.
struct Resolved {
    report: Report,
    given: PathBuf,
    path: PathBuf,
    /// `None` when the file does not exist yet.
    meta: Option<fs::Metadata>,
}

/// An input as the walk will read it.
struct Input {
    path: PathBuf,
    meta: fs::Metadata,
}

fn check(
    reports: &[(Report, Option<&Path>)],
    inputs: &[PathBuf],
    bank: Option<&Path>,
    force: bool,
) -> Result<(), TargetError> {
    let stdout: Vec<Report> = reports
        .iter()
        .filter(|(_, p)| *p == Some(Path::new("-")))
        .map(|(r, _)| *r)
        .collect();
    if let [first, second, ..] = stdout[..] {
        return Err(TargetError::BothToStdout(first, second));
    }
    // Inputs that do not exist are the walk's per-file errors, not ours.
    let inputs: Vec<Input> = inputs
        .iter()
        .filter_map(|p| {
            let path = fs::canonicalize(p).ok()?;
            let meta = fs::metadata(&path).ok()?;
            Some(Input { path, meta })
        })
        .collect();
    let bank = bank.map(|b| {
        fs::canonicalize(b)
            .or_else(|_| std::path::absolute(b))
            .unwrap_or_else(|_| b.to_path_buf())
    });
    let mut seen: Vec<Resolved> = Vec::new();
    for &(report, given) in reports {
        let Some(given) = given.filter(|p| *p != Path::new("-")) else {
            continue;
        };
        let target = resolve(report, given)?;
        refuse(&target, &seen, &inputs, bank.as_deref(), force)?;
        seen.push(target);
    }
    Ok(())
}

/// The file a report path names: the file itself when it exists (a symbolic link is
/// followed, as writing follows it), else its canonical folder joined with its name.
fn resolve(report: Report, given: &Path) -> Result<Resolved, TargetError> {
    let unreachable = |error| TargetError::Unreachable {
        report,
        path: given.to_path_buf(),
        error,
    };
    let path = match fs::canonicalize(given) {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = given.file_name().ok_or_else(|| unreachable(e))?;
            let folder = match given.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            fs::canonicalize(folder).map_err(unreachable)?.join(name)
        }
        Err(e) => return Err(unreachable(e)),
    };
    Ok(Resolved {
        report,
        given: given.to_path_buf(),
        meta: fs::metadata(&path).ok(),
        path,
    })
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

fn refuse(
    t: &Resolved,
    earlier: &[Resolved],
    inputs: &[Input],
    bank: Option<&Path>,
    force: bool,
) -> Result<(), TargetError> {
    let (report, path) = (t.report, t.given.clone());
    if t.meta.as_ref().is_some_and(fs::Metadata::is_dir) {
        return Err(TargetError::Directory { report, path });
    }
    let same = |e: &Resolved| match (&t.meta, &e.meta) {
        (Some(a), Some(b)) => same_file(a, b),
        _ => t.path == e.path,
    };
    if let Some(e) = earlier.iter().find(|&e| same(e)) {
        return Err(TargetError::SameFile {
            report,
            other: e.report,
            path,
        });
    }
    if let Some(bank) = bank.filter(|b| t.path.starts_with(b)) {
        return Err(TargetError::InBank {
            report,
            path,
            bank: bank.to_path_buf(),
        });
    }
    // Writing to a device or a pipe destroys nothing.
    if t.meta.as_ref().is_some_and(|m| !m.is_file()) {
        return Ok(());
    }
    let is_input = |i: &Input| match &t.meta {
        Some(m) => same_file(m, &i.meta),
        None => t.path == i.path,
    };
    if inputs.iter().any(is_input) {
        return Err(TargetError::IsInput { report, path });
    }
    if t.meta.is_some() && (is_media(&t.given) || is_media(&t.path)) {
        return Err(TargetError::IsMedia { report, path });
    }
    if force {
        return Ok(());
    }
    if let Some(dir) = inputs
        .iter()
        .find(|i| i.meta.is_dir() && t.path.starts_with(&i.path))
    {
        return Err(TargetError::UnderInput {
            report,
            path,
            dir: dir.path.clone(),
        });
    }
    if t.meta.is_some() && !is_overwritable(&t.path) {
        return Err(TargetError::NotAReport { report, path });
    }
    Ok(())
}

/// Whether a walk would read a file of this name: a still, a video or an archive.
fn is_media(path: &Path) -> bool {
    celprint::media::kind_of(path).is_some() || celprint::media::archive::is_archive(path)
}

/// Whether an existing file is one celprint may overwrite without `--force`: empty, or a
/// report of ours, recognised by how each kind begins. A file that cannot be read is not
/// known to be ours.
fn is_overwritable(path: &Path) -> bool {
    let mut head = Vec::with_capacity(1024);
    let read = File::open(path).and_then(|f| f.take(1024).read_to_end(&mut head));
    if read.is_err() {
        return false;
    }
    looks_like_our_report(&String::from_utf8_lossy(&head))
}

fn looks_like_our_report(head: &str) -> bool {
    let text = head.strip_prefix('\u{feff}').unwrap_or(head);
    // serde writes the report's fields in order, `celprint_version` first.
    let json = text
        .trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"celprint_version\""));
    // The CSV's header, quoted (now) or bare (before every text cell was quoted).
    let csv = text.starts_with("\"query_path\",\"query_start_s\",")
        || text.starts_with("query_path,query_start_s,");
    let html = text.starts_with("<!DOCTYPE html>") && text.contains("<title>celprint scan report");
    text.is_empty() || json || csv || html
}

#[cfg(test)]
mod tests {
    use super::looks_like_our_report;

    #[test]
    fn our_reports_are_recognised_by_their_start() {
        for ours in [
            "",
            "{\n  \"celprint_version\": \"0.1.0\",\n",
            "\u{feff}\"query_path\",\"query_start_s\",\"query_end_s\"\n",
            "query_path,query_start_s,query_end_s\n",
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>celprint scan report: clean</title>",
        ] {
            assert!(looks_like_our_report(ours), "{ours:?}");
        }
        for theirs in [
            "\u{0}\u{0}\u{0}\u{18}ftypisom",
            "{\"name\": \"celprint_version\"}",
            "MANIFEST-000005\n",
            "<!DOCTYPE html><title>Delivery notes</title>",
            "path,query_path,query_start_s\n",
        ] {
            assert!(!looks_like_our_report(theirs), "{theirs:?}");
        }
    }
}
