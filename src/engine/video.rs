//! Fingerprinting a video: decode, hash each sampled frame, collapse held frames.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::Path;

use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::pdq::{luma_from_rgb8, pdq_dct_from_plane, LumaPlane, PdqDct};
use rayon::prelude::*;

use super::bars_window::{window_bars, BarsWindow};
use crate::fingerprint::borders::{bars_within, centre_crop, BarRule, Bars};
use crate::fingerprint::inset::{luma_plane_of_rgb, InsetSearch, Rect};
use crate::fingerprint::segments::{SegmentOptions, SegmentWithDct, Segmenter};
use crate::fingerprint::{pdq_of_region, FingerprintParams, Segment, VideoLuma};
use crate::matching::QuerySegment;
use crate::media::video::{
    declared_frame_rate, decode_video, keyframe_times, Frame, Keyframe, Pixels, VideoInfo,
    VideoOptions,
};
use crate::media::MediaError;

/// Which frames of a video to hash, and whether to look for an inset in them. They are
/// not bank parameters: a frame hashes the same whichever are set, save where its bars
/// are judged over fewer neighbours (the window keeps its length in seconds when `fps`
/// samples fewer frames; keyframes are judged alone).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sampling {
    /// Hash this many frames a second; `None` hashes every frame.
    pub fps: Option<f64>,
    /// Decode keyframes only.
    pub keyframes_only: bool,
    /// Decode one file on this many threads, cut at keyframes into time ranges (about
    /// [`RANGES_PER_THREAD`] each) decoded in parallel; 0 or 1 decodes it in one pass.
    /// It does not change which frames are hashed, nor how, only how the work is spread,
    /// so that one long file can use every core.
    pub ranges: usize,
    /// Look for a picture-in-picture inset while decoding ([`InsetSearch`]); where one
    /// is found, the file is decoded a second time to hash what the inset shows. A
    /// query's business, never a bank's.
    pub find_insets: bool,
}

impl Sampling {
    /// Whether insets are looked for: asked for, and not from keyframes alone (seconds
    /// apart and few, too few votes to tell an inset).
    pub fn looks_for_insets(&self) -> bool {
        self.find_insets && !self.keyframes_only
    }
}

/// A fingerprinted video: its segments with dihedral variants, and what the decoder saw.
pub struct VideoFingerprint {
    pub segments: Vec<QuerySegment>,
    /// Segments of the centre crops in `params.crop_variants`, in that order.
    pub crops: Vec<(u8, Vec<Segment>)>,
    /// Each picture-in-picture inset found, with the segments of what it shows.
    pub insets: Vec<(Rect, Vec<QuerySegment>)>,
    pub info: VideoInfo,
    /// How many time ranges the file was decoded in, in parallel; 1 for one pass.
    pub ranges: usize,
}

pub fn fingerprint_video(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
) -> Result<VideoFingerprint, MediaError> {
    let seg_opts = params.segment_options();
    let reach = bars_reach(path, params, sampling)?;
    let ((mut tracks, mut info, finder), ranges) = if sampling.ranges > 1 {
        fingerprint_in_ranges(path, params, sampling, reach, seg_opts)?
    } else {
        let piece = fingerprint_range(path, params, sampling, None, reach, seg_opts)?;
        (piece.decoded, 1)
    };
    let (rects, size) = finder.map_or((Vec::new(), (0, 0)), |f| {
        let size = f.size();
        (f.insets(), size)
    });
    let insets = if rects.is_empty() {
        Vec::new()
    } else {
        // The picture's own segments stand whatever happens to the second pass (a file
        // damaged past where the first pass stopped, or changed since).
        fingerprint_insets(path, params, sampling, &rects, size, seg_opts).unwrap_or_else(|e| {
            let why = format!("the picture-in-picture inset could not be hashed: {e}");
            info.partial = Some(
                info.partial
                    .take()
                    .map_or(why.clone(), |p| format!("{p}; {why}")),
            );
            Vec::new()
        })
    };
    let crops = params
        .crop_variants
        .iter()
        .zip(tracks.drain(1..))
        .map(|(&keep, track)| (keep, track.into_iter().map(|s| s.segment).collect()))
        .collect();
    let segments = tracks
        .pop()
        .unwrap_or_default()
        .into_iter()
        .map(query_segment)
        .collect();
    Ok(VideoFingerprint {
        segments,
        crops,
        insets,
        info,
        ranges,
    })
}

