//! Getting a page ready for the frame search: a bounded working size, the paper level
//! of each part of the page, and the page's skew.

/// An 8-bit grey plane, row-major.
#[derive(Debug, Clone)]
pub(super) struct Plane {
    pub w: usize,
    pub h: usize,
    pub px: Vec<u8>,
}

impl Plane {
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.px[y * self.w + x]
    }
}

/// Pages are worked on at most this many pixels on their long side: a 150 dpi Letter or
/// A4 page (1650 or 1754) and a 1.25x scan of one stay whole, a 600 dpi scan is shrunk
/// 3x, so the work is bounded whatever the file says.
pub(super) const MAX_WORK_SIDE: usize = 2400;

/// Shrinks by a whole factor (box average) until the long side fits
/// [`MAX_WORK_SIDE`]; returns the plane and the factor.
pub(super) fn bounded(w: usize, h: usize, px: &[u8]) -> (Plane, usize) {
    let k = w.max(h).div_ceil(MAX_WORK_SIDE).max(1);
    if k == 1 {
        return (
            Plane {
                w,
                h,
                px: px.to_vec(),
            },
            1,
        );
    }
    let (sw, sh) = (w / k, h / k);
    let mut out = vec![0u8; sw * sh];
    for sy in 0..sh {
        for sx in 0..sw {
            let mut sum = 0u32;
            for y in sy * k..(sy + 1) * k {
                let row = &px[y * w + sx * k..y * w + (sx + 1) * k];
                sum += row.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
            out[sy * sw + sx] = (sum / (k * k) as u32) as u8;
        }
    }
    (
        Plane {
            w: sw,
            h: sh,
            px: out,
        },
        k,
    )
}

/// Side of the blocks the paper level is measured in.
const BLOCK: usize = 32;

/// The paper level around each pixel, per block of [`BLOCK`] pixels: the 90th
/// percentile of the block (most of a page is paper, and ink and JPEG noise stay under
/// it), then the brightest block within two blocks, so that a dark picture does not make
/// its own inside "paper". A tint or an unevenly lit scan moves it; a global threshold
/// would not follow.
pub(super) struct Paper {
    bw: usize,
    levels: Vec<u8>,
    /// The median block: the paper of the page as a whole, used to fill what rotation
    /// uncovers.
    pub typical: u8,
}

impl Paper {
    pub fn of(p: &Plane) -> Paper {
        let bw = p.w.div_ceil(BLOCK);
        let bh = p.h.div_ceil(BLOCK);
        let mut raw = vec![0u8; bw * bh];
        for by in 0..bh {
            for bx in 0..bw {
                let mut hist = [0u32; 256];
                let mut n = 0u32;
                for y in by * BLOCK..((by + 1) * BLOCK).min(p.h) {
                    for x in bx * BLOCK..((bx + 1) * BLOCK).min(p.w) {
                        hist[usize::from(p.at(x, y))] += 1;
                        n += 1;
                    }
                }
                raw[by * bw + bx] = percentile(&hist, n, 0.9);
            }
        }
        let mut sorted = raw.clone();
        sorted.sort_unstable();
        let typical = sorted[sorted.len() / 2];
        let mut levels = vec![0u8; bw * bh];
        for by in 0..bh {
            for bx in 0..bw {
                let mut m = 0u8;
                for ny in by.saturating_sub(2)..(by + 3).min(bh) {
                    for nx in bx.saturating_sub(2)..(bx + 3).min(bw) {
                        m = m.max(raw[ny * bw + nx]);
                    }
                }
                levels[by * bw + bx] = m;
            }
        }
        Paper {
            bw,
            levels,
            typical,
        }
    }

    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.levels[(y / BLOCK) * self.bw + x / BLOCK]
    }
}

fn percentile(hist: &[u32; 256], n: u32, q: f32) -> u8 {
    let want = (n as f32 * q) as u32;
    let mut seen = 0u32;
    for (v, &c) in hist.iter().enumerate() {
        seen += c;
        if seen > want {
            return v as u8;
        }
    }
    255
}

/// Ink: darker than 70 % of the paper around it. Black and grey rules (down to about
/// #b3 on white) are ink; a pencil sketch's paper tone, a tint and JPEG noise are not.
pub(super) fn ink_mask(p: &Plane, paper: &Paper) -> Vec<bool> {
    let mut out = vec![false; p.w * p.h];
    for y in 0..p.h {
        for x in 0..p.w {
            let limit = u32::from(paper.at(x, y)) * 7 / 10;
            out[y * p.w + x] = u32::from(p.at(x, y)) < limit;
        }
    }
    out
}

