//! Fingerprinting a video: decode, hash each sampled frame, collapse held frames.

use std::path::Path;

use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::pdq::{luma_from_rgb8, pdq_dct_from_plane, LumaPlane, PdqDct};
use rayon::prelude::*;

use super::bars_window::BarsWindow;
use crate::fingerprint::borders::{bars_within, centre_crop, BarRule, Bars};
use crate::fingerprint::inset::{luma_plane_of_rgb, InsetSearch, Rect};
use crate::fingerprint::segments::{SegmentOptions, SegmentWithDct, Segmenter};
use crate::fingerprint::{pdq_of_region, FingerprintParams, Segment, VideoLuma};
use crate::matching::QuerySegment;
use crate::media::video::{
    declared_frame_rate, decode_video, keyframe_times, Frame, Pixels, VideoInfo, VideoOptions,
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
    /// Cut one file into this many time ranges at keyframes and decode them in
    /// parallel; 0 or 1 decodes it in one pass. It does not change which frames are
    /// hashed, only how the work is spread, so that one long file can use every core.
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
}

pub fn fingerprint_video(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
) -> Result<VideoFingerprint, MediaError> {
    let seg_opts = params.segment_options();
    let reach = bars_reach(path, params, sampling)?;
    let (mut tracks, mut info, finder) = if sampling.ranges > 1 {
        fingerprint_in_ranges(path, params, sampling, reach, seg_opts)?
    } else {
        fingerprint_range(path, params, sampling, None, reach, seg_opts)?
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
    // No bars are judged around an inset's own, so no window.
    let opts = video_options(params, sampling, None, 0);
    let rule = params.bar_rule;
    decode_video(path, &opts, |frame| {
        if (frame.width, frame.height) != size {
            return;
        }
        for (rect, segmenter) in rects.iter().zip(&mut segmenters) {
            let dct = pdq_in(&frame, inset_bars(&frame, rect, rule), &mut luma);
            segmenter.push(frame.time_s, frame.duration_s, dct, || 0);
        }
    })?;
    Ok(rects
        .iter()
        .zip(segmenters)
        .map(|(rect, s)| (*rect, s.finish().into_iter().map(query_segment).collect()))
        .collect())
}

/// Decoder options for one pass; `reach` is the bars window's ([`bars_reach`]), which a
/// range decodes past its end.
fn video_options(
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<Range>,
    reach: usize,
) -> VideoOptions {
    VideoOptions {
        exact: params.video_luma == VideoLuma::Rgb601,
        fps: sampling.fps,
        keyframes_only: sampling.keyframes_only,
        decoder_threads: 1,
        range: range.map(|r| (r.start, r.end)),
        context: range.map(|r| (r.lead_in, reach)),
    }
}

/// A time range of a file decoded on its own: frames in `[start, end)`, decoded from the
/// keyframe `lead_in` before it (see [`ranges`]); the frames before `start`, and the
/// bars window's reach after `end`, are decoded and segmented as context.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: f64,
    end: f64,
    lead_in: f64,
}

/// Segments of one range: the picture's own track first, then one track per centre
/// crop in `params.crop_variants`, all from the same decoded frames.
type Tracks = Vec<Vec<SegmentWithDct>>;

/// What one decoding of a file (or of one range of it) gives: the tracks, what the
/// decoder saw, and the inset finder's votes when insets are looked for.
type Decoded = (Tracks, VideoInfo, Option<InsetSearch>);

