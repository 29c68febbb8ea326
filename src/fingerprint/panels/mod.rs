//! Panels of a storyboard page: the picture areas of the boards on a page exported by a
//! storyboard tool (PDF page or scan), so that each board can be fingerprinted on its own
//! and the page's template (frames, header, text fields) never counts as evidence.
//!
//! How: the page is shrunk to a bounded size (2400 px on its long side), the paper level
//! is measured locally (tints, uneven scans), and the skew is found from the projection
//! profile of the ink's top edges and taken out. Long straight runs of ink are rules; the
//! regions rules enclose that are rectangles are cells. A cell is a panel when what is
//! inside it is a picture (drawing spread over its area, taller than a line of type); a
//! cell with nothing in it is a blank panel when it is shaped like a picture (an empty
//! template frame); cells of text (scene, action, dialogue boxes), cells that hold other
//! cells (a table, a page border) and anything inside a panel are not panels. A page
//! with no framed cell at all is searched for unframed pictures: blocks of marks with
//! straight edges on white gutters. Boxes go back through the skew and the shrink into
//! the page's own pixels.
//!
//! See `docs/panels.md` for the limits and the measured figures.

mod cells;
mod content;
mod label;
mod prep;
mod upright;

#[cfg(test)]
mod tests;

use image::GrayImage;

use super::inset::Rect;
use cells::{Boxi, Cell};
use content::Content;
use prep::{Paper, Plane};
pub use upright::upright;

/// One panel of a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    /// The picture area inside the frame, in the page's own pixels. On a skewed page it
    /// is the upright box of the panel's size about the panel's centre.
    pub rect: Rect,
    /// Nothing is drawn inside: an empty template frame. It carries no evidence.
    pub blank: bool,
    /// The page's skew, in degrees, which [`upright`] takes out of the picture.
    pub skew_degrees: f32,
}

/// Pages smaller than this on either side hold no panels worth finding.
const MIN_PAGE_SIDE: usize = 32;
/// Skews under this many degrees are left in: over a 1000 px rule they move it by under
/// 1.5 px, which the rule search bridges.
const MIN_SKEW: f32 = 0.08;
/// A blank cell is a blank panel when its width over height is within these: from a
/// 9:16 phone board to 2.76:1 scope. Empty text fields are wider (an action box is
/// 5:1 and more).
const BLANK_ASPECT: (f32, f32) = (0.45, 2.8);
/// A cell whose inner cells cover more than this share of it is a table or a border
/// around other cells, not a picture; a picture with a window or a screen drawn in it
/// keeps most of its area.
const CONTAINER_SHARE: f32 = 0.25;
/// Neither side of a panel is under this share of the page's short side (64 px on a
/// 150 dpi page).
fn min_side(page_short: usize) -> usize {
    (page_short / 20).max(8)
}

/// The panels of `page` in reading order (rows top to bottom, left to right in a row).
/// Empty when the page is not a storyboard page: it stays one picture.
pub fn find_panels(page: &GrayImage) -> Vec<Panel> {
    let (pw, ph) = (page.width() as usize, page.height() as usize);
    if pw < MIN_PAGE_SIDE || ph < MIN_PAGE_SIDE {
        return Vec::new();
    }
    let (plane, k) = prep::bounded(pw, ph, page.as_raw());
    if plane.w < MIN_PAGE_SIDE || plane.h < MIN_PAGE_SIDE {
        return Vec::new();
    }
    let paper = Paper::of(&plane);
    let ink = prep::ink_mask(&plane, &paper);
    let skew = prep::skew_degrees(&plane, &ink);
    let (work, paper, ink) = if skew.abs() >= MIN_SKEW {
        let straight = prep::rotated(&plane, -skew, paper.typical);
        let paper = Paper::of(&straight);
        let ink = prep::ink_mask(&straight, &paper);
        (straight, paper, ink)
    } else {
        (plane, paper, ink)
    };
    let found = panels_of(&work, &paper, &ink);
    let mut out: Vec<Panel> = found
        .into_iter()
        .map(|(b, blank)| Panel {
            rect: to_page_rect(&work, skew, k, (pw, ph), &b),
            blank,
            skew_degrees: if skew.abs() >= MIN_SKEW { skew } else { 0.0 },
        })
        .collect();
    reading_order(&mut out);
    out
}

