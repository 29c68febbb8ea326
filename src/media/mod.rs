//! Media: finding files, reading their bytes, and decoding them to pixels.
//!
//! Everything here treats its input as hostile. Decoders run behind a panic boundary and
//! a size limit, and every failure is a typed [`MediaError`] for that one file.

pub mod archive;
pub mod budget;
pub mod claims;
pub mod formats;
pub mod frames;
pub mod pathtext;
pub mod pdf;
pub mod psd;
pub mod sequence;
pub mod sniff;
pub mod still;
pub mod thumbnail;
pub mod turbo;
pub mod video;
pub mod walk;

use std::path::Path;

pub use still::{decode_still, DecodeLimits, DecodedStill, StillScale};
pub use walk::{discover, discover_deferred, discover_with, Discovered, InputFile, Numbered, Root};

/// Still or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Still,
    Video,
}

const STILL_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "apng", "gif", "bmp", "tif", "tiff", "webp", "tga", "psd", "psb",
    "exr", "pdf",
];
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "m2v", "ts", "m2ts", "mts", "mxf",
    "vob", "wmv", "flv",
];

/// Classifies a path by extension alone, for what has no content to judge (an error's
/// entry in a report) or where FFmpeg's probing beats [`sniff`]; `None`: no media name.
pub fn kind_of(path: &Path) -> Option<MediaKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if STILL_EXTENSIONS.contains(&ext.as_str()) {
        Some(MediaKind::Still)
    } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        Some(MediaKind::Video)
    } else {
        None
    }
}

/// Why one file could not be decoded. Each becomes one line of a report, so each
/// variant writes its cause into its own message (none is returned as `source`).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot read: {0}")]
    Io(std::io::Error),
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not a recognised image format")]
    UnknownFormat,
    #[error("cannot decode: {0}")]
    Decode(image::ImageError),
    #[error("cannot decode JPEG: {0}")]
    Jpeg(String),
    #[error("{0}")]
    Psd(String),
    #[error("cannot decode OpenEXR: {0}")]
    Exr(String),
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    #[error(
        "image is {width}×{height} = {pixels} pixels, over the decode limit of {limit} pixels"
    )]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("more than {limit} {what}, the decode limit: the rest were not checked")]
    OverLimit { what: &'static str, limit: u64 },
    #[error("image has no pixels ({width}×{height})")]
    NoPixels { width: u32, height: u32 },
    #[error("decoder panicked: {0}")]
    DecoderPanic(String),
    /// A video judged unusable here: no video stream, no frame decoded.
    #[error("video: {0}")]
    Video(String),
    /// FFmpeg refused: `what` says at which step, `error` is FFmpeg's own.
    #[error("video: {what}: {error}")]
    Ffmpeg {
        what: &'static str,
        error: ffmpeg_next::Error,
    },
    #[error("{0}")]
    Walk(String),
    #[error("{0}: not a format this build decodes")]
    Unsupported(&'static str),
    #[error("{0}")]
    Unhashable(&'static str),
    #[error("not a recognised image or video ({0})")]
    NotMedia(&'static str),
    #[error("not a regular file ({0}): not read")]
    NotRegular(&'static str),
    /// A frame of an image sequence ([`sequence`]) that could not be checked: its
    /// number, its file's name, and why.
    #[error("frame {number} ({file}): {error}")]
    Frame {
        number: u64,
        file: String,
        error: Box<MediaError>,
    },
}

/// Runs `f`, turning a panic inside it into [`MediaError::DecoderPanic`]. Codecs are
/// large and fed hostile bytes; one bad file must not take down a night's job.
pub fn catch_decoder_panic<T>(f: impl FnOnce() -> Result<T, MediaError>) -> Result<T, MediaError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(MediaError::DecoderPanic(message))
        }
    }
}

/// BLAKE3 of a file's bytes: the identity of an asset in the bank.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// BLAKE3 of a file streamed from disk (never held whole), and its size.
pub fn digest_file(path: &Path) -> std::io::Result<([u8; 32], u64)> {
    let mut hasher = blake3::Hasher::new();
    let f = std::fs::File::open(path)?;
    let size = std::io::copy(
        &mut std::io::BufReader::with_capacity(1 << 20, f),
        &mut hasher,
    )?;
    Ok((*hasher.finalize().as_bytes(), size))
}

pub fn digest_hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`digest_hex`]; `None` unless `hex` is 64 hex digits.
pub fn digest_from_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoder_panic_becomes_an_error() {
        let result: Result<(), MediaError> = catch_decoder_panic(|| panic!("codec bug at byte 42"));
        match result {
            Err(MediaError::DecoderPanic(message)) => assert!(message.contains("byte 42")),
            other => panic!("expected DecoderPanic, got {other:?}"),
        }
        let formatted: Result<(), MediaError> = catch_decoder_panic(|| panic!("{} frames", 3));
        assert!(matches!(formatted, Err(MediaError::DecoderPanic(m)) if m == "3 frames"));
    }
}
