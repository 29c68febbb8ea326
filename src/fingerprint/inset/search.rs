//! Where a file's insets are: votes counted in overlapping windows of [`WINDOW_S`]
//! seconds, each judged by its own [`InsetFinder`], so that an inset shown for part of
//! a long file is not outvoted by the rest of it.

use std::collections::BTreeMap;

use super::finder::{InsetFinder, Vote};
use super::{overlaps, Rect, MAX_INSETS};

/// Seconds each window of votes covers; windows start every [`WINDOW_STEP_S`], so each
/// frame votes in two. An inset shown for 15 s or more fills a whole window, one shown
/// for 8 s at least 65 % of one.
pub const WINDOW_S: f64 = 10.0;
const WINDOW_STEP_S: f64 = 5.0;
/// Two insets found in different windows are the same when each side is within this
/// share of the frame's side (and 4 pixels) of the other's.
const SAME_INSET: f32 = 0.02;

/// Votes over a file, or over one time range of it, in overlapping windows of
/// [`WINDOW_S`] seconds: each window is judged on its own, and an inset found in any of
/// them is the file's. A window this search saw only part of (one that a range's start
/// or end cuts) is kept whole, to be merged with the neighbouring range's part.
#[derive(Debug, Clone)]
pub struct InsetSearch {
    width: usize,
    height: usize,
    /// Only frames shown in `[from, to)` vote: a range's own, not its context.
    from: f64,
    to: f64,
    /// Windows still taking votes, by index (window `k` covers `k × WINDOW_STEP_S` on).
    open: BTreeMap<i64, InsetFinder>,
    /// Windows cut by `from` or `to`, for [`InsetSearch::merge`].
    partial: BTreeMap<i64, InsetFinder>,
    /// Insets found in windows judged so far, each with its window's index.
    found: Vec<(i64, Rect)>,
}

impl InsetSearch {
    /// A search over frames of `width × height` shown in `[from, to)` seconds.
    pub fn new(width: usize, height: usize, from: f64, to: f64) -> InsetSearch {
        InsetSearch {
            width,
            height,
            from,
            to,
            open: BTreeMap::new(),
            partial: BTreeMap::new(),
            found: Vec::new(),
        }
    }

    /// The size of the frames it votes on, which its insets are in.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Whether a frame shown at `time_s` would vote.
    pub fn wants(&self, time_s: f64) -> bool {
        (self.from..self.to).contains(&time_s)
            && windows_of(time_s).any(|k| self.open.get(&k).is_none_or(|f| f.wants(time_s)))
    }

    /// Offers a frame (see [`InsetFinder::offer`]) to the windows that hold it, first
    /// closing the windows that end before it.
    pub fn offer(&mut self, time_s: f64, width: usize, height: usize, plane: &[u8], stride: usize) {
        if !(self.from..self.to).contains(&time_s) {
            return;
        }
        let first = windows_of(time_s).min().unwrap_or(0);
        let ended: Vec<i64> = self.open.range(..first).map(|(k, _)| *k).collect();
        for k in ended {
            if let Some(finder) = self.open.remove(&k) {
                self.close(k, finder);
            }
        }
        let (w, h) = (self.width, self.height);
        // The frame's edges are found once and counted in each window that holds it.
        let mut vote: Option<Option<Vote>> = None;
        for k in windows_of(time_s) {
            let finder = self.open.entry(k).or_insert_with(|| InsetFinder::new(w, h));
            if !finder.wants(time_s) {
                continue;
            }
            if let Some(v) = vote.get_or_insert_with(|| finder.vote(width, height, plane, stride)) {
                finder.add(time_s, v);
            }
        }
    }

    /// Judges a window whose votes are all in, or keeps it whole if `from` or `to` cut it.
    fn close(&mut self, k: i64, finder: InsetFinder) {
        let start = k as f64 * WINDOW_STEP_S;
        if start < self.from || start + WINDOW_S > self.to {
            self.partial.insert(k, finder);
        } else {
            self.found
                .extend(finder.insets().into_iter().map(|r| (k, r)));
        }
    }

    /// Adds the search over another time range of the same file: windows both saw part
    /// of are merged.
    pub fn merge(&mut self, mut other: InsetSearch) {
        if other.size() != self.size() {
            return;
        }
        self.close_all();
        other.close_all();
        self.from = self.from.min(other.from);
        self.to = self.to.max(other.to);
        self.found.append(&mut other.found);
        for (k, finder) in other.partial {
            match self.partial.get_mut(&k) {
                Some(mine) => mine.merge(&finder),
                None => {
                    self.partial.insert(k, finder);
                }
            }
        }
    }

