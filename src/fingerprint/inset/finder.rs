//! One window's votes on where an inset is: edges and motion counted over the frames
//! offered, then persistent lines paired into rectangles and judged.

use super::{overlaps, Rect, MAX_INSETS, SAMPLE_EVERY_S};

/// Fewer voting frames than this find nothing: persistence needs time to show.
const MIN_SAMPLES: u32 = 4;
/// The share of voting frames an edge must be found in, along a line on average, for
/// the line to persist.
const PERSIST_SHARE: f32 = 0.65;
/// A luma step across three pixels that counts as an edge.
const EDGE_STEP: u8 = 24;
/// A luma change between two voting frames that counts as motion.
const MOTION_STEP: u8 = 12;
/// The share of an inset's inside that must have moved between voting frames, on
/// average.
const MIN_MOTION: f32 = 0.15;
/// An inset's sides, as shares of the frame's.
const MIN_SIDE: f32 = 0.2;
const MAX_SIDE: f32 = 0.9;
/// The share of each drawn side of an inset that persistent lines must cover, and of
/// all its drawn sides together.
const MIN_SIDE_COVER: f32 = 0.4;
const MIN_COVER: f32 = 0.7;
/// Candidate lines kept per direction, longest first, to bound the pairing.
const MAX_LINES: usize = 32;

/// One voting frame's edges (1 where a step is, laid out as [`InsetFinder`]'s counts)
/// and its grid of samples.
pub(super) struct Vote {
    vertical: Vec<u8>,
    horizontal: Vec<u8>,
    grid: Vec<u8>,
}

/// Counts edges and motion over the frames offered to it; [`InsetFinder::insets`] then
/// says where the insets are.
#[derive(Debug, Clone)]
pub struct InsetFinder {
    width: usize,
    height: usize,
    /// Rows (for vertical edges) and columns (for horizontal ones) are read every
    /// `step` pixels; the edges along them at every pixel.
    step: usize,
    samples: u32,
    /// Pairs of successive votes, over which motion is counted.
    intervals: u32,
    next_sample_s: f64,
    /// Per sampled row r and column x: frames with an edge between columns x-1 and x.
    /// Counts are 16-bit (a window holds 20 votes; they saturate after 9 hours of
    /// votes), so that the windows a file cut into ranges keeps stay small.
    vertical: Vec<u16>,
    /// Per row y and sampled column c: frames with an edge between rows y-1 and y.
    horizontal: Vec<u16>,
    /// Per grid cell (every `step` pixels both ways): intervals in which it moved.
    moved: Vec<u16>,
    previous: Option<Vec<u8>>,
}

impl InsetFinder {
    pub fn new(width: usize, height: usize) -> InsetFinder {
        let step = width.max(height).div_ceil(360).max(1);
        let (rows, cols) = (height.div_ceil(step), width.div_ceil(step));
        InsetFinder {
            width,
            height,
            step,
            samples: 0,
            intervals: 0,
            next_sample_s: f64::NEG_INFINITY,
            vertical: vec![0; rows * width],
            horizontal: vec![0; height * cols],
            moved: vec![0; rows * cols],
            previous: None,
        }
    }

    /// Whether a frame shown at `time_s` would vote.
    pub fn wants(&self, time_s: f64) -> bool {
        time_s >= self.next_sample_s
    }

    /// Offers the frame shown at `time_s`, an 8-bit luma plane with rows `stride`
    /// bytes apart; it votes when it is the first at or after a multiple of
    /// [`SAMPLE_EVERY_S`] since the last frame that did. Frames of another size than the
    /// first are ignored. ([`InsetSearch`](super::InsetSearch) votes through `vote` and
    /// `add`, to count one frame's edges in two windows.)
    #[cfg(test)]
    pub fn offer(&mut self, time_s: f64, width: usize, height: usize, plane: &[u8], stride: usize) {
        if !self.wants(time_s) {
            return;
        }
        if let Some(vote) = self.vote(width, height, plane, stride) {
            self.add(time_s, &vote);
        }
    }

