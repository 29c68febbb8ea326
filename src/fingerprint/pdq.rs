//! PDQ, Meta's 256-bit perceptual hash, written from the published algorithm
//! (ThreatExchange `hashing.pdf`):
//!
//! 1. luminance `Y = 0.299 R + 0.587 G + 0.114 B`, in `f32`;
//! 2. two passes of a Jarosz tent filter (a box filter along rows, then along columns,
//!    twice) with a window of `ceil(dim / 128)`, then decimation to 64×64;
//! 3. quality from the sum of absolute gradients of the 64×64 image;
//! 4. the 16×16 lowest non-DC coefficients of a 64-point DCT, thresholded at their median.
//!
//! The arithmetic mirrors the reference closely (single precision, the same running-sum
//! box filter and the same decimation points) because hashes are exchanged with other
//! organisations and must land within a few bits of theirs.

use serde::{Deserialize, Serialize};

use super::hash256::Hash256;

/// Side of the decimated image the DCT runs on.
const DOWNSAMPLED: usize = 64;
/// Side of the block of DCT coefficients kept.
const DCT_SIDE: usize = 16;

/// Quality below which Meta recommends discarding a hash: flat colour, black frames,
/// fades. Such hashes collide with each other far more than chance.
pub const DEFAULT_MIN_QUALITY: u8 = 50;

/// Quality from which a video frame under [`DEFAULT_MIN_QUALITY`] is still hashed into
/// a faint segment, evidence only where two videos align in time: the middle of a fade
/// keeps its picture's hash (PDQ compares coefficients with their median, so dimming a
/// picture moves its hash little). Under this lie flat frames (black, one colour), whose
/// hashes are codec noise that unrelated sources share.
pub const DEFAULT_FAINT_QUALITY: u8 = 5;

/// A PDQ hash with its quality (0–100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdqHash {
    pub hash: Hash256,
    pub quality: u8,
}

/// One of the eight symmetries of a square: the rotations and flips of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dihedral {
    /// The image as stored.
    Identity,
    /// Rotated a quarter turn counter-clockwise (Meta's `rotate-90` test file).
    Rot90,
    /// Rotated a half turn.
    Rot180,
    /// Rotated a quarter turn clockwise.
    Rot270,
    /// Mirrored left to right.
    FlipH,
    /// Mirrored top to bottom.
    FlipV,
    /// Mirrored about the main diagonal.
    Transpose,
    /// Mirrored about the anti-diagonal.
    Transverse,
}

impl Dihedral {
    /// All eight.
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Identity,
        Dihedral::Rot90,
        Dihedral::Rot180,
        Dihedral::Rot270,
        Dihedral::FlipH,
        Dihedral::FlipV,
        Dihedral::Transpose,
        Dihedral::Transverse,
    ];

    /// The name reports use (the serde name).
    pub fn name(self) -> &'static str {
        match self {
            Dihedral::Identity => "identity",
            Dihedral::Rot90 => "rot90",
            Dihedral::Rot180 => "rot180",
            Dihedral::Rot270 => "rot270",
            Dihedral::FlipH => "flip_h",
            Dihedral::FlipV => "flip_v",
            Dihedral::Transpose => "transpose",
            Dihedral::Transverse => "transverse",
        }
    }
}

/// The 16×16 DCT coefficients of an image, from which the hash of the image and of its
/// seven rotations and flips all follow without touching the pixels again.
#[derive(Debug, Clone)]
pub struct PdqDct {
    coeffs: [[f32; DCT_SIDE]; DCT_SIDE],
    quality: u8,
}

impl PdqDct {
    pub fn quality(&self) -> u8 {
        self.quality
    }

    pub fn hash(&self) -> PdqHash {
        self.hash_of(Dihedral::Identity)
    }

