//! One window's votes on where an inset is: edges and motion counted over the frames
//! offered, then persistent lines paired into rectangles and judged.

use super::{overlaps, Rect, MAX_INSETS, SAMPLE_EVERY_S};

/// Fewer voting frames than this find nothing: persistence needs time to show.
const MIN_SAMPLES: u32 = 4;
/// The share of voting frames an edge must be found in, along a line on average, for
/// the line to persist.
const PERSIST_SHARE: f32 = 0.55;
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
/// A strip at the frame's edge is padding (bars of any colour) when less than these
/// shares of its grid moved and of its votes saw an edge; padding counts only when it
/// takes at least [`MIN_PADDING`] of the side, as bars do.
const PAD_MOTION: f32 = 0.02;
const PAD_EDGES: f32 = 0.02;
const MIN_PADDING: f32 = 0.02;

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
        let Some(area) = self.picture_area(&vertical, &horizontal) else {
            return Vec::new();
        };
        // The picture's own edges (the frame's, or the bars' around a padded picture)
        // stand for an inset's sides that reach them; lines along the bars' edges are
        // those edges, not candidate sides.
        let near = self.step + 2;
        let sides = |lines: &[Line], start: usize, end: usize, size: usize| -> Vec<Line> {
            let bars_edge =
                |at: usize, edge: usize| edge != 0 && edge != size && at.abs_diff(edge) <= near;
            let mut sides: Vec<Line> = lines
                .iter()
                .filter(|l| !bars_edge(l.at, start) && !bars_edge(l.at, end))
                .copied()
                .collect();
            sides.extend([Line::border(start), Line::border(end)]);
            sides.sort_by_key(|l| l.at);
            sides
        };
        let mut found: Vec<((usize, usize), Rect, [Line; 4])> = Vec::new();
        let column_sides = sides(&vertical, area.x, area.x + area.width, w);
        let row_sides = sides(&horizontal, area.y, area.y + area.height, h);
        let vertical: Vec<Line> = column_sides.iter().filter(|l| !l.border).copied().collect();
        let horizontal: Vec<Line> = row_sides.iter().filter(|l| !l.border).copied().collect();
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
                        if let Some(support) = self.support(&rect, &area, sides, lines, &motion) {
                            found.push((support, rect, sides));
                        }
                    }
                }
            }
        }
        // A side on the picture's edge costs nothing to draw, so a rectangle that only
        // reaches an edge where a drawn line closes a smaller one first (footage beside
        // the inset taken in with it) gives way to that one.
        let dominated = |(_, rect, sides): &((usize, usize), Rect, [Line; 4])| {
            found.iter().any(|(_, inner, inner_sides)| {
                inner != rect
                    && inner.x >= rect.x
                    && inner.y >= rect.y
                    && inner.x + inner.width <= rect.x + rect.width
                    && inner.y + inner.height <= rect.y + rect.height
                    && sides
                        .iter()
                        .zip(inner_sides)
                        .all(|(side, inner)| side.border || (!inner.border && inner.at == side.at))
            })
        };
        let mut kept: Vec<((usize, usize), Rect)> = found
            .iter()
            .filter(|f| !dominated(f))
            .map(|(support, rect, _)| (*support, *rect))
            .collect();
        kept.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut chosen: Vec<Rect> = Vec::new();
        for (_, rect) in kept {
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
        area: &Rect,
        [left, right, top, bottom]: [Line; 4],
        (vertical, horizontal): (&[Line], &[Line]),
        motion: &Motion,
    ) -> Option<(usize, usize)> {
        let (w, h) = (self.width, self.height);
        let tol_x = (w / 50).max(3) + self.step;
        let tol_y = (h / 50).max(3) + self.step;
        // Spanning the frame one way, it is the picture inside letterbox or pillarbox
        // bars. Spanning a picture that sits inside bars that way, it is a band of that
        // picture (a film across a pillarboxed phone video).
        let padded_x = area.width < w;
        let padded_y = area.height < h;
        let all_borders = [left, right, top, bottom].iter().all(|l| l.border);
        if !in_bounds(rect.height, h)
            || all_borders
            || (left.border && right.border && !padded_x)
            || (top.border && bottom.border && !padded_y)
        {
            return None;
        }
        let (x0, x1, y0, y1) = (rect.x, rect.x + rect.width, rect.y, rect.y + rect.height);
        // A centred rectangle is a window-box's picture, unless the picture beyond each
        // of its drawn sides moves: a film in the middle of other footage.
        let centred = rect.x.abs_diff(w - x1) <= tol_x && rect.y.abs_diff(h - y1) <= tol_y;
        if centred && !self.moves_around(rect, area, [left, right, top, bottom], motion) {
            return None;
        }
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
        // of the inside along it must move too (beside a window-box, it is padding). A
        // side on the bars' edge needs the picture to start there along this side, not
        // only where something else reaches into the bar: the cells just inside it must
        // not be padding. And a drawn side is an inset's only with picture beyond it: a
        // line with padding beyond it is a bar's edge, and the rectangle is a stretch of
        // the picture inside the bars (beside an inset that reaches into a bar).
        let frame_edge = |side: &Line, size: usize| side.at == 0 || side.at == size;
        let (w10, h10) = (
            (rect.width / 10).max(self.step),
            (rect.height / 10).max(self.step),
        );
        // The line itself (an edge blurred over a few pixels) is left out of the strips
        // beside it; beyond a side, only the picture's area counts (bars outside it are
        // the area's edge, which an inset may touch).
        let (near, thin) = (self.step + 2, 2 * self.step);
        let (ax1, ay1) = (area.x + area.width, area.y + area.height);
        let span = |from: usize, to: usize| (from, to.saturating_sub(from));
        let column = |(x, width): (usize, usize)| Rect { x, width, ..*rect };
        let row = |(y, height): (usize, usize)| Rect { y, height, ..*rect };
        // (side, its size, strip inside a tenth deep, cells just inside, area beyond).
        let sides = [
            (
                left,
                w,
                column((x0, w10)),
                column((x0 + near, thin)),
                column(span(
                    x0.saturating_sub(w10).max(area.x),
                    x0.saturating_sub(near),
                )),
            ),
            (
                right,
                w,
                column((x1 - w10, w10)),
                column((x1.saturating_sub(near + thin), thin)),
                column(span(x1 + near, (x1 + w10).min(ax1))),
            ),
            (
                top,
                h,
                row((y0, h10)),
                row((y0 + near, thin)),
                row(span(
                    y0.saturating_sub(h10).max(area.y),
                    y0.saturating_sub(near),
                )),
            ),
            (
                bottom,
                h,
                row((y1 - h10, h10)),
                row((y1.saturating_sub(near + thin), thin)),
                row(span(y1 + near, (y1 + h10).min(ay1))),
            ),
        ];
        for (side, size, inside, edge, beyond) in sides {
            let turned_down = if !side.border {
                beyond.width >= thin && beyond.height >= thin && self.is_padding(&beyond, motion)
            } else if frame_edge(&side, size) {
                motion.inside(&inside) < MIN_MOTION
            } else {
                self.is_padding(&edge, motion)
            };
            if turned_down {
                return None;
            }
        }
        // Most fully drawn first, in steps of 5 %; then the most drawn edge, so that an
        // inset wins over the picture inside its own bars.
        Some(((share * 20.0).round() as usize, covered))
    }

    /// The picture inside any padding: the frame less the strips along its edges that
    /// stayed still and bare (bars, of any colour), each of the picture's edges moved
    /// onto the persistent line along it where there is one (the grid is coarser than
    /// the bars' edge). `None` when nothing moved.
    fn picture_area(&self, vertical: &[Line], horizontal: &[Line]) -> Option<Rect> {
        let (w, h, step) = (self.width, self.height, self.step);
        let (rows, cols) = (h.div_ceil(step), w.div_ceil(step));
        let (votes, intervals) = (self.samples as f32, self.intervals.max(1) as f32);
        let count = |i: usize, counts: &[u16]| u64::from(counts[i]);
        // Column cell c covers pixels c × step up to the next cell, as row cells do.
        let still_column = |c: usize| {
            let moved: u64 = (0..rows).map(|r| count(r * cols + c, &self.moved)).sum();
            let xs = c * step..((c + 1) * step).min(w);
            let across: u64 = (0..rows)
                .flat_map(|r| xs.clone().map(move |x| r * w + x))
                .map(|i| count(i, &self.vertical))
                .sum();
            let along: u64 = (0..h).map(|y| count(y * cols + c, &self.horizontal)).sum();
            let edges = (across + along) as f32 / votes / (xs.len() * rows + h) as f32;
            moved as f32 / intervals / rows as f32 <= PAD_MOTION && edges <= PAD_EDGES
        };
        let still_row = |r: usize| {
            let moved: u64 = (0..cols).map(|c| count(r * cols + c, &self.moved)).sum();
            let ys = r * step..((r + 1) * step).min(h);
            let across: u64 = ys
                .clone()
                .flat_map(|y| (0..cols).map(move |c| y * cols + c))
                .map(|i| count(i, &self.horizontal))
                .sum();
            let along: u64 = (0..w).map(|x| count(r * w + x, &self.vertical)).sum();
            let edges = (across + along) as f32 / votes / (ys.len() * cols + w) as f32;
            moved as f32 / intervals / cols as f32 <= PAD_MOTION && edges <= PAD_EDGES
        };
        let (x0, x1) = picture_span(cols, step, w, still_column, vertical)?;
        let (y0, y1) = picture_span(rows, step, h, still_row, horizontal)?;
        Some(Rect {
            x: x0,
            y: y0,
            width: x1 - x0,
            height: y1 - y0,
        })
    }

    /// Whether `rect` is padding: still and bare, as bars are (less than [`PAD_MOTION`]
    /// of its grid moved, less than [`PAD_EDGES`] of its votes saw an edge).
    fn is_padding(&self, rect: &Rect, motion: &Motion) -> bool {
        if motion.inside(rect) > PAD_MOTION {
            return false;
        }
        let (w, step) = (self.width, self.step);
        let cols = w.div_ceil(step);
        let (xs, ys) = (rect.x..rect.x + rect.width, rect.y..rect.y + rect.height);
        let across: u64 = ys
            .clone()
            .filter(|y| y % step == 0)
            .flat_map(|y| xs.clone().map(move |x| (y / step) * w + x))
            .map(|i| u64::from(self.vertical[i]))
            .sum();
        let along: u64 = ys
            .clone()
            .flat_map(|y| {
                xs.clone()
                    .filter(|x| x % step == 0)
                    .map(move |x| y * cols + x / step)
            })
            .map(|i| u64::from(self.horizontal[i]))
            .sum();
        let sampled = ys.clone().filter(|y| y % step == 0).count() * xs.len()
            + ys.len() * xs.clone().filter(|x| x % step == 0).count();
        let votes = self.samples.max(1) as f32 * sampled.max(1) as f32;
        (across + along) as f32 / votes <= PAD_EDGES
    }

    /// Whether the picture moves beyond each drawn side of `rect`, in a strip inside
    /// `area` a tenth of the rectangle's side deep.
    fn moves_around(
        &self,
        rect: &Rect,
        area: &Rect,
        [left, right, top, bottom]: [Line; 4],
        motion: &Motion,
    ) -> bool {
        let (x1, y1) = (rect.x + rect.width, rect.y + rect.height);
        let (ax1, ay1) = (area.x + area.width, area.y + area.height);
        let dx = (rect.width / 10).max(self.step);
        let dy = (rect.height / 10).max(self.step);
        let (lx, rx) = (rect.x.saturating_sub(dx).max(area.x), (x1 + dx).min(ax1));
        let (ty, by) = (rect.y.saturating_sub(dy).max(area.y), (y1 + dy).min(ay1));
        let outside = [
            (
                left,
                Rect {
                    x: lx,
                    width: rect.x.saturating_sub(lx),
                    ..*rect
                },
            ),
            (
                right,
                Rect {
                    x: x1,
                    width: rx.saturating_sub(x1),
                    ..*rect
                },
            ),
            (
                top,
                Rect {
                    y: ty,
                    height: rect.y.saturating_sub(ty),
                    ..*rect
                },
            ),
            (
                bottom,
                Rect {
                    y: y1,
                    height: by.saturating_sub(y1),
                    ..*rect
                },
            ),
        ];
        outside
            .iter()
            .filter(|(side, _)| !side.border)
            .all(|(_, strip)| motion.inside(strip) >= MIN_MOTION)
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
    /// The picture's edge at `at`; its span is never read.
    fn border(at: usize) -> Line {
        Line {
            at,
            from: 0,
            to: 0,
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

/// The span of a side of `size` pixels, read in `cells` grid cells of `step`, that the
/// picture takes: the cells at either end for which `still` holds are padding when they
/// take [`MIN_PADDING`] of the side, and the picture's edge is then put on the
/// persistent line within a cell of it, if any. `None` when every cell is still.
fn picture_span(
    cells: usize,
    step: usize,
    size: usize,
    still: impl Fn(usize) -> bool,
    lines: &[Line],
) -> Option<(usize, usize)> {
    let first = (0..cells).find(|&c| !still(c))?;
    let last = (0..cells).rev().find(|&c| !still(c))?;
    let min_padding = (MIN_PADDING * size as f32) as usize;
    let on_line = |edge: usize| {
        lines
            .iter()
            .filter(|l| l.at.abs_diff(edge) <= step + 2)
            .min_by_key(|l| l.at.abs_diff(edge))
            .map_or(edge, |l| l.at)
    };
    let start = first * step;
    let end = ((last + 1) * step).min(size);
    let start = if start < min_padding {
        0
    } else {
        on_line(start)
    };
    let end = if size - end < min_padding {
        size
    } else {
        on_line(end)
    };
    (start < end).then_some((start, end))
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
mod tests;
