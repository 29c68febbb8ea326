//! Fingerprints: what is computed from pixels. PDQ is primary; one 64-bit hash of the
//! img_hash family rides along as a secondary signal.
//!
//! A still and a frame of a video are the same kind of thing here: a [`Segment`] with a
//! time range, or none for a still.

pub mod alpha;
pub mod borders;
pub mod hash256;
pub mod imghash;
pub mod inset;
pub mod keypoints;
pub mod panels;
pub mod pdq;
pub mod sampled;
pub mod segments;
pub mod vpdq;

use std::borrow::Cow;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

pub use hash256::Hash256;
pub use imghash::ImgHashAlgo;
pub use pdq::{Dihedral, PdqDct, PdqHash};

/// The parameters that decide what a hash is. A bank records them when it is created
/// and refuses to mix hashes made with others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintParams {
    /// Identifies the PDQ variant: the reference algorithm over 8-bit RGB luminance.
    pub pdq: String,
    /// The secondary 64-bit hash stored beside PDQ.
    pub secondary: ImgHashAlgo,
    /// JPEG stills are decoded shrunk (by 2, 4 or 8, in the DCT domain) while their
    /// shorter side stays at least this many pixels; `None` decodes every pixel, as
    /// Meta's references do. Default 512: 4× faster on 1080p, a few bits of drift.
    pub jpeg_min_side: Option<u32>,
    /// Which luminance video frames are hashed from; see [`VideoLuma`].
    pub video_luma: VideoLuma,
    /// Consecutive frames within this many bits of a segment's first frame join it.
    /// Default 16.
    pub hold_distance: u32,
    /// Hash the picture inside letterbox, pillarbox or window-box bars
    /// ([`borders`]). On by default; off with `exact` (Meta's references hash every
    /// pixel), and off for banks made before it existed.
    #[serde(default)]
    pub crop_borders: bool,
    /// How bars are told from picture ([`borders::BarRule`]): `Padding` by default;
    /// banks made before it read as `Dark`, and keep the rule they hashed with.
    #[serde(default)]
    pub bar_rule: borders::BarRule,
    /// Extra centre crops banked beside each picture, as the per cent of each side kept
    /// (e.g. 90, 80, 70): a delivery cropped into the safe area matches one of them. Only
    /// the bank side makes them; empty by default (and for banks made before them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crop_variants: Vec<u8>,
    /// Bars are judged over this many frames either side of each frame (the median of
    /// each side), so that a dark shot or a flash does not move them for up to this many
    /// frames. Default 24, a second at 24 fps (fewer for frames over 1080p, see
    /// `engine::video`); 0 judges every frame alone, as banks made before it did.
    #[serde(default)]
    pub bars_window: u8,
    /// Video frames from this quality up to the usable threshold are segmented with
    /// their own hashes as faint segments ([`segments`]); `None` makes every frame under
    /// the threshold a gap, as banks made before faint segments did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faint_quality: Option<u8>,
    /// Keypoints of video frames sampled every [`keypoints::BANK_STEP_S`], stored so
    /// that a delivery showing banked footage moved or resized inside its frame (an
    /// off-centre reframe, a picture-in-picture inset) is found ([`keypoints`]); the
    /// value names the keypoint variant ([`LOCAL_FEATURES_VARIANT`]). Only a bank makes
    /// them; `None` for banks made without (`--no-local-features`) or before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_features: Option<String>,
    /// Stills with transparency are hashed composited over white or black, whichever
    /// shows more ([`alpha`]). On by default; off for banks made before it, which hashed
    /// a still's colour alone (alpha dropped, as Meta's references do) and keep doing so,
    /// so that their banked hashes still meet the same files.
    #[serde(default)]
    pub flatten_alpha: bool,
    /// Stills and document pages are searched for storyboard panels, and each panel
    /// with a drawing in it is fingerprinted as a picture of its own (`panels`). On by
    /// default; off for banks made before it, whose stills were hashed whole only and
    /// keep being so.
    #[serde(default)]
    pub panels: bool,
}

