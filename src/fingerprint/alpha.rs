//! Pictures with an alpha channel are flattened before they are hashed.
//!
//! PDQ, like Meta's references, reads RGB and drops alpha. Line art drawn in the alpha
//! channel (strokes whose colour is black everywhere, transparency making the drawing,
//! as animation tools export it) then hashes as a flat black picture: quality 0, a hash
//! that matches nothing, so a copy of it reads as clean. A person sees such a picture
//! over a background, and so it is hashed here: composited over white and over black,
//! keeping the one with more content. Content is measured by PDQ's own quality (the
//! gradients of the 64 × 64 picture the hash is made from), the measure by which
//! matching trusts or discards a hash, so the background kept is the one whose hash is
//! most worth matching: black strokes keep white, white strokes keep black.
//!
//! A picture whose alpha is opaque everywhere is left as it is, and hashes exactly as
//! it did before (and as the references hash it).

use std::borrow::Cow;

use image::{DynamicImage, GrayImage, RgbImage};

use super::pdq::{pdq_dct_from_plane, LumaPlane};

/// `img` as it is hashed: itself when it has no alpha channel or is opaque everywhere,
/// otherwise composited over white or black, whichever gives the higher PDQ quality
/// (white when they tie).
pub fn flatten(img: &DynamicImage) -> Cow<'_, DynamicImage> {
    if !img.color().has_alpha() {
        return Cow::Borrowed(img);
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let converted;
    let (raw, gray): (&[u8], bool) = match img {
        DynamicImage::ImageLumaA8(la) => (la.as_raw(), true),
        DynamicImage::ImageRgba8(rgba) => (rgba.as_raw(), false),
        other => {
            converted = other.to_rgba8();
            (converted.as_raw(), false)
        }
    };
    let channels = if gray { 2 } else { 4 };
    if raw.chunks_exact(channels).all(|p| p[channels - 1] == 255) {
        return Cow::Borrowed(img);
    }
    let over = |background: u8| Composite {
        raw,
        gray,
        background,
    };
    let (white, black) = (over(255), over(0));
    let mut plane = Vec::new();
    let chosen = if black.quality(w, h, &mut plane) > white.quality(w, h, &mut plane) {
        black
    } else {
        white
    };
    drop(plane);
    Cow::Owned(chosen.image(w as u32, h as u32))
}

/// Pixels with alpha (gray-alpha or RGBA, 8 bits) over one flat background.
struct Composite<'a> {
    raw: &'a [u8],
    gray: bool,
    background: u8,
}

