//! Letterbox, pillarbox and window-box bars: the black borders added when a picture is
//! fitted into another aspect ratio. PDQ of a padded frame is far from PDQ of the
//! picture (published benchmarks put recall under 3 % at 20 % padding), so the default
//! mode hashes the active picture inside the bars.
//!
//! Like FFmpeg's `cropdetect`, a border line is judged by how dark it is: here, one
//! whose pixels are at least three quarters within a small limit of black, so that a
//! subtitle or logo burned into a bar does not hide it. Bars are taken only when they
//! look like bars: opposite bars of about
//! the same size (padding centres the picture), at least 2 % of the side, and leaving at
//! least half of it. A dark frame (all lines "black") is left whole. Because the bank side
//! runs the same rule, a picture whose own top and bottom rows are black is cropped the
//! same way in the bank and in the delivery.

use serde::{Deserialize, Serialize};

/// Pixels within this of black (0–255, full range) are dark.
const BLACK_LIMIT: f32 = 24.0;

/// A line is border when at least this share of its pixels is dark. Not all of them:
/// studios burn subtitles, logos and timecodes into the bars, and a bar with a caption in
/// it is still a bar. A caption or a logo covers well under a quarter of a line.
const BORDER_SHARE: f32 = 0.75;

/// Which runs of dark lines at opposite edges count as bars. A bank records its rule
/// (`FingerprintParams::bar_rule`) and scans against it use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarRule {
    /// Runs of border lines that pair up: what banks made before `Padding` judged by.
    #[default]
    Dark,
    /// Bars must look like padding. Each bar of a pair holds at least one solidly dark
    /// line: padding is black across its whole length on most of its lines (a small
    /// caption or logo burned into it leaves the lines beside it solid), while a dark
    /// shot's own edges have lit pixels on every line. Those edges sit near the
    /// three-quarter mark, where a grade moves them across it: a dark still whose edges
    /// were cropped as bars in the bank was hashed whole in its brightened copy, 100 bits
    /// away. And a bar with a caption or timecode so wide that its lines are no longer
    /// border lines is still found when the opposite bar is clean: see
    /// [`captioned_pair`].
    Padding,
}

/// The picture inside the bars: how many rows and columns to drop on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bars {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Bars {
    pub fn is_none(&self) -> bool {
        *self == Bars::default()
    }
}

/// A line whose pixels are at least this share dark is solidly dark: padding with
/// nothing burned into it, where a dark picture still has a few lit pixels.
const SOLID_SHARE: f32 = 0.97;

/// Finds the bars of a `width × height` picture under `rule`; `luma(x, y)` gives
/// full-range luma.
pub fn find_bars(
    width: usize,
    height: usize,
    rule: BarRule,
    luma: impl Fn(usize, usize) -> f32,
) -> Bars {
    let row_share =
        |y: usize| (0..width).filter(|&x| luma(x, y) <= BLACK_LIMIT).count() as f32 / width as f32;
    let col_share = |x: usize| {
        (0..height).filter(|&y| luma(x, y) <= BLACK_LIMIT).count() as f32 / height as f32
    };
    let (top, bottom) = side_pair(height, rule, &row_share);
    let (left, right) = side_pair(width, rule, &col_share);
    Bars {
        top,
        bottom,
        left,
        right,
    }
}

/// The bars at both ends of one axis of `len` lines, `share(i)` being line i's dark
/// share. Dark picture next to a bar lengthens that end's run of border lines, and a
/// dark building at one edge of a window-boxed picture makes the two runs unequal; the
/// padding itself is still solidly dark, so when the runs do not pair, the solidly dark
/// runs are tried. Under [`BarRule::Padding`] the border runs pair only when each holds
/// a solid line, and a bar with a wide caption is looked for last.
fn side_pair(len: usize, rule: BarRule, share: &dyn Fn(usize) -> f32) -> (usize, usize) {
    let runs = |rev: bool| {
        let shares: Vec<f32> = (0..len)
            .map(|i| share(if rev { len - 1 - i } else { i }))
            .take_while(|s| *s >= BORDER_SHARE)
            .collect();
        let solid = shares.iter().take_while(|s| **s >= SOLID_SHARE).count();
        let holds_solid = shares.iter().any(|s| *s >= SOLID_SHARE);
        (shares.len(), solid, holds_solid)
    };
    let ((a, solid_a, holds_a), (b, solid_b, holds_b)) = (runs(false), runs(true));
    let padding = rule == BarRule::Padding;
    (!padding || (holds_a && holds_b))
        .then(|| paired(a, b, len))
        .flatten()
        .or_else(|| paired(solid_a, solid_b, len))
        .or_else(|| {
            // Only a clean bar gives the size: solid up to the picture (but for the line
            // or two of ringing where padding meets picture), with no dark picture beside
            // it lengthening its run.
            let clean = |run: usize, solid: usize| if run - solid <= 2 { solid } else { 0 };
            padding
                .then(|| captioned_pair(len, share, clean(a, solid_a), clean(b, solid_b)))
                .flatten()
        })
        .unwrap_or((0, 0))
}

