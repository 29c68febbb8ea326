//! Frames: the rectangles that rules enclose. Long straight runs of ink are rules; the
//! regions of the page they cut off from each other, and that are rectangles, are cells
//! (a panel's picture area, a text box, a table cell). What is in a cell is judged
//! elsewhere.

use super::label;

/// A run of ink at least this long is a rule: 1/40 of the page's short side (32 px on
/// a 150 dpi page). Shorter runs are glyphs and strokes.
fn min_rule(w: usize, h: usize) -> usize {
    (w.min(h) / 40).max(12)
}

/// Gaps of up to this many pixels do not break a rule: JPEG, a faint grey rule or a
/// resampled one leave holes in it.
const MAX_GAP: usize = 2;

/// A rule is thin: most of its pixels have at most this much ink across it (1/80 of
/// the page's short side, 16 px on a 150 dpi page), so that a filled patch of a picture,
/// where every run is long, is not a rule.
fn max_thickness(w: usize, h: usize) -> usize {
    (w.min(h) / 80).max(4)
}

/// The length of the run of ink through each pixel, along rows (`stride` 1, `lines` h,
/// `len` w, `step` w) or columns.
fn run_lengths(ink: &[bool], lines: usize, len: usize, step: usize, stride: usize) -> Vec<u16> {
    let mut out = vec![0u16; ink.len()];
    for l in 0..lines {
        let base = l * step;
        let mut i = 0;
        while i < len {
            if !ink[base + i * stride] {
                i += 1;
                continue;
            }
            let s = i;
            while i < len && ink[base + i * stride] {
                i += 1;
            }
            let n = (i - s).min(usize::from(u16::MAX)) as u16;
            for j in s..i {
                out[base + j * stride] = n;
            }
        }
    }
    out
}

/// Marks rules: thin runs of ink (gaps bridged) at least [`min_rule`] long, across and
/// down, widened by one pixel so that the antialiased edge of a rule is rule too.
pub(super) fn rule_mask(w: usize, h: usize, ink: &[bool]) -> Vec<bool> {
    let min = min_rule(w, h);
    let thick = max_thickness(w, h);
    let across = run_lengths(ink, h, w, w, 1);
    let down = run_lengths(ink, w, h, 1, w);
    let mut rule = vec![false; w * h];
    // Along rows then columns: `lines` lines of `len` pixels, `step` apart, `stride`
    // within; a run's thickness is read from the runs the other way.
    for (lines, len, step, stride, other) in [(h, w, w, 1, &down), (w, h, 1, w, &across)] {
        let close = |base: usize, s: usize, e: usize, rule: &mut Vec<bool>| {
            if e - s < min {
                return;
            }
            let (mut inked, mut thin) = (0usize, 0usize);
            for i in s..e {
                let j = base + i * stride;
                if ink[j] {
                    inked += 1;
                    thin += usize::from(usize::from(other[j]) <= thick);
                }
            }
            if thin * 2 >= inked {
                for i in s..e {
                    rule[base + i * stride] = true;
                }
            }
        };
        for l in 0..lines {
            let base = l * step;
            let mut run_start: Option<usize> = None;
            let mut last_ink = 0usize;
            for i in 0..len {
                if ink[base + i * stride] {
                    if run_start.is_none() {
                        run_start = Some(i);
                    }
                    last_ink = i;
                } else if let Some(s) = run_start {
                    if i - last_ink > MAX_GAP {
                        close(base, s, last_ink + 1, &mut rule);
                        run_start = None;
                    }
                }
            }
            if let Some(s) = run_start {
                close(base, s, last_ink + 1, &mut rule);
            }
        }
    }
    let mut wide = rule.clone();
    for y in 0..h {
        for x in 0..w {
            if rule[y * w + x] {
                for ny in y.saturating_sub(1)..(y + 2).min(h) {
                    for nx in x.saturating_sub(1)..(x + 2).min(w) {
                        wide[ny * w + nx] = true;
                    }
                }
            }
        }
    }
    wide
}

/// A rectangle in working pixels, right and bottom exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Boxi {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Boxi {
    pub fn w(&self) -> usize {
        self.x1 - self.x0
    }
    pub fn h(&self) -> usize {
        self.y1 - self.y0
    }
    pub fn area(&self) -> usize {
        self.w() * self.h()
    }
    pub fn contains(&self, o: &Boxi) -> bool {
        o.x0 >= self.x0 && o.y0 >= self.y0 && o.x1 <= self.x1 && o.y1 <= self.y1
    }
}

/// A region the rules enclose, that is close to a rectangle.
#[derive(Debug, Clone)]
pub(super) struct Cell {
    /// The region's label in [`Regions::labels`].
    pub label: u32,
    /// One pixel of the region.
    pub seed: usize,
    pub bbox: Boxi,
}

/// The page cut by its rules: each pixel that is not rule carries the label of its
/// 4-connected region (0 for rule).
pub(super) struct Regions {
    pub labels: Vec<u32>,
    /// Per label (index = label), whether the region reaches the page's edge.
    pub edge: Vec<bool>,
}

/// At most this many cells are judged: a page of noise cuts itself into many small
/// regions, of which none is big enough anyway.
const MAX_CELLS: usize = 400;

