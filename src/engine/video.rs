//! Fingerprinting a video: decode, hash each sampled frame, collapse held frames.

use std::path::Path;

use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::pdq::{luma_from_rgb8, pdq_dct_from_luma};
use crate::fingerprint::segments::{SegmentOptions, Segmenter};
use crate::fingerprint::FingerprintParams;
use crate::matching::QuerySegment;
use crate::media::video::{decode_video, VideoInfo, VideoOptions};
use crate::media::MediaError;

/// Which frames of a video to hash. These choose frames; they do not change what a
/// frame's hash is, so they are not bank parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sampling {
    /// Hash this many frames a second; `None` hashes every frame.
    pub fps: Option<f64>,
    /// Decode keyframes only.
    pub keyframes_only: bool,
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
    let opts = VideoOptions {
        exact: params.video_side.is_none(),
        fast_side: params.video_side.unwrap_or(0),
        fps: sampling.fps,
        keyframes_only: sampling.keyframes_only,
        decoder_threads: 1,
    };
    let mut segmenter = Segmenter::new(SegmentOptions {
        hold_distance: params.hold_distance,
        ..SegmentOptions::default()
    });
    let mut luma = Vec::new();
    let secondary_algo = params.secondary;
    let info = decode_video(path, &opts, |frame| {
        luma_from_rgb8(frame.rgb, &mut luma);
        let dct = pdq_dct_from_luma(&mut luma, frame.width, frame.height);
        segmenter.push(frame.time_s, frame.duration_s, dct, || {
            image::RgbImage::from_raw(frame.width as u32, frame.height as u32, frame.rgb.to_vec())
                .map(|img| imghash64(&image::DynamicImage::ImageRgb8(img), secondary_algo))
                .unwrap_or(0)
        });
    })?;
    let segments = segmenter
        .finish()
        .into_iter()
        .map(|s| QuerySegment {
            segment: s.segment,
            variants: s.dct.dihedral_hashes().map(|(t, h)| (t, h.hash)).to_vec(),
        })
        .collect();
    Ok(VideoFingerprint { segments, info })
}

/// Hashes every sampled frame of a video, without collapsing them: vPDQ's view, one
/// `(frame index, time, hash)` per decoded frame in presentation order.
pub fn hash_video_frames(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    mut sink: impl FnMut(u64, f64, crate::fingerprint::PdqHash),
) -> Result<VideoInfo, MediaError> {
    let opts = VideoOptions {
        exact: params.video_side.is_none(),
        fast_side: params.video_side.unwrap_or(0),
        fps: sampling.fps,
        keyframes_only: sampling.keyframes_only,
        decoder_threads: 1,
    };
    let mut luma = Vec::new();
    let mut index = 0u64;
    decode_video(path, &opts, |frame| {
        luma_from_rgb8(frame.rgb, &mut luma);
        let hash = pdq_dct_from_luma(&mut luma, frame.width, frame.height).hash();
        sink(index, frame.time_s, hash);
        index += 1;
    })
}