    /// What one frame says: where it has edges, and its grid of samples for motion;
    /// `None` for a frame of another size or too small.
    pub(super) fn vote(
        &self,
        width: usize,
        height: usize,
        plane: &[u8],
        stride: usize,
    ) -> Option<Vote> {
        let (w, h, step) = (self.width, self.height, self.step);
        if width != w || height != h || w < 4 || h < 4 || plane.len() < (h - 1) * stride + w {
            return None;
        }
        let row = |y: usize| &plane[y * stride..y * stride + w];
        let is_edge = |a: u8, b: u8| a.abs_diff(b) >= EDGE_STEP;
        // A step compressed video blurs over a pixel or two still spans three. Both
        // passes go row by row, so the plane is read in order.
        let mut vertical = vec![0u8; self.vertical.len()];
        for (r, y) in (0..h).step_by(step).enumerate() {
            let line = row(y);
            let edges = &mut vertical[r * w..(r + 1) * w];
            for x in 2..w - 1 {
                edges[x] = u8::from(is_edge(line[x + 1], line[x - 2]));
            }
        }
        let cols = w.div_ceil(step);
        let mut horizontal = vec![0u8; self.horizontal.len()];
        for y in 2..h - 1 {
            let (below, above) = (row(y + 1), row(y - 2));
            let edges = &mut horizontal[y * cols..(y + 1) * cols];
            for (c, x) in (0..w).step_by(step).enumerate() {
                edges[c] = u8::from(is_edge(below[x], above[x]));
            }
        }
        let grid: Vec<u8> = (0..h)
            .step_by(step)
            .flat_map(|y| row(y).iter().step_by(step).copied())
            .collect();
        Some(Vote {
            vertical,
            horizontal,
            grid,
        })
    }

    /// Counts a vote of a frame shown at `time_s`.
    pub(super) fn add(&mut self, time_s: f64, vote: &Vote) {
        self.next_sample_s = ((time_s / SAMPLE_EVERY_S).floor() + 1.0) * SAMPLE_EVERY_S;
        self.samples += 1;
        for (count, edge) in self.vertical.iter_mut().zip(&vote.vertical) {
            *count = count.saturating_add(u16::from(*edge));
        }
        for (count, edge) in self.horizontal.iter_mut().zip(&vote.horizontal) {
            *count = count.saturating_add(u16::from(*edge));
        }
        if let Some(previous) = &self.previous {
            self.intervals += 1;
            for (moved, (a, b)) in self.moved.iter_mut().zip(vote.grid.iter().zip(previous)) {
                *moved = moved.saturating_add(u16::from(a.abs_diff(*b) >= MOTION_STEP));
            }
        }
        self.previous = Some(vote.grid.clone());
    }

    /// Adds another finder's votes (another time range of the same file).
    pub fn merge(&mut self, other: &InsetFinder) {
        if (other.width, other.height) != (self.width, self.height) {
            return;
        }
        self.samples += other.samples;
        self.intervals += other.intervals;
        for (a, b) in self.vertical.iter_mut().zip(&other.vertical) {
            *a = a.saturating_add(*b);
        }
        for (a, b) in self.horizontal.iter_mut().zip(&other.horizontal) {
            *a = a.saturating_add(*b);
        }
        for (a, b) in self.moved.iter_mut().zip(&other.moved) {
            *a = a.saturating_add(*b);
        }
    }

