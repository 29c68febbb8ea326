//! The geometry step: the one mapping (a scale and a shift per axis) most of a banked
//! sample's descriptor matches agree on, found by consensus over pairs of matches.

use crate::fingerprint::keypoints::Keypoint;

/// A banked sample counts as a hit when this many of its descriptor matches agree on
/// one mapping.
pub const MIN_INLIERS: usize = 10;
/// Consensus draws per banked sample, at most and at least.
const DRAWS: usize = 96;
const MIN_DRAWS: usize = 12;

/// A mapping of banked base pixels onto delivered base pixels:
/// `x' = sx·x + tx`, `y' = sy·y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    pub sx: f32,
    pub sy: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Mapping {
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.sx * x + self.tx, self.sy * y + self.ty)
    }

    /// The geometric mean of the two scales.
    pub fn scale(&self) -> f32 {
        (self.sx * self.sy).sqrt()
    }
}

/// A delivered keypoint and the banked one its descriptor is close to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    q: Keypoint,
    b: Keypoint,
    distance: u32,
    /// The delivered corner's patch size, and over the banked one's.
    q_size: f32,
    size_ratio: f32,
}

impl Pair {
    pub(super) fn new(q: Keypoint, b: Keypoint, distance: u32) -> Pair {
        Pair {
            q,
            b,
            distance,
            q_size: q.size(),
            size_ratio: q.size() / b.size(),
        }
    }
}

/// The mapping most pairs agree on, with how many agree and their median descriptor
/// distance; `None` when fewer than [`MIN_INLIERS`] do.
///
/// Consensus over draws of two pairs (each pair of pairs fixes both scales and both
/// shifts), drawn in a fixed order so that a scan is repeatable; the winner is refitted
/// by least squares over the pairs that agree with it. A pair agrees when the mapping
/// puts its banked corner within a few pixels of its delivered one (more at coarser
/// levels, where corners are placed less finely) and their patch sizes fit the scale.
pub(super) fn fit(pairs: &[Pair]) -> Option<(Mapping, usize, u32)> {
    let n = pairs.len();
    let mut best: Option<(Mapping, usize)> = None;
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ n as u64;
    let mut draw = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    // Draws stop once a draw of two agreeing pairs would have come up with 99 %
    // probability, given the share that agrees with the best so far.
    let mut needed = DRAWS;
    let mut drawn = 0;
    while drawn < needed {
        drawn += 1;
        let (i, j) = (draw(), draw());
        let Some(m) = mapping_of(&pairs[i], &pairs[j]) else {
            continue;
        };
        let count = pairs.iter().filter(|p| agrees(&m, p)).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((m, count));
            let share = count as f64 / n as f64;
            let miss = 1.0 - share * share;
            if miss <= 0.0 {
                break;
            }
            needed = ((0.01f64.ln() / miss.ln()).ceil() as usize).clamp(MIN_DRAWS, DRAWS);
        }
    }
    let (m, _) = best?;
    let refit = least_squares(pairs.iter().filter(|p| agrees(&m, p)))?;
    let mapping = if plausible(&refit) { refit } else { m };
    let agreeing: Vec<&Pair> = pairs.iter().filter(|p| agrees(&mapping, p)).collect();
    if agreeing.len() < MIN_INLIERS {
        return None;
    }
    let mut d: Vec<u32> = agreeing.iter().map(|p| p.distance).collect();
    d.sort_unstable();
    Some((mapping, agreeing.len(), d[d.len() / 2]))
}

/// The mapping two pairs fix, if they are far enough apart on both axes to fix it and
/// it is one a delivery could show.
fn mapping_of(a: &Pair, b: &Pair) -> Option<Mapping> {
    let (dbx, dby) = (a.b.x - b.b.x, a.b.y - b.b.y);
    if dbx.abs() < 8.0 || dby.abs() < 8.0 {
        return None;
    }
    let sx = (a.q.x - b.q.x) / dbx;
    let sy = (a.q.y - b.q.y) / dby;
    let m = Mapping {
        sx,
        sy,
        tx: a.q.x - sx * a.b.x,
        ty: a.q.y - sy * a.b.y,
    };
    plausible(&m).then_some(m)
}

/// Scales from a fifth to three times, and no more than a third wider one way than the
/// other (an anamorphic squeeze): no mirror, which the whole-frame hash covers.
fn plausible(m: &Mapping) -> bool {
    let ok = |s: f32| (0.2..=3.0).contains(&s);
    ok(m.sx) && ok(m.sy) && (0.75..=1.34).contains(&(m.sx / m.sy))
}

fn agrees(m: &Mapping, p: &Pair) -> bool {
    let (x, y) = m.apply(p.b.x, p.b.y);
    let tolerance = 2.5 * p.q_size;
    let (dx, dy) = (x - p.q.x, y - p.q.y);
    // The patch sizes: a corner seen at a level whose scale is far from the mapping's
    // is a different corner (the scale's square against the sizes', to spare a root).
    let ratio = p.size_ratio * p.size_ratio / (m.sx * m.sy);
    dx * dx + dy * dy <= tolerance * tolerance && (0.62 * 0.62..=1.6 * 1.6).contains(&ratio)
}

/// Least-squares scale and shift per axis over `pairs`.
fn least_squares<'a>(pairs: impl Iterator<Item = &'a Pair>) -> Option<Mapping> {
    let pairs: Vec<&Pair> = pairs.collect();
    let axis = |get: &dyn Fn(&Keypoint) -> f32| -> Option<(f32, f32)> {
        let n = pairs.len() as f64;
        let (mut sb, mut sq, mut sbb, mut sbq) = (0f64, 0f64, 0f64, 0f64);
        for p in &pairs {
            let (b, q) = (f64::from(get(&p.b)), f64::from(get(&p.q)));
            sb += b;
            sq += q;
            sbb += b * b;
            sbq += b * q;
        }
        let var = sbb - sb * sb / n;
        if n < 2.0 || var <= 1e-6 {
            return None;
        }
        let s = (sbq - sb * sq / n) / var;
        Some((s as f32, ((sq - s * sb) / n) as f32))
    };
    let (sx, tx) = axis(&|k| k.x)?;
    let (sy, ty) = axis(&|k| k.y)?;
    Some(Mapping { sx, sy, tx, ty })
}
