//! Collapsing held frames into segments.
//!
//! Animation holds each drawing for two or three frames ("on twos", "on threes"), and
//! often for whole seconds. Consecutive frames whose PDQ hashes stay within
//! `hold_distance` bits of the segment's first frame become one segment: the first
//! frame's hash, the best quality seen, a start and an end time, and a frame count.
//! Frames below the quality threshold collapse into their own segments, which are kept
//! as timed gaps but never used as match evidence. Where a faint floor is set, frames
//! between it and the threshold (the middle of a fade, a dim shot) are not gaps: they
//! chain into *faint* segments with their own hashes, which matching may use only where
//! time alignment between two videos vouches for them.

use super::{Hash256, PdqDct, Segment};

/// How frames are grouped into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Largest PDQ distance (bits) from a segment's first frame that still counts as the
    /// same held drawing. Default 16: codec noise on a held frame moves PDQ by a few
    /// bits, a new drawing by tens.
    pub hold_distance: u32,
    /// Frames below this quality are not usable segments. Default 50.
    pub min_quality: u8,
    /// Frames from this quality up to `min_quality` form faint segments, chained like
    /// usable ones; below it, gap segments. `None` (the default, and banks made before
    /// faint segments existed): every frame below `min_quality` is a gap.
    pub faint_quality: Option<u8>,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            hold_distance: 16,
            min_quality: super::pdq::DEFAULT_MIN_QUALITY,
            faint_quality: None,
        }
    }
}

/// What a frame can be evidence of, by its quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Usable,
    Faint,
    Gap,
}

impl SegmentOptions {
    fn class(&self, quality: u8) -> Class {
        if quality >= self.min_quality {
            Class::Usable
        } else if self.faint_quality.is_some_and(|f| quality >= f) {
            Class::Faint
        } else {
            Class::Gap
        }
    }
}

/// Whether a frame of `class` joins the open segment of `open` class: gaps join gaps;
/// usable and faint frames join a segment of their own class within the hold distance.
fn joins(class: Class, open: Class, distance: impl FnOnce() -> u32, hold: u32) -> bool {
    class == open && (class == Class::Gap || distance() <= hold)
}

/// A segment and the DCT of its first frame, from which the query side derives the
/// dihedral hashes.
#[derive(Debug, Clone)]
pub struct SegmentWithDct {
    pub segment: Segment,
    pub dct: PdqDct,
}

/// Builds segments from frames pushed in presentation order.
#[derive(Debug)]
pub struct Segmenter {
    opts: SegmentOptions,
    done: Vec<SegmentWithDct>,
    open: Class,
    frames: u64,
}

impl Segmenter {
    pub fn new(opts: SegmentOptions) -> Segmenter {
        Segmenter {
            opts,
            done: Vec::new(),
            open: Class::Gap,
            frames: 0,
        }
    }

    /// Carries on the chain of `done` (segments of the frames before, in order) as if its
    /// frames had been pushed here.
    pub fn resume(opts: SegmentOptions, done: Vec<SegmentWithDct>) -> Segmenter {
        // A segment's frames are all of one class, so its best quality tells the class.
        let open = done
            .last()
            .map_or(Class::Gap, |s| opts.class(s.segment.quality));
        Segmenter {
            opts,
            done,
            open,
            frames: 0,
        }
    }