    /// The insets found, most evident first, each shrunk by two pixels a side so that
    /// a drawn border stays out of it.
    pub fn insets(&self) -> Vec<Rect> {
        if self.samples < MIN_SAMPLES {
            return Vec::new();
        }
        let (w, h) = (self.width, self.height);
        let n = self.samples as f32;
        let rows = h.div_ceil(self.step);
        let cols = w.div_ceil(self.step);
        // A vertical line at column x spans sampled rows; a horizontal one at row y
        // spans sampled columns. Lengths are in pixels.
        let vertical = lines(w, rows, self.step, h, |x, r| {
            self.vertical[r * w + x] as f32 / n
        });
        let horizontal = lines(h, cols, self.step, w, |y, c| {
            self.horizontal[y * cols + c] as f32 / n
        });
        let motion = Motion::new(self);
        let mut found: Vec<((usize, usize), Rect)> = Vec::new();
        let sides = |lines: &[Line], end: usize, length: usize| -> Vec<Line> {
            let mut sides = lines.to_vec();
            sides.extend([Line::border(0, length), Line::border(end, length)]);
            sides.sort_by_key(|l| l.at);
            sides
        };
        let (column_sides, row_sides) = (sides(&vertical, w, h), sides(&horizontal, h, w));
        for (i, left) in column_sides.iter().enumerate() {
            for right in &column_sides[i + 1..] {
                if !in_bounds(right.at - left.at, w) {
                    continue;
                }
                for (j, top) in row_sides.iter().enumerate() {
                    for bottom in &row_sides[j + 1..] {
                        let rect = Rect {
                            x: left.at,
                            y: top.at,
                            width: right.at - left.at,
                            height: bottom.at - top.at,
                        };
                        let sides = [*left, *right, *top, *bottom];
                        let lines = (&vertical[..], &horizontal[..]);
                        if let Some(support) = self.support(&rect, sides, lines, &motion) {
                            found.push((support, rect));
                        }
                    }
                }
            }
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut chosen: Vec<Rect> = Vec::new();
        for (_, rect) in found {
            if chosen.len() < MAX_INSETS && chosen.iter().all(|c| !overlaps(c, &rect)) {
                chosen.push(rect);
            }
        }
        chosen
            .into_iter()
            .filter(|r| r.width > 8 && r.height > 8)
            .map(|r| Rect {
                x: r.x + 2,
                y: r.y + 2,
                width: r.width - 4,
                height: r.height - 4,
            })
            .collect()
    }

    /// How well drawn edges support `rect` as an inset: the share of its drawn sides
    /// that the persistent `(vertical, horizontal)` lines cover, in twentieths, then the
    /// pixels covered; `None` if it is not one. Its sides lie on persistent lines or on
    /// the frame's border. Each drawn side must be covered for at least
    /// [`MIN_SIDE_COVER`] of its length, and all of them for [`MIN_COVER`] (the pictures
    /// on both sides of an inset can be alike for a stretch, so a side may show only in
    /// part). It needs a drawn side each way, sides in bounds, not to be centred (bars
    /// are another finder's), and a moving inside.
    fn support(
        &self,
        rect: &Rect,
        [left, right, top, bottom]: [Line; 4],
        (vertical, horizontal): (&[Line], &[Line]),
        motion: &Motion,
    ) -> Option<(usize, usize)> {
        let (w, h) = (self.width, self.height);
        let tol_x = (w / 50).max(3) + self.step;
        let tol_y = (h / 50).max(3) + self.step;
        if !in_bounds(rect.height, h)
            || (left.border && right.border)
            || (top.border && bottom.border)
        {
            return None;
        }
        let centred = rect.x.abs_diff(w - rect.x - rect.width) <= tol_x
            && rect.y.abs_diff(h - rect.y - rect.height) <= tol_y;
        if centred {
            return None;
        }
        let (x0, x1, y0, y1) = (rect.x, rect.x + rect.width, rect.y, rect.y + rect.height);
        let drawn = [
            (left, vertical, y0, y1),
            (right, vertical, y0, y1),
            (top, horizontal, x0, x1),
            (bottom, horizontal, x0, x1),
        ];
        let (mut covered, mut length) = (0, 0);
        for (side, lines, from, to) in drawn.into_iter().filter(|d| !d.0.border) {
            if runs_on(lines, side.at, from, to) {
                return None;
            }
            let on_side = cover(lines, side.at, from, to);
            if (on_side as f32) < MIN_SIDE_COVER * (to - from) as f32 {
                return None;
            }
            covered += on_side;
            length += to - from;
        }
        let share = covered as f32 / length as f32;
        if share < MIN_COVER || motion.inside(rect) < MIN_MOTION {
            return None;
        }
        // A side on the frame's border needs the inset's picture to reach it: the strip
        // of the inside along it must move too (beside a window-box, it is padding).
        let strip_w = (rect.width / 10).max(self.step);
        let strip_h = (rect.height / 10).max(self.step);
        let strips = [
            (
                left.border,
                Rect {
                    width: strip_w,
                    ..*rect
                },
            ),
            (
                right.border,
                Rect {
                    x: x1 - strip_w,
                    width: strip_w,
                    ..*rect
                },
            ),
            (
                top.border,
                Rect {
                    height: strip_h,
                    ..*rect
                },
            ),
            (
                bottom.border,
                Rect {
                    y: y1 - strip_h,
                    height: strip_h,
                    ..*rect
                },
            ),
        ];
        if strips
            .iter()
            .any(|(border, strip)| *border && motion.inside(strip) < MIN_MOTION)
        {
            return None;
        }
        // Most fully drawn first, in steps of 5 %; then the most drawn edge, so that an
        // inset wins over the picture inside its own bars.
        Some(((share * 20.0).round() as usize, covered))
    }
}

/// How much the picture moved, as a summed-area table over the finder's grid, so that
/// the motion inside any rectangle costs four lookups however many are tried.
struct Motion {
    /// `(rows + 1) × (cols + 1)`: moves counted above and left of each grid corner.
    sums: Vec<u64>,
    cols: usize,
    step: usize,
    intervals: f32,
}

impl Motion {
    fn new(finder: &InsetFinder) -> Motion {
        let step = finder.step;
        let (rows, cols) = (finder.height.div_ceil(step), finder.width.div_ceil(step));
        let mut sums = vec![0u64; (rows + 1) * (cols + 1)];
        for r in 0..rows {
            let mut across = 0u64;
            for c in 0..cols {
                across += u64::from(finder.moved[r * cols + c]);
                sums[(r + 1) * (cols + 1) + c + 1] = sums[r * (cols + 1) + c + 1] + across;
            }
        }
        Motion {
            sums,
            cols,
            step,
            intervals: finder.intervals.max(1) as f32,
        }
    }