    /// The hash of the image after the given rotation or flip.
    ///
    /// Reversing an axis multiplies DCT coefficient `k` (1-based) by `(-1)^k`, and
    /// transposing the image transposes the coefficients; the eight symmetries are
    /// compositions of those two moves.
    pub fn hash_of(&self, t: Dihedral) -> PdqHash {
        let a = &self.coeffs;
        let mut b = [[0f32; DCT_SIDE]; DCT_SIDE];
        // Coefficient index i holds frequency i + 1, so an even index has odd frequency
        // and changes sign when its axis is reversed.
        let sign = |negate: bool, x: f32| if negate { -x } else { x };
        for i in 0..DCT_SIDE {
            for j in 0..DCT_SIDE {
                let x = a[i][j];
                let (ei, ej) = (i % 2 == 0, j % 2 == 0);
                match t {
                    Dihedral::Identity => b[i][j] = x,
                    Dihedral::Rot90 => b[j][i] = sign(ej, x),
                    Dihedral::Rot180 => b[i][j] = sign(ei != ej, x),
                    Dihedral::Rot270 => b[j][i] = sign(ei, x),
                    Dihedral::FlipH => b[i][j] = sign(ej, x),
                    Dihedral::FlipV => b[i][j] = sign(ei, x),
                    Dihedral::Transpose => b[j][i] = x,
                    Dihedral::Transverse => b[j][i] = sign(ei != ej, x),
                }
            }
        }
        PdqHash {
            hash: threshold_at_median(&b),
            quality: self.quality,
        }
    }

    /// All eight hashes, in the order of [`Dihedral::ALL`].
    pub fn dihedral_hashes(&self) -> [(Dihedral, PdqHash); 8] {
        Dihedral::ALL.map(|t| (t, self.hash_of(t)))
    }
}

/// Converts interleaved 8-bit RGB to the luminance PDQ works on.
pub fn luma_from_rgb8(rgb: &[u8], out: &mut Vec<f32>) {
    // Resize then fill by index: this form vectorises, where `extend` over a mapped
    // iterator did not (5 ms against under 1 ms for a 1080p frame).
    out.resize(rgb.len() / 3, 0.0);
    for (o, p) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *o = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
    }
}

/// Hashes a luminance image of `width × height` pixels, row-major.
///
/// `luma` is used as scratch space and left filtered. Panics if its length is not
/// `width * height` or either side is zero; callers check decoded sizes first.
pub fn pdq_dct_from_luma(luma: &mut [f32], width: usize, height: usize) -> PdqDct {
    assert!(width > 0 && height > 0, "empty image");
    assert_eq!(luma.len(), width * height, "luma buffer size");
    let window_along_rows = jarosz_window(width);
    let window_along_cols = jarosz_window(height);
    let mut scratch = vec![0f32; luma.len()];
    for _ in 0..2 {
        box_along_rows(luma, &mut scratch, width, window_along_rows);
        box_along_cols(&scratch, luma, width, height, window_along_cols);
    }
    let small = decimate(luma, width, height);
    let quality = quality_of(&small);
    PdqDct {
        coeffs: dct16(&small),
        quality,
    }
}

/// An 8-bit luma plane as a decoder holds it: rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct LumaPlane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
    /// Multiplies every value: 255/219 for limited-range video (16–235), 1 otherwise, so
    /// that quality, which measures contrast, reads the same as on full-range RGB.
    pub gain: f32,
}

/// Hashes a luma plane the way [`pdq_dct_from_luma`] does, computing the filtered image
/// only where it is sampled.
///
/// The reference runs two box passes along rows and two along columns over every pixel,
/// then keeps 64 × 64 of them. Those passes are linear, so each kept value is a fixed
/// weighted sum of nearby input pixels; this computes the weights from the reference's
/// windows (edges included) and applies them for the kept rows and columns only: one
/// vectorised multiply-add per input pixel instead of four running-sum passes and
/// divisions. The values equal the reference's up to float rounding, so hashes agree
/// except where a coefficient sits at the median (a bit or two in rare frames);
/// bit-exact interop (`--exact`) keeps the reference path. Planes under 128 pixels a
/// side go through the reference.
///
/// Panics if the plane is smaller than `stride × (height − 1) + width` bytes.
pub fn pdq_dct_from_plane(plane: &LumaPlane<'_>) -> PdqDct {
    let (width, height, stride) = (plane.width, plane.height, plane.stride);
    assert!(
        width > 0 && height > 0 && stride >= width,
        "bad plane geometry"
    );
    assert!(
        plane.data.len() >= stride * (height - 1) + width,
        "plane buffer size"
    );
    let row = |y: usize| &plane.data[y * stride..y * stride + width];
    if width < 2 * DOWNSAMPLED || height < 2 * DOWNSAMPLED {
        let mut f: Vec<f32> = (0..height)
            .flat_map(|y| row(y).iter().map(|v| f32::from(*v) * plane.gain))
            .collect();
        return pdq_dct_from_luma(&mut f, width, height);
    }
    let across = sampled_weights(width);
    let down = sampled_weights(height);
    let mut blended = vec![0f32; width];
    let mut small = [[0f32; DOWNSAMPLED]; DOWNSAMPLED];
    for (out, (start, taps)) in small.iter_mut().zip(&down) {
        // The kept row, filtered down the columns at every x (this loop vectorises)...
        blended.fill(0.0);
        for (k, w) in taps.iter().enumerate() {
            let w = w * plane.gain;
            for (b, v) in blended.iter_mut().zip(row(start + k)) {
                *b += w * f32::from(*v);
            }
        }
        // ...then along itself at the 64 kept columns only.
        filter_across(out, &across, &blended);
    }
    sampled_dct(&small)
}

