//! Fingerprinting a video: decode, hash each sampled frame, collapse held frames.

use std::path::Path;

use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::pdq::{luma_from_rgb8, pdq_dct_from_plane, LumaPlane, PdqDct};
use rayon::prelude::*;

use crate::fingerprint::borders::centre_bars;
use crate::fingerprint::segments::{SegmentOptions, SegmentWithDct, Segmenter};
use crate::fingerprint::{pdq_of_region, FingerprintParams, Segment, VideoLuma};
use crate::matching::QuerySegment;
use crate::media::video::{decode_video, keyframe_times, Frame, Pixels, VideoInfo, VideoOptions};
use crate::media::MediaError;

/// Which frames of a video to hash. These choose frames; they do not change what a
/// frame's hash is, so they are not bank parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sampling {
    /// Hash this many frames a second; `None` hashes every frame.
    pub fps: Option<f64>,
    /// Decode keyframes only.
    pub keyframes_only: bool,
    /// Cut one file into this many time ranges at keyframes and decode them in
    /// parallel; 0 or 1 decodes it in one pass. It does not change which frames are
    /// hashed, only how the work is spread, so that one long file can use every core.
    pub ranges: usize,
}

/// A fingerprinted video: its segments with dihedral variants, and what the decoder saw.
pub struct VideoFingerprint {
    pub segments: Vec<QuerySegment>,
    /// Segments of the centre crops in `params.crop_variants`, in that order.
    pub crops: Vec<(u8, Vec<Segment>)>,
    pub info: VideoInfo,
}

pub fn fingerprint_video(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
) -> Result<VideoFingerprint, MediaError> {
    let seg_opts = SegmentOptions {
        hold_distance: params.hold_distance,
        ..SegmentOptions::default()
    };
    let (mut tracks, info) = if sampling.ranges > 1 {
        fingerprint_in_ranges(path, params, sampling, seg_opts)?
    } else {
        fingerprint_range(path, params, sampling, None, seg_opts)?
    };
    let crops = params
        .crop_variants
        .iter()
        .zip(tracks.drain(1..))
        .map(|(&keep, track)| (keep, track.into_iter().map(|s| s.segment).collect()))
        .collect();
    let segments = tracks
        .pop()
        .unwrap_or_default()
        .into_iter()
        .map(|s| QuerySegment {
            segment: s.segment,
            variants: s.dct.dihedral_hashes().map(|(t, h)| (t, h.hash)).to_vec(),
        })
        .collect();
    Ok(VideoFingerprint {
        segments,
        crops,
        info,
    })
}

fn video_options(
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<(f64, f64)>,
) -> VideoOptions {
    VideoOptions {
        exact: params.video_luma == VideoLuma::Rgb601,
        fps: sampling.fps,
        keyframes_only: sampling.keyframes_only,
        decoder_threads: 1,
        range,
    }
}

/// Segments of one range: the picture's own track first, then one track per centre
/// crop in `params.crop_variants`, all from the same decoded frames.
type Tracks = Vec<Vec<SegmentWithDct>>;

fn fingerprint_range(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<(f64, f64)>,
    seg_opts: SegmentOptions,
) -> Result<(Tracks, VideoInfo), MediaError> {
    let mut segmenter = Segmenter::new(seg_opts);
    let mut crop_segmenters: Vec<Segmenter> = params
        .crop_variants
        .iter()
        .map(|_| Segmenter::new(seg_opts))
        .collect();
    let mut luma = Vec::new();
    let secondary_algo = params.secondary;
    let info = decode_video(path, &video_options(params, sampling, range), |frame| {
        let dct = pdq_of(&frame, params.crop_borders, 100, &mut luma);
        // The secondary hash is made once a segment, from its first frame.
        segmenter.push(frame.time_s, frame.duration_s, dct, || {
            secondary_of(&frame)
                .map(|img| imghash64(&img, secondary_algo))
                .unwrap_or(0)
        });
        for (keep, seg) in params.crop_variants.iter().zip(&mut crop_segmenters) {
            let dct = pdq_of(&frame, true, *keep, &mut luma);
            seg.push(frame.time_s, frame.duration_s, dct, || 0);
        }
    })?;
    let mut tracks = vec![segmenter.finish()];
    tracks.extend(crop_segmenters.into_iter().map(Segmenter::finish));
    Ok((tracks, info))
}

