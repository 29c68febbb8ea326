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
