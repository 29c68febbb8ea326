//! Video on real animation (`../shared/media/video`): decoding, segments, and timecoded
//! matching against a bank. Each case states its truth and how it is known. One module
//! per area; this file holds only what the areas share (the rest is in `common`).

mod bars;
mod crops;
mod decode;
mod insets;
mod keypoints;
mod ranges;

use std::path::Path;

use serde_json::Value;

use crate::common::{ffmpeg, index, media, s, TestEnv};

/// Banks the 30 s Big Buck Bunny clip most cases are measured against; returns its path.
/// Used by `decode`, `ranges`, `bars` and `insets`.
fn index_bbb(env: &TestEnv, shared: &Path) -> String {
    let bbb = media(shared, "bbb/bower_bbb_480p_30s.mp4");
    index(env, &[&bbb]);
    bbb
}

/// One input of [`compose`]: `seconds` of `file` from `from` seconds in (ffmpeg's `-ss`
/// and `-t`, so a length, not an end time). Used by `ranges`, `bars`, `insets` and
/// `keypoints`.
struct Clip<'a> {
    file: &'a str,
    from: &'a str,
    seconds: &'a str,
}

/// Encodes `filter`, a graph over the inputs that ends in `[v]`, to H.264 at `crf`. Used
/// by `ranges`, `bars`, `insets` and `keypoints`.
fn compose(inputs: &[Clip], filter: &str, crf: &str, out: &Path) {
    let mut args: Vec<&str> = Vec::new();
    for clip in inputs {
        args.extend(["-ss", clip.from, "-t", clip.seconds, "-i", clip.file]);
    }
    args.extend(["-filter_complex", filter, "-map", "[v]"]);
    args.extend(["-c:v", "libx264", "-crf", crf, s(out)]);
    ffmpeg(&args);
}

/// The eval's picture-in-picture layout: 854 × 480, the second input half as wide (428)
/// in an inset 24 pixels from the top right, `overlay` options added to the overlay.
/// Used by `insets` and `keypoints`.
fn pip_layout(overlay: &str) -> String {
    format!(
        "[0:v]fps=24,scale=854:480:force_original_aspect_ratio=decrease,\
         pad=854:480:(ow-iw)/2:(oh-ih)/2,setsar=1[bg];[1:v]fps=24,scale=428:-2,setsar=1[fg];\
         [bg][fg]overlay=W-w-24:24:{overlay},format=yuv420p[v]"
    )
}

/// A rectangle of the delivered picture, in pixels: where an inset is. Used by `insets`
/// and `keypoints`.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
}

impl Rect {
    /// A match's `query_inset`; panics when the match was not found in an inset.
    fn of(place: &Value) -> Rect {
        let at = |key: &str| place[key].as_i64().expect("an inset");
        Rect {
            x: at("x"),
            y: at("y"),
            width: at("width"),
            height: at("height"),
        }
    }
}

/// Where [`pip_layout`] puts its inset: 428 × 240 at (402, 24). Used by `insets` and
/// `keypoints`.
const PIP_INSET: Rect = Rect {
    x: 402,
    y: 24,
    width: 428,
    height: 240,
};
