//! Still formats with no signature of their own (TGA) or with pixels that are not 8-bit
//! display values (OpenEXR's linear light, a 32-bit Photoshop document's): how they are
//! recognised and brought to the 8-bit sRGB pixels that are hashed.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, Rgb, Rgba};

use super::MediaError;

/// Whether `head` (at least its first 18 bytes) reads as a TGA header. TGA has no magic
/// number, so a file is taken for one only when its name says `.tga` (the walk) and its
/// header is consistent: a known image type, a colour map only where the type has one,
/// a pixel depth TGA allows and a picture of some size. The decoder has the last word.
pub fn looks_like_tga(head: &[u8]) -> bool {
    let Some(h) = head.get(..18) else {
        return false;
    };
    let colour_map = h[1];
    let image_type = h[2];
    let width = u16::from_le_bytes([h[12], h[13]]);
    let height = u16::from_le_bytes([h[14], h[15]]);
    let depth = h[16];
    let mapped = matches!(image_type, 1 | 9);
    matches!(image_type, 1 | 2 | 3 | 9 | 10 | 11)
        && (colour_map == 1) == mapped
        && colour_map <= 1
        && matches!(depth, 8 | 15 | 16 | 24 | 32)
        && width > 0
        && height > 0
}

/// Luminance at this share of the picture's pixels is brought down to 1.0 (display
/// white) when it is above it; see [`tone_map`].
const WHITE_PERCENTILE: f64 = 0.995;

/// Linear-light pixels (OpenEXR, 32-bit PSD) to the 8-bit sRGB that is hashed; RGBA
/// when `image` has alpha, else RGB.
///
/// The curve: exposure-normalised clamp, then the sRGB encoding. When the luminance at
/// the 99.5th percentile ([`WHITE_PERCENTILE`]) is above 1.0, every value is divided by
/// it; then values are clamped to [0, 1] and sRGB-encoded; NaN and negatives are 0.
/// Why this one:
/// - A picture whose values are all in [0, 1] (a render kept in display range, or an
///   8-bit picture converted to EXR) is not scaled, so it comes back as the sRGB pixels
///   it was made from and matches that picture exactly, as it would in any viewer.
/// - Values above 1 (highlights, a render at another exposure) are scaled down by one
///   factor for the whole picture rather than clipped: a plain clamp would turn a
///   picture whose values run to 6 nearly white. PDQ thresholds its coefficients at
///   their median, so one gain over the whole picture barely moves the hash; a local
///   operator (Reinhard per pixel) would change the picture's contrast, which the
///   hash does see. Only the brightest 0.5 % of pixels clip.
/// - Alpha, when there is one, is coverage, not light: clamped, not encoded.
pub fn tone_map(image: &DynamicImage) -> DynamicImage {
    let linear = image.to_rgba32f();
    let mut luma: Vec<f32> = linear
        .pixels()
        .map(|p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2])
        .filter(|y| y.is_finite())
        .collect();
    let white = if luma.is_empty() {
        1.0
    } else {
        let at = ((luma.len() - 1) as f64 * WHITE_PERCENTILE).round() as usize;
        let (_, v, _) = luma.select_nth_unstable_by(at, f32::total_cmp);
        v.max(1.0)
    };
    drop(luma);
    let encode = |v: f32| srgb_encode(v / white);
    let coverage = |a: f32| {
        if a.is_nan() {
            0
        } else {
            (a.clamp(0.0, 1.0) * 255.0).round() as u8
        }
    };
    let (w, h) = linear.dimensions();
    if image.color().has_alpha() {
        DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
            let p = linear.get_pixel(x, y);
            Rgba([encode(p[0]), encode(p[1]), encode(p[2]), coverage(p[3])])
        }))
    } else {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
            let p = linear.get_pixel(x, y);
            Rgb([encode(p[0]), encode(p[1]), encode(p[2])])
        }))
    }
}

/// One linear value in [0, 1] (clamped; NaN is 0) as an 8-bit sRGB value.
fn srgb_encode(v: f32) -> u8 {
    let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
    let e = if v <= 0.003_130_8 {
        12.92 * v
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (e * 255.0).round() as u8
}

/// OpenEXR's magic number.
pub fn is_exr(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x76, 0x2f, 0x31, 0x01])
}

fn exr_error(e: exr::error::Error) -> MediaError {
    MediaError::Exr(e.to_string())
}

/// The largest layer an OpenEXR file declares, from its headers alone, so that the
/// pixel limit is applied before anything is allocated.
pub fn exr_size(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    let meta =
        exr::meta::MetaData::read_from_buffered(Cursor::new(bytes), false).map_err(exr_error)?;
    let side = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    meta.headers
        .iter()
        .map(|h| (side(h.layer_size.width()), side(h.layer_size.height())))
        .max_by_key(|&(w, h)| u64::from(w) * u64::from(h))
        .ok_or_else(|| MediaError::Exr("no layers".to_string()))
}

