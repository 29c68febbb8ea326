//! Turning command-line paths into the list of files to fingerprint.

use std::path::{Path, PathBuf};

use super::pathtext;
use super::sniff::{sniff_file, Sniffed};
use super::{MediaError, MediaKind};

/// A file to fingerprint.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The path as reported: absolute and normalised, as [`super::pathtext`] text (one
    /// line, and back to the same bytes with `pathtext::from_text`).
    pub display: String,
    /// Where to read it.
    pub path: PathBuf,
    pub kind: MediaKind,
    /// Size in bytes when the walk saw it, for progress reporting.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch, when the file system gives
    /// one: with the size, how a rerun of `index` knows a file has not changed.
    pub modified_ns: Option<u64>,
    /// `kind` is what the name says, not yet what the bytes say ([`discover_deferred`]);
    /// whoever reads the file judges its bytes first.
    pub kind_from_name: bool,
    /// Set when this input is the numbered frames of one shot ([`super::sequence`]):
    /// `display` is then the sequence's name, `path` its first frame's, `size` all its
    /// frames', and `kind` video.
    pub sequence: Option<std::sync::Arc<super::sequence::ImageSequence>>,
}

fn modified_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let since = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// What a walk found: files to read, per-path failures, and the files it passed over
/// because they are not media.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<InputFile>,
    /// Archives (zip, tar, tar.gz, tar.zst) to unpack; see [`super::archive`]. Only
    /// [`discover`] collects them.
    pub archives: Vec<InputFile>,
    pub errors: Vec<(String, MediaError)>,
    /// Files inside the inputs' folders that are not media, with what they look like.
    pub skipped: Vec<(String, String)>,
    /// Plain-text files (notes, edit lists): no pictures in them to check.
    pub text: Vec<String>,
    /// Each input as walked, for deciding what vanished under it.
    pub roots: Vec<Root>,
}

/// One command-line input, as the walk found it.
#[derive(Debug, Clone)]
pub struct Root {
    /// Absolute, normalised, as text ([`super::pathtext`]).
    pub display: String,
    /// Regular files found under it (media or not).
    pub files: usize,
    /// Why it could not be read, if it could not.
    pub unreadable: Option<String>,
}

/// How a walk tells what a file is.
#[derive(Clone, Copy)]
enum Rule {
    /// By its bytes ([`super::sniff`]), collecting archives.
    Content,
    /// As `Content`, except that a file whose name is a media name is taken at its word
    /// for now, unread, and judged by its bytes when it is read.
    Deferred,
    /// By this function of its name, for inputs that are not media (hash lists).
    Name(fn(&Path) -> Option<MediaKind>),
}

/// Walks each input. Directories are walked recursively in name order, following
/// symlinks; a symlink that leads back to an ancestor is reported as an error rather
/// than followed for ever. Every file is judged by its content, not its name. Plain text
/// is listed as text. Other bytes that are not media are an error when the file was
/// named directly (the user asked for it) or its name promises media; otherwise it is
/// listed as skipped. An empty file, and anything that is not a regular file (a FIFO, a
/// device), is an error, never read. Paths are made absolute and normalised, and written as
/// [`super::pathtext`] text. The numbered frames of a shot in one folder are one input
/// ([`super::sequence`]), not one still each, unless `numbered` says they are stills.
pub fn discover(inputs: &[PathBuf], numbered: Numbered) -> Discovered {
    walk(inputs, Rule::Content, numbered)
}

/// What numbered stills in one folder are: the frames of one shot, or stills (numbered
/// page scans, say, which a name alone cannot tell from frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Numbered {
    #[default]
    Sequences,
    Stills,
}

/// [`discover`] for a caller that may never read most files (a rerun of `index` skips
/// unchanged ones unread): a file with a media name is listed without opening it, its
/// kind taken from the name and marked `kind_from_name`, to be judged by its bytes when
/// it is read (by the engine, `engine::read_input`). Other files are judged as by
/// [`discover`]. Opening 10,000 files to read their heads made a no-change rerun 1.6
/// times as long.
pub fn discover_deferred(inputs: &[PathBuf], numbered: Numbered) -> Discovered {
    walk(inputs, Rule::Deferred, numbered)
}

/// [`discover`] with another rule for which files in a directory to keep, and no
/// archives.
pub fn discover_with(inputs: &[PathBuf], accept: fn(&Path) -> Option<MediaKind>) -> Discovered {
    walk(inputs, Rule::Name(accept), Numbered::Stills)
}

