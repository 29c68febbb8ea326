//! The `hash` job: fingerprints files and returns their hashes, banking nothing. A
//! still gives one hash; a video one per segment (as a bank holds it) or one per
//! sampled frame (vPDQ's layout, for lists exchanged with Meta's tools); an animation or
//! a document of pages one per picture. How the lines look is the caller's business.

use rayon::prelude::*;

use super::video::hash_video_frames;
use super::{fingerprint_file, fingerprint_input, Context, ReadInput, Sampling};
use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::{pdq_inside_bars, pdq_of_image, FingerprintParams, Hash256, ImgHashAlgo};
use crate::media::{self, DecodeLimits, Discovered, InputFile, MediaError, MediaKind};

/// Which hash the job makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgo {
    Pdq,
    /// A 64-bit hash of the img_hash family; stills only.
    Secondary(ImgHashAlgo),
}

/// How a video's hashes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoHashes {
    /// One per segment of held frames, as a bank holds them.
    Segments,
    /// One per sampled frame, as vPDQ writes them.
    Frames,
}

#[derive(Debug, Clone)]
pub struct HashOptions {
    pub algo: HashAlgo,
    pub video: VideoHashes,
    /// Every pixel, as Meta's reference tools hash (`--exact`): no bar trimming.
    pub exact: bool,
    pub params: FingerprintParams,
    pub limits: DecodeLimits,
    pub sampling: Sampling,
}

/// Where in its file a hash was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    /// The whole still.
    Whole,
    /// A span of a video or an animation, in seconds.
    Span { start_s: f64, end_s: f64 },
    /// A page of a document, from 1.
    Page(usize),
}

/// One hash of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileHash {
    Pdq {
        hash: Hash256,
        quality: u8,
        at: Place,
    },
    /// One sampled frame of a video, in vPDQ's terms.
    Frame {
        index: u64,
        time_s: f64,
        hash: Hash256,
        quality: u8,
    },
    Secondary(u64),
}

/// One file's hashes, and why the file was only partly decoded, if it was.
#[derive(Debug)]
pub struct Hashed {
    pub path: String,
    pub hashes: Vec<FileHash>,
    pub partial: Option<String>,
}

/// What a `hash` run found: each file's hashes or error, in input order, and what the
/// walk could not give.
pub struct HashRun {
    pub files: Vec<Result<Hashed, (String, MediaError)>>,
    pub walk: Discovered,
}

/// Hashes every media file under `paths`, in parallel on `ctx.pool`.
pub fn hash_paths(paths: &[std::path::PathBuf], opts: &HashOptions, ctx: &Context<'_>) -> HashRun {
    let walk = media::discover(paths, super::numbered(&opts.sampling));
    let files = ctx.pool.install(|| {
        walk.files
            .par_iter()
            .map(|file| {
                let sampling = ctx.sampling_for(opts.sampling, walk.files.len());
                hash_file(file, opts, sampling).map_err(|e| (file.display.clone(), e))
            })
            .collect()
    });
    HashRun { files, walk }
}

fn hash_file(
    file: &InputFile,
    opts: &HashOptions,
    sampling: Sampling,
) -> Result<Hashed, MediaError> {
    let hashed = |hashes, partial| Hashed {
        path: file.display.clone(),
        hashes,
        partial,
    };
    let params = &opts.params;
    let mut hashes = Vec::new();
    if file.sequence.is_some() {
        // Frames are hashed as stills and timed at the sequence's rate; their secondary
        // hashes are made per segment, and vPDQ's lines are a video file's.
        if opts.algo != HashAlgo::Pdq || opts.video == VideoHashes::Frames {
            return Err(MediaError::Unhashable(
                "an image sequence: only --algo pdq, one hash a segment, hashes it",
            ));
        }
    }
    if file.kind == MediaKind::Video {
        if opts.video == VideoHashes::Frames {
            let info = hash_video_frames(&file.path, params, sampling, |index, time_s, h| {
                hashes.push(FileHash::Frame {
                    index,
                    time_s,
                    hash: h.hash,
                    quality: h.quality,
                });
            })?;
            return Ok(hashed(hashes, info.partial));
        }
        let fp = fingerprint_file(file, params, opts.limits, sampling)?;
        hashes.extend(fp.segments.iter().map(|q| FileHash::Pdq {
            hash: q.segment.pdq,
            quality: q.segment.quality,
            at: Place::Span {
                start_s: q.segment.start_s.unwrap_or(0.0),
                end_s: q.segment.end_s.unwrap_or(0.0),
            },
        }));
        return Ok(hashed(hashes, fp.partial));
    }
    let bytes = std::fs::read(&file.path).map_err(MediaError::Io)?;
    if media::frames::open_pictures(&bytes, opts.limits)?.is_some() {
        // An animation or a document of pages: every picture, as the bank holds them.
        // The secondary hashes are made per segment, not per picture: saying nothing
        // for the other pictures would pass them over.
        if opts.algo != HashAlgo::Pdq {
            return Err(MediaError::Unhashable(
                "holds several pictures; only --algo pdq hashes each of them",
            ));
        }
        // The bytes in hand, not read from disk again.
        let input = ReadInput {
            digest: media::digest(&bytes),
            size: bytes.len() as u64,
            bytes: Some(bytes),
        };
        let fp = fingerprint_input(file, &input, params, opts.limits, sampling)?;
        hashes.extend(fp.segments.iter().enumerate().map(|(n, q)| FileHash::Pdq {
            hash: q.segment.pdq,
            quality: q.segment.quality,
            at: match (q.segment.start_s, q.segment.end_s) {
                (Some(start_s), Some(end_s)) => Place::Span { start_s, end_s },
                _ => Place::Page(n + 1),
            },
        }));
        return Ok(hashed(hashes, fp.partial));
    }
    let img = media::decode_still(&bytes, opts.limits, params.still_scale())?;
    let hash = media::catch_decoder_panic(|| {
        Ok(match opts.algo {
            HashAlgo::Pdq => {
                // As banked: inside any bars in the default mode, every pixel with --exact.
                let dct = if opts.exact {
                    pdq_of_image(&img)
                } else {
                    pdq_inside_bars(&img, params.bar_rule)
                };
                let h = dct.hash();
                FileHash::Pdq {
                    hash: h.hash,
                    quality: h.quality,
                    at: Place::Whole,
                }
            }
            HashAlgo::Secondary(algo) => FileHash::Secondary(imghash64(&img, algo)),
        })
    })?;
    Ok(hashed(vec![hash], None))
}
