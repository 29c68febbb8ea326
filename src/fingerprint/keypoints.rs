//! Local features: corners of a picture with binary descriptors of the patch around
//! each. A whole-frame hash changes completely when the picture is moved or shrunk
//! inside the frame (an off-centre reframe, a picture-in-picture inset); corners move
//! with the picture, and their patches look the same, so two pictures that share a
//! region share keypoints whose places are related by one scale and shift.
//!
//! The picture is resampled to a fixed area ([`BASE_AREA`]), so that positions are
//! comparable between files of any size, and to [`LEVELS`] smaller copies, each
//! [`LEVEL_SCALE`] of the one before, so that a picture shown larger or smaller (a crop
//! blown up to the frame, an inset shrunk into a corner) still meets its own corners at
//! some pair of levels. Corners are FAST (9 of 16 pixels on a circle of radius 3 all
//! brighter or all darker than the centre), ranked by the Harris response, kept spread
//! over the picture; each is described by 256 comparisons of 5 × 5 box means at fixed
//! pairs of offsets around it (BRIEF, upright: rotations and flips are the whole-frame
//! hash's business).

use std::borrow::Cow;
use std::sync::OnceLock;

use image::DynamicImage;

use super::borders::{find_bars, BarRule, Bars};
use super::inset::{luma_plane_of_rgb, Rect};
use super::pdq::LumaPlane;

/// The area, in pixels, the picture is resampled to before corners are looked for.
pub const BASE_AREA: f32 = 76_800.0;
/// How many copies of the picture corners are looked for in, the first at
/// [`BASE_AREA`].
pub const LEVELS: usize = 4;
/// Each level's side over the one before.
pub const LEVEL_SCALE: f32 = 0.8;
/// How many keypoints each level keeps at most, largest level first.
const BUDGET: [usize; LEVELS] = [64, 44, 30, 22];
/// Keypoints are spread over a grid of this many cells a side: a cell keeps at most a
/// sixth of its level's budget, so that one busy corner of the picture cannot take all.
const GRID: usize = 4;
/// FAST's threshold, in full-range luma steps.
const FAST_THRESHOLD: f32 = 16.0;
/// Offsets of the comparisons reach this far from the keypoint, plus the box's 2.
const PATCH_REACH: i32 = 15;
const MARGIN: usize = (PATCH_REACH + 3) as usize;

/// One corner: its place in base pixels (the picture resampled to [`BASE_AREA`]), the
/// level it was found at, and its 256-bit descriptor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub level: u8,
    pub descriptor: [u64; 4],
}

impl Keypoint {
    /// How large the keypoint's patch is, in base pixels: 1 at the base level.
    pub fn size(&self) -> f32 {
        LEVEL_SCALE.powi(-i32::from(self.level))
    }

    pub fn distance(&self, other: &Keypoint) -> u32 {
        self.descriptor
            .iter()
            .zip(&other.descriptor)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }
}

/// The keypoints of one sampled frame of a video, of a still, or of one page of a
/// multi-page still.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSample {
    /// Seconds into a video; 0 for a still, and the page number (from 0) for a page of
    /// a multi-page still: a still has no time line.
    pub time_s: f64,
    /// The part of the frame the keypoints were found in (the picture inside its
    /// bars), in frame pixels: base pixels map onto it.
    pub picture: Rect,
    pub keypoints: Vec<Keypoint>,
}

impl FeatureSample {
    /// Frame pixels per base pixel, along x and y.
    pub fn pixels_per_base(&self) -> (f64, f64) {
        let (bw, bh) = base_size(self.picture.width, self.picture.height);
        (
            self.picture.width as f64 / bw as f64,
            self.picture.height as f64 / bh as f64,
        )
    }

    /// The picture's size in base pixels.
    pub fn base(&self) -> (usize, usize) {
        base_size(self.picture.width, self.picture.height)
    }
}

/// How far apart in time a bank samples a video's frames for keypoints.
pub const BANK_STEP_S: f64 = 0.5;
/// How far apart a scan samples a delivered video's: half the bank's, so that every
/// banked sample has a delivered one within a quarter of its step.
pub const QUERY_STEP_S: f64 = 0.25;

