//! Decoding stills under a pixel limit: JPEG through libjpeg-turbo, Photoshop documents'
//! composites through [`super::psd`], OpenEXR through the `exr` crate,
//! tone-mapped ([`super::formats::tone_map`]), everything else (TGA included) through
//! the `image` crate.

use std::io::Cursor;
use std::ops::Deref;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::budget::{DecodeBudget, Permit};
use super::{catch_decoder_panic, MediaError};

/// Caps on what decodes may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest image accepted, in pixels (width × height). Checked from the header,
    /// before any pixel buffer is allocated. Default: 200 megapixels.
    pub max_pixels: u64,
    /// Bytes that the stills being decoded and hashed at once may hold together, across
    /// every worker of the process ([`super::budget`]): each still's bytes are estimated
    /// from its header, and its decode waits for room. A still estimated over the whole
    /// budget waits until it can run alone. Default: [`DEFAULT_DECODE_MEMORY`].
    pub memory_bytes: u64,
    /// Most frames of an animation, or pages of a TIFF, decoded from one file; the
    /// rest are not checked and the file is reported as checked in part. Default 10,000.
    pub max_frames: u32,
    /// Most pixels decoded from one file's frames or pages in all, which bounds the time
    /// a file of many large frames takes; past it, as past `max_frames`. Default 10
    /// gigapixels (1,200 frames of 4K).
    pub max_total_pixels: u64,
}

/// See [`DecodeLimits::memory_bytes`]: 4 GiB. Sixteen 4K stills (about 0.12 GB each)
/// are hashed at once without waiting, while two 196-megapixel RGBA ones (3.7 GB each)
/// never are.
pub const DEFAULT_DECODE_MEMORY: u64 = 4 << 30;

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 200_000_000,
            memory_bytes: DEFAULT_DECODE_MEMORY,
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

/// A decoded still, and its share of the decode memory budget, given back when it is
/// dropped: keep it until the picture has been hashed. It reads as the image.
#[derive(Debug)]
pub struct DecodedStill {
    image: DynamicImage,
    _permit: Permit<'static>,
}

impl DecodedStill {
    /// The image alone, its share of the budget given back: for pictures held beside
    /// others (an animation's frames, a document's pages), which the budget does not
    /// follow.
    pub fn into_image(self) -> DynamicImage {
        self.image
    }
}

impl Deref for DecodedStill {
    type Target = DynamicImage;

    fn deref(&self) -> &DynamicImage {
        &self.image
    }
}

/// Bytes a still holds beyond its decoded pixels while it is fingerprinted, per pixel:
/// PDQ's f32 luminance (4), and beside it either its filter's scratch (4) or, for a
/// bank's centre crops, a crop copied out with its own scratch (up to 0.81 × 8). Peak
/// RSS of `celprint index` of one 144-megapixel RGB PNG: 2.02 GB, as estimated
/// (docs/stills.md).
const HASHING_BYTES_PER_PIXEL: u64 = 11;
/// And for a picture with transparency, flattened before it is hashed: the composite in
/// RGB, held while it is hashed (3), and the 8-bit luma each background is judged by
/// before it (1).
const FLATTENING_BYTES_PER_PIXEL: u64 = 4;

/// The bytes a still decoded to `decoded` bytes of `pixels` pixels holds at its peak.
fn peak_bytes(decoded: u64, pixels: u64, alpha: bool) -> u64 {
    let per_pixel = HASHING_BYTES_PER_PIXEL + if alpha { FLATTENING_BYTES_PER_PIXEL } else { 0 };
    decoded.saturating_add(pixels.saturating_mul(per_pixel))
}