/// Skew search range and steps, degrees. Scans are rarely more than 2° off; 3° leaves
/// room.
const MAX_SKEW: f32 = 3.0;
const COARSE_STEP: f32 = 0.2;
const FINE_STEP: f32 = 0.02;
/// At most this many ink edges vote on the skew.
const MAX_VOTERS: usize = 40_000;

/// The page's skew in degrees (positive: its lines run down to the right), from the
/// projection profile of the top edges of ink. Rules and lines of text make the sharpest
/// profile when projected along the page's own rows. 0 when there is nothing to judge.
pub(super) fn skew_degrees(p: &Plane, ink: &[bool]) -> f32 {
    let mut pts: Vec<(f32, f32)> = Vec::new();
    for y in 1..p.h {
        for x in 0..p.w {
            if ink[y * p.w + x] && !ink[(y - 1) * p.w + x] {
                pts.push((x as f32, y as f32));
            }
        }
    }
    if pts.len() < 64 {
        return 0.0;
    }
    if pts.len() > MAX_VOTERS {
        let step = pts.len().div_ceil(MAX_VOTERS);
        pts = pts.into_iter().step_by(step).collect();
    }
    let span = (p.w + p.h) as f32;
    let mut hist = vec![0u32; 2 * (p.w + p.h) + 4];
    let mut score = |deg: f32| -> u64 {
        let (s, c) = deg.to_radians().sin_cos();
        hist.iter_mut().for_each(|v| *v = 0);
        for &(x, y) in &pts {
            let r = (y * c - x * s + span) as usize;
            hist[r] += 1;
        }
        hist.iter().map(|&v| u64::from(v) * u64::from(v)).sum()
    };
    let search = |score: &mut dyn FnMut(f32) -> u64, from: f32, to: f32, step: f32| {
        let mut best = (0u64, 0.0f32);
        let n = ((to - from) / step).round() as i32;
        for i in 0..=n {
            let d = from + i as f32 * step;
            let sc = score(d);
            // Ties go to the smaller angle, so a page with no evidence stays unrotated.
            if sc > best.0 || (sc == best.0 && d.abs() < best.1.abs()) {
                best = (sc, d);
            }
        }
        best.1
    };
    let coarse = search(&mut score, -MAX_SKEW, MAX_SKEW, COARSE_STEP);
    search(
        &mut score,
        coarse - COARSE_STEP,
        coarse + COARSE_STEP,
        FINE_STEP,
    )
}

/// Where the point (x, y) of the page turned by `-deg` about its centre (the deskewed
/// page) lies on the page itself.
pub(super) fn to_page(w: usize, h: usize, deg: f32, x: f32, y: f32) -> (f32, f32) {
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (dx, dy) = (x - cx, y - cy);
    (cx + c * dx - s * dy, cy + s * dx + c * dy)
}

/// The page turned by `deg` (bilinear), the same size; what comes in from outside is
/// `fill`. With `-skew` it straightens a skewed page; tests use it to skew one.
pub(super) fn rotated(p: &Plane, deg: f32, fill: u8) -> Plane {
    let mut out = vec![fill; p.w * p.h];
    // Each output pixel is sampled where `to_page(-deg)` puts it, written out so that
    // the sine and cosine are taken once.
    let (s, c) = (-deg).to_radians().sin_cos();
    let (cx, cy) = (p.w as f32 / 2.0, p.h as f32 / 2.0);
    for y in 0..p.h {
        let dy = y as f32 + 0.5 - cy;
        for x in 0..p.w {
            let dx = x as f32 + 0.5 - cx;
            let fx = cx + c * dx - s * dy - 0.5;
            let fy = cy + s * dx + c * dy - 0.5;
            if fx < 0.0 || fy < 0.0 {
                continue;
            }
            let (x0, y0) = (fx as usize, fy as usize);
            if x0 + 1 >= p.w || y0 + 1 >= p.h {
                continue;
            }
            let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
            let v = |xx: usize, yy: usize| f32::from(p.px[yy * p.w + xx]);
            let top = v(x0, y0) * (1.0 - ax) + v(x0 + 1, y0) * ax;
            let bot = v(x0, y0 + 1) * (1.0 - ax) + v(x0 + 1, y0 + 1) * ax;
            out[y * p.w + x] = (top * (1.0 - ay) + bot * ay + 0.5) as u8;
        }
    }
    Plane {
        w: p.w,
        h: p.h,
        px: out,
    }
}
