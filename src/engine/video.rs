//! Fingerprinting a video: decode, hash each sampled frame, collapse held frames.

use std::path::Path;

use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::pdq::{luma_from_rgb8, pdq_dct_from_luma};
use rayon::prelude::*;

use crate::fingerprint::segments::{SegmentOptions, SegmentWithDct, Segmenter};
use crate::fingerprint::FingerprintParams;
use crate::matching::QuerySegment;
use crate::media::video::{decode_video, keyframe_times, VideoInfo, VideoOptions};
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
    let (segments, info) = if sampling.ranges > 1 {
        fingerprint_in_ranges(path, params, sampling, seg_opts)?
    } else {
        fingerprint_range(path, params, sampling, None, seg_opts)?
    };
    let segments = segments
        .into_iter()
        .map(|s| QuerySegment {
            segment: s.segment,
            variants: s.dct.dihedral_hashes().map(|(t, h)| (t, h.hash)).to_vec(),
        })
        .collect();
    Ok(VideoFingerprint { segments, info })
}

fn video_options(
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<(f64, f64)>,
) -> VideoOptions {
    VideoOptions {
        exact: params.video_side.is_none(),
        fast_side: params.video_side.unwrap_or(0),
        fps: sampling.fps,
        keyframes_only: sampling.keyframes_only,
        decoder_threads: 1,
        range,
    }
}

fn fingerprint_range(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<(f64, f64)>,
    seg_opts: SegmentOptions,
) -> Result<(Vec<SegmentWithDct>, VideoInfo), MediaError> {
    let mut segmenter = Segmenter::new(seg_opts);
    let mut luma = Vec::new();
    let secondary_algo = params.secondary;
    let info = decode_video(path, &video_options(params, sampling, range), |frame| {
        luma_from_rgb8(frame.rgb, &mut luma);
        let dct = pdq_dct_from_luma(&mut luma, frame.width, frame.height);
        segmenter.push(frame.time_s, frame.duration_s, dct, || {
            image::RgbImage::from_raw(frame.width as u32, frame.height as u32, frame.rgb.to_vec())
                .map(|img| imghash64(&image::DynamicImage::ImageRgb8(img), secondary_algo))
                .unwrap_or(0)
        });
    })?;
    Ok((segmenter.finish(), info))
}

/// One file in `sampling.ranges` time ranges cut at keyframes, decoded in parallel on
/// the caller's pool, then joined: a held drawing that straddles a cut is merged back
/// into one segment.
fn fingerprint_in_ranges(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    seg_opts: SegmentOptions,
) -> Result<(Vec<SegmentWithDct>, VideoInfo), MediaError> {
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
    let parts: Vec<Result<(Vec<SegmentWithDct>, VideoInfo), MediaError>> = bounds
        .par_iter()
        .map(|r| fingerprint_range(path, params, sampling, Some(*r), seg_opts))
        .collect();
    let mut segments: Vec<SegmentWithDct> = Vec::new();
    let mut info: Option<VideoInfo> = None;
    for part in parts {
        let (segs, part_info) = part?;
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
    Ok((segments, info))
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
        luma_from_rgb8(frame.rgb, &mut luma);
        let hash = pdq_dct_from_luma(&mut luma, frame.width, frame.height).hash();
        sink(index, frame.time_s, hash);
        index += 1;
    })
}
