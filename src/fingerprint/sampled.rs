//! A decoded picture hashed as a video frame is: PDQ through the sampled filter
//! ([`pdq::pdq_dct_from_rows`]) and the secondary hash from a point-sampled thumbnail,
//! for pictures that are frames of a shot (image sequences, `engine::sequence`).
//!
//! A still is hashed with the reference filter, for interop with Meta's PDQ; a video's
//! frames are not, because the reference's four full passes over every pixel cost more
//! than decoding. A sequence is segmented and matched as a video, so its frames are
//! hashed as a video's: within a bit or two of the reference (the filtered values are
//! the same up to float rounding), with the same luminance, bars and centre crops as a
//! still. The luminance is computed a row at a time where the filter reads it, never
//! held whole.

use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

use super::borders::{self, Bars};
use super::imghash::{imghash64_as_stored, ImgHashAlgo};
use super::pdq::{self, PdqDct};
use super::FingerprintParams;

/// Longest side of the thumbnail the secondary hash is made from, as for a video's
/// frames: the 64-bit hashes shrink the picture to 8–32 pixels themselves.
const SECONDARY_SIDE: usize = 128;

/// The 8-bit pixels of a picture, as PDQ reads them.
struct Pixels<'a> {
    raw: &'a [u8],
    width: usize,
    /// 1 (gray), 3 (RGB) or 4 (RGBA, whose alpha is opaque or ignored, as a still's).
    channels: usize,
}

impl Pixels<'_> {
    /// PDQ's luminance of pixel (x, y): the arithmetic of [`pdq::luma_from_rgb8`].
    fn luma(&self, x: usize, y: usize) -> f32 {
        let p = &self.raw[(y * self.width + x) * self.channels..];
        match self.channels {
            1 => f32::from(p[0]),
            _ => 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32,
        }
    }

    /// The luminance of `out.len()` pixels of row `y` from column `x`.
    fn row(&self, y: usize, x: usize, out: &mut [f32]) {
        let from = (y * self.width + x) * self.channels;
        let raw = &self.raw[from..from + out.len() * self.channels];
        match self.channels {
            1 => {
                for (o, v) in out.iter_mut().zip(raw) {
                    *o = f32::from(*v);
                }
            }
            3 => {
                for (o, p) in out.iter_mut().zip(raw.chunks_exact(3)) {
                    *o = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
                }
            }
            _ => {
                for (o, p) in out.iter_mut().zip(raw.chunks_exact(4)) {
                    *o = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
                }
            }
        }
    }

    /// PDQ of the part inside the margins `bars`.
    fn pdq_inside(&self, height: usize, bars: Bars) -> PdqDct {
        let w = self.width - bars.left - bars.right;
        let h = height - bars.top - bars.bottom;
        pdq::pdq_dct_from_rows(w, h, |y, out| self.row(y + bars.top, bars.left, out))
    }
}

