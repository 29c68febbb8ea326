//! Decoding video with FFmpeg (through `ffmpeg-next`).
//!
//! Frames come out of the decoder and go straight through swscale: to 8-bit luma at a
//! reduced size in the default mode (PDQ reads nothing else, and for YUV video that is
//! the decoder's own luma plane, so no colour conversion is done at all), or to packed RGB
//! at native size with `exact`, as vPDQ does; full-resolution RGB is never built when
//! nothing needs it. Times come from the stream's timestamps
//! (best-effort pts × time base), never from a frame count, so variable frame rate is
//! timed correctly. The display matrix (a phone's rotation flag) is applied, so a
//! rotated file hashes as it is shown.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Once;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling::{Context as Scaler, Flags};
use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg_next as ffmpeg;

use super::MediaError;

/// How to sample and scale frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoOptions {
    /// Hand out RGB, as vPDQ hashes it (for interop); otherwise the frame's 8-bit luma,
    /// read straight from the decoder when it holds it (planar YUV, NV12, gray).
    pub exact: bool,
    /// Hash this many frames a second (the first frame at or after each tick); `None`
    /// hashes every frame.
    pub fps: Option<f64>,
    /// Decode keyframes only (FFmpeg's `skip_frame nokey`), for fast triage.
    pub keyframes_only: bool,
    /// FFmpeg decoder threads; 0 lets FFmpeg choose.
    pub decoder_threads: usize,
    /// Decode only frames whose time is in `[start, end)` seconds, seeking to `start`
    /// (which should be a keyframe's time, see [`keyframe_times`]).
    pub range: Option<(f64, f64)>,
    /// The time of the last frame before `range` starts ([`Keyframe::previous_s`]), so
    /// that `fps` picks in a range the frames one pass picks: the first frame of each
    /// tick, which a range's first frame is only when the frame before it is in an
    /// earlier tick.
    pub previous_frame_s: Option<f64>,
    /// Sampled frames past `range`'s end handed out too (the sink tells them by their
    /// time), for what is judged over the frames after each frame; the sink can stop
    /// sooner ([`ControlFlow::Break`]). They are not counted in
    /// [`VideoInfo::frames_decoded`].
    pub past_end: usize,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            exact: false,
            fps: None,
            keyframes_only: false,
            decoder_threads: 1,
            range: None,
            previous_frame_s: None,
            past_end: 0,
        }
    }
}

/// One decoded frame, scaled and upright.
pub struct Frame<'a> {
    pub time_s: f64,
    pub duration_s: f64,
    pub width: usize,
    pub height: usize,
    pub pixels: Pixels<'a>,
}

/// Tightly packed rows, `width × height` pixels.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// 8-bit luma, one byte a pixel (the default mode); `gain` brings limited-range
    /// values (16–235) to full scale.
    Luma { data: &'a [u8], gain: f32 },
    /// Packed RGB, three bytes a pixel (`exact`).
    Rgb(&'a [u8]),
}

/// Facts about the decoded stream.
#[derive(Debug, Clone, Default)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Average frame rate the container declares (for timecodes); 0 when unknown.
    pub frame_rate: f64,
    pub rotation_degrees: i32,
    pub frames_decoded: u64,
    /// Set when decoding stopped early at damaged data: the frames before it were used.
    pub partial: Option<String>,
}

fn init() -> Result<(), MediaError> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| {
        result = ffmpeg::init().map_err(|error| MediaError::Ffmpeg {
            what: "FFmpeg init",
            error,
        });
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
    result
}