/// The panels of an upright working page, as working boxes and whether each is blank.
fn panels_of(p: &Plane, paper: &Paper, ink: &[bool]) -> Vec<(Boxi, bool)> {
    let short = p.w.min(p.h);
    let min = min_side(short);
    let rule = cells::rule_mask(p.w, p.h, ink);
    let (regions, found) = cells::cells(p.w, p.h, &rule, min);
    let (frame_of, frames) = cells::frames(p.w, p.h, &rule, &regions, min);
    let judge_cell = |c: &Cell| {
        let belongs = |x: usize, y: usize| regions.labels[y * p.w + x] == c.label;
        content::judge(p, paper, &c.bbox, short, &belongs)
    };
    let mut judged: Vec<(Cell, Content, u32)> = found
        .into_iter()
        .map(|c| {
            let content = judge_cell(&c);
            let frame = frame_of[c.seed];
            (c, content, frame)
        })
        .collect();
    judged.sort_by_key(|(c, _, _)| std::cmp::Reverse(c.bbox.area()));
    let mut panels: Vec<(Boxi, bool)> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let id = i as u32 + 1;
        let kids: Vec<&(Cell, Content, u32)> = judged.iter().filter(|k| k.2 == id).collect();
        if kids.is_empty() || kids.iter().any(|k| k.1 == Content::Text) {
            continue;
        }
        // No text in it: one panel whose picture straight strokes may have cut into
        // cells, or an empty frame (perhaps with a picture's own inner border).
        match content::judge(p, paper, &f.inner, short, &|_, _| true) {
            Content::Picture => panels.push((f.inner, false)),
            Content::Blank if blank_shaped(&f.inner) => panels.push((f.inner, true)),
            _ => {}
        }
    }
    // Frames with text in them (tables, page borders, text boxes): their cells one by one.
    let whole: Vec<Boxi> = panels.iter().map(|(b, _)| *b).collect();
    for (i, (cell, content, _)) in judged.iter().enumerate() {
        let b = cell.bbox;
        if whole.iter().any(|q| overlap(q, &b)) || panels.iter().any(|(q, _)| q.contains(&b)) {
            continue;
        }
        let inner: usize = judged[i + 1..]
            .iter()
            .filter(|k| b.contains(&k.0.bbox))
            .map(|k| k.0.bbox.area())
            .sum();
        if inner as f32 > CONTAINER_SHARE * b.area() as f32 {
            continue;
        }
        // The cell lies inside the rule mask, which is one pixel wider than the rule.
        let picture = Boxi {
            x0: b.x0 - 1,
            y0: b.y0 - 1,
            x1: b.x1 + 1,
            y1: b.y1 + 1,
        };
        match content {
            Content::Picture => panels.push((picture, false)),
            Content::Blank if blank_shaped(&b) => panels.push((picture, true)),
            _ => {}
        }
    }
    if panels.is_empty() {
        for b in content::unframed(p, paper, min) {
            if content::judge(p, paper, &b, short, &|_, _| true) == Content::Picture {
                panels.push((b, false));
            }
        }
    }
    panels
}

fn blank_shaped(b: &Boxi) -> bool {
    let aspect = b.w() as f32 / b.h() as f32;
    (BLANK_ASPECT.0..=BLANK_ASPECT.1).contains(&aspect)
}

fn overlap(a: &Boxi, b: &Boxi) -> bool {
    a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

/// A working box in the page's own pixels: its centre taken back through the skew,
/// its size through the shrink.
fn to_page_rect(work: &Plane, skew: f32, k: usize, page: (usize, usize), b: &Boxi) -> Rect {
    let (cx, cy) = ((b.x0 + b.x1) as f32 / 2.0, (b.y0 + b.y1) as f32 / 2.0);
    let (px, py) = prep::to_page(work.w, work.h, skew, cx, cy);
    let (w, h) = ((b.w() * k).min(page.0), (b.h() * k).min(page.1));
    let x = (px * k as f32 - w as f32 / 2.0).round().max(0.0) as usize;
    let y = (py * k as f32 - h as f32 / 2.0).round().max(0.0) as usize;
    Rect {
        x: x.min(page.0 - w),
        y: y.min(page.1 - h),
        width: w,
        height: h,
    }
}

/// Rows top to bottom, left to right within a row. Panels are in one row when their
/// spans down the page overlap by half the shorter one, so that a skewed or ragged row
/// stays a row.
fn reading_order(panels: &mut Vec<Panel>) {
    panels.sort_by_key(|p| (p.rect.y, p.rect.x));
    let mut rows: Vec<Vec<Panel>> = Vec::new();
    for p in panels.drain(..) {
        let joins = rows.last().is_some_and(|row| {
            let first = row[0].rect;
            let top = first.y.max(p.rect.y);
            let bottom = (first.y + first.height).min(p.rect.y + p.rect.height);
            bottom > top && 2 * (bottom - top) >= first.height.min(p.rect.height)
        });
        match rows.last_mut() {
            Some(row) if joins => row.push(p),
            _ => rows.push(vec![p]),
        }
    }
    for mut row in rows {
        row.sort_by_key(|p| p.rect.x);
        panels.extend(row);
    }
}
