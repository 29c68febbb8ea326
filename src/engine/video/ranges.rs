//! One file cut at keyframes into time ranges decoded in parallel, and joined into
//! exactly the segments one pass gives, with no frame decoded twice for it.
//!
//! Two things reach across a cut. Bars are judged over the frames either side of each
//! frame: a range decodes past its end while its last frames wait for the frames after
//! them, and the join judges the first frames after the cut again across it, hashing
//! again those whose bars change ([`head_fixes`], [`rehash_head`]). And a segment's
//! frames are chained to its first frame, which may lie before the cut: the join
//! carries the chain of the ranges before through the range's first frames until both
//! chains open a segment at the same frame ([`Piece::join`]).

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::Path;

use rayon::prelude::*;

use super::{fingerprint_range, pdq_in, video_options, Decoded, Sampling};
use crate::engine::bars_window::window_bars;
use crate::fingerprint::borders::Bars;
use crate::fingerprint::pdq::PdqDct;
use crate::fingerprint::segments::{SegmentOptions, SegmentWithDct, Segmenter};
use crate::fingerprint::FingerprintParams;
use crate::media::video::{decode_video, keyframe_times, Frame, Keyframe};
use crate::media::MediaError;

/// A time range of a file decoded on its own: the frames in `[start, end)`, decoded
/// from the keyframe at `start`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range {
    pub(super) start: f64,
    pub(super) end: f64,
    /// The time of the frame shown before the keyframe ([`Keyframe::previous_s`]).
    pub(super) previous_frame_s: Option<f64>,
}

/// A range decoded on its own, with what joining it to the ranges before needs: its
/// segments are the one pass's from a point that only the join can tell.
struct Piece {
    decoded: Decoded,
    edges: Edges,
}

/// What a range records while it is decoded for its join ([`Piece::join`]): its first
/// frames whole, and the bars of its last ones.
pub(super) struct Edges {
    /// The range's start.
    from: f64,
    /// How many frames either side bars were judged over.
    reach: usize,
    /// Frames handed on (sampled frames).
    frames: usize,
    /// The first frames: the span where bars may have been judged without the frames
    /// before the cut, and where the chains before it are carried on.
    head: Vec<HeadFrame>,
    /// The bars of the last `2 × reach + 1` frames (all of them when fewer).
    tail: VecDeque<EdgeBars>,
}

impl Edges {
    pub(super) fn new(from: f64, reach: usize) -> Edges {
        Edges {
            from,
            reach,
            frames: 0,
            head: Vec::new(),
            tail: VecDeque::new(),
        }
    }

    /// Frames within a window's reach of a cut, either side.
    fn span(&self) -> usize {
        2 * self.reach + 1
    }

    /// Whether the next frame, shown at `time_s`, is to be kept whole; `opened` is the
    /// fewest segments any track's chain has opened so far.
    pub(super) fn keeps_whole(&self, time_s: f64, opened: usize) -> bool {
        let young =
            self.frames < self.span() || time_s < self.from + SYNC_SPAN_S || opened < SYNC_SEGMENTS;
        self.head.len() == self.frames && young && time_s < self.from + MAX_HEAD_S
    }

    /// Records the next frame: its own bars and those it was hashed inside, and, when
    /// [`Edges::keeps_whole`] said so, its DCTs (one a track) and secondary hash.
    pub(super) fn record(
        &mut self,
        frame: &Frame<'_>,
        own: &[Bars],
        used: &[Bars],
        whole: Option<(Vec<PdqDct>, u64)>,
    ) {
        let bars = EdgeBars {
            own: own.to_vec(),
            used: used.to_vec(),
        };
        if let Some((dcts, secondary)) = whole {
            self.head.push(HeadFrame {
                time_s: frame.time_s,
                duration_s: frame.duration_s,
                bars: bars.clone(),
                dcts,
                secondary,
            });
        }
        self.tail.push_back(bars);
        if self.tail.len() > self.span() {
            self.tail.pop_front();
        }
        self.frames += 1;
    }
}

/// A frame's own bars and the bars it was hashed inside, one of each a track.
#[derive(Debug, Clone, PartialEq)]
struct EdgeBars {
    own: Vec<Bars>,
    used: Vec<Bars>,
}