/// A cell is walled in: this share of the pixels just outside its bounding box, on
/// each side, is rule. A frame is; a dark patch of the picture against the frame, or a
/// straight stroke of the drawing that meets it, moves the box by little. The page's
/// background between frames is not walled in.
const MIN_WALL: f32 = 0.6;

/// Labels the regions between rules and returns those that are rectangles of at least
/// `min_side` a side, not touching the page's edge.
pub(super) fn cells(w: usize, h: usize, rule: &[bool], min_side: usize) -> (Regions, Vec<Cell>) {
    let free: Vec<bool> = rule.iter().map(|r| !r).collect();
    let (labels, comps) = label::components(w, h, &free);
    let stats: Vec<(Boxi, usize, bool)> = std::iter::once((
        Boxi {
            x0: 0,
            y0: 0,
            x1: 0,
            y1: 0,
        },
        0,
        false,
    ))
    .chain(comps.iter().map(|c| (c.bbox, c.n, c.edge)))
    .collect();
    let mut out = Vec::new();
    for (id, &(b, n, edge)) in stats.iter().enumerate().skip(1) {
        if edge || b.w() < min_side || b.h() < min_side || n * 4 < b.area() {
            continue;
        }
        let walled = |n: usize, rule_at: &dyn Fn(usize) -> bool| {
            (0..n).filter(|&i| rule_at(i)).count() as f32 >= MIN_WALL * n as f32
        };
        let r = |x: usize, y: usize| rule[y * w + x];
        if walled(b.w(), &|i| r(b.x0 + i, b.y0 - 1))
            && walled(b.w(), &|i| r(b.x0 + i, b.y1))
            && walled(b.h(), &|i| r(b.x0 - 1, b.y0 + i))
            && walled(b.h(), &|i| r(b.x1, b.y0 + i))
        {
            out.push(Cell {
                label: id as u32,
                seed: b.y0 * w
                    + (b.x0..b.x1)
                        .find(|&x| labels[b.y0 * w + x] == id as u32)
                        .unwrap_or(b.x0),
                bbox: b,
            });
        }
        if out.len() == MAX_CELLS {
            break;
        }
    }
    let edge = stats.iter().map(|s| s.2).collect();
    (Regions { labels, edge }, out)
}

/// A frame: what rules enclose, taken with the rules themselves (a panel's frame with
/// its whole picture, whatever straight strokes cut the picture into cells; a table
/// with its cells).
#[derive(Debug, Clone)]
pub(super) struct Frame {
    /// Inside the rule: the picture area when the frame is one panel.
    pub inner: Boxi,
}

/// The frames of the page, and for each pixel the index + 1 of the frame it belongs to
/// (0: outside every frame). Regions not reached from the page's edge without crossing
/// a rule are enclosed.
pub(super) fn frames(
    w: usize,
    h: usize,
    rule: &[bool],
    regions: &Regions,
    min_side: usize,
) -> (Vec<u32>, Vec<Frame>) {
    let enclosed: Vec<bool> = (0..w * h)
        .map(|i| rule[i] || !regions.edge[regions.labels[i] as usize])
        .collect();
    let (comp, comps) = label::components(w, h, &enclosed);
    let boxes: Vec<Boxi> = comps.iter().map(|c| c.bbox).collect();
    let mut out: Vec<Frame> = Vec::new();
    for b in boxes {
        if b.w() < min_side || b.h() < min_side {
            out.push(Frame { inner: b });
            continue;
        }
        // How far in the picture starts on each side: the median, over nine places, of
        // the depth at which the first run of rule met going in from the edge ends, so
        // that a stroke meeting the frame does not count. The run is looked for past
        // any paper first: where the frame's box reaches beyond its rule at one place
        // (a stroke or a speck touching it outside, a rule left a pixel out of level by
        // a deskew), the rule lies that far in everywhere else, and the picture only
        // past it. The widening added a pixel either side of the rule.
        let depth = |at: &dyn Fn(usize, usize) -> bool, along: usize, max: usize| {
            let mut runs: Vec<usize> = (1..10)
                .map(|k| {
                    let a = along * k / 10;
                    let outside = (0..max).take_while(|&d| !at(a, d)).count();
                    if outside >= max {
                        return 0;
                    }
                    outside + (outside..max).take_while(|&d| at(a, d)).count()
                })
                .collect();
            runs.sort_unstable();
            runs[4].saturating_sub(1)
        };
        let half = (b.w().min(b.h()) / 2).max(1);
        let top = depth(&|a, d| rule[(b.y0 + d) * w + b.x0 + a], b.w(), half);
        let bottom = depth(&|a, d| rule[(b.y1 - 1 - d) * w + b.x0 + a], b.w(), half);
        let left = depth(&|a, d| rule[(b.y0 + a) * w + b.x0 + d], b.h(), half);
        let right = depth(&|a, d| rule[(b.y0 + a) * w + b.x1 - 1 - d], b.h(), half);
        let inner = Boxi {
            x0: b.x0 + left,
            y0: b.y0 + top,
            x1: (b.x1 - right).max(b.x0 + left + 1),
            y1: (b.y1 - bottom).max(b.y0 + top + 1),
        };
        out.push(Frame { inner });
    }
    (comp, out)
}
