//! Decoding stills with the `image` crate, under a pixel limit.

use std::io::Cursor;

use image::{DynamicImage, ImageReader};

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use super::{catch_decoder_panic, MediaError};

/// Caps on what one decode may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest image accepted, in pixels (width × height). Checked from the header,
    /// before any pixel buffer is allocated. Default: 200 megapixels.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 200_000_000,
        }
    }
}

/// Decodes an image from its bytes, as stored: EXIF orientation is not applied, as in
/// Meta's references, so that hashes interoperate. Rotations are caught by the dihedral
/// hashes instead.
pub fn decode_still(bytes: &[u8], limits: DecodeLimits) -> Result<DynamicImage, MediaError> {
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
        if r_format(bytes) == Some(image::ImageFormat::Jpeg) {
            return decode_jpeg_strict(bytes, width, height);
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

fn r_format(bytes: &[u8]) -> Option<image::ImageFormat> {
    image::guess_format(bytes).ok()
}

/// JPEG goes straight to zune-jpeg (the decoder `image` itself uses) in strict mode, so
/// a truncated or damaged file is an error instead of a picture padded with grey: a
/// delivery with a file that could not be fully decoded has not been fully checked.
fn decode_jpeg_strict(bytes: &[u8], width: u32, height: u32) -> Result<DynamicImage, MediaError> {
    let gray = matches!(jpeg_components(bytes), Some(1));
    let out = if gray {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(width as usize)
        .set_max_height(height as usize)
        .jpeg_set_out_colorspace(out);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let pixels = decoder
        .decode()
        .map_err(|e| MediaError::Jpeg(e.to_string()))?;
    let built = if gray {
        image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
    };
    built.ok_or_else(|| MediaError::Jpeg("decoded size differs from the header".to_string()))
}

/// Number of colour components in a JPEG's frame header, if one is found.
fn jpeg_components(bytes: &[u8]) -> Option<u8> {
    let mut decoder = zune_jpeg::JpegDecoder::new(ZCursor::new(bytes));
    decoder.decode_headers().ok()?;
    decoder.input_colorspace().map(|c| c.num_components() as u8)
}