/// A frame near the start of a range, kept whole for the join.
struct HeadFrame {
    time_s: f64,
    duration_s: f64,
    bars: EdgeBars,
    /// One a track.
    dcts: Vec<PdqDct>,
    secondary: u64,
}

/// Frames are kept at the start of each range for the join to carry the segment chains
/// of the range before through, until the two chains start a segment at the same
/// frame: the first `SYNC_SPAN_S` seconds, and on until each track's own chain has
/// opened `SYNC_SEGMENTS` segments (a drawing held across the cut ends the same way
/// for both), but never past `MAX_HEAD_S`. Where the chains have not met within them,
/// the file is decoded again in one pass.
const SYNC_SPAN_S: f64 = 2.0;
const SYNC_SEGMENTS: usize = 6;
const MAX_HEAD_S: f64 = 10.0;

impl Piece {
    /// Joins `next`, the range that follows, onto this one, carrying each track's chain
    /// through `next`'s first frames until it starts a segment at a frame where
    /// `next`'s own chain does, at `trusted_from` or later (the frames before it were
    /// hashed again, [`rehash_head`]); from there on the two chains are the same. False
    /// when they do not meet within the frames kept.
    fn join(&mut self, next: Piece, trusted_from: usize, opts: SegmentOptions) -> bool {
        let whole = next.edges.head.len() == next.edges.frames;
        let (tracks, info, finder, features) = next.decoded;
        for (track, (joined, mut local)) in self.decoded.0.iter_mut().zip(tracks).enumerate() {
            let mut chain = Segmenter::resume(opts, std::mem::take(joined));
            let start = |s: &SegmentWithDct| s.segment.start_s.unwrap_or(f64::NAN);
            let mut met = None;
            for (i, frame) in next.edges.head.iter().enumerate() {
                let secondary = if track == 0 { frame.secondary } else { 0 };
                let dct = frame.dcts[track].clone();
                let opened = chain.push(frame.time_s, frame.duration_s, dct, || secondary);
                if opened && i >= trusted_from {
                    met = local.iter().position(|s| start(s) == frame.time_s);
                    if met.is_some() {
                        break;
                    }
                }
            }
            let mut done = chain.finish();
            match met {
                Some(i) => {
                    done.pop();
                    done.extend(local.drain(i..));
                }
                // Every frame of `next` went through the chain.
                None if whole => {}
                None => return false,
            }
            *joined = done;
        }
        let (_, joined_info, joined_finder, joined_features) = &mut self.decoded;
        joined_features.extend(features);
        match (joined_finder, finder) {
            (Some(f), Some(p)) => f.merge(p),
            (f, p) => *f = f.take().or(p),
        }
        joined_info.frames_decoded += info.frames_decoded;
        joined_info.partial = joined_info.partial.take().or(info.partial);
        let edges = &mut self.edges;
        edges.frames += next.edges.frames;
        edges.tail.extend(next.edges.tail);
        while edges.tail.len() > edges.span() {
            edges.tail.pop_front();
        }
        true
    }
}

/// The first frames of `next` that were hashed inside other bars than their whole
/// window, across the cut, gives them: their place in `next.head`, and those bars.
/// `before` holds the bars of the last `2 × reach + 1` frames before the cut (all of
/// them when fewer); `last`: nothing follows `next`, so a window that runs past its end
/// is cut short in one pass too. `None` when that cannot be told: a frame before the
/// cut is wrong (its range decoded the frames after its end to judge it), or the windows
/// reach past what is known of `next`.
fn head_fixes(
    before: &VecDeque<EdgeBars>,
    next: &Edges,
    last: bool,
) -> Option<Vec<(usize, Vec<Bars>)>> {
    let reach = next.reach;
    let after = &next.head;
    let whole = after.len() == next.frames;
    if after.len() < 2 * reach && !(whole && last) {
        return None;
    }
    let seq: Vec<&EdgeBars> = before.iter().chain(after.iter().map(|h| &h.bars)).collect();
    let cut = before.len();
    let mut fixes = Vec::new();
    for i in cut.saturating_sub(reach)..(cut + reach).min(seq.len()) {
        let window = &seq[i.saturating_sub(reach)..(i + reach + 1).min(seq.len())];
        let bars = window_bars(window.iter().map(|e| &e.own));
        if bars != seq[i].used {
            if i < cut {
                return None;
            }
            fixes.push((i - cut, bars));
        }
    }
    Some(fixes)
}

