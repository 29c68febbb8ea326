//! Synthetic pages drawn with plain pixel loops: frames, pictures of random strokes,
//! rows of glyph-sized blocks for text.

use super::*;

struct Page {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Page {
    fn new(w: usize, h: usize) -> Page {
        Page {
            w,
            h,
            px: vec![255; w * h],
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, v: u8) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                self.px[yy * self.w + xx] = v;
            }
        }
    }

    /// A `t` px frame just outside the box, as storyboard tools draw it.
    fn frame(&mut self, b: [usize; 4], t: usize, v: u8) {
        let [x, y, w, h] = b;
        self.fill(x - t, y - t, w + 2 * t, t, v);
        self.fill(x - t, y + h, w + 2 * t, t, v);
        self.fill(x - t, y, t, h, v);
        self.fill(x + w, y, t, h, v);
    }

    /// Random strokes and blobs over the whole box.
    fn picture(&mut self, b: [usize; 4], seed: u64) {
        let [x, y, w, h] = b;
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut rnd = |n: usize| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as usize) % n.max(1)
        };
        for _ in 0..60 {
            let (ax, ay, bx, by) = (rnd(w), rnd(h), rnd(w), rnd(h));
            let v = 30 + rnd(120) as u8;
            let steps = ax.abs_diff(bx).max(ay.abs_diff(by)).max(1);
            for i in 0..=steps {
                let px = ax as f32 + (bx as f32 - ax as f32) * i as f32 / steps as f32;
                let py = ay as f32 + (by as f32 - ay as f32) * i as f32 / steps as f32;
                self.fill(x + px as usize, y + py as usize, 2, 2, v);
            }
        }
        for _ in 0..6 {
            let (cx, cy, r) = (rnd(w), rnd(h), 5 + rnd(w / 10));
            for yy in cy.saturating_sub(r)..(cy + r).min(h) {
                for xx in cx.saturating_sub(r)..(cx + r).min(w) {
                    if (xx.abs_diff(cx).pow(2) + yy.abs_diff(cy).pow(2)) < r * r {
                        self.px[(y + yy) * self.w + x + xx] = 90;
                    }
                }
            }
        }
    }

    /// A filled, textured picture with no frame: a posterframe on white.
    fn tone(&mut self, b: [usize; 4], seed: u64) {
        let [x, y, w, h] = b;
        for yy in 0..h {
            for xx in 0..w {
                let v = 120 + ((xx * 7 + yy * 3 + seed as usize * 11) % 90) as u8;
                self.px[(y + yy) * self.w + x + xx] = v;
            }
        }
        self.picture(b, seed);
    }

    /// `lines` lines of glyph blocks (7x11 px, 3 px apart, a space every 6) from (x, y).
    fn text(&mut self, x: usize, y: usize, width: usize, lines: usize) {
        for l in 0..lines {
            let mut gx = x;
            let mut i = 0;
            while gx + 7 < x + width {
                if i % 6 != 5 {
                    self.fill(gx, y + l * 20, 7, 11, 40);
                }
                gx += 10;
                i += 1;
            }
        }
    }

    fn image(&self) -> GrayImage {
        GrayImage::from_raw(self.w as u32, self.h as u32, self.px.clone()).unwrap()
    }
}

fn iou(a: &Rect, [x, y, width, height]: [usize; 4]) -> f32 {
    a.iou(&Rect {
        x,
        y,
        width,
        height,
    }) as f32
}

fn assert_found(got: &[Panel], want: &[[usize; 4]], min_iou: f32) {
    assert_eq!(got.len(), want.len(), "panels: {got:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            iou(&g.rect, *w) >= min_iou,
            "{:?} vs {w:?}: {}",
            g.rect,
            iou(&g.rect, *w)
        );
    }
}

