//! The jobs: `index` (fingerprint files into a bank), `scan` (match files against a bank)
//! and `hash` (fingerprint files, nothing else). They take their parallelism, progress
//! reporting and cancellation from a [`Context`] the caller builds, and return results as
//! values; nothing here prints.

mod index;
mod scan;

use std::sync::atomic::{AtomicBool, Ordering};

pub use index::{index_paths, IndexOptions, IndexSummary};
pub use scan::{scan_paths, ScanOptions};

use crate::fingerprint::{fingerprint_still, Dihedral, FingerprintParams, Segment};
use crate::matching::QuerySegment;
use crate::media::{self, DecodeLimits, InputFile, MediaError, MediaKind};

/// Receives progress from a running job. All methods may be called from worker threads.
pub trait Progress: Sync {
    /// Work is about to start on `files` files of `bytes` bytes in all.
    fn start(&self, _files: usize, _bytes: u64) {}
    /// One file is finished (successfully or not).
    fn file_done(&self, _path: &str, _bytes: u64) {}
    /// The job is over.
    fn finish(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// How a job runs: on which threads, reporting to whom, and whether to stop early.
pub struct Context<'a> {
    pub pool: &'a rayon::ThreadPool,
    pub progress: &'a dyn Progress,
    /// Set (from a signal handler, say) to stop after the files in flight.
    pub cancel: &'a AtomicBool,
}

impl Context<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Files are processed in batches of this many: enough to keep every core busy, few
/// enough that a batch's decoded results stay small in memory and a cancel is prompt.
const BATCH: usize = 64;

/// A file, read and fingerprinted.
#[derive(Debug, Clone)]
pub struct FileFingerprint {
    pub digest: [u8; 32],
    pub bytes: u64,
    pub kind: MediaKind,
    pub width: u32,
    pub height: u32,
    pub segments: Vec<QuerySegment>,
}

impl FileFingerprint {
    pub fn bank_segments(&self) -> Vec<Segment> {
        self.segments.iter().map(|q| q.segment).collect()
    }

    pub fn best_quality(&self) -> Option<u8> {
        self.segments.iter().map(|q| q.segment.quality).max()
    }
}

/// Reads a file and hashes its bytes, without decoding.
pub fn read_file(file: &InputFile) -> Result<(Vec<u8>, [u8; 32]), MediaError> {
    let bytes = std::fs::read(&file.path).map_err(MediaError::Io)?;
    let digest = media::digest(&bytes);
    Ok((bytes, digest))
}

/// Decodes and fingerprints a file already read.
pub fn fingerprint_bytes(
    kind: MediaKind,
    bytes: &[u8],
    digest: [u8; 32],
    params: &FingerprintParams,
    limits: DecodeLimits,
) -> Result<FileFingerprint, MediaError> {
    match kind {
        MediaKind::Video => Err(MediaError::VideoUnsupported),
        MediaKind::Still => {
            let img = media::decode_still(bytes, limits, params.still_scale())?;
            let fp = media::catch_decoder_panic(|| Ok(fingerprint_still(&img, params)))?;
            let segment = fp.segment();
            let variants = fp
                .dct
                .dihedral_hashes()
                .map(|(t, h): (Dihedral, _)| (t, h.hash))
                .to_vec();
            Ok(FileFingerprint {
                digest,
                bytes: bytes.len() as u64,
                kind,
                width: fp.width,
                height: fp.height,
                segments: vec![QuerySegment { segment, variants }],
            })
        }
    }
}

/// Reads and fingerprints one file.
pub fn fingerprint_file(
    file: &InputFile,
    params: &FingerprintParams,
    limits: DecodeLimits,
) -> Result<FileFingerprint, MediaError> {
    let (bytes, digest) = read_file(file)?;
    fingerprint_bytes(file.kind, &bytes, digest, params, limits)
}
