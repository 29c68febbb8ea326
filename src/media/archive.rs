//! Deliveries as they arrive: `.zip`, `.tar`, `.tar.gz`/`.tgz` and `.tar.zst`, with one
//! archive nested in another (a zip inside a tar).
//!
//! Each media entry is copied into a private temporary folder, under a name made here
//! (`entry-000042.mov`), and from then on is an ordinary file whose reported path is
//! `archive.zip!/shots/sh010.mov`. A folder rather than streaming, because FFmpeg needs
//! a seekable file for MP4 and MOV (their index often sits at the end) and the still
//! decoders read files; one way for every entry keeps one path through the engine. The
//! folder is created private (mode 0700) and removed when the archive is done, and since
//! no name is ever taken from the archive, no entry can be written outside it, whatever
//! it is called.
//!
//! Hostile archives give per-entry errors and the rest is still read: names with `..`
//! or an absolute root, links, encrypted entries, entries over the size limit or the
//! compression-ratio limit (zip bombs) and truncation. A zip whose central directory is
//! lost (a truncated download) is read entry by entry from its local headers instead.

use std::io::Read;
use std::path::{Component, Path};

use super::sniff::{sniff_file, Sniffed};
use super::{InputFile, MediaError};

/// Bounds on what one archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Largest uncompressed entry. Default 64 GiB.
    pub max_entry_bytes: u64,
    /// Largest uncompressed total per archive. Default 1 TiB.
    pub max_total_bytes: u64,
    /// Largest uncompressed-to-compressed ratio, per zip entry and over a whole tar.
    /// Media barely compresses (ratios near 1); a bomb's is in the hundreds or more.
    /// Default 100.
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entry_bytes: 64 << 30,
            max_total_bytes: 1 << 40,
            max_ratio: 100,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Zip,
    Tar,
    TarGz,
    TarZst,
}

fn format_of(name: &str) -> Option<Format> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".zip") {
        Some(Format::Zip)
    } else if lower.ends_with(".tar") {
        Some(Format::Tar)
    } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        Some(Format::TarGz)
    } else if lower.ends_with(".tar.zst") || lower.ends_with(".tzst") {
        Some(Format::TarZst)
    } else {
        None
    }
}

/// An archive's format from its first bytes, for one whose name does not say.
fn format_by_content(path: &Path) -> Option<Format> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(512)
        .read_to_end(&mut head)
        .ok()?;
    format_of_head(&head)
}

/// An archive's format from its first 512 bytes (a tar's magic sits at 257); a gzip or
/// zstd stream is taken for a compressed tar, and unpacking says if it is not one.
fn format_of_head(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Some(Format::TarGz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Format::TarZst)
    } else if head.get(257..262) == Some(b"ustar") {
        Some(Format::Tar)
    } else {
        None
    }
}

/// Whether a file's first bytes are those of an archive this module reads.
pub(super) fn is_archive_head(head: &[u8]) -> bool {
    format_of_head(head).is_some()
}

/// Whether `path` names an archive this module reads.
pub fn is_archive(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| format_of(n).is_some())
}

/// An archive's media entries, spooled: they live as long as `dir`.
#[derive(Debug)]
pub struct Expanded {
    pub dir: tempfile::TempDir,
    pub files: Vec<InputFile>,
    pub errors: Vec<(String, MediaError)>,
    /// Entries that are not media, with what they look like.
    pub skipped: Vec<(String, String)>,
    /// Plain-text entries: no pictures in them to check.
    pub text: Vec<String>,
}

/// Unpacks the media entries of `archive` (and of archives directly inside it) into a
/// private temporary folder. Never fails as a whole: what cannot be read is an error
/// entry, under the archive's or the entry's reported path.
pub fn expand(archive: &InputFile, limits: &ArchiveLimits) -> Result<Expanded, MediaError> {
    let dir = tempfile::Builder::new()
        .prefix("celprint-archive-")
        .tempdir()
        .map_err(MediaError::Io)?;
    let mut out = Expanded {
        dir,
        files: Vec::new(),
        errors: Vec::new(),
        skipped: Vec::new(),
        text: Vec::new(),
    };
    let mut spool = Spool {
        limits: *limits,
        next: 0,
        modified_ns: archive.modified_ns,
    };
    spool.archive(&archive.path, &archive.display, archive.size, 0, &mut out);
    Ok(out)
}

struct Spool {
    limits: ArchiveLimits,
    next: usize,
    /// Entries are stamped with their archive's modification time, so an unchanged
    /// archive's entries are skipped by a rerun like files.
    modified_ns: Option<u64>,
}