/// Decodes an image from its bytes, as stored: EXIF orientation is not applied, as in
/// Meta's references, so that hashes interoperate. Rotations are caught by the dihedral
/// hashes instead. The decode first waits for its share of the process's decode memory
/// budget ([`DecodeLimits::memory_bytes`]).
pub fn decode_still(
    bytes: &[u8],
    limits: DecodeLimits,
    scale: StillScale,
) -> Result<DecodedStill, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    let budget = DecodeBudget::process();
    catch_decoder_panic(|| {
        if super::psd::is_psd(bytes) {
            let header = super::psd::header(bytes)?;
            check_size(header.width, header.height, limits)?;
            let pixels = u64::from(header.width) * u64::from(header.height);
            let need = peak_bytes(header.decoded_bytes(), pixels, false);
            let permit = budget.acquire(need, limits.memory_bytes);
            let image = super::psd::decode(bytes, header)?;
            return Ok(DecodedStill {
                image,
                _permit: permit,
            });
        }
        if super::formats::is_exr(bytes) {
            let (width, height) = super::formats::exr_size(bytes)?;
            check_size(width, height, limits)?;
            let pixels = u64::from(width) * u64::from(height);
            // Linear RGBA at 32-bit float, and its tone-mapped copy beside it.
            let need = peak_bytes(pixels.saturating_mul(16 + 4), pixels, true);
            let permit = budget.acquire(need, limits.memory_bytes);
            let image = super::formats::decode_exr(bytes)?;
            return Ok(DecodedStill {
                image,
                _permit: permit,
            });
        }
        let reader = || -> Result<ImageReader<Cursor<&[u8]>>, MediaError> {
            let mut r = ImageReader::new(Cursor::new(bytes))
                .with_guessed_format()
                .map_err(MediaError::Io)?;
            if r.format().is_none() && super::formats::looks_like_tga(bytes) {
                // Only files the walk accepted reach here: a `.tga` name with a TGA
                // header (TGA has no magic number to guess by).
                r.set_format(image::ImageFormat::Tga);
            }
            if r.format().is_none() {
                return Err(MediaError::UnknownFormat);
            }
            Ok(r)
        };
        let (width, height) = reader()?.into_dimensions().map_err(MediaError::Decode)?;
        check_size(width, height, limits)?;
        let pixels = width as u64 * height as u64;
        if image::guess_format(bytes).ok() == Some(image::ImageFormat::Jpeg) {
            let (denominator, luma_only) = match scale {
                StillScale::Full => (1, false),
                StillScale::ShorterSideAtLeast(side) => {
                    (super::turbo::shrink_for(width, height, side), true)
                }
            };
            let planned = super::turbo::plan(bytes, denominator, luma_only)?;
            let decoded_pixels = u64::from(planned.width) * u64::from(planned.height);
            let need = peak_bytes(planned.bytes(), decoded_pixels, false);
            let permit = budget.acquire(need, limits.memory_bytes);
            let image = decode_jpeg(bytes, denominator, luma_only)?;
            return Ok(DecodedStill {
                image,
                _permit: permit,
            });
        }
        let mut r = reader()?;
        let mut caps = image::Limits::default();
        // 16 bytes a pixel covers RGBA at 32-bit float, the widest layout decoded here;
        // the slack is for decoder-side tables.
        caps.max_alloc = Some(pixels.saturating_mul(16).saturating_add(64 << 20));
        r.limits(caps);
        let decoder = r.into_decoder().map_err(MediaError::Decode)?;
        let need = peak_bytes(
            decoder.total_bytes(),
            pixels,
            decoder.color_type().has_alpha(),
        );
        let permit = budget.acquire(need, limits.memory_bytes);
        let image = DynamicImage::from_decoder(decoder).map_err(MediaError::Decode)?;
        Ok(DecodedStill {
            image,
            _permit: permit,
        })
    })
}

/// JPEG goes to libjpeg-turbo, which stops at the first warning, so a truncated or
/// damaged file is an error instead of a picture padded with grey: a delivery with a file
/// that could not be fully decoded has not been fully checked.
fn decode_jpeg(
    bytes: &[u8],
    denominator: u32,
    luma_only: bool,
) -> Result<DynamicImage, MediaError> {
    let d = super::turbo::decode_jpeg(bytes, denominator, luma_only)?;
    let built = if d.gray {
        image::GrayImage::from_raw(d.width, d.height, d.pixels).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(d.width, d.height, d.pixels).map(DynamicImage::ImageRgb8)
    };
    built.ok_or_else(|| MediaError::Jpeg("decoded size differs from the header".to_string()))
}

/// The size check every picture gets from its header, before its pixels are decoded:
/// empty pictures and pictures over the limit are refused.
pub(super) fn check_size(width: u32, height: u32, limits: DecodeLimits) -> Result<(), MediaError> {
    let pixels = u64::from(width) * u64::from(height);
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    /// A still holds its estimated bytes of the process's budget, estimated from the
    /// header (decoded pixels, hashing, and flattening for alpha), until it is dropped.
    /// Other tests decode at the same time, so the budget's total is only bounded below.
    #[test]
    fn a_decoded_still_holds_its_share_of_the_budget_until_dropped() {
        let (w, h) = (300u64, 200u64);
        let rgba = png(DynamicImage::ImageRgba8(image::RgbaImage::new(300, 200)));
        let still = decode_still(&rgba, DecodeLimits::default(), StillScale::Full).unwrap();
        let need = w * h * (4 + HASHING_BYTES_PER_PIXEL + FLATTENING_BYTES_PER_PIXEL);
        assert_eq!(still._permit.bytes(), need);
        assert!(DecodeBudget::process().in_flight() >= need);
        drop(still);

        let rgb = png(DynamicImage::ImageRgb8(image::RgbImage::new(300, 200)));
        let still = decode_still(&rgb, DecodeLimits::default(), StillScale::Full).unwrap();
        assert_eq!(still._permit.bytes(), w * h * (3 + HASHING_BYTES_PER_PIXEL));
    }

    /// Under a budget smaller than one still, the still is decoded all the same.
    #[test]
    fn a_still_over_the_whole_budget_is_decoded_not_refused() {
        let rgb = png(DynamicImage::ImageRgb8(image::RgbImage::new(300, 200)));
        let limits = DecodeLimits {
            memory_bytes: 1,
            ..DecodeLimits::default()
        };
        let still = decode_still(&rgb, limits, StillScale::Full).unwrap();
        assert_eq!((still.width(), still.height()), (300, 200));
    }
}
