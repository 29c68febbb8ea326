//! Connected components (4-connected) of a mask, by runs: each row's runs are joined to
//! the runs above them they touch (union-find), then labels are made final in one pass.
//! Two passes over the page, no per-pixel stack.

use super::cells::Boxi;

/// What is known of one component.
#[derive(Debug, Clone, Copy)]
pub(super) struct Component {
    pub bbox: Boxi,
    /// Pixels in it.
    pub n: usize,
    /// It reaches the page's edge.
    pub edge: bool,
}

fn find(parent: &mut [u32], mut a: u32) -> u32 {
    while parent[a as usize] != a {
        let up = parent[parent[a as usize] as usize];
        parent[a as usize] = up;
        a = up;
    }
    a
}

/// Labels the pixels where `on` holds: 0 off, `k` for the component `components[k - 1]`.
pub(super) fn components(w: usize, h: usize, on: &[bool]) -> (Vec<u32>, Vec<Component>) {
    let mut labels = vec![0u32; w * h];
    let mut parent: Vec<u32> = vec![0];
    for y in 0..h {
        let row = y * w;
        let mut x = 0;
        while x < w {
            if !on[row + x] {
                x += 1;
                continue;
            }
            let s = x;
            while x < w && on[row + x] {
                x += 1;
            }
            let mut id = 0u32;
            if y > 0 {
                for above in &labels[row - w + s..row - w + x] {
                    if *above == 0 {
                        continue;
                    }
                    let r = find(&mut parent, *above);
                    if id == 0 {
                        id = r;
                    } else if r != id {
                        let (lo, hi) = (r.min(id), r.max(id));
                        parent[hi as usize] = lo;
                        id = lo;
                    }
                }
            }
            if id == 0 {
                id = parent.len() as u32;
                parent.push(id);
            }
            labels[row + s..row + x].fill(id);
        }
    }
    // Final, dense labels: each root numbered in the order first met.
    let mut final_of = vec![0u32; parent.len()];
    let mut comps: Vec<Component> = Vec::new();
    for l in 1..parent.len() as u32 {
        let r = find(&mut parent, l);
        if r == l {
            comps.push(Component {
                bbox: Boxi {
                    x0: usize::MAX,
                    y0: usize::MAX,
                    x1: 0,
                    y1: 0,
                },
                n: 0,
                edge: false,
            });
            final_of[l as usize] = comps.len() as u32;
        } else {
            final_of[l as usize] = final_of[r as usize];
        }
    }
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if labels[i] == 0 {
                continue;
            }
            let f = final_of[labels[i] as usize];
            labels[i] = f;
            let c = &mut comps[f as usize - 1];
            c.n += 1;
            c.bbox.x0 = c.bbox.x0.min(x);
            c.bbox.y0 = c.bbox.y0.min(y);
            c.bbox.x1 = c.bbox.x1.max(x + 1);
            c.bbox.y1 = c.bbox.y1.max(y + 1);
            c.edge |= x == 0 || y == 0 || x + 1 == w || y + 1 == h;
        }
    }
    (labels, comps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain flood fill on random masks: the same partition.
    #[test]
    fn runs_label_like_a_flood_fill() {
        let (w, h) = (37, 23);
        let mut s = 99u32;
        for _ in 0..50 {
            let on: Vec<bool> = (0..w * h)
                .map(|_| {
                    s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (s >> 16) % 100 < 55
                })
                .collect();
            let (labels, comps) = components(w, h, &on);
            let mut flood = vec![0usize; w * h];
            let mut k = 0;
            for start in 0..w * h {
                if !on[start] || flood[start] != 0 {
                    continue;
                }
                k += 1;
                let mut stack = vec![start];
                flood[start] = k;
                while let Some(i) = stack.pop() {
                    let (x, y) = (i % w, i / w);
                    let near = [
                        (x > 0).then(|| i - 1),
                        (x + 1 < w).then_some(i + 1),
                        (y > 0).then(|| i - w),
                        (y + 1 < h).then_some(i + w),
                    ];
                    for j in near.into_iter().flatten() {
                        if on[j] && flood[j] == 0 {
                            flood[j] = k;
                            stack.push(j);
                        }
                    }
                }
            }
            assert_eq!(comps.len(), k);
            for i in 0..w * h {
                for j in [i + 1, i + w] {
                    if j < w * h && on[i] && on[j] {
                        assert_eq!(labels[i] == labels[j], flood[i] == flood[j]);
                    }
                }
                assert_eq!(labels[i] == 0, !on[i]);
            }
            let n: usize = comps.iter().map(|c| c.n).sum();
            assert_eq!(n, on.iter().filter(|&&o| o).count());
        }
    }
}