/// A header (title, rule), a 2x3 grid of framed pictures with captions under them, and a
/// footer rule: a Storyboarder-like page.
fn grid_page(draw: bool) -> (Page, Vec<[usize; 4]>) {
    let mut p = Page::new(1650, 1275);
    p.text(40, 30, 500, 2);
    p.fill(40, 90, 1570, 2, 0);
    let mut boxes = Vec::new();
    for row in 0..2 {
        for col in 0..3 {
            let b = [90 + col * 520, 180 + row * 500, 420, 280];
            p.frame(b, 2, 0);
            if draw {
                p.picture(b, (row * 3 + col) as u64);
            }
            p.text(b[0], b[1] + b[3] + 12, 380, 2);
            p.text(b[0], b[1] - 30, 60, 1);
            boxes.push(b);
        }
    }
    p.fill(40, 1200, 1570, 1, 120);
    p.text(40, 1215, 300, 1);
    (p, boxes)
}

#[test]
fn a_grid_of_framed_pictures_is_found_in_reading_order() {
    let (p, want) = grid_page(true);
    let got = find_panels(&p.image());
    assert_found(&got, &want, 0.95);
    assert!(got.iter().all(|g| !g.blank));
}

/// Stacked pictures, each with framed text boxes to its right: small fields in a row,
/// an action box with lines of text and a dialogue box with only its label.
#[test]
fn framed_text_boxes_beside_stacked_panels_are_not_panels() {
    let mut p = Page::new(1650, 1275);
    p.text(60, 30, 600, 2);
    p.fill(60, 120, 1530, 3, 0);
    let mut want = Vec::new();
    for i in 0..3 {
        let y = 180 + i * 338;
        let b = [220, y, 400, 300];
        p.frame(b, 2, 0);
        p.picture(b, 10 + i as u64);
        want.push(b);
        for (j, w) in [0usize, 210, 420].iter().enumerate() {
            let f = [800 + w, y, 195, 50];
            p.frame(f, 1, 110);
            p.text(f[0] + 6, f[1] + 5, 40 + 30 * j, 2);
        }
        let action = [800, y + 65, 790, 115];
        p.frame(action, 1, 110);
        p.text(action[0] + 6, action[1] + 5, 700, 4);
        let dialogue = [800, y + 195, 790, 105];
        p.frame(dialogue, 1, 110);
        p.text(dialogue[0] + 6, dialogue[1] + 5, 70, 1);
    }
    let got = find_panels(&p.image());
    assert_found(&got, &want, 0.95);
}

#[test]
fn unframed_pictures_on_white_gutters_are_found() {
    let mut p = Page::new(1650, 1275);
    p.text(60, 30, 600, 2);
    let mut want = Vec::new();
    for row in 0..2 {
        for col in 0..2 {
            let b = [150 + col * 700, 200 + row * 520, 600, 400];
            p.tone(b, (row * 2 + col) as u64);
            p.text(b[0], b[1] + b[3] + 20, 400, 2);
            want.push(b);
        }
    }
    let got = find_panels(&p.image());
    assert_found(&got, &want, 0.95);
}

#[test]
fn an_empty_template_gives_blank_panels() {
    let (p, want) = grid_page(false);
    let got = find_panels(&p.image());
    assert_found(&got, &want, 0.95);
    assert!(got.iter().all(|g| g.blank), "{got:?}");
}

#[test]
fn a_page_without_panels_gives_nothing() {
    let mut p = Page::new(1650, 1275);
    p.text(60, 30, 900, 3);
    p.fill(60, 120, 1530, 3, 0);
    for i in 0..20 {
        p.text(100, 200 + i * 45, 1200 - (i % 4) * 150, 1);
    }
    let framed_note = [100, 1120, 1400, 100];
    p.frame(framed_note, 2, 0);
    p.text(110, 1130, 1200, 3);
    assert_eq!(find_panels(&p.image()), Vec::new());
}

/// The grid page turned 1.5° clockwise about its centre, as a skewed scan: each panel
/// is expected as the upright box of its size about where its centre went.
#[test]
fn a_skewed_page_gives_boxes_in_its_own_pixels() {
    let (p, boxes) = grid_page(true);
    for deg in [1.5f32, -1.5] {
        let plane = Plane {
            w: p.w,
            h: p.h,
            px: p.px.clone(),
        };
        let turned = prep::rotated(&plane, deg, 255);
        let img = GrayImage::from_raw(p.w as u32, p.h as u32, turned.px).unwrap();
        let want: Vec<[usize; 4]> = boxes
            .iter()
            .map(|&[x, y, w, h]| {
                let c = (x as f32 + w as f32 / 2.0, y as f32 + h as f32 / 2.0);
                let (cx, cy) = prep::to_page(p.w, p.h, deg, c.0, c.1);
                [
                    (cx - w as f32 / 2.0) as usize,
                    (cy - h as f32 / 2.0) as usize,
                    w,
                    h,
                ]
            })
            .collect();
        let got = find_panels(&img);
        assert_found(&got, &want, 0.9);
    }
}