/// How an entry presents itself.
enum EntryType {
    File,
    Dir,
    Link,
    Other,
}

/// Progress through one archive: bytes unpacked so far, and whether to stop.
struct Budget {
    total: u64,
    compressed: u64,
    stopped: bool,
}

impl Spool {
    fn archive(&mut self, path: &Path, display: &str, size: u64, depth: u32, out: &mut Expanded) {
        let Some(format) = Path::new(display)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(format_of)
            .or_else(|| path.to_str().and_then(format_of))
            .or_else(|| format_by_content(path))
        else {
            out.errors.push((
                display.to_string(),
                MediaError::Unsupported("compressed file that holds no tar or zip archive"),
            ));
            return;
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                out.errors.push((display.to_string(), MediaError::Io(e)));
                return;
            }
        };
        let mut budget = Budget {
            total: 0,
            compressed: size.max(1),
            stopped: false,
        };
        match format {
            Format::Zip => self.zip(file, path, display, depth, &mut budget, out),
            Format::Tar => self.tar(file, display, depth, &mut budget, out),
            Format::TarGz => self.tar(
                flate2::read::GzDecoder::new(file),
                display,
                depth,
                &mut budget,
                out,
            ),
            Format::TarZst => match zstd::stream::read::Decoder::new(file) {
                Ok(d) => self.tar(d, display, depth, &mut budget, out),
                Err(e) => out.errors.push((display.to_string(), archive_error(e))),
            },
        }
    }

    fn zip(
        &mut self,
        file: std::fs::File,
        path: &Path,
        display: &str,
        depth: u32,
        budget: &mut Budget,
        out: &mut Expanded,
    ) {
        let mut zip = match zip::ZipArchive::new(file) {
            Ok(z) => z,
            Err(e) => {
                // No central directory (a truncated file): read what the local headers
                // still give, in order, until the damage.
                out.errors.push((
                    display.to_string(),
                    MediaError::Walk(format!("archive: {e}; reading entries up to the damage")),
                ));
                self.zip_stream(path, display, depth, budget, out);
                return;
            }
        };
        for i in 0..zip.len() {
            if budget.stopped {
                break;
            }
            let listed = zip.name_for_index(i).unwrap_or("?").to_string();
            let mut entry = match zip.by_index(i) {
                Ok(entry) => entry,
                Err(e) => {
                    let name = listed;
                    let why = if matches!(e, zip::result::ZipError::UnsupportedArchive(_))
                        && e.to_string().to_ascii_lowercase().contains("password")
                    {
                        "encrypted entry (no password is ever tried)".to_string()
                    } else {
                        format!("archive entry: {e}")
                    };
                    out.errors
                        .push((format!("{display}!/{name}"), MediaError::Walk(why)));
                    continue;
                }
            };
            self.zip_entry(&mut entry, display, depth, budget, out);
        }
    }

    /// A zip entry, from the central directory or a local header: refused if encrypted
    /// or if its declared sizes give a bomb's ratio, otherwise handled as any entry.
    fn zip_entry<R: Read>(
        &mut self,
        entry: &mut zip::read::ZipFile<'_, R>,
        display: &str,
        depth: u32,
        budget: &mut Budget,
        out: &mut Expanded,
    ) {
        let name = entry.name().to_string();
        let at = format!("{display}!/{name}");
        if entry.encrypted() {
            let why = "encrypted entry (no password is ever tried)".to_string();
            out.errors.push((at, MediaError::Walk(why)));
            return;
        }
        let ratio = entry.size() / entry.compressed_size().max(1);
        if ratio > self.limits.max_ratio {
            let why = format!(
                "compression ratio {ratio}:1 is over the limit of {}:1 (zip bomb?); not extracted",
                self.limits.max_ratio
            );
            out.errors.push((at, MediaError::Walk(why)));
            return;
        }
        let kind = zip_kind(entry);
        self.entry(&name, kind, entry, display, depth, budget, out);
    }

    fn zip_stream(
        &mut self,
        path: &Path,
        display: &str,
        depth: u32,
        budget: &mut Budget,
        out: &mut Expanded,
    ) {
        let Ok(mut file) = std::fs::File::open(path).map(std::io::BufReader::new) else {
            return;
        };
        while !budget.stopped {
            match zip::read::read_zipfile_from_stream(&mut file) {
                Ok(Some(mut entry)) => self.zip_entry(&mut entry, display, depth, budget, out),
                Ok(None) | Err(_) => break,
            }
        }
    }

    fn tar<R: Read>(
        &mut self,
        reader: R,
        display: &str,
        depth: u32,
        budget: &mut Budget,
        out: &mut Expanded,
    ) {
        let mut tar = tar::Archive::new(reader);
        let entries = match tar.entries() {
            Ok(e) => e,
            Err(e) => {
                out.errors.push((display.to_string(), archive_error(e)));
                return;
            }
        };
        for entry in entries {
            if budget.stopped {
                break;
            }
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    // A truncated or corrupt stream: nothing after this point can be read.
                    let why = format!("archive is damaged after the entries read so far: {e}");
                    out.errors
                        .push((display.to_string(), MediaError::Walk(why)));
                    break;
                }
            };
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = match entry.header().entry_type() {
                t if t.is_file() => EntryType::File,
                t if t.is_dir() => EntryType::Dir,
                t if t.is_symlink() || t.is_hard_link() => EntryType::Link,
                _ => EntryType::Other,
            };
            self.entry(&name, kind, &mut entry, display, depth, budget, out);
        }
    }

    /// One entry: checked, then spooled (or unpacked, for a nested archive).
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        name: &str,
        kind: EntryType,
        reader: &mut dyn Read,
        display: &str,
        depth: u32,
        budget: &mut Budget,
        out: &mut Expanded,
    ) {
        let at = format!("{display}!/{name}");
        let refuse =
            |out: &mut Expanded, why: String| out.errors.push((at.clone(), MediaError::Walk(why)));
        match kind {
            EntryType::Dir => return,
            EntryType::Link => {
                return refuse(out, "link inside an archive: not followed".to_string());
            }
            EntryType::Other => {
                return refuse(out, "not a regular file: skipped".to_string());
            }
            EntryType::File => {}
        }
        if !safe_name(name) {
            return refuse(
                out,
                "unsafe path in archive (absolute, or climbing out with ..): not extracted"
                    .to_string(),
            );
        }
        let nested = format_of(name).is_some();
        if nested && depth >= 1 {
            return refuse(
                out,
                "archive nested more than one level deep: not opened".to_string(),
            );
        }
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or("bin");
        let suffix = if name.to_ascii_lowercase().ends_with(".tar.gz") {
            "tar.gz".to_string()
        } else if name.to_ascii_lowercase().ends_with(".tar.zst") {
            "tar.zst".to_string()
        } else {
            ext.to_ascii_lowercase()
        };
        self.next += 1;
        let spooled = out
            .dir
            .path()
            .join(format!("entry-{:06}.{suffix}", self.next));
        let written = match self.copy(reader, &spooled, budget) {
            Ok(n) => n,
            Err(why) => {
                let _ = std::fs::remove_file(&spooled);
                return refuse(out, why);
            }
        };
        // Entries are judged by their bytes, like files on disk; the name decides only
        // for a nested archive's format.
        let sniffed = match sniff_file(&spooled) {
            Ok(sniffed) => sniffed,
            Err(e) => {
                let _ = std::fs::remove_file(&spooled);
                return out.errors.push((at, MediaError::Io(e)));
            }
        };
        let kind = match sniffed {
            Sniffed::Media(kind) if !nested => kind,
            Sniffed::Media(_) | Sniffed::Archive => {
                if depth < 1 {
                    self.archive(&spooled, &at, written, depth + 1, out);
                } else {
                    refuse(
                        out,
                        "archive nested more than one level deep: not opened".to_string(),
                    );
                }
                let _ = std::fs::remove_file(&spooled);
                return;
            }
            Sniffed::Unsupported(what) => {
                let _ = std::fs::remove_file(&spooled);
                return out.errors.push((at, MediaError::Unsupported(what)));
            }
            Sniffed::Other(what) => {
                let _ = std::fs::remove_file(&spooled);
                return out.skipped.push((at, what.to_string()));
            }
            Sniffed::Text => {
                let _ = std::fs::remove_file(&spooled);
                return out.text.push(at);
            }
        };
        out.files.push(InputFile {
            display: at,
            path: spooled,
            kind,
            size: written,
            modified_ns: self.modified_ns,
            kind_from_name: false,
            sequence: None,
        });
    }

    /// Copies an entry out under the size, total and ratio limits.
    fn copy(&self, reader: &mut dyn Read, to: &Path, budget: &mut Budget) -> Result<u64, String> {
        let mut file = std::fs::File::create(to).map_err(|e| format!("cannot spool: {e}"))?;
        let room = self
            .limits
            .max_entry_bytes
            .min(self.limits.max_total_bytes.saturating_sub(budget.total));
        let mut limited = reader.take(room + 1);
        let n = std::io::copy(&mut limited, &mut file)
            .map_err(|e| format!("cannot read entry: {e}"))?;
        budget.total += n;
        if n > room && budget.total > self.limits.max_total_bytes {
            budget.stopped = true;
            return Err(format!(
                "archive unpacks to more than {} bytes in all: stopped here, later entries not read",
                self.limits.max_total_bytes
            ));
        }
        if n > room {
            return Err(format!(
                "entry unpacks to more than {} bytes (the limit per entry): not extracted",
                self.limits.max_entry_bytes
            ));
        }
        if budget.total / budget.compressed > self.limits.max_ratio && budget.total > 1 << 20 {
            budget.stopped = true;
            return Err(format!(
                "archive unpacks to over {}:1 of its size (zip bomb?): stopped here",
                self.limits.max_ratio
            ));
        }
        Ok(n)
    }
}

