//! What is inside a rectangle: nothing, lines of text, or a picture. A picture has
//! drawing spread over its area and tall; a text box has short bands of small glyphs
//! with paper between them (or a label and nothing else). Aspect ratio alone says
//! little: an action box and a 2.39:1 panel are both wide.

use super::cells::Boxi;
use super::prep::{Paper, Plane};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Content {
    Blank,
    Text,
    Picture,
}

/// A mark is at least this much darker than the paper around it, absolutely and in
/// proportion: pencil greys are marks, a sketch's paper tone and JPEG noise are not.
fn is_mark(v: u8, paper: u8) -> bool {
    let (v, p) = (u32::from(v), u32::from(paper));
    v * 100 < p * 85 && v + 20 < p
}

/// Pixels kept clear of a rectangle's edge, where the frame's antialiasing lies.
const INSET: usize = 2;
/// Fewer marks than one in this many pixels (plus a couple of specks) is blank.
const BLANK_ONE_IN: usize = 2000;
/// A picture's tallest band of marked rows is at least this share of its height; a
/// text box's bands are lines of glyphs with paper between them.
const PICTURE_BAND: f32 = 0.35;
/// ... and taller than a line of large type: this share of the page's short side
/// (45 px on a 150 dpi page; 18 pt type is under 40).
const TYPE_LINE: f32 = 0.035;
/// A picture marks at least this many of the 16 tiles of a 4x4 grid over it
/// (a tile counts with at least [`TILE_DENSITY`] of its pixels marked).
const PICTURE_TILES: usize = 5;
const TILE_DENSITY: f32 = 0.003;

/// Judges the pixels of `b` for which `belongs` holds (a cell's own region: other cells
/// inside it and rules are left out).
pub(super) fn judge(
    p: &Plane,
    paper: &Paper,
    b: &Boxi,
    page_short: usize,
    belongs: &dyn Fn(usize, usize) -> bool,
) -> Content {
    if b.w() <= 4 * INSET || b.h() <= 4 * INSET {
        return Content::Blank;
    }
    let (x0, y0, x1, y1) = (b.x0 + INSET, b.y0 + INSET, b.x1 - INSET, b.y1 - INSET);
    let (w, h) = (x1 - x0, y1 - y0);
    let mut rows = vec![0usize; h];
    let mut tiles = [[0usize; 2]; 16];
    let mut area = 0usize;
    for y in y0..y1 {
        let ty = (y - y0) * 4 / h;
        for x in x0..x1 {
            if !belongs(x, y) {
                continue;
            }
            let t = ty * 4 + (x - x0) * 4 / w;
            area += 1;
            tiles[t][1] += 1;
            if is_mark(p.at(x, y), paper.at(x, y)) {
                rows[y - y0] += 1;
                tiles[t][0] += 1;
            }
        }
    }
    let marks: usize = rows.iter().sum();
    if marks <= area / BLANK_ONE_IN + 2 {
        return Content::Blank;
    }
    let mut tallest = 0usize;
    let mut band = 0usize;
    let mut gap = 0usize;
    for &r in &rows {
        if r > 0 {
            band += gap + 1;
            gap = 0;
        } else if band > 0 {
            gap += 1;
            // One clear row may be a glyph's counter; two are the space between lines.
            if gap > 1 {
                band = 0;
                gap = 0;
            }
        }
        tallest = tallest.max(band);
    }
    let dense_tiles = tiles
        .iter()
        .filter(|t| t[1] > 0 && t[0] as f32 >= TILE_DENSITY * t[1] as f32)
        .count();
    let tall =
        tallest as f32 >= PICTURE_BAND * h as f32 && tallest as f32 > TYPE_LINE * page_short as f32;
    if tall && dense_tiles >= PICTURE_TILES {
        Content::Picture
    } else {
        Content::Text
    }
}

/// Side of the coarse grid unframed pictures are looked for on, in working pixels.
fn grain(page_short: usize) -> usize {
    (page_short / 100).max(4)
}