/// Hashes a `width × height` picture with the sampled filter of [`pdq_dct_from_plane`],
/// reading its luminance a row at a time: `row(y, out)` writes row `y`'s `width` values
/// in `f32`, as [`luma_from_rgb8`] computes them. For pictures that are not one 8-bit
/// luma plane (RGB stills, image-sequence frames): no float copy of the whole picture
/// is made, and each row's luminance is computed where it is used. The filtered values
/// equal the reference's up to float rounding, as the plane's do. Pictures under 128
/// pixels a side go through the reference, bit for bit.
pub fn pdq_dct_from_rows(
    width: usize,
    height: usize,
    mut row: impl FnMut(usize, &mut [f32]),
) -> PdqDct {
    assert!(width > 0 && height > 0, "empty image");
    let mut line = vec![0f32; width];
    if width < 2 * DOWNSAMPLED || height < 2 * DOWNSAMPLED {
        let mut f = Vec::with_capacity(width * height);
        for y in 0..height {
            row(y, &mut line);
            f.extend_from_slice(&line);
        }
        return pdq_dct_from_luma(&mut f, width, height);
    }
    let across = sampled_weights(width);
    let down = sampled_weights(height);
    let mut blended = vec![0f32; width];
    let mut small = [[0f32; DOWNSAMPLED]; DOWNSAMPLED];
    // Neighbouring kept rows share input rows at their edges: the last one read is kept.
    let mut held = None;
    for (out, (start, taps)) in small.iter_mut().zip(&down) {
        blended.fill(0.0);
        for (k, w) in taps.iter().enumerate() {
            if held != Some(start + k) {
                row(start + k, &mut line);
                held = Some(start + k);
            }
            for (b, v) in blended.iter_mut().zip(&line) {
                *b += w * v;
            }
        }
        filter_across(out, &across, &blended);
    }
    sampled_dct(&small)
}

/// One kept row's 64 outputs: `blended` (the row filtered down the columns) filtered
/// along itself at the kept columns only.
#[inline]
fn filter_across(out: &mut [f32; DOWNSAMPLED], across: &[(usize, Vec<f32>)], blended: &[f32]) {
    for (o, (first, taps)) in out.iter_mut().zip(across) {
        *o = taps
            .iter()
            .zip(&blended[*first..])
            .map(|(w, b)| w * b)
            .sum();
    }
}

fn sampled_dct(small: &[[f32; DOWNSAMPLED]; DOWNSAMPLED]) -> PdqDct {
    PdqDct {
        coeffs: dct16(small),
        quality: quality_of(small),
    }
}

/// For each of the 64 sampled positions along an axis of `len` pixels: the first input
/// pixel it depends on, and the weights of it and its successors after two of the
/// reference's box passes.
fn sampled_weights(len: usize) -> Vec<(usize, Vec<f32>)> {
    let window = jarosz_window(len);
    let half = (window + 2) / 2;
    // The inputs averaged into output `o` of one pass (see `box_line`), clipped at edges.
    let span = |o: usize| {
        (
            (o + half).saturating_sub(window),
            (o + half - 1).min(len - 1),
        )
    };
    (0..DOWNSAMPLED)
        .map(|k| {
            let p = sample_position(k, len);
            let (outer_lo, outer_hi) = span(p);
            let first = span(outer_lo).0;
            let last = span(outer_hi).1;
            let mut taps = vec![0f32; last - first + 1];
            let outer_n = (outer_hi - outer_lo + 1) as f32;
            for q in outer_lo..=outer_hi {
                let (lo, hi) = span(q);
                let inner_n = (hi - lo + 1) as f32;
                for t in &mut taps[lo - first..=hi - first] {
                    *t += 1.0 / (outer_n * inner_n);
                }
            }
            (first, taps)
        })
        .collect()
}

