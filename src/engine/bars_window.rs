//! Bars judged over a window of frames, as FFmpeg's `cropdetect` judges them, rather
//! than frame by frame.
//!
//! One frame alone can mislead: in a dark shot the picture's own edges read as bars for
//! a few frames, and a flash or a fade can hide the bars. So each side of each frame's
//! bars is the median of that side over the frame and up to `reach` frames either side.
//! A median, unlike cropdetect's widest box since the last reset, keeps a real change
//! exactly where it happens: a letterboxed excerpt cut into full-frame footage changes
//! at its first frame, and its start time is not lost.

use std::collections::VecDeque;

use crate::fingerprint::borders::Bars;

/// Frames held back until the bars of the frames after them are known. `T` is what is
/// handed on with each frame's windowed bars (its pixels); there is one `Bars` a track.
pub struct BarsWindow<T> {
    reach: usize,
    /// Bars of the last `reach` frames handed on, newest last.
    past: VecDeque<Vec<Bars>>,
    /// Frames not handed on yet, oldest first, with their own bars.
    ahead: VecDeque<(Vec<Bars>, T)>,
}

impl<T> BarsWindow<T> {
    /// A window of the frame and `reach` frames either side (0: every frame alone).
    pub fn new(reach: usize) -> Self {
        BarsWindow {
            reach,
            past: VecDeque::with_capacity(reach),
            ahead: VecDeque::with_capacity(reach + 1),
        }
    }

    /// Whether a frame with these own bars may be handed on at once, without being held:
    /// nothing is held before it, and the last `reach` frames had the same bars, so with
    /// its own they are a majority of its window whatever the frames after it show. In
    /// footage whose bars do not change, that is every frame once the window has filled.
    pub fn settled(&self, bars: &[Bars]) -> bool {
        self.ahead.is_empty() && self.past_agrees(bars)
    }

    /// Whether the last `reach` frames handed on all had these bars: with the frame's
    /// own, a strict majority of any window it can have, so each side's median is its own.
    fn past_agrees(&self, bars: &[Bars]) -> bool {
        self.past.len() == self.reach && self.past.iter().all(|p| p.as_slice() == bars)
    }

    /// The oldest frame held, if any.
    pub fn oldest(&self) -> Option<&T> {
        self.ahead.front().map(|(_, item)| item)
    }

    /// Records a frame handed on at once (see [`BarsWindow::settled`]).
    pub fn pass(&mut self, bars: Vec<Bars>) {
        debug_assert!(self.settled(&bars));
        self.remember(bars);
    }

    /// Adds the next frame, with its own bars, and hands on every frame whose window is
    /// now complete.
    pub fn push(&mut self, bars: Vec<Bars>, item: T, out: &mut impl FnMut(T, &[Bars], &[Bars])) {
        self.ahead.push_back((bars, item));
        // The oldest frame goes once the frames after it are seen, or sooner when the
        // frames before it already decide.
        while let Some((front, _)) = self.ahead.front() {
            if self.ahead.len() <= self.reach && !self.past_agrees(front) {
                break;
            }
            self.release(out);
        }
    }

    /// Hands on every frame held, at the end of the stream.
    pub fn flush(&mut self, out: &mut impl FnMut(T, &[Bars], &[Bars])) {
        while !self.ahead.is_empty() {
            self.release(out);
        }
        self.past.clear();
    }

    /// Hands on the oldest frame held with its own bars and its window's.
    fn release(&mut self, out: &mut impl FnMut(T, &[Bars], &[Bars])) {
        let Some((own, item)) = self.ahead.pop_front() else {
            return;
        };
        let window = self
            .past
            .iter()
            .chain(std::iter::once(&own))
            .chain(self.ahead.iter().take(self.reach).map(|(b, _)| b));
        let bars = window_bars(window);
        out(item, &own, &bars);
        self.remember(own);
    }

    fn remember(&mut self, own: Vec<Bars>) {
        if self.reach > 0 {
            if self.past.len() == self.reach {
                self.past.pop_front();
            }
            self.past.push_back(own);
        }
    }
}

/// The bars of each track over a window of frames (each frame's own bars, one a track).
pub fn window_bars<'a>(window: impl Iterator<Item = &'a Vec<Bars>> + Clone) -> Vec<Bars> {
    let tracks = window.clone().next().map_or(0, Vec::len);
    (0..tracks)
        .map(|track| median(window.clone().map(|frame| frame[track])))
        .collect()
}