/// One file in `sampling.ranges` time ranges cut at keyframes, decoded in parallel on
/// the caller's pool, then joined: a held drawing that straddles a cut is merged back
/// into one segment.
fn fingerprint_in_ranges(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    seg_opts: SegmentOptions,
) -> Result<(Tracks, VideoInfo), MediaError> {
    let scan = keyframe_times(path)?;
    let cuts = cut_points(&scan.keys, sampling.ranges);
    if cuts.len() < 2 {
        return fingerprint_range(path, params, sampling, None, seg_opts);
    }
    let mut bounds: Vec<(f64, f64)> = Vec::new();
    let mut starts = cuts.clone();
    starts[0] = 0.0;
    for (i, start) in starts.iter().enumerate() {
        bounds.push((*start, starts.get(i + 1).copied().unwrap_or(f64::INFINITY)));
    }
    let parts: Vec<Result<(Tracks, VideoInfo), MediaError>> = bounds
        .par_iter()
        .map(|r| fingerprint_range(path, params, sampling, Some(*r), seg_opts))
        .collect();
    let mut tracks: Tracks = vec![Vec::new(); 1 + params.crop_variants.len()];
    let mut info: Option<VideoInfo> = None;
    for part in parts {
        let (part_tracks, part_info) = part?;
        for (segments, segs) in tracks.iter_mut().zip(part_tracks) {
            for s in segs {
                match segments.last_mut() {
                    Some(last) if joins(&last.segment, &s.segment, seg_opts) => {
                        last.segment.end_s = s.segment.end_s;
                        last.segment.frames += s.segment.frames;
                        last.segment.quality = last.segment.quality.max(s.segment.quality);
                    }
                    _ => segments.push(s),
                }
            }
        }
        match &mut info {
            None => info = Some(part_info),
            Some(i) => {
                i.frames_decoded += part_info.frames_decoded;
                i.partial = i.partial.take().or(part_info.partial);
            }
        }
    }
    let mut info = info.unwrap_or_default();
    info.partial = info.partial.or(scan.truncated);
    if info.frames_decoded == 0 {
        return Err(MediaError::Video("no frame could be decoded".to_string()));
    }
    Ok((tracks, info))
}

/// Whether the first segment of one range continues the last of the previous one.
fn joins(
    a: &crate::fingerprint::Segment,
    b: &crate::fingerprint::Segment,
    opts: SegmentOptions,
) -> bool {
    let (low_a, low_b) = (a.quality < opts.min_quality, b.quality < opts.min_quality);
    (low_a && low_b) || (!low_a && !low_b && a.pdq.distance(&b.pdq) <= opts.hold_distance)
}

/// Up to `n` cut times, each the keyframe nearest an even share of the stream; the first
/// is the first keyframe.
fn cut_points(keys: &[f64], n: usize) -> Vec<f64> {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return Vec::new();
    };
    let mut cuts = vec![*first];
    for i in 1..n {
        let target = first + (last - first) * i as f64 / n as f64;
        let nearest = keys
            .iter()
            .copied()
            .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
            .unwrap_or(target);
        if nearest > *cuts.last().unwrap_or(first) {
            cuts.push(nearest);
        }
    }
    cuts
}

/// Hashes every sampled frame of a video, without collapsing them: vPDQ's view, one
/// `(frame index, time, hash)` per decoded frame in presentation order.
pub fn hash_video_frames(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    mut sink: impl FnMut(u64, f64, crate::fingerprint::PdqHash),
) -> Result<VideoInfo, MediaError> {
    let opts = video_options(params, sampling, None);
    let mut luma = Vec::new();
    let mut index = 0u64;
    decode_video(path, &opts, |frame| {
        let hash = pdq_of(&frame, params.crop_borders, 100, &mut luma).hash();
        sink(index, frame.time_s, hash);
        index += 1;
    })
}

/// PDQ of a decoded frame: exact frames (RGB) through the reference filter, luma planes
/// through the sampled one, of the centre `keep` per cent of each side of the frame
/// (100: all of it), inside any letterbox or pillarbox bars there when `crop` is set.
/// `scratch` holds the float luma between calls.
fn pdq_of(frame: &Frame<'_>, crop: bool, keep: u8, scratch: &mut Vec<f32>) -> PdqDct {
    let (w, h) = (frame.width, frame.height);
    match frame.pixels {
        Pixels::Rgb(rgb) => {
            luma_from_rgb8(rgb, scratch);
            // Exact frames keep every pixel, bars included, as vPDQ does; only a crop
            // variant looks for bars, inside its crop.
            let bars = centre_bars(w, h, keep, keep < 100, |x, y| scratch[y * w + x]);
            pdq_of_region(scratch, w, h, bars)
        }
        Pixels::Luma { data, gain } => {
            // Limited-range video puts black at 16.
            let black = if gain > 1.0 { 16.0 } else { 0.0 };
            let bars = centre_bars(w, h, keep, crop, |x, y| {
                (f32::from(data[y * w + x]) - black) * gain
            });
            pdq_dct_from_plane(&LumaPlane {
                data: &data[bars.top * w + bars.left..],
                stride: w,
                width: w - bars.left - bars.right,
                height: h - bars.top - bars.bottom,
                gain,
            })
        }
    }
}

/// The picture the secondary hash is made from. A luma frame is point-sampled down to
/// at most 128 pixels a side first: the 64-bit hashes shrink to 8–32 pixels themselves,
/// and resizing a full frame for them would cost more than PDQ.
fn secondary_of(frame: &Frame<'_>) -> Option<image::DynamicImage> {
    let (w, h) = (frame.width, frame.height);
    match frame.pixels {
        Pixels::Rgb(p) => image::RgbImage::from_raw(w as u32, h as u32, p.to_vec())
            .map(image::DynamicImage::ImageRgb8),
        Pixels::Luma { data, .. } => {
            let step = w.max(h).div_ceil(SECONDARY_SIDE).max(1);
            let (sw, sh) = (w.div_ceil(step), h.div_ceil(step));
            let small: Vec<u8> = (0..sh)
                .flat_map(|y| (0..sw).map(move |x| data[y * step * w + x * step]))
                .collect();
            image::GrayImage::from_raw(sw as u32, sh as u32, small)
                .map(image::DynamicImage::ImageLuma8)
        }
    }
}

const SECONDARY_SIDE: usize = 128;
