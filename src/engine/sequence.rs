//! Fingerprinting an image sequence ([`media::sequence`]) as the video it is.
//!
//! Each frame is decoded and hashed as the same picture would be as a still (the same
//! decode limits and JPEG scale, alpha flattened per the bank's parameters, bars judged
//! on the frame alone, the same centre crops), and the frames are then pushed in number
//! order through the same [`Segmenter`] as a video's, at `1 / fps` seconds each. Frame
//! `n` starts at `(n − first) / fps`: a gap in the numbering is a jump in time, not a
//! held frame. Frames are decoded and hashed in parallel a chunk at a time, so no more
//! than a chunk's small hashes and one decoded picture a thread are held at once.
//!
//! A frame that cannot be read or decoded is passed over and the sequence reported as
//! checked in part, naming the frame; a sequence none of whose frames decodes is an
//! error. The sequence's digest is BLAKE3 over its frames' BLAKE3 digests, 32 bytes
//! each in number order (zeros for a frame that cannot be read), so a banked sequence
//! is known again whatever its folder is called, and changes if any frame does.

use rayon::prelude::*;

use crate::fingerprint::imghash::imghash64_as_stored;
use crate::fingerprint::keypoints::{starts_step, FeatureSample};
use crate::fingerprint::pdq::PdqDct;
use crate::fingerprint::segments::Segmenter;
use crate::fingerprint::{flattened, picture_dcts, FingerprintParams};
use crate::media::sequence::{Frame, ImageSequence};
use crate::media::{self, catch_decoder_panic, DecodeLimits, MediaError, MediaKind};

use super::pictures::feature_sample;
use super::video::query_segment;
use super::{FileFingerprint, ReadInput, Sampling};

/// Frames a second a sequence is timed at unless told otherwise: film's rate, and what
/// animation is drawn for.
pub const DEFAULT_FPS: f64 = 24.0;

/// Frames decoded and hashed together, per worker thread: enough to keep every thread
/// busy past a slow frame, few enough that a chunk's results stay small.
const CHUNK_PER_THREAD: usize = 4;

/// The sequence's digest, streaming each frame through BLAKE3 (in parallel), without
/// decoding: what `index` needs to know a sequence it has banked before.
pub(super) fn read_sequence(sequence: &ImageSequence) -> ReadInput {
    let digests: Vec<([u8; 32], u64)> = sequence
        .frames
        .par_iter()
        .map(|f| media::digest_file(&f.path).unwrap_or(([0; 32], 0)))
        .collect();
    ReadInput {
        digest: digest_of(digests.iter().map(|(d, _)| d)),
        size: digests.iter().map(|(_, n)| n).sum(),
        bytes: None,
    }
}

fn digest_of<'a>(frames: impl Iterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for d in frames {
        hasher.update(d);
    }
    *hasher.finalize().as_bytes()
}

/// One frame, hashed.
struct Hashed {
    dct: PdqDct,
    crops: Vec<PdqDct>,
    secondary: u64,
    size: (u32, u32),
    feature: Option<FeatureSample>,
}

/// One frame read: its digest (zeros when unreadable), bytes, and its hashes or why not.
struct Done {
    digest: [u8; 32],
    bytes: u64,
    hashed: Result<Hashed, MediaError>,
}

/// Reads, decodes and hashes one frame, as [`super::fingerprint_still_bytes`] would the
/// file alone; keypoints too when `feature_at` says the frame starts a sample step.
fn hash_frame(
    frame: &Frame,
    params: &FingerprintParams,
    limits: DecodeLimits,
    feature_at: Option<f64>,
) -> Done {
    let bytes = match std::fs::read(&frame.path) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Done {
                digest: [0; 32],
                bytes: 0,
                hashed: Err(MediaError::Io(e)),
            }
        }
    };
    let digest = media::digest(&bytes);
    let hashed = media::decode_still(&bytes, limits, params.still_scale()).and_then(|img| {
        catch_decoder_panic(|| {
            let flat = flattened(&img, params);
            let img = flat.as_ref();
            let (dct, crops) = picture_dcts(img, params);
            Ok(Hashed {
                dct,
                crops,
                secondary: imghash64_as_stored(img, params.secondary),
                size: (img.width(), img.height()),
                feature: feature_at.map(|t| feature_sample(img, t, params)),
            })
        })
    });
    Done {
        digest,
        bytes: bytes.len() as u64,
        hashed,
    }
}