/// Decodes the best video stream of `path`, calling `sink` with each sampled frame
/// until it breaks.
pub fn decode_video(
    path: &Path,
    opts: &VideoOptions,
    mut sink: impl FnMut(Frame<'_>) -> ControlFlow<()>,
) -> Result<VideoInfo, MediaError> {
    init()?;
    let ff = |what: &'static str, error: ffmpeg::Error| MediaError::Ffmpeg { what, error };
    let mut input = ffmpeg::format::input(path).map_err(|e| ff("cannot open", e))?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| MediaError::Video("no video stream".to_string()))?;
    let index = stream.index();
    let time_base = f64::from(stream.time_base());
    let frame_rate = average_rate(&stream);
    let rotation = display_rotation(&stream);
    let declared_s = (input.duration() > 0)
        .then(|| input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    let stream_time_bases: Vec<f64> = input.streams().map(|s| f64::from(s.time_base())).collect();
    let mut packets_reach_s = 0f64;
    let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| ff("codec", e))?;
    if opts.decoder_threads != 1 {
        ctx.set_threading(ffmpeg::codec::threading::Config {
            kind: ffmpeg::codec::threading::Type::Frame,
            count: opts.decoder_threads,
            ..Default::default()
        });
    }
    let mut decoder = ctx.decoder().video().map_err(|e| ff("decoder", e))?;
    if opts.keyframes_only {
        decoder.skip_frame(ffmpeg::Discard::NonKey);
    }
    let mut info = VideoInfo {
        width: decoder.width(),
        height: decoder.height(),
        frame_rate,
        rotation_degrees: rotation,
        ..VideoInfo::default()
    };
    let nominal_duration = if frame_rate > 0.0 {
        1.0 / frame_rate
    } else {
        1.0 / 25.0
    };

    let mut state = FrameState {
        scaler: None,
        decoded: VideoFrame::empty(),
        scaled: VideoFrame::empty(),
        packed: Vec::new(),
        pending: Vec::new(),
        pending_size: (0, 0),
        pending_time: None,
        pending_rgb: false,
        pending_gain: 1.0,
        next_sample: 0.0,
        past_end_left: opts.past_end,
        stopped: false,
        time_base,
        nominal_duration,
        rotation,
    };

    if let Some((start, _)) = opts.range.filter(|(start, _)| *start > 0.0) {
        let ts = (start * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
        input.seek(ts, ..ts).map_err(|e| ff("seek", e))?;
        state.next_sample = match (opts.fps, opts.previous_frame_s) {
            (Some(fps), Some(previous)) => next_tick(previous, fps),
            _ => start,
        };
    }
    let mut failed: Option<String> = None;
    for (s, packet) in input.packets() {
        if state.stopped {
            break;
        }
        if let (Some(pts), Some(tb)) = (packet.pts(), stream_time_bases.get(s.index())) {
            packets_reach_s = packets_reach_s.max((pts + packet.duration().max(0)) as f64 * tb);
        }
        if s.index() != index {
            continue;
        }
        if let Err(e) = decoder.send_packet(&packet) {
            // A bad packet: skip it, as players do, but remember the damage.
            failed.get_or_insert_with(|| format!("damaged packet: {e}"));
            continue;
        }
        state.drain(&mut decoder, opts, &mut info, &mut sink)?;
    }
    let _ = decoder.send_eof();
    state.drain(&mut decoder, opts, &mut info, &mut sink)?;
    state.emit_pending(None, &mut sink);
    if opts.range.is_some() {
        // A range's reach says nothing about the whole file; the caller checks that.
        info.partial = failed;
        return Ok(info);
    }
    // A truncated file reads like a short one: the demuxer just meets the end. So compare
    // how far the packets of all streams reached with the duration the container
    // declares (the longest stream's; audio often outlasts video by seconds).
    if let Some(declared) = declared_s {
        if info.frames_decoded > 0 && packets_reach_s + 1.0 < declared && failed.is_none() {
            failed = Some(format!(
                "the file ends at {packets_reach_s:.2} s of the {declared:.2} s its container declares (truncated?)"
            ));
        }
    }
    if info.frames_decoded == 0 {
        return Err(MediaError::Video(
            failed.unwrap_or_else(|| "no frame could be decoded".to_string()),
        ));
    }
    info.partial = failed;
    Ok(info)
}

/// The presentation times of the video stream's keyframes, from the packets alone (no
/// decoding), and the stream's end: where a file can be cut into ranges that decode
/// independently.
pub fn keyframe_times(path: &Path) -> Result<KeyframeScan, MediaError> {
    init()?;
    let mut input = ffmpeg::format::input(path).map_err(|error| MediaError::Ffmpeg {
        what: "cannot open",
        error,
    })?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| MediaError::Video("no video stream".to_string()))?;
    let index = stream.index();
    let frame_rate = average_rate(&stream);
    let declared_s = (input.duration() > 0)
        .then(|| input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    let time_bases: Vec<f64> = input.streams().map(|s| f64::from(s.time_base())).collect();
    let mut key_times = Vec::new();
    let mut times = Vec::new();
    let mut reach = 0f64;
    for (s, packet) in input.packets() {
        let (Some(pts), Some(tb)) = (packet.pts(), time_bases.get(s.index())) else {
            continue;
        };
        let t = pts as f64 * tb;
        reach = reach.max(t + packet.duration().max(0) as f64 * tb);
        if s.index() == index {
            times.push(t);
            if packet.is_key() {
                key_times.push(t);
            }
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    key_times.sort_by(|a, b| a.total_cmp(b));
    let keys = key_times
        .into_iter()
        .map(|time_s| {
            let before = times.partition_point(|t| *t < time_s);
            Keyframe {
                time_s,
                previous_s: before.checked_sub(1).map(|i| times[i]),
            }
        })
        .collect();
    let truncated = declared_s.filter(|d| reach + 1.0 < *d).map(|d| {
        format!("the file ends at {reach:.2} s of the {d:.2} s its container declares (truncated?)")
    });
    Ok(KeyframeScan {
        keys,
        end_s: reach,
        frame_rate,
        truncated,
    })
}

/// The container's metadata tags and each stream's, as FFmpeg reads them from the
/// header: (where, key, value), where is `container` or `stream N`.
pub fn metadata_tags(path: &Path) -> Result<Vec<(String, String, String)>, MediaError> {
    init()?;
    let input = ffmpeg::format::input(path).map_err(|error| MediaError::Ffmpeg {
        what: "cannot open",
        error,
    })?;
    let mut tags: Vec<(String, String, String)> = input
        .metadata()
        .iter()
        .map(|(k, v)| ("container".to_string(), k.to_string(), v.to_string()))
        .collect();
    for stream in input.streams() {
        let from = format!("stream {}", stream.index());
        tags.extend(
            stream
                .metadata()
                .iter()
                .map(|(k, v)| (from.clone(), k.to_string(), v.to_string())),
        );
    }
    Ok(tags)
}

/// The average frame rate the container declares for the best video stream of `path`;
/// 0 when it declares none. Reads the header only.
pub fn declared_frame_rate(path: &Path) -> Result<f64, MediaError> {
    init()?;
    let input = ffmpeg::format::input(path).map_err(|error| MediaError::Ffmpeg {
        what: "cannot open",
        error,
    })?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| MediaError::Video("no video stream".to_string()))?;
    Ok(average_rate(&stream))
}

fn average_rate(stream: &ffmpeg::format::stream::Stream<'_>) -> f64 {
    let rate = stream.avg_frame_rate();
    if rate.denominator() != 0 && rate.numerator() > 0 {
        f64::from(rate)
    } else {
        0.0
    }
}

/// What [`keyframe_times`] found.
pub struct KeyframeScan {
    /// The keyframes, in presentation order.
    pub keys: Vec<Keyframe>,
    /// Where the last packet of any stream ends, in seconds.
    pub end_s: f64,
    /// The average frame rate the container declares; 0 when unknown.
    pub frame_rate: f64,
    /// Set when the packets stop short of the duration the container declares.
    pub truncated: Option<String>,
}

/// A keyframe: where a range of the stream can start decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keyframe {
    pub time_s: f64,
    /// The presentation time of the frame shown just before it; `None` for the first.
    pub previous_s: Option<f64>,
}

/// The rotation, in degrees clockwise, that makes a frame display upright.
fn display_rotation(stream: &ffmpeg::format::stream::Stream<'_>) -> i32 {
    for side in stream.side_data() {
        if side.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix
            && side.data().len() >= 36
        {
            let matrix = side.data().as_ptr() as *const i32;
            // SAFETY: FFmpeg's display matrix is nine int32 values, checked above.
            let ccw = unsafe { ffmpeg::ffi::av_display_rotation_get(matrix) };
            if ccw.is_finite() {
                let cw = (-ccw).round() as i32;
                return cw.rem_euclid(360);
            }
        }
    }
    0
}

struct FrameState {
    scaler: Option<Scaler>,
    decoded: VideoFrame,
    scaled: VideoFrame,
    /// swscale's rows without their padding.
    packed: Vec<u8>,
    /// The frame held back until the next one's time gives its duration: its pixels
    /// (swapped with `packed` when upright, so no frame is copied twice), size and time
    /// (`None` when nothing is held).
    pending: Vec<u8>,
    pending_size: (usize, usize),
    pending_time: Option<f64>,
    pending_rgb: bool,
    pending_gain: f32,
    next_sample: f64,
    /// Frames still to hand out past the range's end.
    past_end_left: usize,
    /// Set once no more frames are wanted: past the range's end, or the sink said so.
    stopped: bool,
    time_base: f64,
    nominal_duration: f64,
    rotation: i32,
}

impl FrameState {
    fn drain(
        &mut self,
        decoder: &mut ffmpeg::decoder::Video,
        opts: &VideoOptions,
        info: &mut VideoInfo,
        sink: &mut impl FnMut(Frame<'_>) -> ControlFlow<()>,
    ) -> Result<(), MediaError> {
        while !self.stopped && decoder.receive_frame(&mut self.decoded).is_ok() {
            let Some(ts) = self.decoded.timestamp() else {
                continue;
            };
            let time_s = ts as f64 * self.time_base;
            if opts.range.is_some_and(|(start, _)| time_s + 1e-9 < start) {
                continue;
            }
            let beyond = opts.range.is_some_and(|(_, end)| time_s >= end);
            if !beyond {
                // Counted here, within the range, so that ranges add up to the whole.
                info.frames_decoded += 1;
            }
            if opts.fps.is_some() && time_s + 1e-9 < self.next_sample {
                // Not sampled. Past the range's end, one pass would not sample it either:
                // the last frame's duration runs on to the next frame that is sampled.
                continue;
            }
            if beyond {
                if self.past_end_left == 0 {
                    // This frame belongs to the next range; it only ends this one here.
                    self.emit_pending(Some(time_s), sink);
                    self.stopped = true;
                    return Ok(());
                }
                self.past_end_left -= 1;
            }
            if let Some(fps) = opts.fps {
                self.next_sample = next_tick(time_s, fps);
            }
            let (w, h) = (self.decoded.width(), self.decoded.height());
            if w == 0 || h == 0 {
                continue;
            }
            let (bpp, gain) = if opts.exact {
                self.convert(Pixel::RGB24, w, h)?;
                pack_rows(&self.scaled, w as usize * 3, h as usize, &mut self.packed);
                (3, 1.0)
            } else if let Some(limited) = luma_plane_range(&self.decoded) {
                // PDQ needs luminance only, and this decoder already holds it.
                pack_rows(&self.decoded, w as usize, h as usize, &mut self.packed);
                (1, if limited { 255.0 / 219.0 } else { 1.0 })
            } else {
                self.convert(Pixel::GRAY8, w, h)?;
                pack_rows(&self.scaled, w as usize, h as usize, &mut self.packed);
                (1, 1.0)
            };
            let (pw, ph) = (w as usize, h as usize);
            self.emit_pending(Some(time_s), sink);
            if self.rotation == 0 {
                std::mem::swap(&mut self.pending, &mut self.packed);
                self.pending_size = (pw, ph);
            } else {
                self.pending_size =
                    rotate(&self.packed, pw, ph, bpp, self.rotation, &mut self.pending);
            }
            self.pending_time = Some(time_s);
            self.pending_rgb = opts.exact;
            self.pending_gain = gain;
        }
        Ok(())
    }

    /// Converts the decoded frame into `scaled`, in `format` at its own size.
    fn convert(&mut self, format: Pixel, w: u32, h: u32) -> Result<(), MediaError> {
        let stale = self.scaler.as_ref().is_none_or(|s| {
            s.input().width != w
                || s.input().height != h
                || s.input().format != self.decoded.format()
                || s.output().format != format
        });
        if stale {
            self.scaler = Some(
                Scaler::get(self.decoded.format(), w, h, format, w, h, Flags::BILINEAR).map_err(
                    |error| MediaError::Ffmpeg {
                        what: "scaler",
                        error,
                    },
                )?,
            );
        }
        let scaler = self.scaler.as_mut().expect("scaler set above");
        scaler
            .run(&self.decoded, &mut self.scaled)
            .map_err(|error| MediaError::Ffmpeg {
                what: "conversion",
                error,
            })
    }

    /// Hands the held-back frame to `sink`, lasting until `next_s` (the next frame's
    /// time) or, at the end of the stream, for the nominal frame duration.
    fn emit_pending(
        &mut self,
        next_s: Option<f64>,
        sink: &mut impl FnMut(Frame<'_>) -> ControlFlow<()>,
    ) {
        let Some(t) = self.pending_time.take() else {
            return;
        };
        if self.stopped {
            return;
        }
        {
            let duration = next_s
                .map(|n| n - t)
                .filter(|d| *d > 0.0)
                .unwrap_or(self.nominal_duration);
            let (width, height) = self.pending_size;
            let flow = sink(Frame {
                time_s: t,
                duration_s: duration,
                width,
                height,
                pixels: if self.pending_rgb {
                    Pixels::Rgb(&self.pending)
                } else {
                    Pixels::Luma {
                        data: &self.pending,
                        gain: self.pending_gain,
                    }
                },
            });
            self.stopped = flow.is_break();
        }
    }
}

/// The first tick of `fps` after the one `time_s` falls in: `fps` samples the first
/// frame of each tick.
fn next_tick(time_s: f64, fps: f64) -> f64 {
    (time_s * fps).floor() / fps + 1.0 / fps
}

/// Whether plane 0 of `frame` is its 8-bit luma, and if so whether it is limited-range
/// (16–235); `None` when it must be converted.
fn luma_plane_range(frame: &VideoFrame) -> Option<bool> {
    use ffmpeg::color::Range;
    let full_range_format = match frame.format() {
        Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P | Pixel::GRAY8 => {
            true
        }
        Pixel::YUV420P
        | Pixel::YUV422P
        | Pixel::YUV444P
        | Pixel::YUV440P
        | Pixel::YUV411P
        | Pixel::YUV410P
        | Pixel::YUVA420P
        | Pixel::NV12
        | Pixel::NV21 => false,
        _ => return None,
    };
    Some(!full_range_format && frame.color_range() != Range::JPEG)
}

/// Copies plane 0's padded rows (`row_bytes` used of each) into a tight buffer.
fn pack_rows(frame: &VideoFrame, row_bytes: usize, h: usize, out: &mut Vec<u8>) {
    let stride = frame.stride(0);
    let data = frame.data(0);
    out.clear();
    out.reserve(row_bytes * h);
    for y in 0..h {
        out.extend_from_slice(&data[y * stride..y * stride + row_bytes]);
    }
}

/// Rotates a packed `w × h` image of `bpp` bytes a pixel clockwise by 0, 90, 180 or 270
/// degrees into `out`; returns the new size.
fn rotate(
    src: &[u8],
    w: usize,
    h: usize,
    bpp: usize,
    degrees: i32,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let px = |x: usize, y: usize| &src[(y * w + x) * bpp..(y * w + x + 1) * bpp];
    out.clear();
    out.reserve(src.len());
    match degrees {
        90 => {
            for y in 0..w {
                for x in 0..h {
                    out.extend_from_slice(px(y, h - 1 - x));
                }
            }
            (h, w)
        }
        180 => {
            for y in (0..h).rev() {
                for x in (0..w).rev() {
                    out.extend_from_slice(px(x, y));
                }
            }
            (w, h)
        }
        270 => {
            for y in 0..w {
                for x in 0..h {
                    out.extend_from_slice(px(w - 1 - y, x));
                }
            }
            (h, w)
        }
        _ => {
            out.extend_from_slice(src);
            (w, h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotated(src: &[u8], w: usize, h: usize, bpp: usize, deg: i32) -> (Vec<u8>, usize, usize) {
        let mut out = Vec::new();
        let (rw, rh) = rotate(src, w, h, bpp, deg, &mut out);
        (out, rw, rh)
    }

    #[test]
    fn rotations_compose_to_identity() {
        let (w, h) = (3, 2);
        for bpp in [1, 3] {
            let px: Vec<u8> = (0..(w * h * bpp) as u8).collect();
            let (r90, w90, h90) = rotated(&px, w, h, bpp, 90);
            assert_eq!((w90, h90), (2, 3));
            let (r180, _, _) = rotated(&r90, w90, h90, bpp, 90);
            assert_eq!(r180, rotated(&px, w, h, bpp, 180).0);
            let (r270, w2, h2) = rotated(&r180, w, h, bpp, 90);
            assert_eq!(r270, rotated(&px, w, h, bpp, 270).0);
            let (back, _, _) = rotated(&r270, w2, h2, bpp, 90);
            assert_eq!(back, px);
            // Clockwise: the top-left pixel goes to the top-right.
            assert_eq!(&r90[(w90 - 1) * bpp..w90 * bpp], &px[0..bpp]);
        }
    }
}