/// Each side's lower median: of two middle values the smaller bar, which keeps more
/// of the picture.
fn median(frames: impl Iterator<Item = Bars>) -> Bars {
    let frames: Vec<Bars> = frames.collect();
    let side = |pick: fn(&Bars) -> usize| {
        let mut v: Vec<usize> = frames.iter().map(pick).collect();
        v.sort_unstable();
        v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0)
    };
    Bars {
        top: side(|b| b.top),
        bottom: side(|b| b.bottom),
        left: side(|b| b.left),
        right: side(|b| b.right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letterbox(rows: usize) -> Vec<Bars> {
        vec![Bars {
            top: rows,
            bottom: rows,
            ..Bars::default()
        }]
    }

    /// Runs frames with these top and bottom bars through a window and returns each
    /// frame's windowed top bar.
    fn tops(reach: usize, frames: &[usize]) -> Vec<usize> {
        let mut window = BarsWindow::new(reach);
        let mut got = Vec::new();
        let mut out = |i: usize, _: &[Bars], b: &[Bars]| got.push((i, b[0].top));
        for (i, &rows) in frames.iter().enumerate() {
            window.push(letterbox(rows), i, &mut out);
        }
        window.flush(&mut out);
        assert!(
            got.iter().enumerate().all(|(n, (i, _))| n == *i),
            "in order"
        );
        got.into_iter().map(|(_, top)| top).collect()
    }

    #[test]
    fn a_few_misread_frames_take_the_bars_of_their_neighbours() {
        // Twelve frames of a dark shot whose own edges read as bars, half a second at 24
        // fps, then a flash that hides the bars.
        let mut frames = vec![60; 40];
        for f in &mut frames[14..26] {
            *f = 120;
        }
        frames[33] = 0;
        assert_eq!(tops(12, &frames), vec![60; 40]);
    }

    #[test]
    fn a_cut_between_letterboxed_and_full_frame_stays_where_it_is() {
        let frames: Vec<usize> = (0..40).map(|i| if i < 17 { 60 } else { 0 }).collect();
        let got = tops(12, &frames);
        assert_eq!(&got[..17], &[60; 17]);
        assert_eq!(&got[17..], &[0; 23]);
    }

    /// Handing on settled frames at once must not change any frame's bars.
    #[test]
    fn settled_frames_get_the_bars_a_full_window_gives_them() {
        let mut frames = vec![60; 200];
        for f in &mut frames[30..45] {
            *f = 120;
        }
        frames[60] = 0;
        for f in &mut frames[70..] {
            *f = 0;
        }
        let mut window = BarsWindow::new(12);
        let mut got = Vec::new();
        let mut passed = 0;
        for (i, &rows) in frames.iter().enumerate() {
            let own = letterbox(rows);
            if window.settled(&own) {
                got.push((i, own[0].top));
                window.pass(own);
                passed += 1;
            } else {
                window.push(own, i, &mut |i, _: &[Bars], b: &[Bars]| {
                    got.push((i, b[0].top))
                });
            }
        }
        window.flush(&mut |i, _: &[Bars], b: &[Bars]| got.push((i, b[0].top)));
        // Frames 70–199 share their bars: all but their first few pass at once.
        assert!(
            passed >= 100,
            "only {passed} frames handed on without being held"
        );
        assert!(
            got.iter().enumerate().all(|(n, (i, _))| n == *i),
            "in order"
        );
        let tops: Vec<usize> = got.into_iter().map(|(_, t)| t).collect();
        assert_eq!(tops, super::tests::tops(12, &frames));
    }

    #[test]
    fn reach_zero_is_frame_by_frame() {
        let frames = [60, 0, 120, 60];
        assert_eq!(tops(0, &frames), vec![60, 0, 120, 60]);
    }

    #[test]
    fn each_track_and_side_has_its_own_median() {
        let mut window = BarsWindow::new(1);
        let mut got = Vec::new();
        let frame = |top, left| {
            vec![
                Bars {
                    top,
                    ..Bars::default()
                },
                Bars {
                    left,
                    ..Bars::default()
                },
            ]
        };
        let mut out = |_: (), _: &[Bars], b: &[Bars]| got.push((b[0].top, b[1].left));
        window.push(frame(10, 0), (), &mut out);
        window.push(frame(10, 7), (), &mut out);
        window.push(frame(0, 7), (), &mut out);
        window.flush(&mut out);
        assert_eq!(got, vec![(10, 0), (10, 7), (0, 7)]);
    }
}
