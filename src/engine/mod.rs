//! The jobs: `index` (fingerprint files into a bank), `scan` (match files against a bank)
//! and `hash` (fingerprint files, nothing else). They take their parallelism, progress
//! reporting and cancellation from a [`Context`] the caller builds, and return results as
//! values; nothing here prints.

mod bars_window;
mod compare;
mod evidence;
pub mod hash;
mod index;
mod panels;
mod pictures;
mod scan;
mod sequence;
pub mod shard;
mod video;

use std::sync::atomic::{AtomicBool, Ordering};

pub use compare::{compare_files, CompareError};
pub use evidence::{gather_evidence, MAX_MATCHES_WITH_PICTURES};
pub use index::{index_paths, FileError, IndexOptions, IndexSummary, InputFormat, Prune};
pub use scan::{scan_paths, ScanOptions};
pub use sequence::DEFAULT_FPS as DEFAULT_SEQUENCE_FPS;
pub use video::{fingerprint_video, hash_video_frames, Sampling, VideoFingerprint};

use crate::fingerprint::inset::Rect;
use crate::fingerprint::keypoints::{still_sample, FeatureSample};
use crate::fingerprint::{
    fingerprint_still, Dihedral, FingerprintParams, Segment, StillFingerprint,
};
use crate::matching::QuerySegment;
use crate::media::{self, DecodeLimits, InputFile, MediaError, MediaKind};
use crate::model::PanelPlace;

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

    /// `sampling` for a batch of `files` files: when there are fewer files than worker
    /// threads, each video is cut into ranges so that the idle threads help decode it.
    pub fn sampling_for(&self, sampling: Sampling, files: usize) -> Sampling {
        let threads = self.pool.current_num_threads();
        Sampling {
            ranges: if files < threads { threads } else { 1 },
            ..sampling
        }
    }
}

/// Files are processed in batches of this many: enough to keep every core busy, few
/// enough that a batch's decoded results stay small in memory and a cancel is prompt.
const BATCH: usize = 64;

/// What [`in_batches`] hands over: a batch of files to process, or what an archive
/// could not give (entries refused or unreadable, and entries that are not media, with
/// what they look like).
enum Work<'a> {
    Files(&'a [InputFile]),
    Passed(Passed),
}

/// An archive's entries that are not files to process.
#[derive(Default)]
struct Passed {
    errors: Vec<(String, MediaError)>,
    /// Not media, with what they look like.
    skipped: Vec<(String, String)>,
    /// Plain text: no pictures to check.
    text: Vec<String>,
}