fn fingerprint_range(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<Range>,
    reach: usize,
    seg_opts: SegmentOptions,
) -> Result<Decoded, MediaError> {
    let mut segmenter = Segmenter::new(seg_opts);
    let mut crop_segmenters: Vec<Segmenter> = params
        .crop_variants
        .iter()
        .map(|_| Segmenter::new(seg_opts))
        .collect();
    let mut luma = Vec::new();
    let secondary_algo = params.secondary;
    let opts = video_options(params, sampling, range, reach);
    let look_for_insets = sampling.looks_for_insets();
    let mut finder: Option<InsetSearch> = None;
    // A range's own frames vote, not its context: each frame of the file votes once.
    let (from, to) = range.map_or((f64::NEG_INFINITY, f64::INFINITY), |r| (r.start, r.end));
    let info = decode_with_bars(path, &opts, params, reach, |frame, bars| {
        if look_for_insets {
            offer_to(&mut finder, frame, from, to);
        }
        let dct = pdq_in(frame, bars[0], &mut luma);
        // The secondary hash is made once a segment, from its first frame.
        segmenter.push(frame.time_s, frame.duration_s, dct, || {
            secondary_of(frame)
                .map(|img| imghash64(&img, secondary_algo))
                .unwrap_or(0)
        });
        for (bars, seg) in bars[1..].iter().zip(&mut crop_segmenters) {
            let dct = pdq_in(frame, *bars, &mut luma);
            seg.push(frame.time_s, frame.duration_s, dct, || 0);
        }
    })?;
    let mut tracks = vec![segmenter.finish()];
    tracks.extend(crop_segmenters.into_iter().map(Segmenter::finish));
    Ok((tracks, info, finder))
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

/// One file in `sampling.ranges` time ranges cut at keyframes, decoded in parallel on
/// the caller's pool, then joined: a held drawing that straddles a cut is merged back
/// into one segment.
fn fingerprint_in_ranges(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    reach: usize,
    seg_opts: SegmentOptions,
) -> Result<Decoded, MediaError> {
    let scan = keyframe_times(path)?;
    let step = match (sampling.fps, scan.frame_rate) {
        (Some(fps), _) => 1.0 / fps,
        (None, rate) if rate > 0.0 => 1.0 / rate,
        _ => 1.0 / 12.0,
    };
    // The first `reach` frames after the lead-in keyframe lack the frames before them
    // that their bars are judged over (a half more for frames that come faster than the
    // declared rate); after those, the two ranges' frames are the same, and the join
    // needs a frame where both start a segment.
    let settle = 1.5 * (reach as f64 + 1.0) * step;
    let bounds = ranges(
        &scan.keys,
        scan.end_s,
        sampling.ranges,
        settle + SYNC_SPAN_S,
    );
    if bounds.len() < 2 {
        return fingerprint_range(path, params, sampling, None, reach, seg_opts);
    }
    let parts: Vec<Result<Decoded, MediaError>> = bounds
        .par_iter()
        .map(|r| fingerprint_range(path, params, sampling, Some(*r), reach, seg_opts))
        .collect();
    let mut tracks: Option<Tracks> = None;
    let mut info: Option<VideoInfo> = None;
    let mut finder: Option<InsetSearch> = None;
    for (part, range) in parts.into_iter().zip(&bounds) {
        let (part_tracks, part_info, part_finder) = part?;
        match (&mut finder, part_finder) {
            (Some(f), Some(p)) => f.merge(p),
            (f, p) => *f = f.take().or(p),
        }
        match &mut tracks {
            None => tracks = Some(part_tracks),
            Some(tracks) => {
                let from = range.lead_in + settle;
                for (joined, next) in tracks.iter_mut().zip(part_tracks) {
                    if !join_at_common_start(joined, next, from, range.start) {
                        // No frame in the overlap where both start a segment (one held
                        // drawing across it): one pass is the only exact answer.
                        return fingerprint_range(path, params, sampling, None, reach, seg_opts);
                    }
                }
            }
        }
        match &mut info {
            None => info = Some(part_info),
            Some(i) => {
                i.frames_decoded += part_info.frames_decoded;
                i.partial = i.partial.take().or(part_info.partial);
            }
        }
    }
    let mut info = info.unwrap_or_default();
    info.partial = info.partial.or(scan.truncated);
    if info.frames_decoded == 0 {
        return Err(MediaError::Video("no frame could be decoded".to_string()));
    }
    Ok((tracks.unwrap_or_default(), info, finder))
}

/// Seconds of overlap between ranges in which to find a frame where both start a
/// segment, on top of what the bars window needs.
const SYNC_SPAN_S: f64 = 2.0;

/// Joins the next range's segments onto `joined`. Segments are chains: a frame joins
/// its segment when it is within the hold distance of the segment's first frame, so a
/// chain started partway differs from one pass until both start a segment at the same
/// frame; from there on they agree. `joined` is exact up to `until` (the next range's
/// start; its later frames lack the frames after them), `next` from `from` on. The first
/// segment start the two share in `[from, until]` is where the join is made; false when
/// there is none.
fn join_at_common_start(
    joined: &mut Vec<SegmentWithDct>,
    next: Vec<SegmentWithDct>,
    from: f64,
    until: f64,
) -> bool {
    let start = |s: &SegmentWithDct| s.segment.start_s.unwrap_or(f64::NAN);
    let common = next
        .iter()
        .map(start)
        .find(|t| *t >= from - 1e-9 && *t <= until + 1e-9 && joined.iter().any(|s| start(s) == *t));
    let Some(t) = common else {
        return false;
    };
    joined.retain(|s| start(s) < t);
    joined.extend(next.into_iter().filter(|s| start(s) >= t));
    true
}

/// Up to `n` ranges of a stream ending at `end` seconds. Each range after the first is
/// decoded from a keyframe and starts `overlap` seconds after it, whatever the keyframe
/// interval; the previous range ends there. Each keyframe is chosen to even out the
/// decoding: the range it closes (from that range's lead-in) against an even share of
/// what is left.
fn ranges(keys: &[f64], end: f64, n: usize, overlap: f64) -> Vec<Range> {
    let end = keys.last().map_or(end, |last| end.max(*last));
    let mut out = vec![Range {
        start: 0.0,
        end: f64::INFINITY,
        lead_in: 0.0,
    }];
    for i in 1..n {
        let open = out.last().copied().unwrap_or(out[0]);
        let left = (n - i) as f64;
        let cost = |k: f64| (k + overlap - open.lead_in).max((end - k) / left);
        let best = keys
            .iter()
            .copied()
            .filter(|k| *k > open.start && k + overlap < end)
            .min_by(|a, b| cost(*a).total_cmp(&cost(*b)));
        let Some(key) = best else {
            break;
        };
        let start = key + overlap;
        if let Some(last) = out.last_mut() {
            last.end = start;
        }
        out.push(Range {
            start,
            end: f64::INFINITY,
            lead_in: key,
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
    let opts = video_options(&params, sampling, None, reach);
    let mut luma = Vec::new();
    let mut index = 0u64;
    decode_with_bars(path, &opts, &params, reach, |frame, bars| {
        let hash = pdq_in(frame, bars[0], &mut luma).hash();
        sink(index, frame.time_s, hash);
        index += 1;
    })
}

/// Decodes `path`, handing `each` every sampled frame (a range's context frames too)
/// with the bars of each track: the
/// picture's own first, then each of `params.crop_variants`' centre crops. Bars are
/// judged over `reach` sampled frames either side ([`BarsWindow`]), so frames are
/// copied out of the decoder and held until their window is complete; when no track
/// looks for bars, or the window is 0, frames go straight through.
fn decode_with_bars(
    path: &Path,
    opts: &VideoOptions,
    params: &FingerprintParams,
    reach: usize,
    mut each: impl FnMut(&Frame<'_>, &[Bars]),
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
    if reach == 0 {
        return decode_video(path, opts, |frame| each(&frame, &own_bars(&frame)));
    }
    let mut window: Option<BarsWindow<HeldFrame>> = None;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut hand_on = |frame: &Frame<'_>, bars: &[Bars]| each(frame, bars);
    let info = decode_video(path, opts, |frame| {
        let bars = own_bars(&frame);
        let window = window.get_or_insert_with(|| {
            let frame_bytes = match frame.pixels {
                Pixels::Rgb(p) | Pixels::Luma { data: p, .. } => p.len().max(1),
            };
            BarsWindow::new(reach.min(MAX_HELD_BYTES / frame_bytes))
        });
        if window.settled(&bars) {
            // Most frames: nothing to wait for, so nothing is copied.
            hand_on(&frame, &bars);
            window.pass(bars);
        } else {
            let held = HeldFrame::copy(&frame, spare.pop().unwrap_or_default());
            window.push(bars, held, &mut |f, b| {
                hand_on(&f.view(), b);
                spare.push(f.data);
            });
        }
    });
    // Frames still held are handed on even when decoding failed part-way: the caller
    // keeps what came before the damage.
    if let Some(window) = &mut window {
        window.flush(&mut |f, b| hand_on(&f.view(), b));
    }
    info
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

    #[test]
    fn cuts_balance_the_decoding_with_the_overlap_counted() {
        // Without overlap, ranges start at the keyframe nearest the middle.
        let plain = ranges(&POPEYE_KEYS, 63.5, 2, 0.0);
        assert_eq!(plain.len(), 2);
        assert_eq!((plain[1].start, plain[1].lead_in), (30.75, 30.75));
        assert_eq!(plain[0].end, 30.75);
        // With one, the second range is decoded from that keyframe and starts 3.6 s on.
        let overlapping = ranges(&POPEYE_KEYS, 63.5, 2, 3.6);
        assert_eq!(overlapping[1].lead_in, 30.75);
        assert!((overlapping[1].start - 34.35).abs() < 1e-9);
        assert_eq!(overlapping[0].end, overlapping[1].start);
        // Every range starts where the previous one ends, the first at 0, the last open,
        // each decoded from a keyframe `overlap` before its start.
        let three = ranges(&POPEYE_KEYS, 63.5, 3, 3.6);
        assert_eq!(three.len(), 3);
        assert_eq!(three[0].start, 0.0);
        assert!(three.windows(2).all(|w| w[0].end == w[1].start));
        assert!(three[1..]
            .iter()
            .all(|r| POPEYE_KEYS.contains(&r.lead_in) && (r.start - r.lead_in - 3.6).abs() < 1e-9));
        assert_eq!(three.last().unwrap().end, f64::INFINITY);
    }

    fn seg(start: f64, end: f64, frames: u32) -> SegmentWithDct {
        let mut luma = vec![0.0f32; 64 * 64];
        let dct = crate::fingerprint::pdq::pdq_dct_from_luma(&mut luma, 64, 64);
        SegmentWithDct {
            segment: Segment {
                start_s: Some(start),
                end_s: Some(end),
                pdq: dct.hash().hash,
                quality: 100,
                frames,
                secondary: 0,
            },
            dct,
        }
    }

    #[test]
    fn ranges_join_at_the_first_segment_start_both_share() {
        let times = |v: &[SegmentWithDct]| -> Vec<(f64, f64)> {
            v.iter()
                .map(|s| (s.segment.start_s.unwrap(), s.segment.end_s.unwrap()))
                .collect()
        };
        // One pass: 0–4, 4–6, 6–9, ... The earlier range goes on past its end (8) with
        // frames it cannot judge; the later one starts its chain at its lead-in (3), partway
        // through the 0–4 drawing, and first agrees at 6.
        let mut joined = vec![
            seg(0.0, 4.0, 4),
            seg(4.0, 6.0, 2),
            seg(6.0, 9.0, 3),
            seg(9.0, 9.5, 1),
        ];
        let next = vec![
            seg(3.0, 5.0, 2),
            seg(5.0, 6.0, 1),
            seg(6.0, 9.0, 3),
            seg(9.0, 12.0, 3),
        ];
        assert!(join_at_common_start(&mut joined, next.clone(), 4.5, 8.0));
        assert_eq!(
            times(&joined),
            vec![(0.0, 4.0), (4.0, 6.0), (6.0, 9.0), (9.0, 12.0)]
        );
        // Nothing shared in the trusted overlap: no join.
        let mut joined = vec![seg(0.0, 4.0, 4), seg(4.0, 9.5, 5)];
        assert!(!join_at_common_start(&mut joined, next, 4.5, 8.0));
    }

    #[test]
    fn no_keyframe_after_the_start_means_one_range() {
        assert_eq!(ranges(&[0.0], 10.0, 4, 1.0).len(), 1);
        assert_eq!(ranges(&[], 10.0, 4, 1.0).len(), 1);
    }
}