    /// The mean share of intervals in which the grid cells inside `rect` moved.
    fn inside(&self, rect: &Rect) -> f32 {
        let (c0, c1) = (
            rect.x.div_ceil(self.step),
            (rect.x + rect.width) / self.step,
        );
        let (r0, r1) = (
            rect.y.div_ceil(self.step),
            (rect.y + rect.height) / self.step,
        );
        if c1 <= c0 || r1 <= r0 {
            return 0.0;
        }
        let at = |r: usize, c: usize| self.sums[r * (self.cols + 1) + c];
        let moved = at(r1, c1) + at(r0, c0) - at(r0, c1) - at(r1, c0);
        let cells = ((c1 - c0) * (r1 - r0)) as f32;
        moved as f32 / self.intervals / cells
    }
}

/// A persistent line: at a column (vertical) or row (horizontal), spanning `from..to`
/// pixels the other way. `border` marks the frame's own edge standing in for a side.
#[derive(Debug, Clone, Copy)]
struct Line {
    at: usize,
    from: usize,
    to: usize,
    border: bool,
}

impl Line {
    fn border(at: usize, length: usize) -> Line {
        Line {
            at,
            from: 0,
            to: length,
            border: true,
        }
    }
}

/// The persistent lines across `positions` (columns or rows), each read at `samples`
/// places `step` pixels apart along a side of `length` pixels; `share(at, s)` is the
/// share of voting frames with an edge there. A line runs through places where at least
/// half the frames saw the edge, and may skip a few (where the pictures on both sides
/// happen to be alike, the edge does not show); it must span at least [`MIN_SIDE`] of
/// the side, with [`PERSIST_SHARE`] of the frames seeing it on average. Of lines a pixel
/// or two apart (a blurred or drawn border is found at each), the longest stays.
fn lines(
    positions: usize,
    samples: usize,
    step: usize,
    length: usize,
    share: impl Fn(usize, usize) -> f32,
) -> Vec<Line> {
    let min_len = (MIN_SIDE * length as f32) as usize;
    let max_gap = (samples / 40).max(1);
    let mut out: Vec<Line> = Vec::new();
    for at in 0..positions {
        let mut run: Option<(usize, usize)> = None;
        for s in 0..=samples {
            let on = s < samples && share(at, s) >= 0.5;
            if on {
                run = Some(run.map_or((s, s), |(first, _)| (first, s)));
                continue;
            }
            let Some((first, last)) = run else {
                continue;
            };
            if s - last <= max_gap && s < samples {
                continue;
            }
            run = None;
            let (from, to) = (first * step, ((last + 1) * step).min(length));
            let mean =
                (first..=last).map(|k| share(at, k)).sum::<f32>() / (last + 1 - first) as f32;
            if to - from >= min_len && mean >= PERSIST_SHARE {
                out.push(Line {
                    at,
                    from,
                    to,
                    border: false,
                });
            }
        }
    }
    // Longest first; a line within two pixels of a longer one that overlaps it goes.
    out.sort_by_key(|l| std::cmp::Reverse(l.to - l.from));
    let mut kept: Vec<Line> = Vec::new();
    for line in out {
        let near = kept
            .iter()
            .any(|k| k.at.abs_diff(line.at) <= 2 && line.from < k.to && k.from < line.to);
        if !near {
            kept.push(line);
        }
        if kept.len() == MAX_LINES {
            break;
        }
    }
    kept
}

/// Whether a line within two pixels of `at` that meets `from..to` runs on well past
/// either end: then it is a line of the picture behind (a letterbox bar's edge across
/// the frame), not an inset's side, which ends at its corners.
fn runs_on(lines: &[Line], at: usize, from: usize, to: usize) -> bool {
    let past = (to - from) / 10;
    lines
        .iter()
        .filter(|l| l.at.abs_diff(at) <= 2 && l.from < to && from < l.to)
        .any(|l| l.from + past < from || l.to > to + past)
}

/// Pixels of `from..to` covered by the lines within two pixels of `at`.
fn cover(lines: &[Line], at: usize, from: usize, to: usize) -> usize {
    let mut spans: Vec<(usize, usize)> = lines
        .iter()
        .filter(|l| l.at.abs_diff(at) <= 2)
        .map(|l| (l.from.max(from), l.to.min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    spans.sort_unstable();
    let (mut covered, mut reached) = (0, from);
    for (a, b) in spans {
        let a = a.max(reached);
        if b > a {
            covered += b - a;
            reached = b;
        }
    }
    covered
}

fn in_bounds(side: usize, frame_side: usize) -> bool {
    let share = side as f32 / frame_side as f32;
    (MIN_SIDE..=MAX_SIDE).contains(&share)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::inset::testing::{footage, plane};

    fn find(frames: u32, w: usize, h: usize, luma: impl Fn(u32, usize, usize) -> u8) -> Vec<Rect> {
        let mut finder = InsetFinder::new(w, h);
        for f in 0..frames {
            finder.offer(
                f as f64 * SAMPLE_EVERY_S,
                w,
                h,
                &plane(w, h, |x, y| luma(f, x, y)),
                w,
            );
        }
        finder.insets()
    }

    #[test]
    fn an_inset_over_other_footage_is_found() {
        // 320 × 180 frame; inset 160 × 90 at (136, 12): the eval's top-right layout.
        let inset = Rect {
            x: 136,
            y: 12,
            width: 160,
            height: 90,
        };
        let inside = |x: usize, y: usize| {
            (inset.x..inset.x + inset.width).contains(&x)
                && (inset.y..inset.y + inset.height).contains(&y)
        };
        let found = find(12, 320, 180, |f, x, y| {
            if inside(x, y) {
                footage(f * 7 + 1, x + 5, y + 3)
            } else {
                footage(f * 7 + 1000, x, y)
            }
        });
        assert_eq!(found.len(), 1, "{found:?}");
        let r = found[0];
        assert!(
            r.x.abs_diff(inset.x + 2) <= 2 && r.y.abs_diff(inset.y + 2) <= 2,
            "{r:?}"
        );
        assert!(r.width.abs_diff(inset.width - 4) <= 3, "{r:?}");
        assert!(r.height.abs_diff(inset.height - 4) <= 3, "{r:?}");
    }

    #[test]
    fn an_inset_flush_with_a_corner_is_found() {
        let found = find(10, 320, 180, |f, x, y| {
            if x >= 200 && y >= 100 {
                footage(f * 3 + 1, x, y)
            } else {
                footage(f * 3 + 500, x + 8, y)
            }
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].x.abs_diff(202) <= 2 && found[0].y.abs_diff(102) <= 2,
            "{:?}",
            found[0]
        );
    }

    #[test]
    fn plain_footage_boxed_footage_and_still_footage_have_none() {
        // Moving footage with no inset.
        assert!(find(12, 320, 180, |f, x, y| footage(f + 1, x, y)).is_empty());
        // Window-boxed (centred): the bars finder's business.
        let boxed = find(12, 320, 180, |f, x, y| {
            if (40..280).contains(&x) && (22..158).contains(&y) {
                footage(f + 1, x, y)
            } else {
                16
            }
        });
        assert!(boxed.is_empty(), "{boxed:?}");
        // A held picture with a rectangle drawn in it: edges persist, nothing moves.
        let held = find(12, 320, 180, |_, x, y| {
            if (136..296).contains(&x) && (12..102).contains(&y) {
                200
            } else {
                footage(9, x, y)
            }
        });
        assert!(held.is_empty(), "{held:?}");
        // Too few frames to judge persistence.
        assert!(find(3, 320, 180, |f, x, y| if x > 150 && y < 90 {
            footage(f, x, y)
        } else {
            0
        })
        .is_empty());
    }

    #[test]
    fn votes_from_two_ranges_add_up() {
        let luma = |f: u32, x: usize, y: usize| {
            if (136..296).contains(&x) && (12..102).contains(&y) {
                footage(f * 5 + 2, x, y)
            } else {
                footage(f * 5 + 900, x, y)
            }
        };
        let (w, h) = (320, 180);
        let mut a = InsetFinder::new(w, h);
        let mut b = InsetFinder::new(w, h);
        for f in 0..3 {
            a.offer(f as f64, w, h, &plane(w, h, |x, y| luma(f, x, y)), w);
        }
        for f in 3..6 {
            b.offer(f as f64, w, h, &plane(w, h, |x, y| luma(f, x, y)), w);
        }
        assert!(a.insets().is_empty() && b.insets().is_empty());
        a.merge(&b);
        assert_eq!(a.insets().len(), 1);
    }

    #[test]
    fn a_side_on_a_line_that_runs_past_its_corners_is_the_pictures() {
        let line = |from, to| Line {
            at: 120,
            from,
            to,
            border: false,
        };
        // A letterbox bar's edge across the frame, where a side from 150 to 300 would be.
        assert!(runs_on(&[line(0, 320)], 121, 150, 300));
        assert!(runs_on(&[line(150, 320)], 121, 150, 300));
        // The inset's own side, also when its corners blur a few pixels further.
        assert!(!runs_on(&[line(150, 300)], 121, 150, 300));
        assert!(!runs_on(&[line(146, 304)], 121, 150, 300));
        // A line elsewhere says nothing about this side.
        assert!(!runs_on(&[line(0, 140)], 121, 150, 300));
    }
}