/// Whether a frame at `time_s`, after one at `previous_s`, is the first of a new step
/// of `step_s` seconds: samples fall on a fixed grid of time, so a file decoded in
/// ranges samples the same frames as one pass.
pub fn starts_step(previous_s: Option<f64>, time_s: f64, step_s: f64) -> bool {
    previous_s.is_none_or(|p| (p / step_s).floor() != (time_s / step_s).floor())
}

/// The base size of a `width × height` picture: its shape, at [`BASE_AREA`].
pub fn base_size(width: usize, height: usize) -> (usize, usize) {
    let s = (BASE_AREA / (width * height).max(1) as f32).sqrt();
    (
        ((width as f32 * s).round() as usize).max(1),
        ((height as f32 * s).round() as usize).max(1),
    )
}

/// The keypoints of a luma plane (the picture inside its bars), at most
/// `BUDGET.iter().sum()` of them.
pub fn keypoints(plane: &LumaPlane<'_>) -> Vec<Keypoint> {
    let (bw, bh) = base_size(plane.width, plane.height);
    let base = resample_plane(plane, bw, bh);
    let mut out = Vec::new();
    for (level, &budget) in BUDGET.iter().enumerate() {
        let scale = LEVEL_SCALE.powi(level as i32);
        let (w, h) = (
            (bw as f32 * scale).round() as usize,
            (bh as f32 * scale).round() as usize,
        );
        if w < 2 * MARGIN + GRID || h < 2 * MARGIN + GRID {
            break;
        }
        let img = if level == 0 {
            Image {
                w,
                h,
                px: base.px.clone(),
            }
        } else {
            resample(&base.px, bw, bh, bw, w, h)
        };
        let sums = Integral::of(&img);
        for (x, y) in corners(&img, budget) {
            out.push(Keypoint {
                x: x as f32 / scale,
                y: y as f32 / scale,
                level: level as u8,
                descriptor: describe(&sums, x, y),
            });
        }
    }
    out
}

/// The keypoints of a still picture (already flattened as the bank hashes it), in the
/// picture inside any bars found under `bars`, placed at `time_s` (see
/// [`FeatureSample::time_s`]). Its luma is a byte a pixel, made after the picture's
/// hashes, so a still holds no more memory at once than its hashing did.
pub fn still_sample(img: &DynamicImage, time_s: f64, bars: Option<BarRule>) -> FeatureSample {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let luma: Cow<'_, [u8]> = match img {
        DynamicImage::ImageLuma8(gray) => Cow::Borrowed(gray.as_raw()),
        DynamicImage::ImageRgb8(rgb) => Cow::Owned(luma_plane_of_rgb(rgb.as_raw())),
        other => Cow::Owned(luma_plane_of_rgb(other.to_rgb8().as_raw())),
    };
    let bars = match bars {
        Some(rule) if w > 0 && h > 0 => find_bars(w, h, rule, |x, y| f32::from(luma[y * w + x])),
        _ => Bars::default(),
    };
    let picture = Rect {
        x: bars.left,
        y: bars.top,
        width: w - bars.left - bars.right,
        height: h - bars.top - bars.bottom,
    };
    let keypoints = if picture.width == 0 || picture.height == 0 {
        Vec::new()
    } else {
        keypoints(&LumaPlane {
            data: &luma[bars.top * w + bars.left..],
            stride: w,
            width: picture.width,
            height: picture.height,
            gain: 1.0,
        })
    };
    FeatureSample {
        time_s,
        picture,
        keypoints,
    }
}

