//! Picture-in-picture: a delivery that shows a film in an inset over other footage.
//!
//! An inset's border is an edge that stays where it is while the picture inside it
//! moves. The footage's own edges move with it, or, where a shot holds still, have
//! nothing moving inside them. So frames sampled through the file vote: an edge found at
//! the same place in most of them is persistent, persistent lines are paired into
//! rectangles, and a rectangle whose inside kept changing is an inset. The frame's own
//! border may stand for one or two sides (an inset flush with a corner). Centred
//! rectangles are left to the bars finder: that is letterbox, pillarbox or window-box.
//!
//! Votes are counted in windows of [`WINDOW_S`] seconds ([`InsetSearch`]), not over the
//! whole file, so that an inset shown for part of a long file is not outvoted by the
//! rest of it.

mod finder;
mod search;

pub use search::{InsetSearch, WINDOW_S};

use serde::{Deserialize, Serialize};

/// A rectangle of a frame, in pixels of the frame as it is shown (after rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// X11 geometry, `WIDTHxHEIGHT+X+Y`, as FFmpeg's and ImageMagick's users write it.
impl std::fmt::Display for Rect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}+{}+{}", self.width, self.height, self.x, self.y)
    }
}

impl Rect {
    /// Intersection over union with `other`: 1 for the same box, 0 for disjoint ones.
    pub fn iou(&self, other: &Rect) -> f64 {
        let w = (self.x + self.width)
            .min(other.x + other.width)
            .saturating_sub(self.x.max(other.x));
        let h = (self.y + self.height)
            .min(other.y + other.height)
            .saturating_sub(self.y.max(other.y));
        let inter = (w * h) as f64;
        let union = (self.width * self.height + other.width * other.height) as f64 - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// The 8-bit luma plane the finder votes on, from packed RGB (an exact-mode frame).
/// Integer weights: edges and motion need no more precision than that.
pub fn luma_plane_of_rgb(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8)
        .collect()
}

/// Seconds of video between the frames that vote: the first frame at or after each
/// multiple of this votes, so that a file cut into ranges votes with the same frames as
/// one pass.
pub const SAMPLE_EVERY_S: f64 = 0.5;
/// At most this many insets are reported per file.
const MAX_INSETS: usize = 2;

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

/// Made-up footage for the finder's and the search's tests.
#[cfg(test)]
mod testing {
    /// Noise that differs every frame: footage that moves everywhere.
    pub(super) fn noise(seed: u32, x: usize, y: usize) -> u8 {
        let mut v = (x as u32).wrapping_mul(73_856_093)
            ^ (y as u32).wrapping_mul(19_349_663)
            ^ seed.wrapping_mul(83_492_791);
        v ^= v >> 13;
        v = v.wrapping_mul(0x5bd1_e995);
        v ^= v >> 15;
        ((v >> 8) % 4) as u8 * 60
    }

    /// Blocky footage of 16-pixel cells that changes every frame, its cells shifted
    /// each frame (as a moving picture's edges are).
    pub(super) fn footage(seed: u32, x: usize, y: usize) -> u8 {
        let (dx, dy) = (seed as usize * 5 % 16, seed as usize * 11 % 16);
        noise(seed, (x + dx) / 16, (y + dy) / 16)
    }

    pub(super) fn plane(w: usize, h: usize, luma: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| luma(x, y))
            .collect()
    }
}