/// Feeds `f` the walk's files in batches, then each archive's media entries: an archive
/// is unpacked just before its entries are processed and its folder removed after, so
/// only one archive is on disk at a time. `f` returns false to stop (a cancel); then the
/// count of files and archives not handed over comes back.
fn in_batches<E>(
    found: &media::Discovered,
    limits: &media::archive::ArchiveLimits,
    numbered: media::Numbered,
    mut f: impl FnMut(Work<'_>) -> Result<bool, E>,
) -> Result<usize, E> {
    for (b, batch) in found.files.chunks(BATCH).enumerate() {
        if !f(Work::Files(batch))? {
            return Ok(found.files.len() - b * BATCH + found.archives.len());
        }
    }
    for (a, archive) in found.archives.iter().enumerate() {
        let expanded = match media::archive::expand(archive, limits) {
            Ok(expanded) => expanded,
            Err(e) => {
                f(Work::Passed(Passed {
                    errors: vec![(archive.display.clone(), e)],
                    ..Passed::default()
                }))?;
                continue;
            }
        };
        f(Work::Passed(Passed {
            errors: expanded.errors,
            skipped: expanded.skipped,
            text: expanded.text,
        }))?;
        // An archive's folders hold sequences as a disk's do.
        let files = match numbered {
            media::Numbered::Sequences => media::sequence::group(expanded.files),
            media::Numbered::Stills => expanded.files,
        };
        for (b, batch) in files.chunks(BATCH).enumerate() {
            if !f(Work::Files(batch))? {
                let left = found.archives.len() - a - 1;
                return Ok(files.len() - b * BATCH + left);
            }
        }
    }
    Ok(0)
}

/// A file, read and fingerprinted.
#[derive(Debug, Clone)]
pub struct FileFingerprint {
    pub digest: [u8; 32],
    pub bytes: u64,
    pub kind: MediaKind,
    pub width: u32,
    pub height: u32,
    /// Frames a second the container declares, for timecodes; `None` for stills.
    pub frame_rate: Option<f64>,
    /// Set when decoding stopped early at damaged data; the segments before it are kept.
    pub partial: Option<String>,
    pub segments: Vec<QuerySegment>,
    /// The segments of each centre crop the bank parameters ask for (per cent of each
    /// side kept, segments); empty unless `crop_variants` is set.
    pub crops: Vec<(u8, Vec<Segment>)>,
    /// Picture-in-picture insets found in a video (with `Sampling::find_insets`), each
    /// with the segments of what it shows; empty for stills.
    pub insets: Vec<(Rect, Vec<QuerySegment>)>,
    /// Keypoints of a video's frames sampled every `Sampling::feature_step_s`, of a
    /// still (one sample) or of each page of a multi-page still, when asked for
    /// (`Sampling::feature_step_s` set); empty otherwise.
    pub features: Vec<FeatureSample>,
    /// Storyboard panels found on the picture or on each page, each fingerprinted as a
    /// still of its own; blank panels are left out.
    pub panels: Vec<(PanelPlace, QuerySegment)>,
    /// The pages (from 1) on which panels were found, blank ones included.
    pub panel_pages: Vec<u32>,
    /// Each of `panels`' keypoints, in the same order, when keypoints were asked for
    /// (`Sampling::feature_step_s` set); empty otherwise.
    pub panel_features: Vec<FeatureSample>,
    /// The resolution each page of a PDF was rendered at, in page order; empty for
    /// other files.
    pub page_dpi: Vec<f64>,
}

impl FileFingerprint {
    pub fn bank_segments(&self) -> Vec<Segment> {
        self.segments.iter().map(|q| q.segment).collect()
    }

    pub fn best_quality(&self) -> Option<u8> {
        self.segments.iter().map(|q| q.segment.quality).max()
    }
}

/// A file read far enough to know its identity.
pub struct ReadInput {
    pub digest: [u8; 32],
    pub size: u64,
    /// The bytes, for stills (decoded from memory). Videos are streamed by FFmpeg from
    /// the path, so they are digested in a stream and never held whole.
    pub bytes: Option<Vec<u8>>,
}

/// Reads a still, or streams a video through BLAKE3, without decoding. A file whose kind
/// the walk took from its name ([`media::discover_deferred`]) is judged by its bytes
/// first: what it is, not what it is called, decides how it is read.
pub fn read_input(file: &InputFile) -> Result<ReadInput, MediaError> {
    if let Some(frames) = &file.sequence {
        return Ok(sequence::read_sequence(frames));
    }
    let kind = if file.kind_from_name {
        kind_by_content(file)?
    } else {
        file.kind
    };
    match kind {
        MediaKind::Still => {
            let bytes = std::fs::read(&file.path).map_err(MediaError::Io)?;
            Ok(ReadInput {
                digest: media::digest(&bytes),
                size: bytes.len() as u64,
                bytes: Some(bytes),
            })
        }
        MediaKind::Video => {
            let (digest, size) = media::digest_file(&file.path).map_err(MediaError::Io)?;
            if size == 0 {
                return Err(MediaError::Empty);
            }
            Ok(ReadInput {
                digest,
                size,
                bytes: None,
            })
        }
    }
}

/// What a file's bytes say it is, or why it is not media, as a walk that reads them
/// says ([`media::discover`]).
fn kind_by_content(file: &InputFile) -> Result<MediaKind, MediaError> {
    use media::sniff::Sniffed;
    if file.size == 0 {
        return Err(MediaError::Empty);
    }
    match media::sniff::sniff_file(&file.path).map_err(MediaError::Io)? {
        Sniffed::Media(kind) => Ok(kind),
        Sniffed::Unsupported(what) => Err(MediaError::Unsupported(what)),
        Sniffed::Text => Err(MediaError::NotMedia("text")),
        Sniffed::Other(what) => Err(MediaError::NotMedia(what)),
        Sniffed::Archive => Err(MediaError::NotMedia("an archive under a media name")),
    }
}

/// Decodes and fingerprints a file already read.
pub fn fingerprint_input(
    file: &InputFile,
    input: &ReadInput,
    params: &FingerprintParams,
    limits: DecodeLimits,
    sampling: Sampling,
) -> Result<FileFingerprint, MediaError> {
    if let Some(frames) = &file.sequence {
        return sequence::fingerprint_sequence(frames, params, limits, sampling);
    }
    match &input.bytes {
        Some(bytes) => {
            // An animation or a multi-page TIFF: every frame or page is checked.
            let several =
                pictures::fingerprint_pictures(bytes, input.digest, params, limits, sampling)?;
            match several {
                Some(fp) => Ok(fp),
                None => {
                    let keypoints = sampling.feature_step_s.is_some();
                    fingerprint_still_keypoints(bytes, input.digest, params, limits, keypoints)
                }
            }
        }
        None => {
            let v = media::catch_decoder_panic(|| {
                video::fingerprint_video(&file.path, params, sampling)
            })?;
            Ok(FileFingerprint {
                digest: input.digest,
                bytes: input.size,
                kind: MediaKind::Video,
                width: v.info.width,
                height: v.info.height,
                frame_rate: (v.info.frame_rate > 0.0).then_some(v.info.frame_rate),
                partial: v.info.partial,
                segments: v.segments,
                crops: v.crops,
                insets: v.insets,
                features: v.features,
                panels: Vec::new(),
                panel_pages: Vec::new(),
                panel_features: Vec::new(),
                page_dpi: Vec::new(),
            })
        }
    }
}

/// Decodes and fingerprints a still image's bytes.
pub fn fingerprint_still_bytes(
    bytes: &[u8],
    digest: [u8; 32],
    params: &FingerprintParams,
    limits: DecodeLimits,
) -> Result<FileFingerprint, MediaError> {
    fingerprint_still_keypoints(bytes, digest, params, limits, false)
}

/// [`fingerprint_still_bytes`], and with `keypoints` the still's keypoints too (one
/// sample: a bank with `local_features`, or a scan that looks for them).
fn fingerprint_still_keypoints(
    bytes: &[u8],
    digest: [u8; 32],
    params: &FingerprintParams,
    limits: DecodeLimits,
    keypoints: bool,
) -> Result<FileFingerprint, MediaError> {
    let img = media::decode_still(bytes, limits, params.still_scale())?;
    let fp = media::catch_decoder_panic(|| Ok(fingerprint_still(&img, params)))?;
    let features = if keypoints {
        let bars = params.crop_borders.then_some(params.bar_rule);
        media::catch_decoder_panic(|| {
            let flat = crate::fingerprint::flattened(&img, params);
            Ok(vec![still_sample(flat.as_ref(), 0.0, bars)])
        })?
    } else {
        Vec::new()
    };
    let segment = fp.segment();
    let crops = params
        .crop_variants
        .iter()
        .zip(&fp.crops)
        .map(|(&keep, dct)| {
            let pdq = dct.hash();
            let crop = Segment {
                pdq: pdq.hash,
                quality: pdq.quality,
                secondary: 0,
                ..segment
            };
            (keep, vec![crop])
        })
        .collect();
    let query = still_query_segment(&fp);
    let source = panels::source_size(bytes).unwrap_or((img.width(), img.height()));
    let mut found = media::catch_decoder_panic(|| {
        Ok(panels::panels_of(&img, 1, source, params, &[], keypoints))
    })?;
    if found.laid_out && source != (img.width(), img.height()) {
        // A JPEG page was shrunk as it was decoded, which suits one hash of the whole
        // page but costs each panel the detail that tells it: a panel is a fifth of a
        // page across. A storyboard page is decoded again in full for its panels.
        drop(img);
        let full = media::decode_still(bytes, limits, media::StillScale::Full)?;
        found = media::catch_decoder_panic(|| {
            Ok(panels::panels_of(&full, 1, source, params, &[], keypoints))
        })?;
    }
    Ok(FileFingerprint {
        digest,
        bytes: bytes.len() as u64,
        kind: MediaKind::Still,
        width: fp.width,
        height: fp.height,
        frame_rate: None,
        partial: None,
        segments: vec![query],
        crops,
        insets: Vec::new(),
        features,
        panels: found.panels,
        panel_pages: if found.laid_out { vec![1] } else { Vec::new() },
        panel_features: found.samples,
        page_dpi: Vec::new(),
    })
}

/// What the walk makes of numbered stills under `sampling`.
fn numbered(sampling: &Sampling) -> media::Numbered {
    if sampling.numbered_stills {
        media::Numbered::Stills
    } else {
        media::Numbered::Sequences
    }
}

/// A still's picture as a query: its segment and its eight dihedral hashes.
fn still_query_segment(fp: &StillFingerprint) -> QuerySegment {
    QuerySegment {
        segment: fp.segment(),
        variants: fp
            .dct
            .dihedral_hashes()
            .map(|(t, h): (Dihedral, _)| (t, h.hash))
            .to_vec(),
    }
}

/// Reads and fingerprints one file (or image sequence: its frames are read once, and
/// digested as they are decoded).
pub fn fingerprint_file(
    file: &InputFile,
    params: &FingerprintParams,
    limits: DecodeLimits,
    sampling: Sampling,
) -> Result<FileFingerprint, MediaError> {
    if let Some(frames) = &file.sequence {
        return sequence::fingerprint_sequence(frames, params, limits, sampling);
    }
    let input = read_input(file)?;
    fingerprint_input(file, &input, params, limits, sampling)
}
