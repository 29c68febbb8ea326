//! Fingerprinting an image sequence ([`media::sequence`]) as the video it is.
//!
//! Each frame is decoded as the same picture would be as a still (the same decode
//! limits and JPEG scale, alpha flattened per the bank's parameters) and hashed as a
//! video's frame is ([`crate::fingerprint::sampled`]: PDQ's sampled filter, bars judged
//! on the frame alone, a still's centre crops, the secondary hash from a point-sampled
//! thumbnail; the reference filter under `--exact`, as for video). The frames are then
//! pushed in number order through the same [`Segmenter`] as a video's, at `1 / fps`
//! seconds each. Frame `n` starts at `(n − first) / fps`: a gap in the numbering is a
//! jump in time, not a held frame. Frames are decoded and hashed in parallel a chunk at
//! a time, so no more than a chunk's small hashes and one decoded picture a thread are
//! held at once.
//!
//! The secondary hash is kept only for the frame that opens a segment. Each thread
//! takes a run of consecutive frames and segments it on its own as it goes, making the
//! secondary hash only where its run opens a segment; once a frame opens a segment in
//! the whole sequence too, the run's decisions after it are the sequence's. Only a run's
//! first frame is unsure (it may continue the run before), so it always gets one; the
//! rare frame that opens a segment in the sequence but not in its run is decoded again
//! for it ([`secondary_again`]).
//!
//! A frame that cannot be read or decoded is passed over and the sequence reported as
//! checked in part, naming the frame; a sequence none of whose frames decodes is an
//! error. The sequence's digest is BLAKE3 over its frames' BLAKE3 digests, 32 bytes
//! each in number order (zeros for a frame that cannot be read), so a banked sequence
//! is known again whatever its folder is called, and changes if any frame does.

use image::DynamicImage;
use rayon::prelude::*;

use crate::fingerprint::imghash::imghash64_as_stored;
use crate::fingerprint::keypoints::{starts_step, FeatureSample};
use crate::fingerprint::pdq::PdqDct;
use crate::fingerprint::sampled::{frame_dcts, frame_secondary};
use crate::fingerprint::segments::Segmenter;
use crate::fingerprint::{flattened, picture_dcts, FingerprintParams, VideoLuma};
use crate::media::sequence::{Frame, ImageSequence};
use crate::media::{self, catch_decoder_panic, DecodeLimits, MediaError, MediaKind};

use super::pictures::feature_sample;
use super::video::query_segment;
use super::{FileFingerprint, ReadInput, Sampling};

/// Frames a second a sequence is timed at unless told otherwise: film's rate, and what
/// animation is drawn for.
pub const DEFAULT_FPS: f64 = 24.0;

/// Consecutive frames one thread decodes and hashes in turn: a run's first frame always
/// gets a secondary hash, so longer runs waste fewer; a chunk's results (small hashes)
/// stay small, and one run a thread keeps every thread busy.
const RUN: usize = 8;

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
    /// Made only where the frame opened a segment of its run.
    secondary: Option<u64>,
    size: (u32, u32),
    feature: Option<FeatureSample>,
}

/// One frame read: its digest (zeros when unreadable), bytes, and its hashes or why not.
struct Done {
    digest: [u8; 32],
    bytes: u64,
    hashed: Result<Hashed, MediaError>,
}

/// Reads, decodes and hashes a run of consecutive frames in turn, pushing each through
/// a segmenter of the run's own so that the secondary hash is made only where the run
/// opens a segment.
fn hash_run(
    frames: &[Frame],
    feature_at: &[Option<f64>],
    params: &FingerprintParams,
    limits: DecodeLimits,
) -> Vec<Done> {
    let mut run = Segmenter::new(params.segment_options());
    frames
        .iter()
        .zip(feature_at)
        .map(|(f, &at)| hash_frame(f, params, limits, at, &mut run))
        .collect()
}