/// A frame whose bottom rule is not level all along (a deskewed scan's rule a pixel or
/// two out at one end, a ragged edge): the box reaches below the rule there, and the
/// picture still starts and ends inside the rule everywhere else. Boxes that took the
/// rule in cost the -2 degree scans of the shared pages 30 bits of PDQ on two panels.
#[test]
fn a_rule_out_of_level_at_one_end_stays_outside_the_box() {
    let (mut p, boxes) = grid_page(true);
    for &[x, y, _, h] in &boxes {
        // The rule (2 px under the picture) dips 2 px for its first 40 px.
        p.fill(x - 2, y + h + 2, 40, 2, 0);
    }
    let got = find_panels(&p.image());
    assert_eq!(got.len(), boxes.len(), "panels: {got:?}");
    for (g, &[x, y, w, h]) in got.iter().zip(&boxes) {
        let r = g.rect;
        assert!(
            r.x.abs_diff(x) <= 1 && r.y.abs_diff(y) <= 1,
            "{r:?} vs {:?}",
            [x, y, w, h]
        );
        assert!(
            r.width.abs_diff(w) <= 1 && r.height.abs_diff(h) <= 1,
            "{r:?} vs {:?}: the rule is in the box",
            [x, y, w, h]
        );
    }
}

#[test]
fn the_skew_is_measured() {
    let (p, _) = grid_page(true);
    let plane = Plane {
        w: p.w,
        h: p.h,
        px: p.px.clone(),
    };
    for deg in [2.0f32, -0.7, 0.0] {
        let turned = prep::rotated(&plane, deg, 255);
        let paper = Paper::of(&turned);
        let ink = prep::ink_mask(&turned, &paper);
        let got = prep::skew_degrees(&turned, &ink);
        assert!((got - deg).abs() <= 0.05, "{deg}: {got}");
    }
}

#[test]
fn odd_pages_do_not_panic_and_give_nothing() {
    let mut noise = vec![0u8; 1200 * 900];
    let mut s = 7u32;
    for v in &mut noise {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *v = (s >> 16) as u8;
    }
    let pages = [
        GrayImage::from_raw(1, 1, vec![0]).unwrap(),
        GrayImage::from_raw(1200, 900, vec![0; 1200 * 900]).unwrap(),
        GrayImage::from_raw(1200, 900, vec![255; 1200 * 900]).unwrap(),
        GrayImage::from_raw(1200, 900, noise).unwrap(),
        GrayImage::from_raw(20000, 20, vec![128; 20000 * 20]).unwrap(),
        GrayImage::from_raw(20, 20000, vec![0; 20000 * 20]).unwrap(),
        GrayImage::from_raw(33, 33, (0..33 * 33).map(|i| (i % 2 * 255) as u8).collect()).unwrap(),
    ];
    for page in &pages {
        assert_eq!(
            find_panels(page),
            Vec::new(),
            "{}x{}",
            page.width(),
            page.height()
        );
    }
}

/// A page larger than the working size is shrunk, and its panels come back in its own
/// pixels.
#[test]
fn a_large_page_is_worked_on_shrunk() {
    let (p, boxes) = grid_page(true);
    let k = 3;
    let mut big = Page::new(p.w * k, p.h * k);
    for y in 0..big.h {
        for x in 0..big.w {
            big.px[y * big.w + x] = p.px[(y / k) * p.w + x / k];
        }
    }
    let want: Vec<[usize; 4]> = boxes.iter().map(|b| b.map(|v| v * k)).collect();
    assert_found(&find_panels(&big.image()), &want, 0.95);
}