impl Default for FingerprintParams {
    fn default() -> Self {
        FingerprintParams {
            pdq: PDQ_VARIANT.to_string(),
            secondary: ImgHashAlgo::Phash,
            jpeg_min_side: Some(DEFAULT_JPEG_MIN_SIDE),
            video_luma: VideoLuma::Plane,
            hold_distance: segments::SegmentOptions::default().hold_distance,
            crop_borders: true,
            bar_rule: borders::BarRule::Padding,
            crop_variants: Vec::new(),
            bars_window: DEFAULT_BARS_WINDOW,
            faint_quality: Some(pdq::DEFAULT_FAINT_QUALITY),
            local_features: None,
            flatten_alpha: true,
            panels: true,
        }
    }
}

/// Where a video frame's luminance comes from. Both hash every frame at its native size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoLuma {
    /// The decoder's own luma plane, read in place (range-expanded when the stream is
    /// limited-range), filtered only where PDQ samples it. No colour conversion and no
    /// scaling pass: the default, and a few bits from `Rgb601` (BT.709 video weighs
    /// colours slightly differently from PDQ's BT.601 formula).
    Plane,
    /// Frames converted to RGB and weighted 0.299/0.587/0.114, then filtered in full:
    /// what vPDQ does, for bit-level interop (`--exact`).
    Rgb601,
}

/// See [`FingerprintParams::jpeg_min_side`].
pub const DEFAULT_JPEG_MIN_SIDE: u32 = 512;

/// See [`FingerprintParams::bars_window`].
pub const DEFAULT_BARS_WINDOW: u8 = 24;

/// The centre crops a new bank keeps unless told otherwise: 5, 10 and 15 % cut from
/// every edge, the range of the safe-area crops studios make.
pub const DEFAULT_CROP_VARIANTS: [u8; 3] = [90, 80, 70];

impl FingerprintParams {
    /// These parameters as a new bank takes them: with [`DEFAULT_CROP_VARIANTS`].
    /// `Default` has no crops because only a bank makes them: queries and `hash` do not,
    /// and banks made before crops existed have none.
    pub fn banked(self) -> Self {
        FingerprintParams {
            crop_variants: DEFAULT_CROP_VARIANTS.to_vec(),
            local_features: Some(LOCAL_FEATURES_VARIANT.to_string()),
            ..self
        }
    }

    /// Parameters that hash every pixel, as Meta's references do.
    pub fn exact() -> Self {
        FingerprintParams {
            jpeg_min_side: None,
            video_luma: VideoLuma::Rgb601,
            crop_borders: false,
            ..FingerprintParams::default()
        }
    }

    /// How video frames are grouped into segments under these parameters.
    pub fn segment_options(&self) -> segments::SegmentOptions {
        segments::SegmentOptions {
            hold_distance: self.hold_distance,
            faint_quality: self.faint_quality,
            ..segments::SegmentOptions::default()
        }
    }

    pub fn still_scale(&self) -> crate::media::StillScale {
        match self.jpeg_min_side {
            None => crate::media::StillScale::Full,
            Some(side) => crate::media::StillScale::ShorterSideAtLeast(side),
        }
    }
}

/// Names the PDQ computation: luma 0.299/0.587/0.114, Jarosz 2 passes, 64×64, DCT16,
/// lower median. Changing any of those must change this string.
pub const PDQ_VARIANT: &str = "pdq-256/luma601/jarosz2/dct16/median";

/// Names the keypoints a bank keeps: FAST-9 corners ranked by Harris, upright 256-bit
/// BRIEF from a fixed seed, at four levels from a 76,800-pixel base, every 0.5 s.
/// Changing any of those must change this string.
pub const LOCAL_FEATURES_VARIANT: &str = "fast9-harris/brief256-upright/base76800/4x0.8/0.5s";

/// A run of consecutive near-identical frames, or one still.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Seconds from the start of the stream; `None` for a still.
    pub start_s: Option<f64>,
    /// Seconds, exclusive end; `None` for a still.
    pub end_s: Option<f64>,
    pub pdq: Hash256,
    /// PDQ quality, 0–100.
    pub quality: u8,
    /// How many decoded frames the segment stands for (1 for a still).
    pub frames: u32,
    /// The secondary img_hash-family hash.
    pub secondary: u64,
}