/// A grey picture, row after row.
struct Image {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

impl Image {
    fn at(&self, x: usize, y: usize) -> f32 {
        self.px[y * self.w + x]
    }
}

/// The plane resampled to `w × h` by area averaging, in full-range luma.
fn resample_plane(plane: &LumaPlane<'_>, w: usize, h: usize) -> Image {
    let mut img = resample(plane.data, plane.width, plane.height, plane.stride, w, h);
    if plane.gain != 1.0 {
        img.px.iter_mut().for_each(|v| *v *= plane.gain);
    }
    img
}

/// Area-averaging resample of a `sw × sh` picture (rows `stride` apart) to `dw × dh`:
/// each output pixel is the mean of the input it covers, fractions of pixels weighed.
fn resample<T: Copy + Into<f32>>(
    src: &[T],
    sw: usize,
    sh: usize,
    stride: usize,
    dw: usize,
    dh: usize,
) -> Image {
    let cols = spans(sw, dw);
    let rows = spans(sh, dh);
    // Rows first: each output row is a weighted sum of input rows, then columns.
    let mut tmp = vec![0f32; sw * dh];
    for (oy, taps) in rows.iter().enumerate() {
        let out = &mut tmp[oy * sw..(oy + 1) * sw];
        for &(iy, wgt) in taps {
            let row = &src[iy * stride..iy * stride + sw];
            for (o, &v) in out.iter_mut().zip(row) {
                *o += wgt * v.into();
            }
        }
    }
    let mut px = vec![0f32; dw * dh];
    for oy in 0..dh {
        let row = &tmp[oy * sw..(oy + 1) * sw];
        for (ox, taps) in cols.iter().enumerate() {
            px[oy * dw + ox] = taps.iter().map(|&(ix, wgt)| wgt * row[ix]).sum();
        }
    }
    Image { w: dw, h: dh, px }
}

/// For each of `dst` output pixels along a side of `src` input pixels, the input pixels
/// it covers and their weights (summing to 1).
fn spans(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let step = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            let (a, b) = (o as f64 * step, ((o + 1) as f64 * step).min(src as f64));
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).clamp(first + 1, src);
            let taps: Vec<(usize, f32)> = (first..last)
                .map(|i| {
                    let cover = (b.min(i as f64 + 1.0) - a.max(i as f64)).max(0.0);
                    (i, (cover / (b - a)) as f32)
                })
                .filter(|&(_, w)| w > 0.0)
                .collect();
            if taps.is_empty() {
                vec![(first.min(src - 1), 1.0)]
            } else {
                taps
            }
        })
        .collect()
}

/// The circle FAST looks at: radius 3, 16 pixels in order around it.
const CIRCLE: [(i32, i32); 16] = [
    (0, -3),
    (1, -3),
    (2, -2),
    (3, -1),
    (3, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 3),
    (-1, 3),
    (-2, 2),
    (-3, 1),
    (-3, 0),
    (-3, -1),
    (-2, -2),
    (-1, -3),
];

/// Whether a 16-bit circular mask holds 9 set bits in a row.
fn nine_in_a_row(mask: u32) -> bool {
    let mut m = mask | (mask << 16);
    for _ in 0..8 {
        m &= m >> 1;
    }
    m != 0
}

/// The picture's best corners, at most `budget`, spread over a grid: FAST corners,
/// local maxima of the Harris response (over 7 × 7 pixels) among them.
fn corners(img: &Image, budget: usize) -> Vec<(usize, usize)> {
    let (w, h) = (img.w, img.h);
    let mut score = vec![0f32; w * h];
    let mut found = Vec::new();
    let structure = Structure::of(img);
    let px = &img.px;
    let (from, to) = (MARGIN, w - MARGIN);
    let n = to - from;
    let (mut brighter, mut darker) = (vec![0u16; n], vec![0u16; n]);
    for y in MARGIN..h - MARGIN {
        let centre = &px[y * w + from..y * w + to];
        brighter.fill(0);
        darker.fill(0);
        // One pass per circle pixel over the whole row: plain loops the compiler
        // vectorises, where a test per pixel branches 16 times.
        for (i, (dx, dy)) in CIRCLE.iter().enumerate() {
            let start = ((y as i32 + dy) as usize) * w + (from as i32 + dx) as usize;
            let ring = &px[start..start + n];
            for (((b, d), &c), &v) in brighter
                .iter_mut()
                .zip(darker.iter_mut())
                .zip(centre)
                .zip(ring)
            {
                *b |= u16::from(v > c + FAST_THRESHOLD) << i;
                *d |= u16::from(v < c - FAST_THRESHOLD) << i;
            }
        }
        for (k, (&b, &d)) in brighter.iter().zip(&darker).enumerate() {
            if (b.count_ones() >= 9 && nine_in_a_row(u32::from(b)))
                || (d.count_ones() >= 9 && nine_in_a_row(u32::from(d)))
            {
                let x = from + k;
                let s = structure.harris(x, y);
                if s > 0.0 {
                    score[y * w + x] = s;
                    found.push((x, y));
                }
            }
        }
    }
    let mut peaks: Vec<(f32, usize, usize)> = found
        .into_iter()
        .filter(|&(x, y)| {
            let s = score[y * w + x];
            (y - 1..=y + 1).all(|ny| {
                (x - 1..=x + 1).all(|nx| {
                    let n = score[ny * w + nx];
                    // Ties go to the first in raster order, so that a plateau keeps one.
                    n < s || (n == s && (ny, nx) >= (y, x))
                })
            })
        })
        .map(|(x, y)| (score[y * w + x], x, y))
        .collect();
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.2, a.1).cmp(&(b.2, b.1))));
    let cap = budget.div_ceil(6).max(1);
    let mut per_cell = [0usize; GRID * GRID];
    let mut kept = Vec::with_capacity(budget);
    for (_, x, y) in peaks {
        let cell = (y * GRID / h) * GRID + x * GRID / w;
        if per_cell[cell] < cap {
            per_cell[cell] += 1;
            kept.push((x, y));
            if kept.len() == budget {
                break;
            }
        }
    }
    kept
}