    fn close_all(&mut self) {
        for (k, finder) in std::mem::take(&mut self.open) {
            self.close(k, finder);
        }
    }

    /// The insets found, the one found in most windows first, each shrunk by two
    /// pixels a side (see [`InsetFinder::insets`]). Windows still cut at the end are
    /// judged on the votes they have.
    pub fn insets(mut self) -> Vec<Rect> {
        self.close_all();
        for (k, finder) in std::mem::take(&mut self.partial) {
            self.found
                .extend(finder.insets().into_iter().map(|r| (k, r)));
        }
        self.found.sort_by_key(|(k, _)| *k);
        let (w, h) = (self.width, self.height);
        let same = |a: &Rect, b: &Rect| {
            let tol_x = ((SAME_INSET * w as f32) as usize).max(4);
            let tol_y = ((SAME_INSET * h as f32) as usize).max(4);
            a.x.abs_diff(b.x) <= tol_x
                && (a.x + a.width).abs_diff(b.x + b.width) <= tol_x
                && a.y.abs_diff(b.y) <= tol_y
                && (a.y + a.height).abs_diff(b.y + b.height) <= tol_y
        };
        // Each distinct inset with the number of windows it was found in; the earliest
        // window's rectangle stands for it.
        let mut distinct: Vec<(Rect, usize)> = Vec::new();
        for (_, rect) in &self.found {
            match distinct.iter_mut().find(|(d, _)| same(d, rect)) {
                Some((_, n)) => *n += 1,
                None => distinct.push((*rect, 1)),
            }
        }
        distinct.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let mut chosen: Vec<Rect> = Vec::new();
        for (rect, _) in distinct {
            if chosen.len() < MAX_INSETS && chosen.iter().all(|c| !overlaps(c, &rect)) {
                chosen.push(rect);
            }
        }
        chosen
    }
}

/// The windows that hold a frame shown at `time_s`. The file's first and last windows
/// hold only its first and last few seconds.
fn windows_of(time_s: f64) -> std::ops::RangeInclusive<i64> {
    let last = (time_s / WINDOW_STEP_S).floor() as i64;
    let per = (WINDOW_S / WINDOW_STEP_S).round() as i64;
    last - per + 1..=last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::inset::testing::{footage, plane};
    use crate::fingerprint::inset::SAMPLE_EVERY_S;

    /// 40 s of footage, sampled as a decoder would (every 0.5 s), with the eval's inset
    /// shown over 14-26 s only.
    fn part_time_inset(t: f64, x: usize, y: usize) -> u8 {
        let f = (t * 2.0).round() as u32;
        let inside = (136..296).contains(&x) && (12..102).contains(&y);
        if inside && (14.0..26.0).contains(&t) {
            footage(f * 7 + 1, x + 5, y + 3)
        } else {
            footage(f * 7 + 1000, x, y)
        }
    }

    fn search(from: f64, to: f64) -> InsetSearch {
        let (w, h) = (320, 180);
        let mut search = InsetSearch::new(w, h, from, to);
        for i in 0..80 {
            let t = f64::from(i) * SAMPLE_EVERY_S;
            if search.wants(t) {
                search.offer(t, w, h, &plane(w, h, |x, y| part_time_inset(t, x, y)), w);
            }
        }
        search
    }

    #[test]
    fn an_inset_shown_for_part_of_a_file_is_found_in_its_windows() {
        // Over the whole file the inset's edges are in 30 % of the votes: too few.
        let (w, h) = (320, 180);
        let mut whole = InsetFinder::new(w, h);
        for i in 0..80 {
            let t = f64::from(i) * SAMPLE_EVERY_S;
            whole.offer(t, w, h, &plane(w, h, |x, y| part_time_inset(t, x, y)), w);
        }
        assert!(whole.insets().is_empty());
        let found = search(f64::NEG_INFINITY, f64::INFINITY).insets();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].x.abs_diff(138) <= 2 && found[0].y.abs_diff(14) <= 2,
            "{:?}",
            found[0]
        );
    }

    #[test]
    fn a_search_cut_into_ranges_finds_what_one_pass_finds() {
        let one = search(f64::NEG_INFINITY, f64::INFINITY).insets();
        // Cuts inside the inset's time and between window starts.
        for cut in [17.25, 20.0, 23.5] {
            let mut first = search(0.0, cut);
            first.merge(search(cut, f64::INFINITY));
            assert_eq!(first.insets(), one, "cut at {cut} s");
        }
    }
}
