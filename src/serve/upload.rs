//! Uploaded files: written under generated names in a folder of the job's own, counted
//! and sized against the service's limits, and zip archives checked against the CLI's
//! archive rules before any job takes them.
//!
//! A client's file name is never a path here: only its last component survives, with
//! every byte outside `[A-Za-z0-9._-]` replaced, behind a sequence number, so `../x`,
//! `/etc/passwd` or a name with a newline cannot leave the folder or forge a report line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::multipart::{Multipart, MultipartError};
use axum::http::StatusCode;

use super::auth::ApiError;
use super::UploadLimits;
use crate::media::archive::ArchiveLimits;

/// What a multipart request held: its files, saved, and its text fields.
#[derive(Debug, Default)]
pub struct Saved {
    pub files: Vec<PathBuf>,
    pub fields: BTreeMap<String, String>,
}

/// The name an upload is saved under: `NNNN-` and the client's base name made safe.
pub fn safe_name(n: usize, client: &str) -> String {
    let base = client.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() {
        clean = "upload".into();
    }
    format!("{n:04}-{clean}")
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::new(e.status(), format!("bad upload: {}", e.body_text()))
}

fn io_error(path: &Path, e: std::io::Error) -> ApiError {
    ApiError::internal(format!(
        "cannot store the upload at {}: {e}",
        path.display()
    ))
}

/// Saves every file part of `mp` into `dir` (made here), and keeps the text fields. An
/// upload without a file part is refused, and a refused upload leaves nothing in `dir`.
pub async fn save(
    mp: Multipart,
    dir: &Path,
    limits: UploadLimits,
    archives: &ArchiveLimits,
) -> Result<Saved, ApiError> {
    let saved = match save_parts(mp, dir, limits, archives).await {
        Ok(s) if s.files.is_empty() => Err(ApiError::bad_request("no file part in the upload")),
        other => other,
    };
    if saved.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    saved
}

/// Saves every file part of `mp` into `dir` (made here), and keeps the text fields.
async fn save_parts(
    mut mp: Multipart,
    dir: &Path,
    limits: UploadLimits,
    archives: &ArchiveLimits,
) -> Result<Saved, ApiError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut saved = Saved::default();
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let Some(client_name) = field.file_name().map(str::to_string) else {
            let text = field.text().await.map_err(multipart_error)?;
            if text.len() > 4096 {
                return Err(ApiError::bad_request(format!(
                    "field {name:?} is over 4096 bytes"
                )));
            }
            saved.fields.insert(name, text);
            continue;
        };
        if saved.files.len() >= limits.max_files {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("more than {} files in one request", limits.max_files),
            ));
        }
        let path = dir.join(safe_name(saved.files.len() + 1, &client_name));
        let mut file = std::fs::File::create(&path).map_err(|e| io_error(&path, e))?;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            file.write_all(&chunk).map_err(|e| io_error(&path, e))?;
        }
        drop(file);
        check_zip(&path, &client_name, archives)?;
        saved.files.push(path);
    }
    Ok(saved)
}

/// A zip whose directory already says it breaks the archive rules is refused with a
/// 413 before it is queued; the scan would refuse its entries one by one anyway (and
/// does, for what a directory can hide, and for tar), but a client sending a bomb should
/// hear so at once.
fn check_zip(path: &Path, client_name: &str, limits: &ArchiveLimits) -> Result<(), ApiError> {
    let mut magic = [0u8; 4];
    let is_zip = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04";
    if !is_zip {
        return Ok(());
    }
    // An unreadable directory is the scan's to report, as a per-file error.
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return Ok(());
    };
    let refuse = |why: String| {
        Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("archive {client_name:?} refused: {why}"),
        ))
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        let ratio = entry.size() / entry.compressed_size().max(1);
        if ratio > limits.max_ratio {
            return refuse(format!(
                "entry {} unpacks at {ratio}:1, over the limit of {}:1 (zip bomb?)",
                i + 1,
                limits.max_ratio
            ));
        }
        if entry.size() > limits.max_entry_bytes {
            return refuse(format!(
                "entry {} unpacks to {} bytes, over the limit of {}",
                i + 1,
                entry.size(),
                limits.max_entry_bytes
            ));
        }
        total = total.saturating_add(entry.size());
    }
    if total > limits.max_total_bytes {
        return refuse(format!(
            "unpacks to {total} bytes in all, over the limit of {}",
            limits.max_total_bytes
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn client_names_never_become_paths() {
        assert_eq!(safe_name(1, "../../etc/passwd"), "0001-passwd");
        assert_eq!(safe_name(2, "..\\..\\x.png"), "0002-x.png");
        assert_eq!(safe_name(3, ".."), "0003-upload");
        assert_eq!(safe_name(4, "a b\n.mp4"), "0004-a_b_.mp4");
        assert_eq!(safe_name(5, ".hidden.png"), "0005-hidden.png");
        assert_eq!(safe_name(6, "/"), "0006-upload");
    }
}