/// Summed products of the picture's gradients (central differences), from which the
/// Harris response at any pixel is three box sums: computed once a level, as FAST finds
/// thousands of candidates in a busy frame.
struct Structure {
    w: usize,
    xx: Vec<f64>,
    yy: Vec<f64>,
    xy: Vec<f64>,
}

impl Structure {
    fn of(img: &Image) -> Structure {
        let (w, h) = (img.w, img.h);
        let stride = w + 1;
        let mut xx = vec![0f64; stride * (h + 1)];
        let mut yy = xx.clone();
        let mut xy = xx.clone();
        for y in 0..h {
            let (mut rxx, mut ryy, mut rxy) = (0f64, 0f64, 0f64);
            for x in 0..w {
                if x > 0 && y > 0 && x + 1 < w && y + 1 < h {
                    let gx = f64::from(img.at(x + 1, y) - img.at(x - 1, y));
                    let gy = f64::from(img.at(x, y + 1) - img.at(x, y - 1));
                    rxx += gx * gx;
                    ryy += gy * gy;
                    rxy += gx * gy;
                }
                let (above, here) = (y * stride + x + 1, (y + 1) * stride + x + 1);
                xx[here] = xx[above] + rxx;
                yy[here] = yy[above] + ryy;
                xy[here] = xy[above] + rxy;
            }
        }
        Structure {
            w: stride,
            xx,
            yy,
            xy,
        }
    }

    /// The Harris response at `(x, y)` over a 7 × 7 window.
    fn harris(&self, x: usize, y: usize) -> f32 {
        let (x0, y0, x1, y1) = (x - 3, y - 3, x + 4, y + 4);
        let sum = |t: &[f64]| {
            t[y1 * self.w + x1] - t[y0 * self.w + x1] - t[y1 * self.w + x0] + t[y0 * self.w + x0]
        };
        let (xx, yy, xy) = (sum(&self.xx), sum(&self.yy), sum(&self.xy));
        (xx * yy - xy * xy - 0.04 * (xx + yy) * (xx + yy)) as f32
    }
}

/// Summed-area table: any box's sum in four reads.
struct Integral {
    w: usize,
    sums: Vec<f64>,
}

impl Integral {
    fn of(img: &Image) -> Integral {
        let w = img.w + 1;
        let mut sums = vec![0f64; w * (img.h + 1)];
        for y in 0..img.h {
            let mut row = 0f64;
            for x in 0..img.w {
                row += f64::from(img.at(x, y));
                sums[(y + 1) * w + x + 1] = sums[y * w + x + 1] + row;
            }
        }
        Integral { w, sums }
    }

    /// Sum of the 5 × 5 box centred on `(x, y)`.
    fn box5(&self, x: usize, y: usize) -> f64 {
        let (x0, y0, x1, y1) = (x - 2, y - 2, x + 3, y + 3);
        let s = |x: usize, y: usize| self.sums[y * self.w + x];
        s(x1, y1) - s(x0, y1) - s(x1, y0) + s(x0, y0)
    }
}