/// The fingerprint of one still image: its PDQ DCT (from which all dihedral hashes
/// follow) and its secondary hash.
#[derive(Debug, Clone)]
pub struct StillFingerprint {
    pub dct: PdqDct,
    /// The DCT of each of `params.crop_variants`' centre crops, in that order.
    pub crops: Vec<PdqDct>,
    pub secondary: u64,
    pub width: u32,
    pub height: u32,
}

impl StillFingerprint {
    pub fn segment(&self) -> Segment {
        let pdq = self.dct.hash();
        Segment {
            start_s: None,
            end_s: None,
            pdq: pdq.hash,
            quality: pdq.quality,
            frames: 1,
            secondary: self.secondary,
        }
    }
}

/// Fingerprints a decoded still: PDQ over its pixels as stored (a picture with
/// transparency over a background, [`alpha`]), plus the secondary hash.
pub fn fingerprint_still(img: &DynamicImage, params: &FingerprintParams) -> StillFingerprint {
    let flat = flattened(img, params);
    let img = flat.as_ref();
    let (dct, crops) = picture_dcts(img, params);
    StillFingerprint {
        dct,
        crops,
        secondary: imghash::imghash64_as_stored(img, params.secondary),
        width: img.width(),
        height: img.height(),
    }
}

/// A decoded picture as the bank hashes it: composited over a background when it has
/// transparency and the bank flattens ([`alpha`]), as it is otherwise.
pub fn flattened<'a>(img: &'a DynamicImage, params: &FingerprintParams) -> Cow<'a, DynamicImage> {
    if params.flatten_alpha {
        alpha::flatten(img)
    } else {
        Cow::Borrowed(img)
    }
}

/// The PDQ DCTs of a picture already [`flattened`], as a still is hashed: the picture
/// (inside any bars when `params.crop_borders`), then each of `params.crop_variants`'
/// centre crops.
pub fn picture_dcts(img: &DynamicImage, params: &FingerprintParams) -> (PdqDct, Vec<PdqDct>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if !params.crop_borders && params.crop_variants.is_empty() {
        return (pdq_of_pixels(img), Vec::new());
    }
    // One luma conversion for the picture and all its crops; the crops are copied out
    // first, because the picture's own hash may filter the buffer in place.
    let mut luma = luma_of(img);
    let rule = params.bar_rule;
    let crops = params
        .crop_variants
        .iter()
        .map(|&keep| {
            let bars = borders::centre_bars(w, h, keep, Some(rule), |x, y| luma[y * w + x]);
            pdq_of_copied_region(&luma, w, h, bars)
        })
        .collect();
    let dct = if params.crop_borders {
        let bars = borders::find_bars(w, h, rule, |x, y| luma[y * w + x]);
        pdq_of_region(&mut luma, w, h, bars)
    } else {
        pdq_of_pixels(img)
    };
    (dct, crops)
}

/// PDQ of the picture inside any bars found under `rule` ([`borders`]); the whole image
/// when it has none. Flattened first when it has transparency, as a new bank hashes it.
pub fn pdq_inside_bars(img: &DynamicImage, rule: borders::BarRule) -> PdqDct {
    let flat = alpha::flatten(img);
    let img = flat.as_ref();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut luma = luma_of(img);
    let bars = borders::find_bars(w, h, rule, |x, y| luma[y * w + x]);
    pdq_of_region(&mut luma, w, h, bars)
}

