//! Small JPEG pictures of one moment of a file, for a reviewer to see what matched.
//!
//! Thumbnails are decoded the way the file is shown (rotation flag applied, colour
//! kept), not the way it is hashed: they are evidence for a person, not for the matcher.

use std::io::Cursor;
use std::ops::ControlFlow;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{imageops::FilterType, DynamicImage, RgbImage};

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
    /// The gain applied to a dim picture's levels so that a person can see it (the
    /// middle of a fade, a dark shot, which can be evidence as faint frames); `None`
    /// when the picture is shown as it is. The report must say so beside it.
    pub brightened: Option<f32>,
}

/// A picture whose brightest 1 % of pixels stays under this luma is too dim to judge by
/// eye, and its levels are stretched.
const DIM_LUMA: u8 = 96;
/// The most a dim picture's levels are stretched: a black frame stays black.
const MAX_GAIN: f32 = 16.0;

/// The frame of the video at `path` that is on screen at `time_s`.
pub fn video_thumbnail(path: &Path, time_s: f64) -> Result<Thumbnail, MediaError> {
    video_thumbnail_with_content(path, time_s, time_s, |_, _, _| Content::Clear).map(|(_, t)| t)
}

/// How much of a picture a frame shows, as judged by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Content {
    /// Black or one flat colour: nothing to see even with its levels stretched.
    Flat,
    /// A picture, but a faint one (the middle of a fade, a very dark shot).
    Faint,
    /// A clear picture.
    Clear,
}

/// The first frame of the video at `path` from `time_s` up to `until_s` that shows a
/// picture: the frame on screen at `time_s` if `judge` finds it [`Content::Clear`],
/// else the first later one that is, else the first one that is at least faint, else
/// the frame at `time_s` after all. `judge` sees each frame's packed RGB, width and
/// height. Returns the frame's time when it is not the one on screen at `time_s`.
pub fn video_thumbnail_with_content(
    path: &Path,
    time_s: f64,
    until_s: f64,
    mut judge: impl FnMut(&[u8], usize, usize) -> Content,
) -> Result<(Option<f64>, Thumbnail), MediaError> {
    let time_s = time_s.max(0.0);
    // Decode from a second before: a frame held since earlier is the one on screen.
    let opts = VideoOptions {
        exact: true,
        range: Some(((time_s - 1.0).max(0.0), until_s.max(time_s) + 0.5)),
        ..VideoOptions::default()
    };
    let mut shown: Option<RgbImage> = None;
    let mut shown_content = None;
    let mut faint: Option<(f64, RgbImage)> = None;
    let mut clear: Option<(f64, RgbImage)> = None;
    decode_video(path, &opts, |frame| {
        let Pixels::Rgb(data) = frame.pixels else {
            return ControlFlow::Continue(());
        };
        let image = || RgbImage::from_raw(frame.width as u32, frame.height as u32, data.to_vec());
        if shown.is_none() || frame.time_s <= time_s + 1e-6 {
            shown = image();
            return ControlFlow::Continue(());
        }
        // Past `time_s`: the frame on screen then is settled, and judged first.
        let start = *shown_content.get_or_insert_with(|| {
            shown.as_ref().map_or(Content::Flat, |s| {
                judge(s.as_raw(), s.width() as usize, s.height() as usize)
            })
        });
        if start == Content::Clear || frame.time_s > until_s + 1e-6 {
            return ControlFlow::Break(());
        }
        match judge(data, frame.width, frame.height) {
            Content::Clear => {
                clear = image().map(|img| (frame.time_s, img));
                ControlFlow::Break(())
            }
            Content::Faint if faint.is_none() && start == Content::Flat => {
                faint = image().map(|img| (frame.time_s, img));
                ControlFlow::Continue(())
            }
            _ => ControlFlow::Continue(()),
        }
    })?;
    let (time, img) = match (clear.or(faint), shown) {
        (Some((t, img)), _) => (Some(t), img),
        (None, Some(img)) => (None, img),
        (None, None) => {
            return Err(MediaError::Video(format!(
                "no frame decoded near {time_s:.2} s"
            )))
        }
    };
    Ok((time, picture_thumbnail(&DynamicImage::ImageRgb8(img))?))
}

/// The thumbnail of a decoded picture.
pub fn picture_thumbnail(img: &DynamicImage) -> Result<Thumbnail, MediaError> {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let height = ((u64::from(THUMBNAIL_WIDTH) * u64::from(h)) / u64::from(w)).clamp(1, 4096) as u32;
    let mut small = img
        .resize_exact(THUMBNAIL_WIDTH, height, FilterType::Triangle)
        .to_rgb8();
    let brightened = brighten_if_dim(&mut small);
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
        brightened,
    })
}

/// Stretches a dim picture's levels (every channel by one gain, so colours keep their
/// hue) until its brightest 1 % reaches white, at most [`MAX_GAIN`] times; returns the
/// gain, or `None` when the picture is bright enough as it is.
fn brighten_if_dim(img: &mut RgbImage) -> Option<f32> {
    let mut histogram = [0usize; 256];
    for p in img.pixels() {
        let [r, g, b] = p.0;
        let luma = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000;
        histogram[luma as usize] += 1;
    }
    let total: usize = histogram.iter().sum();
    let mut seen = 0;
    let p99 = (0..256)
        .find(|&v| {
            seen += histogram[v];
            seen * 100 >= total * 99
        })
        .unwrap_or(255) as u8;
    if p99 >= DIM_LUMA {
        return None;
    }
    let gain = (255.0 / f32::from(p99.max(1))).min(MAX_GAIN);
    for p in img.pixels_mut() {
        for c in &mut p.0 {
            *c = (f32::from(*c) * gain).round().min(255.0) as u8;
        }
    }
    Some(gain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(level: u8) -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| {
            let v = ((x + y) % 8 * u32::from(level) / 7) as u8;
            image::Rgb([v, v / 2, v])
        })
    }

    #[test]
    fn dim_pictures_are_brightened_and_say_by_how_much() {
        let mut dim = picture(40);
        let gain = brighten_if_dim(&mut dim).expect("a dim picture is brightened");
        assert!(gain > 5.0 && gain <= MAX_GAIN, "{gain}");
        let brightest = dim.pixels().map(|p| p.0[0]).max().unwrap();
        assert!(brightest > 200, "{brightest}");

        let mut bright = picture(255);
        let before = bright.clone();
        assert_eq!(brighten_if_dim(&mut bright), None);
        assert_eq!(bright, before);

        // Black stays black: the gain is bounded.
        let mut black = RgbImage::new(8, 8);
        assert_eq!(brighten_if_dim(&mut black), Some(MAX_GAIN));
        assert!(black.pixels().all(|p| p.0 == [0, 0, 0]));
    }
}