/// The reference's decimation: sample `k` of 64 is taken at pixel ⌊(k + ½) · dim / 64⌋.
fn sample_position(k: usize, dim: usize) -> usize {
    (((k as f64 + 0.5) * dim as f64) / DOWNSAMPLED as f64) as usize
}

/// Convenience: hash an RGB8 image.
pub fn pdq_from_rgb8(rgb: &[u8], width: usize, height: usize) -> PdqDct {
    let mut luma = Vec::with_capacity(width * height);
    luma_from_rgb8(rgb, &mut luma);
    pdq_dct_from_luma(&mut luma, width, height)
}

/// The reference's window: `ceil(old / (2 * 64))`, so that two passes of the tent
/// filter cover one output pixel's footprint.
fn jarosz_window(old: usize) -> usize {
    old.div_ceil(2 * DOWNSAMPLED)
}

/// One box-filter pass over a line, in the reference's four phases: the window grows
/// from half to full at the start and shrinks back at the end, and each output is the
/// mean over the pixels actually inside it. The running sum is accumulated in the same
/// order as the reference so the rounding matches.
///
/// `read(k)` gives input sample `k`; `write(k, v)` stores output sample `k`.
#[inline(always)]
fn box_line(
    len: usize,
    window: usize,
    read: impl Fn(usize) -> f32,
    mut write: impl FnMut(usize, f32),
) {
    let half = (window + 2) / 2;
    let mut sum = 0f32;
    let mut count = 0f32;
    let (mut left, mut right, mut out) = (0usize, 0usize, 0usize);
    for _ in 0..half - 1 {
        sum += read(right);
        count += 1.0;
        right += 1;
    }
    for _ in 0..window + 1 - half {
        sum += read(right);
        count += 1.0;
        write(out, sum / count);
        right += 1;
        out += 1;
    }
    for _ in 0..len - window {
        sum += read(right);
        sum -= read(left);
        write(out, sum / count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..half - 1 {
        sum -= read(left);
        count -= 1.0;
        write(out, sum / count);
        left += 1;
        out += 1;
    }
}

/// The row pass runs eight rows at once: each row's running sum is a serial chain of
/// additions, so one row alone is bound by add latency, while eight interleaved rows
/// fill the vector lanes. Every lane performs exactly the reference's operations in the
/// reference's order, so the result is bit-identical to filtering row by row.
fn box_along_rows(input: &[f32], output: &mut [f32], width: usize, window: usize) {
    const LANES: usize = 8;
    let rows = input.len() / width;
    let blocks = rows / LANES;
    let mut gathered = vec![[0f32; LANES]; width];
    let mut filtered = vec![[0f32; LANES]; width];
    for b in 0..blocks {
        let base = b * LANES * width;
        for (lane, row) in input[base..base + LANES * width]
            .chunks_exact(width)
            .enumerate()
        {
            for (g, x) in gathered.iter_mut().zip(row) {
                g[lane] = *x;
            }
        }
        box_line_lanes(width, window, &gathered, &mut filtered);
        for (lane, row) in output[base..base + LANES * width]
            .chunks_exact_mut(width)
            .enumerate()
        {
            for (o, f) in row.iter_mut().zip(&filtered) {
                *o = f[lane];
            }
        }
    }
    let done = blocks * LANES * width;
    for (src, dst) in input[done..]
        .chunks_exact(width)
        .zip(output[done..].chunks_exact_mut(width))
    {
        box_line(width, window, |k| src[k], |k, v| dst[k] = v);
    }
}

/// [`box_line`] over eight independent lines at once.
fn box_line_lanes<const L: usize>(
    len: usize,
    window: usize,
    input: &[[f32; L]],
    output: &mut [[f32; L]],
) {
    let half = (window + 2) / 2;
    let mut sum = [0f32; L];
    let mut count = 0f32;
    let (mut left, mut right, mut out) = (0usize, 0usize, 0usize);
    let add = |sum: &mut [f32; L], x: &[f32; L]| sum.iter_mut().zip(x).for_each(|(s, x)| *s += x);
    let sub = |sum: &mut [f32; L], x: &[f32; L]| sum.iter_mut().zip(x).for_each(|(s, x)| *s -= x);
    let emit = |o: &mut [f32; L], sum: &[f32; L], count: f32| {
        o.iter_mut().zip(sum).for_each(|(o, s)| *o = s / count)
    };
    for _ in 0..half - 1 {
        add(&mut sum, &input[right]);
        count += 1.0;
        right += 1;
    }
    for _ in 0..window + 1 - half {
        add(&mut sum, &input[right]);
        count += 1.0;
        emit(&mut output[out], &sum, count);
        right += 1;
        out += 1;
    }
    for _ in 0..len - window {
        add(&mut sum, &input[right]);
        sub(&mut sum, &input[left]);
        emit(&mut output[out], &sum, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..half - 1 {
        sub(&mut sum, &input[left]);
        count -= 1.0;
        emit(&mut output[out], &sum, count);
        left += 1;
        out += 1;
    }
}

/// The column pass walks whole rows at a time, keeping one running sum per column, so
/// memory is read sequentially; each column still sums in the reference's order.
fn box_along_cols(input: &[f32], output: &mut [f32], width: usize, height: usize, window: usize) {
    let half = (window + 2) / 2;
    let row = |k: usize| &input[k * width..(k + 1) * width];
    let mut sums = vec![0f32; width];
    let mut count = 0f32;
    let (mut left, mut right, mut out) = (0usize, 0usize, 0usize);
    let mut emit = |out: usize, sums: &[f32], count: f32| {
        for (d, s) in output[out * width..(out + 1) * width].iter_mut().zip(sums) {
            *d = s / count;
        }
    };
    for _ in 0..half - 1 {
        add_row(&mut sums, row(right));
        count += 1.0;
        right += 1;
    }
    for _ in 0..window + 1 - half {
        add_row(&mut sums, row(right));
        count += 1.0;
        emit(out, &sums, count);
        right += 1;
        out += 1;
    }
    for _ in 0..height - window {
        add_row(&mut sums, row(right));
        sub_row(&mut sums, row(left));
        emit(out, &sums, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..half - 1 {
        sub_row(&mut sums, row(left));
        count -= 1.0;
        emit(out, &sums, count);
        left += 1;
        out += 1;
    }
}

#[inline]
fn add_row(sums: &mut [f32], row: &[f32]) {
    for (s, x) in sums.iter_mut().zip(row) {
        *s += x;
    }
}

#[inline]
fn sub_row(sums: &mut [f32], row: &[f32]) {
    for (s, x) in sums.iter_mut().zip(row) {
        *s -= x;
    }
}

/// Samples the filtered image at the centres of a 64×64 grid.
fn decimate(filtered: &[f32], width: usize, height: usize) -> [[f32; DOWNSAMPLED]; DOWNSAMPLED] {
    let mut out = [[0f32; DOWNSAMPLED]; DOWNSAMPLED];
    for (i, out_row) in out.iter_mut().enumerate() {
        let r = sample_position(i, height);
        for (j, o) in out_row.iter_mut().enumerate() {
            *o = filtered[r * width + sample_position(j, width)];
        }
    }
    out
}

/// Meta's quality metric: the sum of absolute vertical and horizontal steps, each in
/// whole percent of full scale, divided by 90 and capped at 100.
fn quality_of(img: &[[f32; DOWNSAMPLED]; DOWNSAMPLED]) -> u8 {
    let step = |u: f32, v: f32| (((u - v) * 100.0) / 255.0) as i32;
    let mut sum: i64 = 0;
    for (upper, lower) in img.iter().zip(&img[1..]) {
        for (u, v) in upper.iter().zip(lower) {
            sum += step(*u, *v).abs() as i64;
        }
    }
    for row in img {
        for j in 0..DOWNSAMPLED - 1 {
            sum += step(row[j], row[j + 1]).abs() as i64;
        }
    }
    (sum / 90).min(100) as u8
}

/// `D A Dᵀ` where `D[i][j] = sqrt(2/64) cos(π/128 · (i+1)(2j+1))`: the DCT-II basis
/// without its DC row, keeping the 16 lowest frequencies on each axis.
fn dct16(img: &[[f32; DOWNSAMPLED]; DOWNSAMPLED]) -> [[f32; DCT_SIDE]; DCT_SIDE] {
    let d = dct_matrix();
    // t = D · A  (16 × 64)
    let mut t = [[0f32; DOWNSAMPLED]; DCT_SIDE];
    for (i, t_row) in t.iter_mut().enumerate() {
        for (k, img_row) in img.iter().enumerate() {
            let dik = d[i][k];
            for (tj, a) in t_row.iter_mut().zip(img_row) {
                *tj += dik * a;
            }
        }
    }
    // B = t · Dᵀ  (16 × 16)
    let mut b = [[0f32; DCT_SIDE]; DCT_SIDE];
    for i in 0..DCT_SIDE {
        for j in 0..DCT_SIDE {
            b[i][j] = t[i].iter().zip(&d[j]).map(|(x, y)| x * y).sum();
        }
    }
    b
}

fn dct_matrix() -> &'static [[f32; DOWNSAMPLED]; DCT_SIDE] {
    static MATRIX: std::sync::OnceLock<[[f32; DOWNSAMPLED]; DCT_SIDE]> = std::sync::OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0 / DOWNSAMPLED as f64).sqrt();
        let mut d = [[0f32; DOWNSAMPLED]; DCT_SIDE];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let angle = std::f64::consts::PI / 2.0 / DOWNSAMPLED as f64
                    * (i + 1) as f64
                    * (2 * j + 1) as f64;
                *v = (scale * angle.cos()) as f32;
            }
        }
        d
    })
}