fn zip_kind<R: Read>(entry: &zip::read::ZipFile<'_, R>) -> EntryType {
    if entry.is_dir() {
        EntryType::Dir
    } else if entry.is_symlink() {
        EntryType::Link
    } else {
        EntryType::File
    }
}

/// A relative path that stays below where it is put: no root, no prefix, no `..`.
fn safe_name(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty()
        && !name.starts_with('/')
        && !name.starts_with('\\')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && !name.split(['/', '\\']).any(|part| part == "..")
}

fn archive_error(e: std::io::Error) -> MediaError {
    MediaError::Walk(format!("archive: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_climb_out_are_unsafe() {
        for bad in [
            "../x.png",
            "a/../../x.png",
            "/etc/passwd",
            "\\\\server\\x.png",
            "a\\..\\x",
        ] {
            assert!(!safe_name(bad), "{bad}");
        }
        for good in ["x.png", "shots/sh010.mov", "./a/b.jpg"] {
            assert!(safe_name(good), "{good}");
        }
    }

    fn zip_of(dir: &Path, entries: &[(&str, Vec<u8>)]) -> InputFile {
        use std::io::Write;
        let path = dir.join("t.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in entries {
            zip.start_file(*name, stored).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        InputFile {
            display: "t.zip".to_string(),
            size: std::fs::metadata(&path).unwrap().len(),
            path,
            kind: crate::media::MediaKind::Still,
            modified_ns: None,
            kind_from_name: false,
            sequence: None,
        }
    }

    #[test]
    fn size_limits_refuse_entries_and_stop_at_the_total() {
        let dir = tempfile::tempdir().unwrap();
        // Entries are judged by their bytes: these start as a PNG does.
        let noise = |n: usize| {
            let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
            bytes.extend((8..n).map(|i| (i * 7919 % 251) as u8));
            bytes
        };
        let archive = zip_of(
            dir.path(),
            &[
                ("a.png", noise(3000)),
                ("big.png", noise(9000)),
                ("b.png", noise(3000)),
                ("c.png", noise(3000)),
                ("d.png", noise(3000)),
            ],
        );
        let limits = ArchiveLimits {
            max_entry_bytes: 5000,
            max_total_bytes: 12000,
            max_ratio: 100,
        };
        let out = expand(&archive, &limits).unwrap();
        let kept: Vec<&str> = out.files.iter().map(|f| f.display.as_str()).collect();
        // a fits (3000 unpacked); big is over the entry limit (5001 bytes read before it
        // was refused: 8001); b fits (11001); c crosses the total: the archive stops
        // there, and d is never read.
        assert_eq!(kept, vec!["t.zip!/a.png", "t.zip!/b.png"]);
        let refused: Vec<String> = out
            .errors
            .iter()
            .map(|(p, e)| format!("{p}: {e}"))
            .collect();
        assert_eq!(refused.len(), 2, "{refused:#?}");
        assert!(refused[0].starts_with("t.zip!/big.png") && refused[0].contains("per entry"));
        assert!(refused[1].starts_with("t.zip!/c.png") && refused[1].contains("later entries"));
        assert_eq!(std::fs::read_dir(out.dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn formats_by_name() {
        assert_eq!(format_of("a.ZIP"), Some(Format::Zip));
        assert_eq!(format_of("a.tgz"), Some(Format::TarGz));
        assert_eq!(format_of("a.tar.zst"), Some(Format::TarZst));
        assert_eq!(format_of("a.tar.gz"), Some(Format::TarGz));
        assert_eq!(format_of("a.png"), None);
    }
}
