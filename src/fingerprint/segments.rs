//! Collapsing held frames into segments.
//!
//! Animation holds each drawing for two or three frames ("on twos", "on threes"), and
//! often for whole seconds. Consecutive frames whose PDQ hashes stay within
//! `hold_distance` bits of the segment's first frame become one segment: its first
//! frame's hash, the best quality seen, a start and an end time, and a frame count.
//! Frames below the quality threshold collapse into their own segments, which are kept
//! as timed gaps but never used as match evidence.

use super::{Hash256, PdqDct, Segment};

/// How frames are grouped into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Largest PDQ distance (bits) from a segment's first frame that still counts as the
    /// same held drawing. Default 16: codec noise on a held frame moves PDQ by a few
    /// bits, a new drawing by tens.
    pub hold_distance: u32,
    /// Frames below this quality form gap segments. Default 50.
    pub min_quality: u8,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            hold_distance: 16,
            min_quality: super::pdq::DEFAULT_MIN_QUALITY,
        }
    }
}

/// One decoded, hashed frame.
#[derive(Debug, Clone)]
pub struct FrameHash {
    /// Presentation time in seconds, from the stream's timestamps.
    pub time_s: f64,
    /// Display duration in seconds (to the next frame, or the stream's frame duration).
    pub duration_s: f64,
    pub dct: PdqDct,
    pub pdq: Hash256,
    pub quality: u8,
    pub secondary: u64,
}

/// A segment and the DCT of its representative frame, from which the query side derives
/// the dihedral hashes.
#[derive(Debug, Clone)]
pub struct SegmentWithDct {
    pub segment: Segment,
    pub dct: PdqDct,
}

/// Groups frames, in presentation order, into segments.
pub fn collapse(frames: &[FrameHash], opts: SegmentOptions) -> Vec<SegmentWithDct> {
    let mut out: Vec<SegmentWithDct> = Vec::new();
    let mut open_low = false;
    for f in frames {
        let low = f.quality < opts.min_quality;
        let end = f.time_s + f.duration_s;
        if let Some(last) = out.last_mut() {
            let same = if low {
                open_low
            } else {
                !open_low && last.segment.pdq.distance(&f.pdq) <= opts.hold_distance
            };
            if same {
                last.segment.end_s = Some(end);
                last.segment.frames += 1;
                last.segment.quality = last.segment.quality.max(f.quality);
                continue;
            }
        }
        open_low = low;
        out.push(SegmentWithDct {
            segment: Segment {
                start_s: Some(f.time_s),
                end_s: Some(end),
                pdq: f.pdq,
                quality: f.quality,
                frames: 1,
                secondary: f.secondary,
            },
            dct: f.dct.clone(),
        });
    }
    out
}