fn walk(inputs: &[PathBuf], rule: Rule, numbered: Numbered) -> Discovered {
    let mut found = Discovered::default();
    for input in inputs {
        let path = pathtext::absolute(input);
        let shown = pathtext::to_text(&path);
        let before =
            found.files.len() + found.archives.len() + found.skipped.len() + found.text.len();
        let mut unreadable = None;
        match std::fs::metadata(&path) {
            Err(e) => {
                unreadable = Some(e.to_string());
                found.errors.push((shown.clone(), MediaError::Io(e)));
            }
            Ok(meta) if meta.is_file() => {
                classify(&path, shown.clone(), &meta, rule, true, &mut found)
            }
            Ok(meta) if meta.is_dir() => walk_dir(&path, rule, &mut found),
            Ok(meta) => {
                let what = special_kind(&meta.file_type());
                unreadable = Some(format!("not a regular file or folder ({what})"));
                found
                    .errors
                    .push((shown.clone(), MediaError::NotRegular(what)));
            }
        }
        let files =
            found.files.len() + found.archives.len() + found.skipped.len() + found.text.len()
                - before;
        found.roots.push(Root {
            display: shown,
            files,
            unreadable,
        });
    }
    // The same file named twice (`./x` and `/abs/x`) is one file.
    let mut seen = std::collections::HashSet::new();
    found.files.retain(|f| seen.insert(f.display.clone()));
    found.archives.retain(|f| seen.insert(f.display.clone()));
    // Hash lists are not frames, however they are numbered.
    if numbered == Numbered::Sequences && !matches!(rule, Rule::Name(_)) {
        found.files = super::sequence::group(std::mem::take(&mut found.files));
    }
    found
}

/// Sorts one regular file into media, archive, error or skipped.
fn classify(
    path: &Path,
    display: String,
    meta: &std::fs::Metadata,
    rule: Rule,
    named: bool,
    found: &mut Discovered,
) {
    let file = |kind, kind_from_name| InputFile {
        display: display.clone(),
        path: path.to_path_buf(),
        kind,
        size: meta.len(),
        modified_ns: modified_ns(meta),
        kind_from_name,
        sequence: None,
    };
    let named_kind = super::kind_of(path);
    if let (Rule::Deferred, Some(kind), false) = (rule, named_kind, meta.len() == 0) {
        return found.files.push(file(kind, true));
    }
    let sniffed = match rule {
        Rule::Name(accept) => match accept(path) {
            Some(kind) => Sniffed::Media(kind),
            // Named directly, it is tried whatever its name: the user asked for it.
            None if named => Sniffed::Media(MediaKind::Video),
            None => Sniffed::Other("not a file this command reads"),
        },
        Rule::Content | Rule::Deferred => match sniff_file(path) {
            Ok(sniffed) => sniffed,
            Err(e) => return found.errors.push((display, MediaError::Io(e))),
        },
    };
    // A name that promises media over bytes that are not is a damaged or disguised
    // file, not a note: an error, like a file named on the command line.
    let media_name = named_kind.is_some();
    match sniffed {
        _ if meta.len() == 0 => found.errors.push((display, MediaError::Empty)),
        Sniffed::Media(kind) => found.files.push(file(kind, false)),
        Sniffed::Archive => found.archives.push(file(MediaKind::Still, false)),
        Sniffed::Unsupported(what) => found.errors.push((display, MediaError::Unsupported(what))),
        Sniffed::Text if media_name => found.errors.push((display, MediaError::NotMedia("text"))),
        Sniffed::Text => found.text.push(display),
        Sniffed::Other(what) if named || media_name => {
            found.errors.push((display, MediaError::NotMedia(what)))
        }
        Sniffed::Other(what) => found.skipped.push((display, what.to_string())),
    }
}

fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn walk_dir(root: &Path, rule: Rule, found: &mut Discovered) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_dir() => {}
            Ok(entry) => {
                let display = pathtext::to_text(entry.path());
                match entry.metadata() {
                    Ok(meta) if meta.is_file() => {
                        classify(entry.path(), display, &meta, rule, false, found)
                    }
                    Ok(meta) => found.errors.push((
                        display,
                        MediaError::NotRegular(special_kind(&meta.file_type())),
                    )),
                    Err(e) => found
                        .errors
                        .push((display, MediaError::Walk(e.to_string()))),
                }
            }
            Err(e) => {
                let at = pathtext::to_text(e.path().unwrap_or(root));
                let why = match e.loop_ancestor() {
                    Some(ancestor) => {
                        format!(
                            "directory loop: leads back to {}",
                            pathtext::to_text(ancestor)
                        )
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