/// One bar clean and solid, the opposite one with a caption, a timecode or a watermark
/// burned across most of it (a screener's bottom bar): that bar's lines are not border
/// lines, so its run stops at the caption. Padding centres the picture, so the clean
/// bar (`clean_a` or `clean_b` lines; 0 where that end has none) gives the size, and
/// the other is taken at that size, give or take the tolerance of [`paired`], when it
/// looks like padding around a caption: its outermost line is solidly dark, its
/// innermost line is dark and the line past it is not, and lines in between are not
/// dark (the caption; without one, it is a plain run of border lines, which did not
/// pair).
fn captioned_pair(
    len: usize,
    share: &dyn Fn(usize) -> f32,
    clean_a: usize,
    clean_b: usize,
) -> Option<(usize, usize)> {
    let tolerance = (len / 50).max(2);
    // The size of the bar at the end `rev` (counted from that end), near `size`.
    let captioned = |size: usize, rev: bool| -> Option<usize> {
        let line = |i: usize| share(if rev { len - 1 - i } else { i });
        if size == 0 || line(0) < SOLID_SHARE {
            return None;
        }
        let mut sizes: Vec<usize> =
            (size.saturating_sub(tolerance).max(2)..=(size + tolerance).min(len - 1)).collect();
        sizes.sort_by_key(|&n| n.abs_diff(size));
        // Lines are measured as needed, the interior last: this runs on every frame
        // with a solid edge whose bars did not pair, dark shots included.
        sizes.into_iter().find(|&n| {
            line(n - 1) >= BORDER_SHARE
                && line(n) < BORDER_SHARE
                && (1..n - 1).any(|i| line(i) < BORDER_SHARE)
        })
    };
    let from_a = captioned(clean_a, true).and_then(|b| paired(clean_a, b, len));
    from_a.or_else(|| captioned(clean_b, false).and_then(|a| paired(a, clean_b, len)))
}

/// The bars of the centre `keep` per cent of each side of a `width × height` frame
/// (100: the whole frame), found inside that centre under the rule `find` when there is
/// one: a safe-area
/// crop variant is cut from the whole frame, bars and all, as a studio crops a delivery,
/// and is then treated like any frame. Returned as margins of the whole frame.
pub fn centre_bars(
    width: usize,
    height: usize,
    keep: u8,
    find: Option<BarRule>,
    luma: impl Fn(usize, usize) -> f32,
) -> Bars {
    let outer = centre_crop(Bars::default(), width, height, keep);
    bars_within(width, height, outer, find, luma)
}

/// The bars inside the part of a `width × height` frame that the margins `outer` leave
/// (a centre crop, a picture-in-picture inset), found under the rule `find` when there
/// is one. Returned as margins of the whole frame.
pub fn bars_within(
    width: usize,
    height: usize,
    outer: Bars,
    find: Option<BarRule>,
    luma: impl Fn(usize, usize) -> f32,
) -> Bars {
    let Some(rule) = find else {
        return outer;
    };
    let (w, h) = (
        width - outer.left - outer.right,
        height - outer.top - outer.bottom,
    );
    let inner = find_bars(w, h, rule, |x, y| luma(x + outer.left, y + outer.top));
    Bars {
        top: outer.top + inner.top,
        bottom: outer.bottom + inner.bottom,
        left: outer.left + inner.left,
        right: outer.right + inner.right,
    }
}

/// `bars` widened so that only the centre of the picture inside them is left, `keep`
/// per cent of each side (100 leaves `bars` as they are).
pub fn centre_crop(bars: Bars, width: usize, height: usize, keep: u8) -> Bars {
    if keep >= 100 {
        return bars;
    }
    let inner_w = width - bars.left - bars.right;
    let inner_h = height - bars.top - bars.bottom;
    let cut = |len: usize| len.saturating_sub((len * keep as usize / 100).max(1));
    let (cw, ch) = (cut(inner_w), cut(inner_h));
    Bars {
        top: bars.top + ch / 2,
        bottom: bars.bottom + ch - ch / 2,
        left: bars.left + cw / 2,
        right: bars.right + cw - cw / 2,
    }
}