/// Reads, decodes and hashes one frame, decoded as [`super::fingerprint_still_bytes`]
/// would decode the file alone and hashed as a video frame; keypoints too when `feature_at` says the frame starts a sample step. The
/// frame is pushed through `run`, and its secondary hash made only if it opens a segment
/// there.
fn hash_frame(
    frame: &Frame,
    params: &FingerprintParams,
    limits: DecodeLimits,
    feature_at: Option<f64>,
    run: &mut Segmenter,
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
            let (dct, crops) = dcts(img, params);
            let mut secondary = None;
            // Times do not change where segments open, only the hashes do.
            run.push(0.0, 0.0, dct.clone(), || {
                *secondary.insert(secondary_of(img, params))
            });
            Ok(Hashed {
                dct,
                crops,
                secondary,
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
    let chunk = RUN * rayon::current_num_threads().max(1);
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
        let runs: Vec<Vec<Done>> = part
            .par_chunks(RUN)
            .zip(steps.par_chunks(RUN))
            .map(|(frames, at)| hash_run(frames, at, params, limits))
            .collect();
        for (n, (frame, done)) in part.iter().zip(runs.into_iter().flatten()).enumerate() {
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
            let secondary = || secondary.unwrap_or_else(|| secondary_again(frame, params, limits));
            let mut dcts = std::iter::once(h.dct).chain(h.crops);
            let mut tracks = tracks.iter_mut();
            if let (Some(dct), Some(track)) = (dcts.next(), tracks.next()) {
                track.push(t, 1.0 / fps, dct, secondary);
            }
            // The secondary hash is the picture's; crops have none, as a still's.
            for (dct, track) in dcts.zip(tracks) {
                track.push(t, 1.0 / fps, dct, || 0);
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
        panel_features: Vec::new(),
        page_dpi: Vec::new(),
    })
}

/// The secondary hash of a frame that opens a segment of the sequence but did not open
/// one in its run (its run began inside a held drawing that drifted): decoded again, as
/// [`hash_frame`] did. The frame decoded a moment ago; should it no longer (changed on
/// disk since), it gets none (0), as crops have, which only leaves the report's
/// secondary distance meaningless for that segment.
fn secondary_again(frame: &Frame, params: &FingerprintParams, limits: DecodeLimits) -> u64 {
    #[cfg(test)]
    tests::AGAIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let again = std::fs::read(&frame.path)
        .map_err(MediaError::Io)
        .and_then(|bytes| media::decode_still(&bytes, limits, params.still_scale()))
        .and_then(|img| {
            catch_decoder_panic(|| {
                let flat = flattened(&img, params);
                Ok(secondary_of(flat.as_ref(), params))
            })
        });
    again.unwrap_or(0)
}

/// The PDQ DCTs of a frame already flattened: as a video's frames are hashed
/// ([`frame_dcts`], the sampled filter), or with the reference filter as a still when
/// the bank hashes video frames so too (`--exact`, for bit-level interop).
fn dcts(img: &DynamicImage, params: &FingerprintParams) -> (PdqDct, Vec<PdqDct>) {
    match params.video_luma {
        VideoLuma::Plane => frame_dcts(img, params),
        VideoLuma::Rgb601 => picture_dcts(img, params),
    }
}

/// The secondary hash of a frame already flattened, made as [`dcts`] chooses: from a
/// point-sampled thumbnail as a video frame's, or from every pixel under `--exact`.
fn secondary_of(img: &DynamicImage, params: &FingerprintParams) -> u64 {
    match params.video_luma {
        VideoLuma::Plane => frame_secondary(img, params.secondary),
        VideoLuma::Rgb601 => imghash64_as_stored(img, params.secondary),
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Frames whose secondary hash [`secondary_again`] made.
    pub(super) static AGAIN: AtomicUsize = AtomicUsize::new(0);

    /// A smooth picture moved `shift` pixels to the right: a slow pan, whose frames
    /// drift from the first of a held segment a few bits at a time.
    fn panned(shift: u32) -> image::RgbImage {
        image::RgbImage::from_fn(160, 120, |x, y| {
            let (x, y) = ((x + shift) as f32, y as f32);
            let v = 128.0
                + 60.0 * (x / 9.0).sin() * (y / 13.0).cos()
                + 50.0 * (x / 23.0 + y / 31.0).sin();
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v, v / 2 + 60, 255 - v])
        })
    }

    /// Every segment's secondary hash is its first frame's, as hashing every frame made
    /// it, on a slow pan where runs start inside held segments (so that some frames open
    /// a segment of the sequence but not of their run) and on cuts.
    #[test]
    fn each_segment_keeps_the_secondary_hash_of_its_first_frame() {
        let dir = tempfile::tempdir().unwrap();
        // A slow pan, a cut to another pan, and a held drawing.
        let shifts: Vec<u32> = (0..40)
            .map(|k| k * 2)
            .chain((0..20).map(|k| 300 + k))
            .chain([600; 5])
            .collect();
        let frames: Vec<Frame> = shifts
            .iter()
            .enumerate()
            .map(|(n, &shift)| {
                let path = dir.path().join(format!("pan.{:04}.png", n + 1));
                panned(shift).save(&path).unwrap();
                Frame {
                    number: n as u64 + 1,
                    display: path.display().to_string(),
                    size: std::fs::metadata(&path).unwrap().len(),
                    path,
                }
            })
            .collect();
        let sequence = ImageSequence {
            name: "pan.####.png [1-65]".to_string(),
            frames,
        };
        let params = FingerprintParams::default();
        let limits = DecodeLimits::default();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let before = AGAIN.load(Ordering::Relaxed);
        let print = pool
            .install(|| fingerprint_sequence(&sequence, &params, limits, Sampling::default()))
            .unwrap();
        assert!(
            AGAIN.load(Ordering::Relaxed) > before,
            "the pan should make a frame open a segment that its run did not"
        );
        assert!(
            print.segments.len() > 4,
            "{} segments",
            print.segments.len()
        );
        for seg in &print.segments {
            let start = seg.segment.start_s.unwrap();
            let n = (start * DEFAULT_FPS).round() as usize;
            let img = image::open(&sequence.frames[n].path).unwrap();
            let flat = flattened(&img, &params);
            let want = secondary_of(flat.as_ref(), &params);
            assert_eq!(seg.segment.secondary, want, "segment at frame {}", n + 1);
        }
    }

    /// Frames are hashed as a video's frames are (the sampled filter, the secondary hash
    /// from a point-sampled thumbnail), and as stills under `--exact` parameters, as a
    /// video's frames are there. The pictures have fine detail, which point sampling
    /// aliases, so that the two secondary hashes differ and the test tells them apart.
    #[test]
    fn frames_are_hashed_as_video_frames_and_as_stills_under_exact() {
        let dir = tempfile::tempdir().unwrap();
        let pictures: Vec<DynamicImage> = (0..3u32)
            .map(|k| {
                DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 360, |x, y| {
                    let (x, y, k) = (x as f32, y as f32, k as f32);
                    let v = 128.0
                        + 70.0 * (x / (2.0 + k) + y / 5.0).sin()
                        + 50.0 * ((x + 90.0 * k) / 41.0).cos() * (y / 29.0).sin();
                    let v = v.clamp(0.0, 255.0) as u8;
                    image::Rgb([v, 255 - v, v / 2 + 40])
                }))
            })
            .collect();
        let frames: Vec<Frame> = pictures
            .iter()
            .enumerate()
            .map(|(n, img)| {
                let path = dir.path().join(format!("f.{:04}.png", n + 1));
                img.save(&path).unwrap();
                Frame {
                    number: n as u64 + 1,
                    display: path.display().to_string(),
                    size: std::fs::metadata(&path).unwrap().len(),
                    path,
                }
            })
            .collect();
        let sequence = ImageSequence {
            name: "f.####.png [1-3]".to_string(),
            frames,
        };
        let video = FingerprintParams::default();
        let exact = FingerprintParams::exact();
        assert!(pictures.iter().any(|img| {
            frame_secondary(img, video.secondary) != imghash64_as_stored(img, video.secondary)
        }));
        for params in [video, exact] {
            let print = fingerprint_sequence(
                &sequence,
                &params,
                DecodeLimits::default(),
                Sampling::default(),
            )
            .unwrap();
            assert_eq!(print.segments.len(), 3);
            for (seg, img) in print.segments.iter().zip(&pictures) {
                let (dct, secondary) = match params.video_luma {
                    VideoLuma::Plane => (
                        frame_dcts(img, &params).0,
                        frame_secondary(img, params.secondary),
                    ),
                    VideoLuma::Rgb601 => (
                        picture_dcts(img, &params).0,
                        imghash64_as_stored(img, params.secondary),
                    ),
                };
                assert_eq!(seg.segment.pdq, dct.hash().hash, "{:?}", params.video_luma);
                assert_eq!(seg.segment.secondary, secondary, "{:?}", params.video_luma);
            }
        }
    }
}