/// The first RGB layer of an OpenEXR file (its largest resolution level), tone-mapped
/// ([`tone_map`]). Alpha is kept when the layer has one. A file with no RGB layer (luma
/// only, deep data) is an error.
pub fn decode_exr(bytes: &[u8]) -> Result<DynamicImage, MediaError> {
    use exr::prelude::{ReadChannels, ReadLayers};
    struct Linear {
        width: usize,
        alpha: bool,
        pixels: Vec<f32>,
    }
    let read = exr::prelude::read()
        .no_deep_data()
        .largest_resolution_level()
        .rgba_channels(
            |size: exr::math::Vec2<usize>, channels: &exr::image::RgbaChannels| Linear {
                width: size.width(),
                alpha: channels.3.is_some(),
                pixels: vec![0.0; size.area() * 4],
            },
            |linear: &mut Linear,
             at: exr::math::Vec2<usize>,
             (r, g, b, a): (f32, f32, f32, f32)| {
                let i = (at.y() * linear.width + at.x()) * 4;
                linear.pixels[i..i + 4].copy_from_slice(&[r, g, b, a]);
            },
        )
        .first_valid_layer()
        .all_attributes()
        .from_buffered(Cursor::new(bytes))
        .map_err(exr_error)?;
    let size = read.layer_data.size;
    let linear = read.layer_data.channel_data.pixels;
    let (w, h) = (size.width() as u32, size.height() as u32);
    let buffer = image::Rgba32FImage::from_raw(w, h, linear.pixels)
        .ok_or_else(|| MediaError::Exr("decoded size differs from the header".to_string()))?;
    let mapped = tone_map(&DynamicImage::ImageRgba32F(buffer));
    Ok(if linear.alpha {
        mapped
    } else {
        DynamicImage::ImageRgb8(mapped.to_rgb8())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srgb_decode(v: u8) -> f32 {
        let e = f32::from(v) / 255.0;
        if e <= 0.04045 {
            e / 12.92
        } else {
            ((e + 0.055) / 1.055).powf(2.4)
        }
    }

    /// Every 8-bit value survives a trip to linear light and back.
    #[test]
    fn values_in_display_range_come_back_as_their_srgb_pixels() {
        let img = image::Rgb32FImage::from_fn(256, 1, |x, _| {
            let v = srgb_decode(x as u8);
            Rgb([v, v, v])
        });
        let back = tone_map(&DynamicImage::ImageRgb32F(img)).to_luma8();
        assert!(back.pixels().enumerate().all(|(x, p)| p[0] == x as u8));
    }

    /// A picture whose values run far over 1 keeps its gradation instead of clipping:
    /// the same ramp at 6× exposure comes back as the ramp, the brightest 0.5 % aside.
    #[test]
    fn bright_values_are_scaled_down_not_clipped_to_white() {
        let ramp = |gain: f32| {
            DynamicImage::ImageRgb32F(image::Rgb32FImage::from_fn(1000, 1, |x, _| {
                let v = gain * x as f32 / 999.0;
                Rgb([v, v, v])
            }))
        };
        let sdr = tone_map(&ramp(1.0)).to_luma8().into_raw();
        let hdr = tone_map(&ramp(6.0)).to_luma8().into_raw();
        let white = hdr.iter().filter(|&&v| v == 255).count();
        // The brightest 0.5 %, and those that round up to white; a clamp would whiten 83 %.
        assert!(white <= 12, "{white} pixels clipped");
        let off = sdr.iter().zip(&hdr).map(|(a, b)| a.abs_diff(*b)).max();
        assert!(off <= Some(2), "{off:?}");
        // NaN, infinities and negatives do not poison the picture.
        let odd = DynamicImage::ImageRgb32F(image::Rgb32FImage::from_fn(3, 1, |x, _| {
            let v = [f32::NAN, f32::INFINITY, -1.0][x as usize];
            Rgb([v, v, v])
        }));
        assert_eq!(tone_map(&odd).to_luma8().into_raw(), [0, 255, 0]);
    }

    #[test]
    fn a_tga_header_is_told_from_other_bytes() {
        let mut h = [0u8; 18];
        h[2] = 2;
        h[12] = 10;
        h[14] = 10;
        h[16] = 24;
        assert!(looks_like_tga(&h));
        let mut mapped = h;
        mapped[2] = 1;
        assert!(!looks_like_tga(&mapped), "a mapped type needs a colour map");
        mapped[1] = 1;
        assert!(looks_like_tga(&mapped));
        assert!(!looks_like_tga(b"plain text, not a picture at all"));
        assert!(!looks_like_tga(&h[..17]));
    }
}
