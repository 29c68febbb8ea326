//! Small JPEG pictures of one moment of a file, for a reviewer to see what matched.
//!
//! Thumbnails are decoded the way the file is shown (rotation flag applied, colour
//! kept), not the way it is hashed: they are evidence for a person, not for the matcher.

use std::io::Cursor;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{imageops::FilterType, DynamicImage, RgbImage};

use super::still::{decode_still, DecodeLimits, StillScale};
use super::video::{decode_video, Pixels, VideoOptions};
use super::MediaError;

/// Width of a thumbnail in pixels; the height follows the picture's aspect ratio.
pub const THUMBNAIL_WIDTH: u32 = 320;

/// A JPEG-encoded thumbnail.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The size of the picture it was made from, to place marks given in its pixels.
    pub source_width: u32,
    pub source_height: u32,
}

/// The frame of the video at `path` that is on screen at `time_s`.
pub fn video_thumbnail(path: &Path, time_s: f64) -> Result<Thumbnail, MediaError> {
    let time_s = time_s.max(0.0);
    // Decode from a second before: a frame held since earlier is the one on screen.
    let opts = VideoOptions {
        exact: true,
        range: Some(((time_s - 1.0).max(0.0), time_s + 0.5)),
        ..VideoOptions::default()
    };
    let mut best: Option<(f64, RgbImage)> = None;
    decode_video(path, &opts, |frame| {
        let Pixels::Rgb(data) = frame.pixels else {
            return;
        };
        let on_screen = frame.time_s <= time_s + 1e-6;
        let better = match &best {
            None => true,
            Some((t, _)) => on_screen && frame.time_s > *t,
        };
        if better {
            if let Some(img) =
                RgbImage::from_raw(frame.width as u32, frame.height as u32, data.to_vec())
            {
                best = Some((frame.time_s, img));
            }
        }
    })?;
    let (_, img) =
        best.ok_or_else(|| MediaError::Video(format!("no frame decoded near {time_s:.2} s")))?;
    encode(DynamicImage::ImageRgb8(img))
}

/// A still image's thumbnail, decoded under `limits`.
pub fn still_thumbnail(bytes: &[u8], limits: DecodeLimits) -> Result<Thumbnail, MediaError> {
    encode(decode_still(bytes, limits, StillScale::Full)?)
}

fn encode(img: DynamicImage) -> Result<Thumbnail, MediaError> {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let height = ((u64::from(THUMBNAIL_WIDTH) * u64::from(h)) / u64::from(w)).clamp(1, 4096) as u32;
    let small = img
        .resize_exact(THUMBNAIL_WIDTH, height, FilterType::Triangle)
        .to_rgb8();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut jpeg), 80)
        .encode_image(&small)
        .map_err(MediaError::Decode)?;
    Ok(Thumbnail {
        jpeg,
        width: small.width(),
        height: small.height(),
        source_width: w,
        source_height: h,
    })
}