/// Decodes and fingerprints every frame of `sequence`, on the current rayon pool.
pub(super) fn fingerprint_sequence(
    sequence: &ImageSequence,
    params: &FingerprintParams,
    limits: DecodeLimits,
    sampling: Sampling,
) -> Result<FileFingerprint, MediaError> {
    let fps = sampling.sequence_fps.unwrap_or(DEFAULT_FPS);
    let first = sequence.first_number();
    let time_of = |f: &Frame| (f.number - first) as f64 / fps;
    let mut tracks: Vec<Segmenter> = (0..=params.crop_variants.len())
        .map(|_| Segmenter::new(params.segment_options()))
        .collect();
    let mut digests = Vec::with_capacity(sequence.frames.len());
    let (mut bytes, mut pixels, mut checked) = (0u64, 0u64, 0usize);
    let mut size = None;
    let mut features = Vec::new();
    // The first frame that was not checked and why, and how many were not.
    let mut failed: Option<(&Frame, MediaError)> = None;
    let mut unchecked = 0usize;
    let limit = (limits.max_frames as usize).min(sequence.frames.len());
    let (frames, over) = sequence.frames.split_at(limit);
    let chunk = CHUNK_PER_THREAD * rayon::current_num_threads().max(1);
    let mut previous_s = None;
    'chunks: for (c, part) in frames.chunks(chunk).enumerate() {
        // Keypoint samples fall on the time grid, decided before the frames are decoded.
        let steps: Vec<Option<f64>> = part
            .iter()
            .map(|f| {
                let t = time_of(f);
                let starts = sampling
                    .feature_step_s
                    .is_some_and(|step| starts_step(previous_s, t, step));
                previous_s = Some(t);
                starts.then_some(t)
            })
            .collect();
        let done: Vec<Done> = part
            .par_iter()
            .zip(steps)
            .map(|(f, at)| hash_frame(f, params, limits, at))
            .collect();
        for (n, (frame, done)) in part.iter().zip(done).enumerate() {
            digests.push(done.digest);
            bytes += done.bytes;
            let hashed = done.hashed.and_then(|h| {
                pixels = pixels.saturating_add(u64::from(h.size.0) * u64::from(h.size.1));
                if pixels > limits.max_total_pixels {
                    return Err(MediaError::OverLimit {
                        what: "decoded pixels in all frames",
                        limit: limits.max_total_pixels,
                    });
                }
                Ok(h)
            });
            let h = match hashed {
                Ok(h) => h,
                Err(e) => {
                    let over_limit = matches!(e, MediaError::OverLimit { .. });
                    unchecked += 1;
                    failed.get_or_insert((frame, e));
                    if over_limit {
                        // The rest of the sequence is past the limit too.
                        let rest = frames.len() - c * chunk - n - 1;
                        unchecked += rest;
                        digests.extend(
                            frames[frames.len() - rest..]
                                .iter()
                                .map(|f| media::digest_file(&f.path).map_or([0; 32], |(d, _)| d)),
                        );
                        break 'chunks;
                    }
                    continue;
                }
            };
            checked += 1;
            size.get_or_insert(h.size);
            features.extend(h.feature);
            let (t, secondary) = (time_of(frame), h.secondary);
            let dcts = std::iter::once(h.dct).chain(h.crops);
            for (k, (dct, track)) in dcts.zip(&mut tracks).enumerate() {
                // The secondary hash is the picture's; crops have none, as a still's.
                track.push(t, 1.0 / fps, dct, || if k == 0 { secondary } else { 0 });
            }
        }
    }
    if !over.is_empty() {
        unchecked += over.len();
        digests.extend(
            over.iter()
                .map(|f| media::digest_file(&f.path).map_or([0; 32], |(d, _)| d)),
        );
        failed.get_or_insert((
            &over[0],
            MediaError::OverLimit {
                what: "frames",
                limit: u64::from(limits.max_frames),
            },
        ));
    }
    if checked == 0 {
        // Nothing checked: an error, as a still that fails is.
        let (frame, e) = failed.expect("a sequence has frames");
        return Err(frame_error(frame, e));
    }
    let partial = failed.map(|(frame, e)| {
        let more = match unchecked - 1 {
            0 => String::new(),
            1 => "; 1 more frame not checked".to_string(),
            n => format!("; {n} more frames not checked"),
        };
        format!("{}{more}", frame_error(frame, e))
    });
    let mut tracks = tracks.into_iter().map(Segmenter::finish);
    let segments = tracks
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(query_segment)
        .collect();
    let crops = params
        .crop_variants
        .iter()
        .zip(tracks)
        .map(|(&keep, t)| (keep, t.into_iter().map(|s| s.segment).collect()))
        .collect();
    let (width, height) = size.unwrap_or((0, 0));
    Ok(FileFingerprint {
        digest: digest_of(digests.iter()),
        bytes,
        kind: MediaKind::Video,
        width,
        height,
        frame_rate: Some(fps),
        partial,
        segments,
        crops,
        insets: Vec::new(),
        features,
        panels: Vec::new(),
        panel_pages: Vec::new(),
    })
}

/// Why `frame` was not checked, naming it by its number and its file's name.
fn frame_error(frame: &Frame, error: MediaError) -> MediaError {
    let file = frame.display.rsplit('/').next().unwrap_or(&frame.display);
    MediaError::Frame {
        number: frame.number,
        file: file.to_string(),
        error: Box::new(error),
    }
}