/// PDQ luminance (0.299/0.587/0.114) of an image, row by row.
fn luma_of(img: &DynamicImage) -> Vec<f32> {
    let mut luma = Vec::with_capacity(img.width() as usize * img.height() as usize);
    match img {
        DynamicImage::ImageLuma8(gray) => luma.extend(gray.as_raw().iter().map(|&v| v as f32)),
        DynamicImage::ImageRgb8(rgb) => pdq::luma_from_rgb8(rgb.as_raw(), &mut luma),
        DynamicImage::ImageRgba8(rgba) => {
            // Alpha is opaque here (see `alpha`): read in place rather than copied to RGB
            // first, with the same arithmetic as `luma_from_rgb8`.
            luma.resize(rgba.as_raw().len() / 4, 0.0);
            for (o, p) in luma.iter_mut().zip(rgba.as_raw().chunks_exact(4)) {
                *o = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
            }
        }
        other => pdq::luma_from_rgb8(other.to_rgb8().as_raw(), &mut luma),
    }
    luma
}

/// PDQ of the part of a `w × h` luma image inside the margins `bars`. With no margins
/// the whole buffer is filtered in place (it is PDQ's scratch); otherwise the part is
/// copied out first.
pub fn pdq_of_region(luma: &mut [f32], w: usize, h: usize, bars: borders::Bars) -> PdqDct {
    if bars.is_none() {
        return pdq::pdq_dct_from_luma(luma, w, h);
    }
    pdq_of_copied_region(luma, w, h, bars)
}

/// PDQ of the part of a `w × h` luma image inside the margins `bars`, copied out, so
/// that `luma` is left as it is.
fn pdq_of_copied_region(luma: &[f32], w: usize, h: usize, bars: borders::Bars) -> PdqDct {
    let (cw, ch) = (w - bars.left - bars.right, h - bars.top - bars.bottom);
    let mut inside: Vec<f32> = (bars.top..h - bars.bottom)
        .flat_map(|y| {
            luma[y * w + bars.left..y * w + bars.left + cw]
                .iter()
                .copied()
        })
        .collect();
    pdq::pdq_dct_from_luma(&mut inside, cw, ch)
}

/// PDQ of a decoded image, as a new bank hashes it: a picture with transparency is
/// flattened first ([`alpha`]).
pub fn pdq_of_image(img: &DynamicImage) -> PdqDct {
    pdq_of_pixels(&alpha::flatten(img))
}

/// PDQ of a decoded image's pixels as stored, alpha dropped. 8-bit RGB is read in place;
/// other layouts are converted.
fn pdq_of_pixels(img: &DynamicImage) -> PdqDct {
    let (w, h) = (img.width() as usize, img.height() as usize);
    match img {
        DynamicImage::ImageRgb8(rgb) => pdq::pdq_from_rgb8(rgb.as_raw(), w, h),
        DynamicImage::ImageLuma8(gray) => {
            // Gray is R = G = B, and the luma weights sum to one.
            let mut luma: Vec<f32> = gray.as_raw().iter().map(|&v| v as f32).collect();
            pdq::pdq_dct_from_luma(&mut luma, w, h)
        }
        other => {
            // An opaque alpha channel is dropped, as the references do when they load RGB.
            let rgb = other.to_rgb8();
            pdq::pdq_from_rgb8(rgb.as_raw(), w, h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bank's parameters are read back from what it stored when it was created, so the
    /// settings added since must default to what such a bank did: no bar cropping, no
    /// crop variants, bars judged frame by frame, alpha dropped.
    #[test]
    fn parameters_of_an_older_bank_read_as_it_hashed() {
        let stored = r#"{"pdq":"pdq-256/luma601/jarosz2/dct16/median","secondary":"phash",
            "jpeg_min_side":512,"video_luma":"plane","hold_distance":16}"#;
        let params: FingerprintParams = serde_json::from_str(stored).unwrap();
        assert!(!params.crop_borders);
        assert_eq!(params.bar_rule, borders::BarRule::Dark);
        assert!(params.crop_variants.is_empty());
        assert_eq!(params.bars_window, 0);
        assert!(!params.flatten_alpha);
        let now = FingerprintParams::default();
        assert_eq!(now.bars_window, DEFAULT_BARS_WINDOW);
        assert!(now.flatten_alpha);
        let round: FingerprintParams =
            serde_json::from_str(&serde_json::to_string(&now).unwrap()).unwrap();
        assert_eq!(round, now);
    }
}