fn query_segment(s: SegmentWithDct) -> QuerySegment {
    QuerySegment {
        segment: s.segment,
        variants: s.dct.dihedral_hashes().map(|(t, h)| (t, h.hash)).to_vec(),
    }
}

/// The second pass over a file in which insets were found: each inset's picture,
/// hashed and collapsed into segments like a whole frame's. Frames of another size than
/// `size` (the one the insets were found in) are passed over.
fn fingerprint_insets(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    rects: &[Rect],
    size: (usize, usize),
    seg_opts: SegmentOptions,
) -> Result<Vec<(Rect, Vec<QuerySegment>)>, MediaError> {
    let mut segmenters: Vec<Segmenter> = rects.iter().map(|_| Segmenter::new(seg_opts)).collect();
    let mut luma = Vec::new();
    let opts = video_options(params, sampling, None, 0);
    let rule = params.bar_rule;
    decode_video(path, &opts, |frame| {
        if (frame.width, frame.height) == size {
            for (rect, segmenter) in rects.iter().zip(&mut segmenters) {
                let dct = pdq_in(&frame, inset_bars(&frame, rect, rule), &mut luma);
                segmenter.push(frame.time_s, frame.duration_s, dct, || 0);
            }
        }
        ControlFlow::Continue(())
    })?;
    Ok(rects
        .iter()
        .zip(segmenters)
        .map(|(rect, s)| (*rect, s.finish().into_iter().map(query_segment).collect()))
        .collect())
}

/// Decoder options for one pass over the file, or over one range of it and up to
/// `past_end` sampled frames after it.
fn video_options(
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<Range>,
    past_end: usize,
) -> VideoOptions {
    VideoOptions {
        exact: params.video_luma == VideoLuma::Rgb601,
        fps: sampling.fps,
        keyframes_only: sampling.keyframes_only,
        decoder_threads: 1,
        range: range.map(|r| (r.start, r.end)),
        previous_frame_s: range.and_then(|r| r.previous_frame_s),
        past_end,
    }
}

/// A time range of a file decoded on its own: the frames in `[start, end)`, decoded
/// from the keyframe at `start`.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: f64,
    end: f64,
    /// The time of the frame shown before the keyframe ([`Keyframe::previous_s`]).
    previous_frame_s: Option<f64>,
}

/// Segments of one range: the picture's own track first, then one track per centre
/// crop in `params.crop_variants`, all from the same decoded frames.
type Tracks = Vec<Vec<SegmentWithDct>>;

/// What one decoding of a file (or of one range of it) gives: the tracks, what the
/// decoder saw, and the inset finder's votes when insets are looked for.
type Decoded = (Tracks, VideoInfo, Option<InsetSearch>);