/// Bit `16 i + j` is set when coefficient `[i][j]` is above the median of all 256. The
/// median is the lower one (the 128th smallest), as the reference's Torben median gives.
fn threshold_at_median(b: &[[f32; DCT_SIDE]; DCT_SIDE]) -> Hash256 {
    let mut values: Vec<f32> = b.iter().flatten().copied().collect();
    let (_, median, _) = values.select_nth_unstable_by(127, |x, y| x.total_cmp(y));
    let median = *median;
    let mut hash = Hash256::default();
    for (k, v) in b.iter().flatten().enumerate() {
        if *v > median {
            hash.set_bit(k);
        }
    }
    hash
}

#[cfg(test)]
mod tests {

    #[test]
    fn dihedral_names_are_the_serde_names() {
        for t in Dihedral::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
        }
    }

    use super::*;

    fn gradient(w: usize, h: usize) -> Vec<f32> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| ((x * 7 + y * 3) % 255) as f32))
            .collect()
    }

    #[test]
    fn flat_image_has_zero_quality() {
        let mut luma = vec![128.0; 200 * 100];
        assert_eq!(pdq_dct_from_luma(&mut luma, 200, 100).quality(), 0);
    }

    #[test]
    fn sampled_filter_matches_the_reference() {
        // A textured image at sizes that exercise odd windows and edge clipping.
        for (w, h) in [(512, 288), (854, 480), (300, 517), (128, 128), (1001, 130)] {
            let luma8: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    (128.0 + 60.0 * (x / 7.0).sin() + 50.0 * (y / 11.0 + x / 29.0).cos()) as u8
                })
                .collect();
            let mut f: Vec<f32> = luma8.iter().map(|v| f32::from(*v)).collect();
            let reference = pdq_dct_from_luma(&mut f, w, h);
            let plane = pdq_dct_from_plane(&LumaPlane {
                data: &luma8,
                stride: w,
                width: w,
                height: h,
                gain: 1.0,
            });
            let rows = pdq_dct_from_rows(w, h, |y, out| {
                for (o, v) in out.iter_mut().zip(&luma8[y * w..]) {
                    *o = f32::from(*v);
                }
            });
            for sampled in [plane, rows] {
                let worst = reference
                    .coeffs
                    .iter()
                    .flatten()
                    .zip(sampled.coeffs.iter().flatten())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 1e-2, "{w}x{h}: coefficients differ by {worst}");
                assert_eq!(reference.quality, sampled.quality, "{w}x{h}");
                assert!(
                    reference.hash().hash.distance(&sampled.hash().hash) <= 2,
                    "{w}x{h}"
                );
            }
        }
    }

    /// Under 128 pixels a side the rows go through the reference: the same hash exactly.
    #[test]
    fn small_pictures_by_rows_are_the_reference() {
        for (w, h) in [(1, 1), (127, 300), (300, 100), (64, 64)] {
            let luma = gradient(w, h);
            let rows = pdq_dct_from_rows(w, h, |y, out| out.copy_from_slice(&luma[y * w..][..w]));
            let reference = pdq_dct_from_luma(&mut luma.clone(), w, h);
            assert_eq!(rows.coeffs, reference.coeffs, "{w}x{h}");
        }
    }

    #[test]
    fn tiny_images_do_not_panic() {
        for (w, h) in [(1, 1), (1, 300), (300, 1), (63, 65), (129, 2)] {
            let mut luma = gradient(w, h);
            let _ = pdq_dct_from_luma(&mut luma, w, h).hash();
        }
    }

    #[test]
    fn box_filter_of_constant_is_constant() {
        let input = [3.0f32; 37];
        let mut out = [0f32; 37];
        for window in 1..=37 {
            box_line(37, window, |k| input[k], |k, v| out[k] = v);
            assert!(
                out.iter().all(|v| (v - 3.0).abs() < 1e-5),
                "window {window}"
            );
        }
    }

    #[test]
    fn row_pass_in_lanes_is_bit_identical_to_one_row_at_a_time() {
        let (w, h) = (97, 21);
        let img: Vec<f32> = (0..w * h)
            .map(|i| ((i * 7919) % 1013) as f32 * 0.37)
            .collect();
        let mut fast = vec![0f32; w * h];
        box_along_rows(&img, &mut fast, w, 6);
        for (src, dst) in img.chunks_exact(w).zip(fast.chunks_exact(w)) {
            let mut slow = vec![0f32; w];
            box_line(w, 6, |k| src[k], |k, v| slow[k] = v);
            assert_eq!(slow, dst);
        }
    }

    #[test]
    fn column_pass_equals_row_pass_on_transpose() {
        let (w, h) = (50, 70);
        let img = gradient(w, h);
        let mut by_cols = vec![0f32; w * h];
        box_along_cols(&img, &mut by_cols, w, h, 5);
        let transposed: Vec<f32> = (0..w)
            .flat_map(|x| (0..h).map(|y| img[y * w + x]).collect::<Vec<_>>())
            .collect();
        let mut by_rows = vec![0f32; w * h];
        box_along_rows(&transposed, &mut by_rows, h, 5);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(by_cols[y * w + x], by_rows[x * h + y]);
            }
        }
    }

    #[test]
    fn dihedral_of_pixels_matches_dihedral_of_dct() {
        // Flipping the pixels and hashing must equal deriving the flip from one DCT. At
        // 64×64 the filter window is one pixel and decimation is the identity, so the
        // pixel path has no edge asymmetry and the two must agree exactly.
        let (w, h) = (64, 64);
        let img: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (((x * x + 3 * y) ^ (x * y)) % 251) as f32))
            .collect();
        let base = pdq_dct_from_luma(&mut img.clone(), w, h);
        let mut flipped: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).rev().map(move |x| (y, x)))
            .map(|(y, x)| img[y * w + x])
            .collect();
        let direct = pdq_dct_from_luma(&mut flipped, w, h).hash();
        assert_eq!(base.hash_of(Dihedral::FlipH).hash.distance(&direct.hash), 0);
        let mut transposed: Vec<f32> = (0..w)
            .flat_map(|x| (0..h).map(move |y| (y, x)))
            .map(|(y, x)| img[y * w + x])
            .collect();
        let direct = pdq_dct_from_luma(&mut transposed, h, w).hash();
        assert_eq!(
            base.hash_of(Dihedral::Transpose)
                .hash
                .distance(&direct.hash),
            0
        );
        // Clockwise quarter turn: output row r, column c comes from input row h-1-c, column r.
        let mut clockwise: Vec<f32> = (0..w)
            .flat_map(|r| (0..h).map(move |c| (h - 1 - c, r)))
            .map(|(y, x)| img[y * w + x])
            .collect();
        let direct = pdq_dct_from_luma(&mut clockwise, h, w).hash();
        assert_eq!(
            base.hash_of(Dihedral::Rot270).hash.distance(&direct.hash),
            0
        );
    }
}
