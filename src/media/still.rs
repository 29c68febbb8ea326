//! Decoding stills under a pixel limit: JPEG through libjpeg-turbo, everything else
//! through the `image` crate.

use std::io::Cursor;

use image::{DynamicImage, ImageReader};

use super::{catch_decoder_panic, MediaError};

/// Caps on what one decode may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest image accepted, in pixels (width × height). Checked from the header,
    /// before any pixel buffer is allocated. Default: 200 megapixels.
    pub max_pixels: u64,
    /// Most frames of an animation, or pages of a TIFF, decoded from one file; the
    /// rest are not checked and the file is reported as checked in part. Default 10,000.
    pub max_frames: u32,
    /// Most pixels decoded from one file's frames or pages in all, which bounds the time
    /// a file of many large frames takes; past it, as past `max_frames`. Default 10
    /// gigapixels (1,200 frames of 4K).
    pub max_total_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 200_000_000,
            max_frames: 10_000,
            max_total_pixels: 10_000_000_000,
        }
    }
}

/// How large a still must be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StillScale {
    /// Every pixel, as Meta's references decode (for interop and conformance).
    #[default]
    Full,
    /// JPEGs may be shrunk by 2, 4 or 8 in the DCT domain while their shorter side stays
    /// at least this many pixels, and are decoded to their luma channel alone (JPEG's Y
    /// is PDQ's luminance, up to rounding). PDQ averages over windows of `side / 128`
    /// pixels, so this loses little; other formats are always decoded in full.
    ShorterSideAtLeast(u32),
}

/// Decodes an image from its bytes, as stored: EXIF orientation is not applied, as in
/// Meta's references, so that hashes interoperate. Rotations are caught by the dihedral
/// hashes instead.
pub fn decode_still(
    bytes: &[u8],
    limits: DecodeLimits,
    scale: StillScale,
) -> Result<DynamicImage, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    catch_decoder_panic(|| {
        let reader = || -> Result<ImageReader<Cursor<&[u8]>>, MediaError> {
            let r = ImageReader::new(Cursor::new(bytes))
                .with_guessed_format()
                .map_err(MediaError::Io)?;
            if r.format().is_none() {
                return Err(MediaError::UnknownFormat);
            }
            Ok(r)
        };
        let (width, height) = reader()?.into_dimensions().map_err(MediaError::Decode)?;
        let pixels = width as u64 * height as u64;
        if width == 0 || height == 0 {
            return Err(MediaError::NoPixels { width, height });
        }
        if pixels > limits.max_pixels {
            return Err(MediaError::TooLarge {
                width,
                height,
                pixels,
                limit: limits.max_pixels,
            });
        }
        if image::guess_format(bytes).ok() == Some(image::ImageFormat::Jpeg) {
            return decode_jpeg(bytes, width, height, scale);
        }
        let mut r = reader()?;
        let mut caps = image::Limits::default();
        // 16 bytes a pixel covers RGBA at 32-bit float, the widest layout decoded here;
        // the slack is for decoder-side tables.
        caps.max_alloc = Some(pixels.saturating_mul(16).saturating_add(64 << 20));
        r.limits(caps);
        r.decode().map_err(MediaError::Decode)
    })
}

/// JPEG goes to libjpeg-turbo, which stops at the first warning, so a truncated or
/// damaged file is an error instead of a picture padded with grey: a delivery with a file
/// that could not be fully decoded has not been fully checked.
fn decode_jpeg(
    bytes: &[u8],
    width: u32,
    height: u32,
    scale: StillScale,
) -> Result<DynamicImage, MediaError> {
    let (denominator, luma_only) = match scale {
        StillScale::Full => (1, false),
        StillScale::ShorterSideAtLeast(side) => {
            (super::turbo::shrink_for(width, height, side), true)
        }
    };
    let d = super::turbo::decode_jpeg(bytes, denominator, luma_only)?;
    let built = if d.gray {
        image::GrayImage::from_raw(d.width, d.height, d.pixels).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(d.width, d.height, d.pixels).map(DynamicImage::ImageRgb8)
    };
    built.ok_or_else(|| MediaError::Jpeg("decoded size differs from the header".to_string()))
}