/// The 256 comparisons: pairs of offsets from the keypoint.
type Pattern = [[(i32, i32); 2]; 256];

/// The comparisons, drawn once from a fixed seed with integer arithmetic only, so that
/// every build and platform draws the same (a bank's descriptors must stay comparable
/// with a scan's). Each offset is a sum of three uniform draws in −5..=5, roughly
/// normal with a spread of 5.5 pixels, as BRIEF's best pattern is.
fn pattern() -> &'static Pattern {
    static PATTERN: OnceLock<Pattern> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut state = 0x63656c7072696e74u64; // "celprint"
        let mut next = move || {
            // SplitMix64.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut offset = move || -> i32 { (0..3).map(|_| (next() % 11) as i32 - 5).sum() };
        let mut pairs = [[(0, 0); 2]; 256];
        for pair in pairs.iter_mut() {
            loop {
                let a = (offset(), offset());
                let b = (offset(), offset());
                if a != b {
                    *pair = [a, b];
                    break;
                }
            }
        }
        pairs
    })
}

fn describe(sums: &Integral, x: usize, y: usize) -> [u64; 4] {
    let mut d = [0u64; 4];
    for (i, [a, b]) in pattern().iter().enumerate() {
        let at =
            |(dx, dy): (i32, i32)| sums.box5((x as i32 + dx) as usize, (y as i32 + dy) as usize);
        if at(*a) < at(*b) {
            d[i / 64] |= 1 << (i % 64);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of bold rectangles: corners at their corners.
    fn blocks(w: usize, h: usize, shift: (usize, usize)) -> Vec<u8> {
        let mut px = vec![30u8; w * h];
        let boxes = [
            (40, 30, 90, 60),
            (150, 80, 60, 90),
            (260, 40, 70, 50),
            (80, 150, 120, 40),
        ];
        for (i, &(bx, by, bw, bh)) in boxes.iter().enumerate() {
            for y in by..by + bh {
                for x in bx..bx + bw {
                    let (sx, sy) = (x + shift.0, y + shift.1);
                    if sx < w && sy < h {
                        px[sy * w + sx] = 120 + 40 * i as u8;
                    }
                }
            }
        }
        px
    }

    fn plane(px: &[u8], w: usize, h: usize) -> LumaPlane<'_> {
        LumaPlane {
            data: px,
            stride: w,
            width: w,
            height: h,
            gain: 1.0,
        }
    }

    #[test]
    fn the_pattern_stays_within_the_patch() {
        for [a, b] in pattern() {
            for (dx, dy) in [a, b] {
                assert!(dx.abs() <= PATCH_REACH && dy.abs() <= PATCH_REACH);
            }
        }
    }

    #[test]
    fn corners_of_a_shifted_picture_keep_their_descriptors() {
        let (w, h) = (400, 240);
        let a = blocks(w, h, (0, 0));
        let b = blocks(w, h, (12, 8));
        let ka = keypoints(&plane(&a, w, h));
        let kb = keypoints(&plane(&b, w, h));
        assert!(ka.len() >= 12, "{} keypoints", ka.len());
        // Most base-level corners of the shifted picture find their twin, moved by the
        // shift (in base pixels), with a near-identical descriptor.
        let (bw, _) = base_size(w, h);
        let s = bw as f32 / w as f32;
        let base: Vec<&Keypoint> = kb.iter().filter(|k| k.level == 0).collect();
        let twinned = base
            .iter()
            .filter(|k| {
                ka.iter().any(|o| {
                    o.level == 0
                        && (o.x + 12.0 * s - k.x).abs() < 1.5
                        && (o.y + 8.0 * s - k.y).abs() < 1.5
                        && o.distance(k) < 32
                })
            })
            .count();
        assert!(twinned * 2 >= base.len(), "{twinned} of {}", base.len());
    }

    #[test]
    fn a_flat_picture_has_no_keypoints() {
        let px = vec![128u8; 320 * 240];
        assert!(keypoints(&plane(&px, 320, 240)).is_empty());
    }
}