/// An 8-bit gray, RGB or RGBA image read in place, or any other layout converted to RGB
/// (as a still's luminance is).
fn with_pixels<T>(img: &DynamicImage, f: impl FnOnce(&Pixels<'_>) -> T) -> T {
    let width = img.width() as usize;
    let view = |raw, channels| Pixels {
        raw,
        width,
        channels,
    };
    match img {
        DynamicImage::ImageLuma8(gray) => f(&view(gray.as_raw(), 1)),
        DynamicImage::ImageRgb8(rgb) => f(&view(rgb.as_raw(), 3)),
        DynamicImage::ImageRgba8(rgba) => f(&view(rgba.as_raw(), 4)),
        other => f(&view(other.to_rgb8().as_raw(), 3)),
    }
}

/// The PDQ DCTs of a picture already [`super::flattened`], as [`super::picture_dcts`]
/// makes them for a still (the picture inside any bars when `params.crop_borders`, then
/// each of `params.crop_variants`' centre crops, bars judged the same way) but through
/// the sampled filter.
pub fn frame_dcts(img: &DynamicImage, params: &FingerprintParams) -> (PdqDct, Vec<PdqDct>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    with_pixels(img, |px| {
        let rule = params.bar_rule;
        let luma = |x, y| px.luma(x, y);
        let crops = params
            .crop_variants
            .iter()
            .map(|&keep| px.pdq_inside(h, borders::centre_bars(w, h, keep, Some(rule), luma)))
            .collect();
        let bars = if params.crop_borders {
            borders::find_bars(w, h, rule, luma)
        } else {
            Bars::default()
        };
        (px.pdq_inside(h, bars), crops)
    })
}

/// The secondary hash of a picture already flattened, made as a video frame's is: from
/// the picture point-sampled down to at most [`SECONDARY_SIDE`] pixels a side (every
/// `step`-th pixel of every `step`-th row), rather than resized from every pixel.
pub fn frame_secondary(img: &DynamicImage, algo: ImgHashAlgo) -> u64 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let step = w.max(h).div_ceil(SECONDARY_SIDE).max(1);
    let (sw, sh) = (w.div_ceil(step), h.div_ceil(step));
    let small = with_pixels(img, |px| {
        let c = px.channels;
        let sampled: Vec<u8> = (0..sh)
            .flat_map(|y| (0..sw).flat_map(move |x| &px.raw[(y * step * w + x * step) * c..][..c]))
            .copied()
            .collect();
        let (sw, sh) = (sw as u32, sh as u32);
        match c {
            1 => GrayImage::from_raw(sw, sh, sampled).map(DynamicImage::ImageLuma8),
            3 => RgbImage::from_raw(sw, sh, sampled).map(DynamicImage::ImageRgb8),
            _ => RgbaImage::from_raw(sw, sh, sampled).map(DynamicImage::ImageRgba8),
        }
    });
    small.map_or(0, |small| imghash64_as_stored(&small, algo))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured picture with a black bar above and below (a letterbox).
    fn letterboxed(w: u32, h: u32, bar: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            if y < bar || y >= h - bar {
                return image::Rgb([0, 0, 0]);
            }
            let (x, y) = (x as f32, y as f32);
            let v = 128.0 + 60.0 * (x / 9.0).sin() * (y / 13.0).cos() + 50.0 * (x / 37.0).cos();
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v, 255 - v, v / 3 + 80])
        })
    }

    /// The frame's DCTs are the still's (reference) DCTs up to float rounding: the same
    /// luminance, the same bars and crops, the same quality, hashes a bit or two apart at
    /// most, for RGB, RGBA and gray pictures.
    #[test]
    fn frame_dcts_are_the_still_dcts_within_rounding() {
        let params = FingerprintParams::default().banked();
        for (w, h) in [(854, 480), (640, 360), (300, 517), (200, 100)] {
            let rgb = letterboxed(w, h, h / 8);
            for img in [
                DynamicImage::ImageRgb8(rgb.clone()),
                DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).to_rgba8()),
                DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb.clone()).to_luma8()),
            ] {
                let (still, still_crops) = super::super::picture_dcts(&img, &params);
                let (frame, frame_crops) = frame_dcts(&img, &params);
                assert_eq!(frame_crops.len(), params.crop_variants.len());
                for (a, b) in
                    std::iter::once((&still, &frame)).chain(still_crops.iter().zip(&frame_crops))
                {
                    let (a, b) = (a.hash(), b.hash());
                    assert_eq!(a.quality, b.quality, "{w}x{h} {:?}", img.color());
                    assert!(a.hash.distance(&b.hash) <= 2, "{w}x{h} {:?}", img.color());
                }
            }
        }
    }

    /// The bars are cut off before hashing: the frame of a letterboxed picture hashes as
    /// the picture inside the bars does.
    #[test]
    fn frame_dcts_hash_inside_the_bars() {
        let params = FingerprintParams::default();
        let boxed = DynamicImage::ImageRgb8(letterboxed(854, 480, 60));
        let inside = boxed.crop_imm(0, 60, 854, 360);
        let (a, _) = frame_dcts(&boxed, &params);
        let (b, _) = frame_dcts(&inside, &params);
        assert!(a.hash().hash.distance(&b.hash().hash) <= 2);
        let whole = FingerprintParams {
            crop_borders: false,
            ..FingerprintParams::default()
        };
        let (c, _) = frame_dcts(&boxed, &whole);
        assert!(a.hash().hash.distance(&c.hash().hash) > 16);
    }

    /// The secondary hash reads every `step`-th pixel: a picture already at most 128 a side
    /// is hashed whole, and a large one as its point-sampled thumbnail.
    #[test]
    fn frame_secondary_is_made_from_the_point_sampled_picture() {
        let params = FingerprintParams::default();
        let small = DynamicImage::ImageRgb8(letterboxed(128, 72, 9));
        assert_eq!(
            frame_secondary(&small, params.secondary),
            imghash64_as_stored(&small, params.secondary)
        );
        let large = DynamicImage::ImageRgb8(letterboxed(854, 480, 60));
        let step = 854usize.div_ceil(128) as u32;
        let thumb = RgbImage::from_fn(854u32.div_ceil(step), 480u32.div_ceil(step), |x, y| {
            *large.as_rgb8().unwrap().get_pixel(x * step, y * step)
        });
        assert_eq!(
            frame_secondary(&large, params.secondary),
            imghash64_as_stored(&DynamicImage::ImageRgb8(thumb), params.secondary)
        );
    }
}
