//! vPDQ hash lists: one line per frame, `frame_number,quality,pdq_hex,timestamp_s`, as
//! Meta's vPDQ writes them. Organisations exchange these instead of the media.

use super::segments::{collapse_hashes, SegmentOptions};
use super::{Hash256, Segment};

/// A line of a vPDQ list that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("vPDQ line {line}: {what}")]
pub struct VpdqParseError {
    pub line: usize,
    pub what: String,
}

/// One frame of a vPDQ list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpdqFrame {
    pub frame: u64,
    pub quality: u8,
    pub hash: Hash256,
    pub time_s: f64,
}

pub fn format_line(frame: u64, quality: u8, hash: &Hash256, time_s: f64) -> String {
    format!("{frame},{quality},{hash},{time_s:.3}")
}

/// Parses a whole list. Blank lines are skipped; anything else malformed is an error,
/// since a half-read hash list would bank half an asset.
pub fn parse(text: &str) -> Result<Vec<VpdqFrame>, VpdqParseError> {
    let mut frames = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let err = |what: &str| VpdqParseError {
            line: i + 1,
            what: format!("{what}: {line:?}"),
        };
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 4 {
            return Err(err("want 4 comma-separated fields"));
        }
        let quality: u8 = f[1].parse().map_err(|_| err("bad quality"))?;
        if quality > 100 {
            return Err(err("quality over 100"));
        }
        let time_s: f64 = f[3].parse().map_err(|_| err("bad timestamp"))?;
        if !time_s.is_finite() || time_s < 0.0 {
            return Err(err("bad timestamp"));
        }
        frames.push(VpdqFrame {
            frame: f[0].parse().map_err(|_| err("bad frame number"))?,
            quality,
            hash: f[2].parse().map_err(|_| err("bad hash"))?,
            time_s,
        });
    }
    if frames.is_empty() {
        return Err(VpdqParseError {
            line: 0,
            what: "no frames".to_string(),
        });
    }
    Ok(frames)
}

/// Segments from a vPDQ list: each frame lasts until the next one; the last lasts the
/// median frame interval.
pub fn segments(frames: &[VpdqFrame], opts: SegmentOptions) -> Vec<Segment> {
    // Lists from elsewhere are not always in time order; segments must be.
    let mut sorted = frames.to_vec();
    sorted.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let frames = &sorted[..];
    let mut gaps: Vec<f64> = frames
        .windows(2)
        .map(|w| w[1].time_s - w[0].time_s)
        .filter(|d| *d > 0.0)
        .collect();
    gaps.sort_by(|a, b| a.total_cmp(b));
    let typical = gaps.get(gaps.len() / 2).copied().unwrap_or(1.0 / 30.0);
    let timed: Vec<(f64, f64, Hash256, u8)> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let next = frames
                .get(i + 1)
                .map(|n| n.time_s - f.time_s)
                .filter(|d| *d > 0.0);
            (f.time_s, next.unwrap_or(typical), f.hash, f.quality)
        })
        .collect();
    collapse_hashes(&timed, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let h: Hash256 = "ab".repeat(32).parse().unwrap();
        let text = format!(
            "{}\n{}\n\n",
            format_line(0, 90, &h, 0.0),
            format_line(1, 90, &h, 0.042)
        );
        let frames = parse(&text).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].hash, h);
        let segs = segments(&frames, SegmentOptions::default());
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].frames, 2);
        assert!(parse("0,90,zz,0.0").is_err());
        assert!(parse("").is_err());
        assert_eq!(parse("1,2,3").unwrap_err().line, 1);
    }

    #[test]
    fn out_of_order_lists_give_ordered_segments() {
        let a: Hash256 = "ab".repeat(32).parse().unwrap();
        let b: Hash256 = "54".repeat(32).parse().unwrap();
        let text = format!(
            "{}\n{}\n",
            format_line(1, 90, &b, 1.0),
            format_line(0, 90, &a, 0.0)
        );
        let segs = segments(&parse(&text).unwrap(), SegmentOptions::default());
        assert_eq!(segs.len(), 2);
        assert!(segs[0].start_s < segs[1].start_s);
        assert_eq!(segs[0].pdq, a);
    }
}