/// A range decoded on its own ([`fingerprint_range`]), with what joining it to the
/// ranges before needs. Its segments are the one pass's from a point that only the
/// join can tell, because two things reach across a cut: bars are judged over the
/// frames either side of each frame, and a segment's frames are chained to its first
/// frame, which may lie before the cut.
struct Piece {
    decoded: Decoded,
    /// Frames handed on (sampled frames).
    frames: usize,
    /// How many frames either side bars were judged over.
    reach: usize,
    /// The first frames: the span where bars may have been judged without the frames
    /// before the cut, and where the chains before it are carried on.
    head: Vec<HeadFrame>,
    /// The bars of the last `2 × reach + 1` frames (all of them when fewer).
    tail: VecDeque<EdgeBars>,
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

fn fingerprint_range(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<Range>,
    reach: usize,
    seg_opts: SegmentOptions,
) -> Result<Piece, MediaError> {
    let mut segmenters: Vec<Segmenter> = std::iter::once(())
        .chain(params.crop_variants.iter().map(|_| ()))
        .map(|()| Segmenter::new(seg_opts))
        .collect();
    let mut luma = Vec::new();
    let secondary_algo = params.secondary;
    let secondary = |frame: &Frame<'_>| {
        secondary_of(frame)
            .map(|img| imghash64(&img, secondary_algo))
            .unwrap_or(0)
    };
    let opts = video_options(params, sampling, range, reach);
    let look_for_insets = sampling.looks_for_insets();
    let mut finder: Option<InsetSearch> = None;
    let (from, to) = range.map_or((f64::NEG_INFINITY, f64::INFINITY), |r| (r.start, r.end));
    let mut frames = 0;
    let mut held_reach = None;
    let mut head = Vec::new();
    let mut tail = VecDeque::new();
    let info = decode_with_bars(path, &opts, params, reach, |frame, own, bars| {
        if look_for_insets {
            offer_to(&mut finder, frame, from, to);
        }
        let dcts: Vec<PdqDct> = bars.iter().map(|b| pdq_in(frame, *b, &mut luma)).collect();
        let edge = 2 * *held_reach.get_or_insert_with(|| window_reach(reach, frame)) + 1;
        let opened = segmenters.iter().map(Segmenter::count).min().unwrap_or(0);
        let young = frames < edge || frame.time_s < from + SYNC_SPAN_S || opened < SYNC_SEGMENTS;
        let keep = range.is_some() && head.len() == frames && young;
        let keep = keep && frame.time_s < from + MAX_HEAD_S;
        frames += 1;
        // The secondary hash is made once a segment, from its first frame, and for each
        // frame kept for the join, which may start a segment there.
        let mut first = keep.then(|| secondary(frame));
        if keep {
            head.push(HeadFrame {
                time_s: frame.time_s,
                duration_s: frame.duration_s,
                bars: EdgeBars {
                    own: own.to_vec(),
                    used: bars.to_vec(),
                },
                dcts: dcts.clone(),
                secondary: first.unwrap_or(0),
            });
        }
        if range.is_some() {
            tail.push_back(EdgeBars {
                own: own.to_vec(),
                used: bars.to_vec(),
            });
            if tail.len() > edge {
                tail.pop_front();
            }
        }
        for (track, (dct, seg)) in dcts.into_iter().zip(&mut segmenters).enumerate() {
            seg.push(frame.time_s, frame.duration_s, dct, || match track {
                0 => first.take().unwrap_or_else(|| secondary(frame)),
                _ => 0,
            });
        }
    })?;
    let tracks = segmenters.into_iter().map(Segmenter::finish).collect();
    Ok(Piece {
        decoded: (tracks, info, finder),
        frames,
        reach: held_reach.unwrap_or(reach),
        head,
        tail,
    })
}