/// Pictures without a frame: blocks of marks standing apart on white gutters, whose
/// edges are straight (a posterframe, a toned sketch, a photo). Line art without a frame
/// has no edge to find and is not looked for. Returns candidate rectangles, to be judged
/// like cells.
pub(super) fn unframed(p: &Plane, paper: &Paper, min_side: usize) -> Vec<Boxi> {
    let g = grain(p.w.min(p.h));
    let (gw, gh) = (p.w / g, p.h / g);
    if gw < 3 || gh < 3 {
        return Vec::new();
    }
    let mut on = vec![false; gw * gh];
    for gy in 0..gh {
        for gx in 0..gw {
            let mut n = 0;
            for y in gy * g..(gy + 1) * g {
                for x in gx * g..(gx + 1) * g {
                    n += usize::from(is_mark(p.at(x, y), paper.at(x, y)));
                }
            }
            on[gy * gw + gx] = n >= 2;
        }
    }
    let mut seen = vec![false; gw * gh];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..gw * gh {
        if !on[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut bx0, mut by0, mut bx1, mut by1) = (gw, gh, 0, 0);
        let mut n = 0usize;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % gw, i / gw);
            n += 1;
            bx0 = bx0.min(x);
            by0 = by0.min(y);
            bx1 = bx1.max(x + 1);
            by1 = by1.max(y + 1);
            for ny in y.saturating_sub(1)..(y + 2).min(gh) {
                for nx in x.saturating_sub(1)..(x + 2).min(gw) {
                    let j = ny * gw + nx;
                    if on[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let coarse_area = (bx1 - bx0) * (by1 - by0);
        // Mostly marked, like a picture that fills its rectangle.
        if n * 10 < coarse_area * 6 {
            continue;
        }
        if let Some(b) = tight(p, paper, bx0 * g, by0 * g, bx1 * g, by1 * g) {
            let page = p.w * p.h;
            if b.w() >= min_side
                && b.h() >= min_side
                && b.area() * 2 <= page
                && straight(p, paper, &b)
            {
                out.push(b);
            }
        }
    }
    out
}

/// The marks' own extent within a coarse box.
fn tight(p: &Plane, paper: &Paper, x0: usize, y0: usize, x1: usize, y1: usize) -> Option<Boxi> {
    let (mut a0, mut b0, mut a1, mut b1) = (x1, y1, x0, y0);
    for y in y0..y1 {
        for x in x0..x1 {
            if is_mark(p.at(x, y), paper.at(x, y)) {
                a0 = a0.min(x);
                b0 = b0.min(y);
                a1 = a1.max(x + 1);
                b1 = b1.max(y + 1);
            }
        }
    }
    (a1 > a0 && b1 > b0).then_some(Boxi {
        x0: a0,
        y0: b0,
        x1: a1,
        y1: b1,
    })
}

/// Each side of the box is marked along most of its length within a few pixels of it:
/// the edge of a picture, not the ragged end of lines of text.
fn straight(p: &Plane, paper: &Paper, b: &Boxi) -> bool {
    const DEPTH: usize = 3;
    const SHARE: f32 = 0.8;
    let hit = |x: usize, y: usize| is_mark(p.at(x, y), paper.at(x, y));
    let side_h = |ys: std::ops::Range<usize>| {
        (b.x0..b.x1)
            .filter(|&x| ys.clone().any(|y| hit(x, y)))
            .count() as f32
            >= SHARE * b.w() as f32
    };
    let side_v = |xs: std::ops::Range<usize>| {
        (b.y0..b.y1)
            .filter(|&y| xs.clone().any(|x| hit(x, y)))
            .count() as f32
            >= SHARE * b.h() as f32
    };
    let d = DEPTH.min(b.w() / 2).min(b.h() / 2);
    side_h(b.y0..b.y0 + d)
        && side_h(b.y1 - d..b.y1)
        && side_v(b.x0..b.x0 + d)
        && side_v(b.x1 - d..b.x1)
}