/// Opposite bars `a` and `b` on a side of `len`, if they look like padding.
fn paired(a: usize, b: usize, len: usize) -> Option<(usize, usize)> {
    let least = (len / 50).max(2);
    let tolerance = (len / 50).max(2);
    let looks_padded = a >= least && b >= least && a.abs_diff(b) <= tolerance && (a + b) * 2 <= len;
    looks_padded.then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLID: BarRule = BarRule::Padding;

    fn picture(w: usize, h: usize, bars: Bars) -> impl Fn(usize, usize) -> f32 {
        move |x, y| {
            let inside =
                y >= bars.top && y < h - bars.bottom && x >= bars.left && x < w - bars.right;
            if inside {
                60.0 + ((x * 7 + y * 3) % 150) as f32
            } else {
                8.0
            }
        }
    }

    #[test]
    fn letterbox_pillarbox_and_window_box_are_found() {
        for bars in [
            Bars {
                top: 60,
                bottom: 60,
                left: 0,
                right: 0,
            },
            Bars {
                top: 0,
                bottom: 0,
                left: 80,
                right: 80,
            },
            Bars {
                top: 40,
                bottom: 41,
                left: 50,
                right: 50,
            },
        ] {
            assert_eq!(find_bars(640, 480, SOLID, picture(640, 480, bars)), bars);
        }
    }

    /// Sintel's 848 × 480 frame: 2.35:1 letterboxed into 16:9, bars of 58 rows.
    fn sintel_letterbox() -> (usize, usize, Bars) {
        let bars = Bars {
            top: 58,
            bottom: 58,
            left: 0,
            right: 0,
        };
        (848, 480, bars)
    }

    #[test]
    fn captions_and_logos_burned_into_the_bars_do_not_hide_them() {
        let (w, h, bars) = sintel_letterbox();
        let boxed = picture(w, h, bars);
        // A caption across 40 % of the bottom bar's width, in strokes, and a logo in the
        // top bar's corner 19 % of the width wide.
        let captioned = |x: usize, y: usize| {
            let caption =
                (h - 45..h - 15).contains(&y) && (254..594).contains(&x) && (x / 3) % 2 == 0;
            let logo = (4..56).contains(&y) && (w - 170..w - 10).contains(&x);
            if caption || logo {
                235.0
            } else {
                boxed(x, y)
            }
        };
        assert_eq!(find_bars(w, h, SOLID, captioned), bars);
    }

    #[test]
    fn centre_crops_keep_the_middle_of_the_picture_inside_the_bars() {
        let bars = Bars {
            top: 60,
            bottom: 60,
            left: 0,
            right: 0,
        };
        assert_eq!(centre_crop(bars, 640, 480, 100), bars);
        assert_eq!(
            centre_crop(bars, 640, 480, 80),
            Bars {
                top: 60 + 36,
                bottom: 60 + 36,
                left: 64,
                right: 64,
            }
        );
    }

    #[test]
    fn a_crop_variant_is_cut_from_the_whole_frame_then_its_bars_are_found() {
        let bars = Bars {
            top: 60,
            bottom: 60,
            left: 0,
            right: 0,
        };
        // Cutting 10 % from every edge of the frame eats 48 of the 60 rows of each bar;
        // the 12 left are still bars.
        assert_eq!(
            centre_bars(640, 480, 80, Some(SOLID), picture(640, 480, bars)),
            Bars {
                top: 60,
                bottom: 60,
                left: 64,
                right: 64,
            }
        );
        assert_eq!(
            centre_bars(640, 480, 100, Some(SOLID), picture(640, 480, bars)),
            bars
        );
    }

    /// The eval's window-boxed Sintel: a dark building at the right edge of the picture
    /// makes 88–98 % of each column there dark, so the right run of border columns goes
    /// on into the picture and no longer pairs with the left one; the padding is solid.
    #[test]
    fn dark_picture_beside_a_bar_does_not_hide_the_padding() {
        let bars = Bars {
            top: 104,
            bottom: 105,
            left: 106,
            right: 106,
        };
        let (w, h) = (848, 480);
        let boxed = picture(w, h, bars);
        let building = |x: usize, y: usize| {
            let inside = (104..h - 105).contains(&y) && (106..w - 106).contains(&x);
            if inside && x >= w - 106 - 40 && y % 10 != 0 {
                10.0
            } else {
                boxed(x, y)
            }
        };
        assert_eq!(find_bars(w, h, SOLID, building), bars);
    }

    #[test]
    fn dark_frames_and_one_sided_darkness_are_left_whole() {
        assert!(find_bars(640, 480, SOLID, |_, _| 5.0).is_none());
        let one_sided = Bars {
            top: 100,
            bottom: 0,
            left: 0,
            right: 0,
        };
        assert!(find_bars(640, 480, SOLID, picture(640, 480, one_sided)).is_none());
        let thin = Bars {
            top: 3,
            bottom: 3,
            left: 0,
            right: 0,
        };
        assert!(find_bars(640, 480, SOLID, picture(640, 480, thin)).is_none());
    }

    /// A `w × h` dark shot whose `edge` columns at each side are 95 % dark from top to
    /// bottom (every twentieth pixel lit), bright inside.
    fn dark_edged(w: usize, edge: usize) -> impl Fn(usize, usize) -> f32 {
        move |x, y| {
            if !(edge..w - edge).contains(&x) && y % 20 != 0 {
                10.0
            } else {
                60.0 + ((x * 7 + y * 3) % 150) as f32
            }
        }
    }

    /// The bench-stills frame that showed it: a dark Sintel shot whose left and right
    /// edges are 93–96 % dark from top to bottom. Read as pillarbox under the old rule;
    /// under the solid-line rule it is hashed whole, as its brightened copies are.
    #[test]
    fn a_dark_shot_s_own_edges_are_not_bars_unless_a_line_is_solid() {
        let (w, h) = (640, 360);
        let pillars = Bars {
            top: 0,
            bottom: 0,
            left: 40,
            right: 40,
        };
        assert_eq!(find_bars(w, h, BarRule::Dark, dark_edged(w, 40)), pillars);
        assert!(find_bars(w, h, SOLID, dark_edged(w, 40)).is_none());
    }

    /// Real padding around the same shot is still found, and its run goes on through
    /// the shot's dark edges, as it did under the old rule.
    #[test]
    fn padding_around_a_dark_shot_is_still_found() {
        let (w, h, pad) = (680, 360, 20);
        let shot = dark_edged(w - 2 * pad, 40);
        let padded = |x: usize, y: usize| {
            if (pad..w - pad).contains(&x) {
                shot(x - pad, y)
            } else {
                8.0
            }
        };
        let bars = Bars {
            top: 0,
            bottom: 0,
            left: 60,
            right: 60,
        };
        assert_eq!(find_bars(w, h, SOLID, padded), bars);
        assert_eq!(find_bars(w, h, BarRule::Dark, padded), bars);
    }

    /// A screener's bottom bar: a timecode in white across 77 % of the width and most of
    /// the bar's height, so that its rows are no longer border rows; the top bar is clean.
    /// The dark rows above and below the caption frame it as padding.
    #[test]
    fn a_bar_with_a_caption_across_it_is_still_a_bar() {
        let (w, h, bars) = sintel_letterbox();
        let boxed = picture(w, h, bars);
        let screener = |x: usize, y: usize| {
            let caption = (h - 50..h - 10).contains(&y) && (98..750).contains(&x);
            if caption {
                235.0
            } else {
                boxed(x, y)
            }
        };
        assert_eq!(find_bars(w, h, SOLID, screener), bars);
        assert!(find_bars(w, h, BarRule::Dark, screener).is_none());
        // Upside down: the caption in the top bar.
        let flipped = |x: usize, y: usize| screener(x, h - 1 - y);
        assert_eq!(find_bars(w, h, SOLID, flipped), bars);
    }

    /// A dark shot is no clean bar to size a captioned one by: a black left third whose
    /// run goes on into dark picture, and at the right a black edge, lit picture and a
    /// dark strip where the left's black would end (a graded Sintel trailer frame came
    /// out cropped as pillarbox, its original not).
    #[test]
    fn a_dark_shot_is_not_a_clean_bar_beside_a_caption() {
        let (w, h) = (848, 480);
        let shot = |x: usize, y: usize| {
            let from_right = w - 1 - x;
            let lit = 60.0 + ((x * 7 + y * 3) % 150) as f32;
            let dim = if y % 20 == 0 { lit } else { 10.0 };
            match (x, from_right) {
                (0..100, _) | (_, 0..20) => 0.0,
                (100..110, _) | (_, 60..100) => dim,
                _ => lit,
            }
        };
        assert!(find_bars(w, h, SOLID, shot).is_none());
    }
}