/// Hashes the frames at `fixes` of a range's head again, inside the bars given there:
/// decodes the range from its keyframe as far as the last of them.
fn rehash_head(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    range: Range,
    head: &mut [HeadFrame],
    fixes: &[(usize, Vec<Bars>)],
) -> Result<(), MediaError> {
    let Some(&(last, _)) = fixes.last() else {
        return Ok(());
    };
    let opts = video_options(params, sampling, Some(range), 0);
    let mut luma = Vec::new();
    let mut index = 0;
    let mut todo = fixes.iter().peekable();
    decode_video(path, &opts, |frame| {
        if let Some((i, bars)) = todo.next_if(|(i, _)| *i == index) {
            if let Some(kept) = head.get_mut(*i).filter(|h| h.time_s == frame.time_s) {
                kept.dcts = bars.iter().map(|b| pdq_in(&frame, *b, &mut luma)).collect();
                kept.bars.used.clone_from(bars);
            }
        }
        index += 1;
        if index > last {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    if fixes.iter().all(|(i, bars)| head[*i].bars.used == *bars) {
        Ok(())
    } else {
        Err(MediaError::Video(
            "a range decoded again gave other frames".to_string(),
        ))
    }
}

/// One file cut at keyframes into ranges, about [`RANGES_PER_THREAD`] for each of
/// `sampling.ranges` threads, decoded in parallel on the caller's pool with no frame
/// decoded twice, then joined ([`Piece::join`]). Where a join cannot tell the one
/// pass's segments, the file is decoded in one pass instead. Also says how many ranges
/// the result came from (1 for one pass).
pub(super) fn fingerprint_in_ranges(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    reach: usize,
    seg_opts: SegmentOptions,
) -> Result<(Decoded, usize), MediaError> {
    let one_pass =
        || fingerprint_range(path, params, sampling, None, reach, seg_opts).map(|(d, _)| (d, 1));
    let scan = keyframe_times(path)?;
    let step = match (sampling.fps, scan.frame_rate) {
        (Some(fps), _) => 1.0 / fps,
        (None, rate) if rate > 0.0 => 1.0 / rate,
        _ => 1.0 / 12.0,
    };
    // Long enough that no window reaches across a whole range (a half more for frames
    // that come faster than the declared rate).
    let shortest = MIN_RANGE_S.max(1.5 * (2 * reach + 1) as f64 * step);
    let bounds = ranges(
        &scan.keys,
        scan.end_s,
        sampling.ranges * RANGES_PER_THREAD,
        shortest,
    );
    if bounds.len() < 2 {
        return one_pass();
    }
    // One range a task, so that an idle thread takes the next range whatever its length.
    let parts: Vec<Result<Piece, MediaError>> = bounds
        .par_iter()
        .with_max_len(1)
        .map(|r| {
            let (decoded, edges) =
                fingerprint_range(path, params, sampling, Some(*r), reach, seg_opts)?;
            let edges = edges.unwrap_or_else(|| Edges::new(r.start, reach));
            Ok(Piece { decoded, edges })
        })
        .collect();
    let count = parts.len();
    let mut joined: Option<Piece> = None;
    for (i, (part, range)) in parts.into_iter().zip(&bounds).enumerate() {
        let mut part = part?;
        let Some(j) = &mut joined else {
            joined = Some(part);
            continue;
        };
        if part.edges.reach != j.edges.reach {
            // Frames of another size from here on: bars judged over another window.
            return one_pass();
        }
        // Frames just after the cut were judged without the frames before it: where
        // that changed their bars, they are hashed again (a few frames decoded twice).
        let Some(fixes) = head_fixes(&j.edges.tail, &part.edges, i + 1 == count) else {
            return one_pass();
        };
        if rehash_head(path, params, sampling, *range, &mut part.edges.head, &fixes).is_err() {
            return one_pass();
        }
        let trusted_from = fixes.last().map_or(0, |(k, _)| k + 1);
        if !j.join(part, trusted_from, seg_opts) {
            return one_pass();
        }
    }
    let Some(Piece {
        decoded: (tracks, mut info, finder, features),
        ..
    }) = joined
    else {
        return one_pass();
    };
    info.partial = info.partial.or(scan.truncated);
    if info.frames_decoded == 0 {
        return Err(MediaError::Video("no frame could be decoded".to_string()));
    }
    Ok(((tracks, info, finder, features), count))
}

/// Ranges a thread: more ranges than threads even out ranges of unequal cost (the
/// keyframes fall where they fall), and no frame is decoded twice for it.
const RANGES_PER_THREAD: usize = 3;

/// No range is shorter than this: each opens the file and its decoder anew.
const MIN_RANGE_S: f64 = 2.0;

/// Up to `n` ranges of a stream ending at `end` seconds, cut at the keyframe nearest
/// each even share of it, none shorter than `shortest` seconds. The first range starts
/// before any frame, the last has no end.
fn ranges(keys: &[Keyframe], end: f64, n: usize, shortest: f64) -> Vec<Range> {
    let end = keys.last().map_or(end, |last| end.max(last.time_s));
    let mut out = vec![Range {
        start: f64::NEG_INFINITY,
        end: f64::INFINITY,
        previous_frame_s: None,
    }];
    for i in 1..n {
        let target = end * i as f64 / n as f64;
        let open = out.last().map_or(0.0, |r| r.start.max(0.0));
        let best = keys
            .iter()
            .filter(|k| k.time_s >= open + shortest && k.time_s + shortest <= end)
            .min_by(|a, b| {
                (a.time_s - target)
                    .abs()
                    .total_cmp(&(b.time_s - target).abs())
            });
        let Some(key) = best else {
            continue;
        };
        if let Some(last) = out.last_mut() {
            last.end = key.time_s;
        }
        out.push(Range {
            start: key.time_s,
            end: f64::INFINITY,
            previous_frame_s: key.previous_s,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::video::VideoInfo;

    /// Keyframes of Popeye `pgs_T00`: groups of 9–10 s in the first half, short ones after.
    const POPEYE_KEYS: [f64; 14] = [
        0.0, 3.083, 13.083, 22.083, 30.75, 35.333, 37.083, 38.375, 39.75, 41.125, 42.417, 43.792,
        53.792, 55.667,
    ];

    fn popeye_keys() -> Vec<Keyframe> {
        POPEYE_KEYS
            .iter()
            .map(|&time_s| Keyframe {
                time_s,
                previous_s: Some(time_s - 0.04),
            })
            .collect()
    }

    #[test]
    fn cuts_fall_on_the_keyframes_nearest_even_shares() {
        let starts = |r: &[Range]| r.iter().map(|r| r.start).collect::<Vec<_>>();
        let two = ranges(&popeye_keys(), 63.5, 2, 2.0);
        assert_eq!(starts(&two), [f64::NEG_INFINITY, 30.75]);
        assert_eq!(two[0].end, 30.75);
        assert_eq!(two[1].end, f64::INFINITY);
        assert_eq!(two[1].previous_frame_s, Some(30.75 - 0.04));
        let six = ranges(&popeye_keys(), 63.5, 6, 2.0);
        assert_eq!(
            starts(&six),
            [f64::NEG_INFINITY, 13.083, 22.083, 30.75, 42.417, 53.792]
        );
        assert!(six.windows(2).all(|w| w[0].end == w[1].start));
        // No range shorter than asked: shares that have no keyframe far enough from the
        // last cut and from the end are dropped.
        let long = ranges(&popeye_keys(), 63.5, 6, 10.0);
        assert_eq!(starts(&long), [f64::NEG_INFINITY, 13.083, 30.75, 41.125]);
    }

    #[test]
    fn no_keyframe_after_the_start_means_one_range() {
        let key = |time_s| Keyframe {
            time_s,
            previous_s: None,
        };
        assert_eq!(ranges(&[key(0.0)], 10.0, 4, 1.0).len(), 1);
        assert_eq!(ranges(&[], 10.0, 4, 1.0).len(), 1);
    }

    /// A picture of its own for each `seed`: far from every other seed's in PDQ.
    fn drawing(seed: usize) -> PdqDct {
        let mut luma: Vec<f32> = (0..64 * 64)
            .map(|i| ((i * (seed * 7 + 3) + seed * 11) % 253) as f32)
            .collect();
        crate::fingerprint::pdq::pdq_dct_from_luma(&mut luma, 64, 64)
    }

    /// Segments of one-second frames showing `drawings`, the first at `from` seconds.
    fn chain(from: usize, drawings: &[usize]) -> Vec<SegmentWithDct> {
        let mut s = Segmenter::new(SegmentOptions::default());
        for (i, d) in drawings.iter().enumerate() {
            s.push((from + i) as f64, 1.0, drawing(*d), || *d as u64);
        }
        s.finish()
    }

    /// A range of one-second frames showing `drawings` from `from` seconds, keeping its
    /// first `head` frames for the join; no bars.
    fn piece(from: usize, drawings: &[usize], head: usize) -> Piece {
        let bars = EdgeBars {
            own: vec![Bars::default()],
            used: vec![Bars::default()],
        };
        let edges = Edges {
            from: from as f64,
            reach: 0,
            frames: drawings.len(),
            head: drawings
                .iter()
                .take(head)
                .enumerate()
                .map(|(i, d)| HeadFrame {
                    time_s: (from + i) as f64,
                    duration_s: 1.0,
                    bars: bars.clone(),
                    dcts: vec![drawing(*d)],
                    secondary: *d as u64,
                })
                .collect(),
            tail: std::iter::repeat_n(bars, 1).collect(),
        };
        Piece {
            decoded: (
                vec![chain(from, drawings)],
                VideoInfo::default(),
                None,
                Vec::new(),
            ),
            edges,
        }
    }

    fn spans(v: &[SegmentWithDct]) -> Vec<(f64, f64, u32, u64)> {
        v.iter()
            .map(|s| {
                let s = s.segment;
                (s.start_s.unwrap(), s.end_s.unwrap(), s.frames, s.secondary)
            })
            .collect()
    }

    #[test]
    fn a_drawing_held_across_a_cut_is_one_segment() {
        // Drawing 2 is held from 3 s to 7 s, across the cut at 5 s. The later range's
        // own chain starts a segment at 5; the join carries the earlier chain through
        // its first frames until both start one at the same frame (7).
        let drawings = [1, 1, 1, 2, 2, 2, 2, 3, 3, 4];
        let one_pass = chain(0, &drawings);
        let mut joined = piece(0, &drawings[..5], 5);
        assert!(joined.join(piece(5, &drawings[5..], 3), 0, SegmentOptions::default()));
        assert_eq!(spans(&joined.decoded.0[0]), spans(&one_pass));
        assert_eq!(joined.edges.frames, 10);
        // When the kept frames end before the chains meet, there is no join.
        let mut joined = piece(0, &drawings[..5], 5);
        assert!(!joined.join(piece(5, &drawings[5..], 2), 0, SegmentOptions::default()));
        // Unless they are all the range has: then the chain went through all of it.
        let mut joined = piece(0, &drawings[..5], 5);
        assert!(joined.join(piece(5, &drawings[5..7], 2), 0, SegmentOptions::default()));
        assert_eq!(
            spans(&joined.decoded.0[0]),
            spans(&chain(0, &drawings[..7]))
        );
    }

    #[test]
    fn bars_judged_without_the_frames_across_a_cut_are_caught() {
        let top = |rows| {
            vec![Bars {
                top: rows,
                ..Bars::default()
            }]
        };
        let edge = |own, used| EdgeBars {
            own: top(own),
            used: top(used),
        };
        let before: VecDeque<EdgeBars> = (0..3).map(|_| edge(10, 10)).collect();
        let next = |first: (usize, usize)| {
            let mut p = piece(3, &[1, 1, 1], 3);
            p.edges.reach = 1;
            for (i, h) in p.edges.head.iter_mut().enumerate() {
                h.bars = if i == 0 {
                    edge(first.0, first.1)
                } else {
                    edge(10, 10)
                };
            }
            p
        };
        // The first frame after the cut reads no bars, and its range alone (itself and
        // the frame after) gave it none; across the cut its window is 10, 0, 10.
        let fixes = head_fixes(&before, &next((0, 0)).edges, false).unwrap();
        assert_eq!(fixes, vec![(0, top(10))]);
        // Hashed inside the bars its whole window gives: nothing to hash again.
        assert_eq!(
            head_fixes(&before, &next((0, 10)).edges, false),
            Some(Vec::new())
        );
        // A frame before the cut is never hashed again: its range judged it with the
        // frames after its end.
        let mut wrong = before.clone();
        wrong[2].used = top(0);
        assert_eq!(head_fixes(&wrong, &next((0, 10)).edges, false), None);
    }
}
