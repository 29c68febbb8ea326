//! Turning command-line paths into the list of files to fingerprint.

use std::path::{Path, PathBuf};

use super::{kind_of, MediaError, MediaKind};

/// A file to fingerprint.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The path as reported: the argument as given, joined with the file's path below it.
    pub display: String,
    /// Where to read it.
    pub path: PathBuf,
    pub kind: MediaKind,
    /// Size in bytes when the walk saw it, for progress reporting.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch, when the file system gives
    /// one: with the size, how a rerun of `index` knows a file has not changed.
    pub modified_ns: Option<u64>,
}

fn modified_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let since = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// What a walk found: files to read, per-path failures, and how many files it passed
/// over because they are not media.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<InputFile>,
    /// Archives (zip, tar, tar.gz, tar.zst) to unpack; see [`super::archive`]. Only
    /// [`discover`] collects them.
    pub archives: Vec<InputFile>,
    pub errors: Vec<(String, MediaError)>,
    pub skipped_not_media: usize,
}

/// Walks each input. Directories are walked recursively in name order, following
/// symlinks; a symlink that leads back to an ancestor is reported as an error rather
/// than followed for ever. A file named directly is always tried, whatever its name, since
/// the user asked for it; inside directories only known media extensions are kept.
pub fn discover(inputs: &[PathBuf]) -> Discovered {
    walk(inputs, kind_of, true)
}

/// [`discover`] with another rule for which files in a directory to keep, and no
/// archives.
pub fn discover_with(inputs: &[PathBuf], accept: fn(&Path) -> Option<MediaKind>) -> Discovered {
    walk(inputs, accept, false)
}

fn walk(inputs: &[PathBuf], accept: fn(&Path) -> Option<MediaKind>, archives: bool) -> Discovered {
    let mut found = Discovered::default();
    for input in inputs {
        let shown = input.display().to_string();
        match std::fs::metadata(input) {
            Err(e) => found.errors.push((shown, MediaError::Io(e))),
            Ok(meta) if meta.is_file() => {
                let file = InputFile {
                    display: shown,
                    path: input.clone(),
                    kind: accept(input).unwrap_or(MediaKind::Still),
                    size: meta.len(),
                    modified_ns: modified_ns(&meta),
                };
                if archives && super::archive::is_archive(input) {
                    found.archives.push(file);
                } else {
                    found.files.push(file);
                }
            }
            Ok(_) => walk_dir(input, accept, archives, &mut found),
        }
    }
    found
}

fn walk_dir(
    root: &Path,
    accept: fn(&Path) -> Option<MediaKind>,
    archives: bool,
    found: &mut Discovered,
) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() => match accept(entry.path()) {
                Some(kind) => {
                    let meta = entry.metadata().ok();
                    found.files.push(InputFile {
                        display: entry.path().display().to_string(),
                        path: entry.path().to_path_buf(),
                        kind,
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        modified_ns: meta.as_ref().and_then(modified_ns),
                    })
                }
                None if archives && super::archive::is_archive(entry.path()) => {
                    let meta = entry.metadata().ok();
                    found.archives.push(InputFile {
                        display: entry.path().display().to_string(),
                        path: entry.path().to_path_buf(),
                        kind: MediaKind::Still,
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        modified_ns: meta.as_ref().and_then(modified_ns),
                    })
                }
                None => found.skipped_not_media += 1,
            },
            Ok(_) => {}
            Err(e) => {
                let at = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| root.display().to_string());
                let why = match e.loop_ancestor() {
                    Some(ancestor) => {
                        format!("directory loop: leads back to {}", ancestor.display())
                    }
                    None => e.to_string(),
                };
                found.errors.push((at, MediaError::Walk(why)));
            }
        }
    }
}

impl Discovered {
    /// Bytes in all the files found, as the walk saw them.
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .chain(&self.archives)
            .map(|f| f.size)
            .sum()
    }
}
