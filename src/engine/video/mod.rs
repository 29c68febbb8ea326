//! Fingerprinting a video: decode, hash each sampled frame, collapse held frames.

mod ranges;

use std::ops::ControlFlow;
use std::path::Path;

use crate::fingerprint::imghash::imghash64;
use crate::fingerprint::pdq::{luma_from_rgb8, pdq_dct_from_plane, LumaPlane, PdqDct};

use self::ranges::{fingerprint_in_ranges, Edges, Range};
use super::bars_window::BarsWindow;
use crate::fingerprint::borders::{bars_within, centre_crop, BarRule, Bars};
use crate::fingerprint::inset::{luma_plane_of_rgb, InsetSearch, Rect};
use crate::fingerprint::keypoints::{keypoints, starts_step, FeatureSample};
use crate::fingerprint::segments::{SegmentOptions, SegmentWithDct, Segmenter};
use crate::fingerprint::{pdq_of_region, FingerprintParams, Segment, VideoLuma};
use crate::matching::QuerySegment;
use crate::media::video::{
    declared_frame_rate, decode_video, Frame, Pixels, VideoInfo, VideoOptions,
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
    /// three each, [`ranges`]) decoded in parallel; 0 or 1 decodes it in one pass.
    /// It does not change which frames are hashed, nor how, only how the work is spread,
    /// so that one long file can use every core.
    pub ranges: usize,
    /// Look for a picture-in-picture inset while decoding ([`InsetSearch`]); where one
    /// is found, the file is decoded a second time to hash what the inset shows. A
    /// query's business, never a bank's.
    pub find_insets: bool,
    /// Find keypoints ([`keypoints`](crate::fingerprint::keypoints)) in the first frame
    /// of every step of this many seconds: a bank's samples
    /// ([`BANK_STEP_S`](crate::fingerprint::keypoints::BANK_STEP_S)) or a scan's.
    pub feature_step_s: Option<f64>,
    /// Frames a second at which an image sequence is timed
    /// ([`crate::media::sequence`]); `None`: [`super::sequence::DEFAULT_FPS`].
    pub sequence_fps: Option<f64>,
    /// Numbered stills in one folder are stills, not the frames of a shot
    /// (`--no-sequences`).
    pub numbered_stills: bool,
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
    /// Keypoints of the frames `Sampling::feature_step_s` samples, in time order.
    pub features: Vec<FeatureSample>,
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
    let ((mut tracks, mut info, finder, features), ranges) = if sampling.ranges > 1 {
        fingerprint_in_ranges(path, params, sampling, reach, seg_opts)?
    } else {
        (
            fingerprint_range(path, params, sampling, None, reach, seg_opts)?.0,
            1,
        )
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
        features,
        info,
        ranges,
    })
}

pub(super) fn query_segment(s: SegmentWithDct) -> QuerySegment {
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

/// Segments of one range: the picture's own track first, then one track per centre
/// crop in `params.crop_variants`, all from the same decoded frames.
type Tracks = Vec<Vec<SegmentWithDct>>;

/// What one decoding of a file (or of one range of it) gives: the tracks, what the
/// decoder saw, the inset finder's votes when insets are looked for, and the keypoint
/// samples when they are asked for.
type Decoded = (Tracks, VideoInfo, Option<InsetSearch>, Vec<FeatureSample>);

/// Decodes the file, or one range of it, into segments. A range also records what its
/// join to the ranges before needs ([`Edges`]).
fn fingerprint_range(
    path: &Path,
    params: &FingerprintParams,
    sampling: Sampling,
    range: Option<Range>,
    reach: usize,
    seg_opts: SegmentOptions,
) -> Result<(Decoded, Option<Edges>), MediaError> {
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
    let mut edges: Option<Edges> = None;
    let mut features = Vec::new();
    let mut previous_s = range.and_then(|r| r.previous_frame_s);
    let info = decode_with_bars(path, &opts, params, reach, |frame, own, bars| {
        if look_for_insets {
            offer_to(&mut finder, frame, from, to);
        }
        if let Some(step) = sampling.feature_step_s {
            if starts_step(previous_s, frame.time_s, step) {
                // The frame's own bars, not its window's: they are the same whether the
                // file is decoded in one pass or in ranges, and keypoints do not mind
                // a flicker of the bars.
                features.push(feature_sample(frame, own[0]));
            }
            previous_s = Some(frame.time_s);
        }
        let dcts: Vec<PdqDct> = bars.iter().map(|b| pdq_in(frame, *b, &mut luma)).collect();
        let edges = range
            .map(|r| edges.get_or_insert_with(|| Edges::new(r.start, window_reach(reach, frame))));
        let opened = || segmenters.iter().map(Segmenter::count).min().unwrap_or(0);
        let keep = edges
            .as_ref()
            .is_some_and(|e| e.keeps_whole(frame.time_s, opened()));
        // The secondary hash is made once a segment, from its first frame, and for each
        // frame kept whole for the join, which may start a segment there.
        let mut first = keep.then(|| secondary(frame));
        if let Some(edges) = edges {
            let whole = first.map(|secondary| (dcts.clone(), secondary));
            edges.record(frame, own, bars, whole);
        }
        for (track, (dct, seg)) in dcts.into_iter().zip(&mut segmenters).enumerate() {
            seg.push(frame.time_s, frame.duration_s, dct, || match track {
                0 => first.take().unwrap_or_else(|| secondary(frame)),
                _ => 0,
            });
        }
    })?;
    let tracks = segmenters.into_iter().map(Segmenter::finish).collect();
    Ok(((tracks, info, finder, features), edges))
}

/// The keypoints of a decoded frame's picture inside `bars`.
fn feature_sample(frame: &Frame<'_>, bars: Bars) -> FeatureSample {
    let (w, h) = (frame.width, frame.height);
    let picture = Rect {
        x: bars.left,
        y: bars.top,
        width: w - bars.left - bars.right,
        height: h - bars.top - bars.bottom,
    };
    let keypoints = match frame.pixels {
        Pixels::Luma { data, gain } => keypoints(&LumaPlane {
            data: &data[bars.top * w + bars.left..],
            stride: w,
            width: picture.width,
            height: picture.height,
            gain,
        }),
        Pixels::Rgb(rgb) => {
            let luma = luma_plane_of_rgb(rgb);
            keypoints(&LumaPlane {
                data: &luma[bars.top * w + bars.left..],
                stride: w,
                width: picture.width,
                height: picture.height,
                gain: 1.0,
            })
        }
    };
    FeatureSample {
        time_s: frame.time_s,
        picture,
        keypoints,
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