    /// Adds one frame; true when it opens a new segment. `secondary` is called only then,
    /// so the secondary hash is computed once per held drawing, not once per frame.
    pub fn push(
        &mut self,
        time_s: f64,
        duration_s: f64,
        dct: PdqDct,
        secondary: impl FnOnce() -> u64,
    ) -> bool {
        self.frames += 1;
        let pdq = dct.hash();
        let class = self.opts.class(pdq.quality);
        let end = time_s + duration_s;
        if let Some(last) = self.done.last_mut() {
            let distance = || last.segment.pdq.distance(&pdq.hash);
            if joins(class, self.open, distance, self.opts.hold_distance) {
                last.segment.end_s = Some(end.max(last.segment.end_s.unwrap_or(end)));
                last.segment.frames += 1;
                last.segment.quality = last.segment.quality.max(pdq.quality);
                return false;
            }
        }
        self.open = class;
        self.done.push(SegmentWithDct {
            segment: Segment {
                start_s: Some(time_s),
                end_s: Some(end),
                pdq: pdq.hash,
                quality: pdq.quality,
                frames: 1,
                secondary: secondary(),
            },
            dct,
        });
        true
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Segments opened so far.
    pub fn count(&self) -> usize {
        self.done.len()
    }

    pub fn finish(self) -> Vec<SegmentWithDct> {
        self.done
    }
}

/// Segments from a list of already-hashed frames (a vPDQ hash list, say), without DCTs.
pub fn collapse_hashes(frames: &[(f64, f64, Hash256, u8)], opts: SegmentOptions) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut open = Class::Gap;
    for &(time_s, duration_s, hash, quality) in frames {
        let class = opts.class(quality);
        let end = time_s + duration_s;
        if let Some(last) = out.last_mut() {
            if joins(class, open, || last.pdq.distance(&hash), opts.hold_distance) {
                last.end_s = Some(end);
                last.frames += 1;
                last.quality = last.quality.max(quality);
                continue;
            }
        }
        open = class;
        out.push(Segment {
            start_s: Some(time_s),
            end_s: Some(end),
            pdq: hash,
            quality,
            frames: 1,
            secondary: 0,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::pdq::pdq_dct_from_luma;

    fn dct(seed: usize) -> PdqDct {
        let mut img: Vec<f32> = (0..64 * 64)
            .map(|i| ((i * (seed * 7 + 3) + seed * 11) % 253) as f32)
            .collect();
        pdq_dct_from_luma(&mut img, 64, 64)
    }

    #[test]
    fn held_frames_collapse_and_new_drawings_split() {
        let mut s = Segmenter::new(SegmentOptions::default());
        let mut calls = 0;
        for (i, drawing) in [1, 1, 1, 2, 2, 1].iter().enumerate() {
            s.push(i as f64 / 24.0, 1.0 / 24.0, dct(*drawing), || {
                calls += 1;
                0
            });
        }
        let segs = s.finish();
        assert_eq!(segs.len(), 3);
        assert_eq!(calls, 3, "secondary hash once per segment");
        assert_eq!(segs[0].segment.frames, 3);
        assert!((segs[0].segment.end_s.unwrap() - 3.0 / 24.0).abs() < 1e-9);
        assert_eq!(segs[1].segment.start_s, Some(3.0 / 24.0));
    }

    /// A picture dimmed toward black until its quality is 5–49: the middle of a fade.
    fn faint(seed: usize) -> PdqDct {
        for k in 1..100 {
            let mut img: Vec<f32> = (0..64 * 64)
                .map(|i| ((i * (seed * 7 + 3) + seed * 11) % 253) as f32 * k as f32 / 1000.0)
                .collect();
            let d = pdq_dct_from_luma(&mut img, 64, 64);
            if (5..50).contains(&d.hash().quality) {
                return d;
            }
        }
        panic!("no dimming of picture {seed} is faint");
    }

    #[test]
    fn faint_frames_keep_their_own_hashes_and_darker_ones_are_gaps() {
        let opts = SegmentOptions {
            faint_quality: Some(5),
            ..SegmentOptions::default()
        };
        let flat = || pdq_dct_from_luma(&mut vec![10.0f32; 64 * 64], 64, 64);
        let frames = [faint(1), faint(1), dct(1), flat(), faint(2)];
        let mut s = Segmenter::new(opts);
        for (i, d) in frames.iter().enumerate() {
            s.push(i as f64, 1.0, d.clone(), || 0);
        }
        let segs: Vec<Segment> = s.finish().into_iter().map(|s| s.segment).collect();
        let shape: Vec<(u32, bool)> = segs.iter().map(|s| (s.frames, s.quality >= 50)).collect();
        assert_eq!(shape, [(2, false), (1, true), (1, false), (1, false)]);
        // Dimmed, the picture keeps its hash; the frames of another picture do not join.
        assert!(segs[0].pdq.distance(&segs[1].pdq) <= 8);
        assert_eq!(segs[2].quality, 0);
        assert!(segs[3].pdq.distance(&segs[0].pdq) > 64);

        // Without a faint threshold (banks made before it) they are all gaps.
        let mut s = Segmenter::new(SegmentOptions::default());
        for (i, d) in frames.iter().enumerate() {
            s.push(i as f64, 1.0, d.clone(), || 0);
        }
        let frames: Vec<u32> = s.finish().iter().map(|s| s.segment.frames).collect();
        assert_eq!(frames, [2, 1, 2]);
    }

    #[test]
    fn flat_frames_form_gap_segments() {
        let mut s = Segmenter::new(SegmentOptions::default());
        let flat = || {
            let mut img = vec![10.0f32; 64 * 64];
            pdq_dct_from_luma(&mut img, 64, 64)
        };
        s.push(0.0, 0.5, flat(), || 0);
        s.push(0.5, 0.5, flat(), || 0);
        s.push(1.0, 0.5, dct(5), || 0);
        let segs = s.finish();
        assert_eq!(segs.len(), 2);
        assert!(segs[0].segment.quality < 50);
        assert_eq!(segs[0].segment.frames, 2);
    }
}