impl Composite<'_> {
    fn channels(&self) -> usize {
        if self.gray {
            2
        } else {
            4
        }
    }

    /// Each pixel's colour channels (1 or 3), composited.
    fn pixels(&self) -> impl Iterator<Item = ([u8; 3], usize)> + '_ {
        let colours = if self.gray { 1 } else { 3 };
        let bg = u32::from(self.background);
        self.raw.chunks_exact(self.channels()).map(move |p| {
            let a = u32::from(p[colours]);
            let mut out = [0u8; 3];
            for (o, &c) in out.iter_mut().zip(&p[..colours]) {
                *o = ((u32::from(c) * a + bg * (255 - a) + 127) / 255) as u8;
            }
            (out, colours)
        })
    }

    /// PDQ quality of the composite, from its 8-bit luma (written into `plane`).
    fn quality(&self, w: usize, h: usize, plane: &mut Vec<u8>) -> u8 {
        plane.clear();
        plane.extend(self.pixels().map(|(c, n)| {
            if n == 1 {
                c[0]
            } else {
                let y = 0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2]);
                y.round() as u8
            }
        }));
        pdq_dct_from_plane(&LumaPlane {
            data: plane,
            stride: w,
            width: w,
            height: h,
            gain: 1.0,
        })
        .quality()
    }

    fn image(&self, w: u32, h: u32) -> DynamicImage {
        let mut out = Vec::with_capacity(self.raw.len() / self.channels() * 3);
        for (c, n) in self.pixels() {
            out.extend_from_slice(&c[..n]);
        }
        if self.gray {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, out).expect("one byte a pixel"))
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, out).expect("three bytes a pixel"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::pdq_of_image;
    use image::{LumaA, Rgba, RgbaImage};

    /// Strokes drawn in alpha only: every pixel's colour is `ink`, opaque on a grid of
    /// lines and transparent elsewhere.
    fn drawn_in_alpha(ink: u8) -> RgbaImage {
        RgbaImage::from_fn(256, 192, |x, y| {
            let on = (x / 8 + (y * y) / 300) % 5 == 0 || (x * x / 200 + y / 6) % 7 == 0;
            Rgba([ink, ink, ink, if on { 255 } else { 0 }])
        })
    }

    #[test]
    fn strokes_drawn_in_alpha_are_hashed_over_the_background_that_shows_them() {
        for ink in [0u8, 255] {
            let img = DynamicImage::ImageRgba8(drawn_in_alpha(ink));
            // As the references read it, the picture is flat.
            assert_eq!(pdq_of_image(&img.to_rgb8().into()).quality(), 0);
            let flat = flatten(&img);
            let DynamicImage::ImageRgb8(rgb) = flat.as_ref() else {
                panic!("flattened to RGB");
            };
            // Black ink lands on white, white ink on black: both strokes and background
            // are in the picture hashed.
            let background = rgb
                .pixels()
                .zip(drawn_in_alpha(ink).pixels())
                .find(|(_, p)| p.0[3] == 0)
                .map(|(q, _)| q.0[0])
                .unwrap();
            assert_eq!(background, 255 - ink, "ink {ink}");
            assert!(pdq_of_image(&flat).quality() >= 50, "ink {ink}");
        }
    }

    /// A bank made before flattening keeps hashing as it did (alpha dropped), so that its
    /// banked hashes still meet the same files; a new bank flattens.
    #[test]
    fn a_bank_made_before_flattening_keeps_dropping_alpha() {
        use crate::fingerprint::{fingerprint_still, FingerprintParams};
        let img = DynamicImage::ImageRgba8(drawn_in_alpha(0));
        let old = FingerprintParams {
            flatten_alpha: false,
            ..FingerprintParams::default()
        };
        let as_stored = fingerprint_still(&img, &old).segment();
        assert_eq!(as_stored.quality, 0);
        let reference = pdq_of_image(&img.to_rgb8().into()).hash();
        assert_eq!(as_stored.pdq, reference.hash);
        let new = fingerprint_still(&img, &FingerprintParams::default()).segment();
        assert!(new.quality >= 50, "{}", new.quality);
        assert_eq!(new.pdq, pdq_of_image(&flatten(&img)).hash().hash);
    }

    #[test]
    fn gray_alpha_flattens_to_gray() {
        let img = DynamicImage::ImageLumaA8(image::ImageBuffer::from_fn(200, 150, |x, y| {
            LumaA([0u8, if (x / 10 + y / 15) % 2 == 0 { 255 } else { 0 }])
        }));
        let flat = flatten(&img);
        assert!(matches!(flat.as_ref(), DynamicImage::ImageLuma8(_)));
        assert!(pdq_of_image(&flat).quality() >= 50);
    }

    #[test]
    fn opaque_pictures_are_left_as_they_are() {
        let rgba = RgbaImage::from_fn(64, 48, |x, y| Rgba([x as u8 * 4, y as u8 * 5, 7, 255]));
        let img = DynamicImage::ImageRgba8(rgba);
        assert!(matches!(flatten(&img), Cow::Borrowed(_)));
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        assert!(matches!(flatten(&rgb), Cow::Borrowed(_)));
    }

    #[test]
    fn partial_alpha_blends_with_the_background() {
        let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(4, 4, Rgba([200, 100, 0, 128])));
        let white = Composite {
            raw: img.as_bytes(),
            gray: false,
            background: 255,
        };
        let (px, n) = white.pixels().next().unwrap();
        assert_eq!(n, 3);
        // 200·128/255 + 255·127/255 = 100.4 + 127 → 227; 100 → 177; 0 → 127.
        assert_eq!(px, [227, 177, 127]);
    }
}