impl Piece {
    /// Joins `next`, the range that follows, onto this one, carrying each track's chain
    /// through `next`'s first frames until it starts a segment at a frame where
    /// `next`'s own chain does, at `trusted_from` or later (the frames before it were
    /// hashed again, [`rehash_head`]); from there on the two chains are the same. False
    /// when they do not meet within the frames kept.
    fn join(&mut self, next: Piece, trusted_from: usize, opts: SegmentOptions) -> bool {
        let whole = next.head.len() == next.frames;
        let (tracks, info, finder) = next.decoded;
        for (track, (joined, mut local)) in self.decoded.0.iter_mut().zip(tracks).enumerate() {
            let mut chain = Segmenter::resume(opts, std::mem::take(joined));
            let start = |s: &SegmentWithDct| s.segment.start_s.unwrap_or(f64::NAN);
            let mut met = None;
            for (i, frame) in next.head.iter().enumerate() {
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
        let (_, joined_info, joined_finder) = &mut self.decoded;
        match (joined_finder, finder) {
            (Some(f), Some(p)) => f.merge(p),
            (f, p) => *f = f.take().or(p),
        }
        joined_info.frames_decoded += info.frames_decoded;
        joined_info.partial = joined_info.partial.take().or(info.partial);
        self.frames += next.frames;
        self.tail.extend(next.tail);
        while self.tail.len() > 2 * self.reach + 1 {
            self.tail.pop_front();
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
    next: &Piece,
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

/// Gives `frame` to the inset search, made for the first frame's size and the frames
/// shown in `[from, to)`.
fn offer_to(finder: &mut Option<InsetSearch>, frame: &Frame<'_>, from: f64, to: f64) {
    let (w, h) = (frame.width, frame.height);
    let finder = finder.get_or_insert_with(|| InsetSearch::new(w, h, from, to));
    if !finder.wants(frame.time_s) {
        return;
    }
    match frame.pixels {
        Pixels::Luma { data, .. } => finder.offer(frame.time_s, w, h, data, w),
        Pixels::Rgb(rgb) => finder.offer(frame.time_s, w, h, &luma_plane_of_rgb(rgb), w),
    }
}

/// One file cut at keyframes into ranges, about [`RANGES_PER_THREAD`] for each of
/// `sampling.ranges` threads, decoded in parallel on the caller's pool with no frame
/// decoded twice, then joined ([`Piece::join`]). Where a join cannot tell the one
/// pass's segments, the file is decoded in one pass instead. Also says how many ranges
/// the result came from (1 for one pass).
fn fingerprint_in_ranges(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    reach: usize,
    seg_opts: SegmentOptions,
) -> Result<(Decoded, usize), MediaError> {
    let one_pass =
        || fingerprint_range(path, params, sampling, None, reach, seg_opts).map(|p| (p.decoded, 1));
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
        .map(|r| fingerprint_range(path, params, sampling, Some(*r), reach, seg_opts))
        .collect();
    let count = parts.len();
    let mut joined: Option<Piece> = None;
    for (i, (part, range)) in parts.into_iter().zip(&bounds).enumerate() {
        let mut part = part?;
        let Some(j) = &mut joined else {
            joined = Some(part);
            continue;
        };
        if part.reach != j.reach {
            // Frames of another size from here on: bars judged over another window.
            return one_pass();
        }
        // Frames just after the cut were judged without the frames before it: where
        // that changed their bars, they are hashed again (a few frames decoded twice).
        let Some(fixes) = head_fixes(&j.tail, &part, i + 1 == count) else {
            return one_pass();
        };
        if rehash_head(path, params, sampling, *range, &mut part.head, &fixes).is_err() {
            return one_pass();
        }
        let trusted_from = fixes.last().map_or(0, |(k, _)| k + 1);
        if !j.join(part, trusted_from, seg_opts) {
            return one_pass();
        }
    }
    let Some(Piece {
        decoded: (tracks, mut info, finder),
        ..
    }) = joined
    else {
        return one_pass();
    };
    info.partial = info.partial.or(scan.truncated);
    if info.frames_decoded == 0 {
        return Err(MediaError::Video("no frame could be decoded".to_string()));
    }
    Ok(((tracks, info, finder), count))
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

/// Hashes every sampled frame of a video, without collapsing them: vPDQ's view, one
/// `(frame index, time, hash)` per decoded frame in presentation order.
pub fn hash_video_frames(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    mut sink: impl FnMut(u64, f64, crate::fingerprint::PdqHash),
) -> Result<VideoInfo, MediaError> {
    let mut params = params.clone();
    // Only the picture's own track: crop variants are a bank's, not a frame list's.
    params.crop_variants.clear();
    let reach = bars_reach(path, &params, sampling)?;
    let opts = video_options(&params, sampling, None, 0);
    let mut luma = Vec::new();
    let mut index = 0u64;
    decode_with_bars(path, &opts, &params, reach, |frame, _, bars| {
        let hash = pdq_in(frame, bars[0], &mut luma).hash();
        sink(index, frame.time_s, hash);
        index += 1;
    })
}

/// Decodes `path`, handing `each` every sampled frame with its own bars and its window's
/// bars, one of each a track: the picture's own first, then each of
/// `params.crop_variants`' centre crops. Bars are
/// judged over `reach` sampled frames either side ([`BarsWindow`]), so frames are
/// copied out of the decoder and held until their window is complete; when no track
/// looks for bars, or the window is 0, frames go straight through.
fn decode_with_bars(
    path: &Path,
    opts: &VideoOptions,
    params: &FingerprintParams,
    reach: usize,
    mut each: impl FnMut(&Frame<'_>, &[Bars], &[Bars]),
) -> Result<VideoInfo, MediaError> {
    let cuts: Vec<Cut> = std::iter::once(Cut {
        keep: 100,
        find_bars: params.crop_borders,
    })
    .chain(params.crop_variants.iter().map(|&keep| Cut {
        keep,
        find_bars: true,
    }))
    .collect();
    let rule = params.bar_rule;
    let own_bars = |frame: &Frame<'_>| -> Vec<Bars> {
        cuts.iter().map(|c| bars_of(frame, *c, rule)).collect()
    };
    let end = opts.range.map_or(f64::INFINITY, |(_, end)| end);
    // Frames past a range's end are decoded only for the bars of the frames before it.
    let mut hand_on = |frame: &Frame<'_>, own: &[Bars], bars: &[Bars]| {
        if frame.time_s < end {
            each(frame, own, bars);
        }
    };
    if reach == 0 {
        return decode_video(path, opts, |frame| {
            let bars = own_bars(&frame);
            hand_on(&frame, &bars, &bars);
            ControlFlow::Continue(())
        });
    }
    let mut window: Option<BarsWindow<HeldFrame>> = None;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let info = decode_video(path, opts, |frame| {
        let bars = own_bars(&frame);
        let window = window.get_or_insert_with(|| BarsWindow::new(window_reach(reach, &frame)));
        if window.settled(&bars) {
            // Most frames: nothing to wait for, so nothing is copied.
            hand_on(&frame, &bars, &bars);
            window.pass(bars);
        } else {
            let held = HeldFrame::copy(&frame, spare.pop().unwrap_or_default());
            window.push(bars, held, &mut |f, own, b| {
                hand_on(&f.view(), own, b);
                spare.push(f.data);
            });
        }
        // Past a range's end, decoding goes on only while frames of the range wait for
        // the frames after them; in footage whose bars hold still, not at all.
        let waiting = window.oldest().is_some_and(|f| f.time_s < end);
        if frame.time_s >= end && !waiting {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    // Frames still held are handed on even when decoding failed part-way: the caller
    // keeps what came before the damage.
    if let Some(window) = &mut window {
        window.flush(&mut |f, own, b| hand_on(&f.view(), own, b));
    }
    info
}

/// The window's reach for frames like `frame`: `reach`, shortened for large frames.
fn window_reach(reach: usize, frame: &Frame<'_>) -> usize {
    let frame_bytes = match frame.pixels {
        Pixels::Rgb(p) | Pixels::Luma { data: p, .. } => p.len().max(1),
    };
    reach.min(MAX_HELD_BYTES / frame_bytes)
}

/// At most this many bytes of frames are held for a bars window: the window is
/// shortened for large frames (to 8 frames either side for 2160p luma), so that a batch
/// decoding a file on every core stays within memory.
const MAX_HELD_BYTES: usize = 64 << 20;

/// How many sampled frames either side of each frame its bars are judged over: none
/// when no track looks for bars, and none for keyframes alone (seconds apart, they are
/// not neighbours). `bars_window` counts the stream's own frames, so when `--fps`
/// samples fewer the window keeps its length in seconds: counted in sampled frames, 24
/// at 2 a second would reach 12 s, and a 4 s letterboxed excerpt spliced into
/// full-frame footage would be outvoted by its neighbours and hashed with its bars.
fn bars_reach(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
) -> Result<usize, MediaError> {
    let looks = params.crop_borders || !params.crop_variants.is_empty();
    if !looks || sampling.keyframes_only {
        return Ok(0);
    }
    let window = usize::from(params.bars_window);
    let Some(fps) = sampling.fps else {
        return Ok(window);
    };
    let rate = declared_frame_rate(path)?;
    Ok(if rate > fps {
        (window as f64 * fps / rate).ceil() as usize
    } else {
        window
    })
}

/// What one track hashes of a frame: the centre `keep` per cent of each side (100: all
/// of it), and whether letterbox or pillarbox bars are looked for inside that.
#[derive(Debug, Clone, Copy)]
struct Cut {
    keep: u8,
    find_bars: bool,
}

/// The margins a track cuts off a frame, as this frame alone shows them. Exact frames
/// (RGB) keep every pixel, bars included, as vPDQ does; only a crop variant looks for
/// bars there, inside its crop. Bars are found under `rule`.
fn bars_of(frame: &Frame<'_>, cut: Cut, rule: BarRule) -> Bars {
    let (w, h) = (frame.width, frame.height);
    let outer = centre_crop(Bars::default(), w, h, cut.keep);
    let find = match frame.pixels {
        Pixels::Rgb(_) => cut.keep < 100,
        Pixels::Luma { .. } => cut.find_bars,
    };
    bars_inside(frame, outer, find.then_some(rule))
}

/// The margins that leave an inset's picture: its place in the frame, and any bars
/// inside it (a letterboxed film shown in an inset), as this frame shows them under
/// `rule`.
fn inset_bars(frame: &Frame<'_>, rect: &Rect, rule: BarRule) -> Bars {
    let outer = Bars {
        left: rect.x,
        top: rect.y,
        right: frame.width - rect.x - rect.width,
        bottom: frame.height - rect.y - rect.height,
    };
    bars_inside(frame, outer, Some(rule))
}

/// [`bars_within`] the margins `outer` of a decoded frame, in full-range luma.
fn bars_inside(frame: &Frame<'_>, outer: Bars, find: Option<BarRule>) -> Bars {
    let (w, h) = (frame.width, frame.height);
    match frame.pixels {
        Pixels::Rgb(rgb) => bars_within(w, h, outer, find, |x, y| {
            let p = &rgb[(y * w + x) * 3..];
            0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
        }),
        Pixels::Luma { data, gain } => {
            // Limited-range video puts black at 16.
            let black = if gain > 1.0 { 16.0 } else { 0.0 };
            bars_within(w, h, outer, find, |x, y| {
                (f32::from(data[y * w + x]) - black) * gain
            })
        }
    }
}

/// A frame's pixels copied out of the decoder, held while its bars window fills.
struct HeldFrame {
    time_s: f64,
    duration_s: f64,
    width: usize,
    height: usize,
    data: Vec<u8>,
    /// `None` for RGB, else the luma gain.
    luma_gain: Option<f32>,
}

impl HeldFrame {
    /// Copies `frame` into `buffer` (a spare one, to spare the allocator).
    fn copy(frame: &Frame<'_>, mut buffer: Vec<u8>) -> HeldFrame {
        let (pixels, luma_gain) = match frame.pixels {
            Pixels::Rgb(p) => (p, None),
            Pixels::Luma { data, gain } => (data, Some(gain)),
        };
        buffer.clear();
        buffer.extend_from_slice(pixels);
        HeldFrame {
            time_s: frame.time_s,
            duration_s: frame.duration_s,
            width: frame.width,
            height: frame.height,
            data: buffer,
            luma_gain,
        }
    }

    fn view(&self) -> Frame<'_> {
        Frame {
            time_s: self.time_s,
            duration_s: self.duration_s,
            width: self.width,
            height: self.height,
            pixels: match self.luma_gain {
                None => Pixels::Rgb(&self.data),
                Some(gain) => Pixels::Luma {
                    data: &self.data,
                    gain,
                },
            },
        }
    }
}

/// PDQ of a decoded frame inside `bars` (margins of the whole frame): exact frames (RGB)
/// through the reference filter, luma planes through the sampled one. `scratch` holds
/// the float luma between calls.
fn pdq_in(frame: &Frame<'_>, bars: Bars, scratch: &mut Vec<f32>) -> PdqDct {
    let (w, h) = (frame.width, frame.height);
    match frame.pixels {
        Pixels::Rgb(rgb) => {
            luma_from_rgb8(rgb, scratch);
            pdq_of_region(scratch, w, h, bars)
        }
        Pixels::Luma { data, gain } => pdq_dct_from_plane(&LumaPlane {
            data: &data[bars.top * w + bars.left..],
            stride: w,
            width: w - bars.left - bars.right,
            height: h - bars.top - bars.bottom,
            gain,
        }),
    }
}

/// The picture the secondary hash is made from. A luma frame is point-sampled down to
/// at most 128 pixels a side first: the 64-bit hashes shrink to 8–32 pixels themselves,
/// and resizing a full frame for them would cost more than PDQ.
fn secondary_of(frame: &Frame<'_>) -> Option<image::DynamicImage> {
    let (w, h) = (frame.width, frame.height);
    match frame.pixels {
        Pixels::Rgb(p) => image::RgbImage::from_raw(w as u32, h as u32, p.to_vec())
            .map(image::DynamicImage::ImageRgb8),
        Pixels::Luma { data, .. } => {
            let step = w.max(h).div_ceil(SECONDARY_SIDE).max(1);
            let (sw, sh) = (w.div_ceil(step), h.div_ceil(step));
            let small: Vec<u8> = (0..sh)
                .flat_map(|y| (0..sw).map(move |x| data[y * step * w + x * step]))
                .collect();
            image::GrayImage::from_raw(sw as u32, sh as u32, small)
                .map(image::DynamicImage::ImageLuma8)
        }
    }
}

const SECONDARY_SIDE: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

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
        Piece {
            decoded: (vec![chain(from, drawings)], VideoInfo::default(), None),
            frames: drawings.len(),
            reach: 0,
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
        assert_eq!(joined.frames, 10);
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
            p.reach = 1;
            for (i, h) in p.head.iter_mut().enumerate() {
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
        let fixes = head_fixes(&before, &next((0, 0)), false).unwrap();
        assert_eq!(fixes, vec![(0, top(10))]);
        // Hashed inside the bars its whole window gives: nothing to hash again.
        assert_eq!(head_fixes(&before, &next((0, 10)), false), Some(Vec::new()));
        // A frame before the cut is never hashed again: its range judged it with the
        // frames after its end.
        let mut wrong = before.clone();
        wrong[2].used = top(0);
        assert_eq!(head_fixes(&wrong, &next((0, 10)), false), None);
    }
}
