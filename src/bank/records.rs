//! What the bank stores, and how it is laid out in bytes.

use serde::{Deserialize, Serialize};

use crate::fingerprint::inset::Rect;
use crate::fingerprint::keypoints::{FeatureSample, Keypoint};
use crate::fingerprint::{Hash256, Segment};
use crate::media::MediaKind;
use crate::model::{AssetId, Label, PanelPlace, Provenance, ProvenanceAction};

/// One banked asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetRecord {
    pub id: AssetId,
    /// BLAKE3 of the file's bytes, hex.
    pub digest: String,
    pub kind: MediaKind,
    pub label: Label,
    pub source: Option<String>,
    pub note: Option<String>,
    /// Every path these bytes were indexed from, first one first.
    pub paths: Vec<String>,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub segments: u32,
    /// RFC 3339, UTC.
    pub indexed_at: String,
    /// Frames a second the container declared, for timecodes in reports; `None` for
    /// stills, imported hash lists, and assets banked before it was recorded.
    #[serde(default)]
    pub frame_rate: Option<f64>,
    /// The centre crops banked after the picture's own segments: (per cent of each side
    /// kept, how many segments), in storage order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crops: Vec<(u8, u32)>,
    /// Every statement of why these bytes are banked, oldest first: each `index` run
    /// that brought them with another label, source or note, and each `celprint label`.
    /// `label`, `source` and `note` above are those of the statement that decides (see
    /// [`Provenance`]). Empty in records written before it existed, whose one statement
    /// is the fields above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
    /// The storyboard panels banked after the crops, one segment each, in storage
    /// order. Blank panels are not banked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panels: Vec<PanelPlace>,
    /// The pages (from 1) on which panels were found, blank ones included: pages laid
    /// out as storyboards, whose template alone must never count as evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel_pages: Vec<u32>,
    /// The resolution each page of a PDF was rendered at (150 dpi, or lower for a page
    /// past the pixel limit), in page order, so that boxes in the page's pixels can be
    /// read against the document; empty for other files and in older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_dpi: Vec<f64>,
}

impl AssetRecord {
    pub fn path(&self) -> &str {
        self.paths.first().map(String::as_str).unwrap_or("")
    }

    /// The asset's statements, oldest first; for a record from before they were kept,
    /// the one its fields make.
    pub fn history(&self) -> Vec<Provenance> {
        if !self.provenance.is_empty() {
            return self.provenance.clone();
        }
        vec![Provenance {
            label: self.label,
            source: self.source.clone(),
            note: self.note.clone(),
            action: ProvenanceAction::Index,
            path: self.paths.first().cloned(),
            at: self.indexed_at.clone(),
            by: None,
        }]
    }

    /// Adds a statement and lets it decide the label, source and note as
    /// [`Provenance`] says. Returns false, changing nothing, for an `index` statement
    /// that repeats one already made.
    pub fn add_statement(&mut self, statement: Provenance) -> bool {
        let mut history = self.history();
        let relabel = statement.action == ProvenanceAction::Relabel;
        if !relabel && history.iter().any(|p| p.same_words(&statement)) {
            return false;
        }
        // Label's order is severity, most severe first.
        if relabel || statement.label < self.label {
            self.label = statement.label;
            self.source = statement.source.clone();
            self.note = statement.note.clone();
        }
        history.push(statement);
        self.provenance = history;
        true
    }

    /// The stored segments in parts: the picture itself (`None`), then each centre crop
    /// (`Some(per cent kept)`), each with its range of segment indices.
    pub fn parts(&self) -> Vec<(Option<u8>, std::ops::Range<usize>)> {
        let mut parts = vec![(None, 0..self.segments as usize)];
        let mut start = self.segments as usize;
        for &(keep, n) in &self.crops {
            parts.push((Some(keep), start..start + n as usize));
            start += n as usize;
        }
        parts
    }

    /// Where a stored segment sits in the file: the page of a document of several
    /// pictures (from 1), and the panel when the segment is one. A video's segments and a
    /// single picture's own have no place.
    pub fn place_of(&self, index: u32) -> (Option<u32>, Option<PanelPlace>) {
        let index = index as usize;
        let own = self.segments as usize;
        let crops: usize = self.crops.iter().map(|&(_, n)| n as usize).sum();
        if index >= own + crops {
            // Past the picture and its crops: the panels.
            let panel = self.panels.get(index - own - crops).copied();
            return (panel.map(|p| p.page), panel);
        }
        let pages = self.kind == MediaKind::Still && own > 1;
        // Each centre crop of a document has a segment a page too, in page order.
        let page = self
            .parts()
            .into_iter()
            .find(|(_, range)| range.contains(&index))
            .filter(|_| pages)
            .map(|(_, range)| (index - range.start) as u32 + 1);
        (page, None)
    }

    /// Whether the keypoint sample at `time_s` is a storyboard panel's: a still is banked
    /// with one sample a page, timed by its place from 0, then one a panel, timed on
    /// after the pages (`pages + k` for panel `k`, as `index` banks them).
    pub fn is_panel_sample(&self, time_s: f64) -> bool {
        self.kind == MediaKind::Still
            && !self.panels.is_empty()
            && time_s.round() >= f64::from(self.segments)
    }

    /// Which picture of the asset a stored segment shows, as a number: a page and its
    /// centre crops share one, each panel has its own. A video's segments (and a single
    /// picture's with its crops) all show picture 0.
    pub fn picture_of(&self, index: u32) -> u32 {
        let own = self.segments;
        if self.kind != MediaKind::Still || own <= 1 && self.panels.is_empty() {
            return 0;
        }
        let crops: u32 = self.crops.iter().map(|&(_, n)| n).sum();
        if index >= own + crops {
            return index - crops;
        }
        self.parts()
            .into_iter()
            .find(|(_, range)| range.contains(&(index as usize)))
            .map(|(_, range)| index - range.start as u32)
            .unwrap_or(index)
    }

    /// Which part a stored segment index belongs to: `None` for the picture itself, or
    /// the centre crop's per cent kept.
    pub fn crop_of(&self, index: u32) -> Option<u8> {
        self.parts()
            .into_iter()
            .find(|(_, r)| r.contains(&(index as usize)))
            .and_then(|(keep, _)| keep)
    }
}

/// Fixed-size binary form of a segment: start, end (NaN for none), hash, quality,
/// frame count, secondary hash. 61 bytes.
pub const SEGMENT_BYTES: usize = 8 + 8 + 32 + 1 + 4 + 8;

pub fn encode_segment(s: &Segment) -> [u8; SEGMENT_BYTES] {
    let mut out = [0u8; SEGMENT_BYTES];
    out[0..8].copy_from_slice(&s.start_s.unwrap_or(f64::NAN).to_le_bytes());
    out[8..16].copy_from_slice(&s.end_s.unwrap_or(f64::NAN).to_le_bytes());
    out[16..48].copy_from_slice(&s.pdq.to_bytes());
    out[48] = s.quality;
    out[49..53].copy_from_slice(&s.frames.to_le_bytes());
    out[53..61].copy_from_slice(&s.secondary.to_le_bytes());
    out
}

pub fn decode_segment(b: &[u8]) -> Option<Segment> {
    if b.len() != SEGMENT_BYTES {
        return None;
    }
    let f = |r: std::ops::Range<usize>| f64::from_le_bytes(b[r].try_into().unwrap_or([0; 8]));
    let time = |v: f64| if v.is_nan() { None } else { Some(v) };
    Some(Segment {
        start_s: time(f(0..8)),
        end_s: time(f(8..16)),
        pdq: Hash256::from_bytes(b[16..48].try_into().ok()?),
        quality: b[48],
        frames: u32::from_le_bytes(b[49..53].try_into().ok()?),
        secondary: u64::from_le_bytes(b[53..61].try_into().ok()?),
    })
}

/// An asset's segments, packed in order.
pub fn encode_segments(segments: &[Segment]) -> Vec<u8> {
    segments.iter().flat_map(encode_segment).collect()
}

/// `None` unless `b` is a whole number of segment records.
pub fn decode_segments(b: &[u8]) -> Option<Vec<Segment>> {
    if b.len() % SEGMENT_BYTES != 0 {
        return None;
    }
    b.chunks_exact(SEGMENT_BYTES).map(decode_segment).collect()
}

/// Bytes of one search entry: the hash and the quality, so the index loads without
/// decoding whole segments.
pub const SEARCH_ENTRY_BYTES: usize = 33;

/// An asset's search entries, packed in segment order.
pub fn encode_search_entries(segments: &[Segment]) -> Vec<u8> {
    let mut out = Vec::with_capacity(segments.len() * SEARCH_ENTRY_BYTES);
    for s in segments {
        out.extend_from_slice(&s.pdq.to_bytes());
        out.push(s.quality);
    }
    out
}

/// `None` unless `b` is a whole number of entries.
pub fn decode_search_entries(b: &[u8]) -> Option<impl Iterator<Item = (Hash256, u8)> + '_> {
    if b.len() % SEARCH_ENTRY_BYTES != 0 {
        return None;
    }
    Some(b.chunks_exact(SEARCH_ENTRY_BYTES).map(|e| {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&e[..32]);
        (Hash256::from_bytes(&hash), e[32])
    }))
}

/// Keypoint places are kept in 1/32 of a base pixel.
const PLACE_UNITS: f32 = 32.0;
pub(crate) const KEYPOINT_BYTES: usize = 2 + 2 + 1 + 32;
const SAMPLE_HEAD_BYTES: usize = 8 + 4 * 4 + 2;

/// One keypoint: x and y in 1/32 base pixel (u16), level (u8), descriptor (32 bytes).
pub(crate) fn encode_keypoint(k: &Keypoint, out: &mut Vec<u8>) {
    for v in [k.x, k.y] {
        let units = (v * PLACE_UNITS).round().clamp(0.0, f32::from(u16::MAX));
        out.extend_from_slice(&(units as u16).to_le_bytes());
    }
    out.push(k.level);
    for w in k.descriptor {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// A keypoint of [`KEYPOINT_BYTES`] bytes.
pub(crate) fn decode_keypoint(k: &[u8]) -> Keypoint {
    let place = |i: usize| f32::from(u16::from_le_bytes([k[i], k[i + 1]])) / PLACE_UNITS;
    let mut descriptor = [0u64; 4];
    for (j, w) in descriptor.iter_mut().enumerate() {
        *w = u64::from_le_bytes(k[5 + 8 * j..13 + 8 * j].try_into().unwrap());
    }
    Keypoint {
        x: place(0),
        y: place(2),
        level: k[4],
        descriptor,
    }
}

/// An asset's keypoint samples: per sample its time (f64), picture (x, y, width,
/// height, u32 each) and keypoint count (u16), then per keypoint x and y in 1/32 base
/// pixel (u16), level (u8) and descriptor (32 bytes); little-endian.
pub fn encode_features(samples: &[FeatureSample]) -> Vec<u8> {
    let n: usize = samples.iter().map(|s| s.keypoints.len()).sum();
    let mut out = Vec::with_capacity(samples.len() * SAMPLE_HEAD_BYTES + n * KEYPOINT_BYTES);
    for s in samples {
        out.extend_from_slice(&s.time_s.to_le_bytes());
        for v in [s.picture.x, s.picture.y, s.picture.width, s.picture.height] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        let count = s.keypoints.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(count as u16).to_le_bytes());
        for k in &s.keypoints[..count] {
            encode_keypoint(k, &mut out);
        }
    }
    out
}

/// `None` unless `b` is a whole number of samples.
pub fn decode_features(mut b: &[u8]) -> Option<Vec<FeatureSample>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let head = b.get(..SAMPLE_HEAD_BYTES)?;
        let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap()) as usize;
        let time_s = f64::from_le_bytes(head[..8].try_into().ok()?);
        let picture = Rect {
            x: u32_at(8),
            y: u32_at(12),
            width: u32_at(16),
            height: u32_at(20),
        };
        let count = usize::from(u16::from_le_bytes(head[24..26].try_into().ok()?));
        let body = b.get(SAMPLE_HEAD_BYTES..SAMPLE_HEAD_BYTES + count * KEYPOINT_BYTES)?;
        let keypoints = body
            .chunks_exact(KEYPOINT_BYTES)
            .map(decode_keypoint)
            .collect();
        out.push(FeatureSample {
            time_s,
            picture,
            keypoints,
        });
        b = &b[SAMPLE_HEAD_BYTES + count * KEYPOINT_BYTES..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_round_trips() {
        for (start, end) in [(None, None), (Some(1.5), Some(2.25))] {
            let s = Segment {
                start_s: start,
                end_s: end,
                pdq: "0123456789abcdef".repeat(4).parse().unwrap(),
                quality: 87,
                frames: 3,
                secondary: 0xdead_beef_0bad_f00d,
            };
            assert_eq!(decode_segment(&encode_segment(&s)), Some(s));
        }
    }

    #[test]
    fn packed_records_round_trip_and_reject_torn_values() {
        let s = Segment {
            start_s: Some(0.5),
            end_s: Some(1.0),
            pdq: "00ff".repeat(16).parse().unwrap(),
            quality: 90,
            frames: 2,
            secondary: 7,
        };
        let packed = encode_segments(&[s, s]);
        assert_eq!(decode_segments(&packed), Some(vec![s, s]));
        assert_eq!(decode_segments(&packed[1..]), None);
        let entries = encode_search_entries(&[s, s]);
        let back: Vec<_> = decode_search_entries(&entries).unwrap().collect();
        assert_eq!(back, vec![(s.pdq, 90), (s.pdq, 90)]);
        assert!(decode_search_entries(&entries[..40]).is_none());
    }

    #[test]
    fn feature_samples_round_trip_and_reject_torn_values() {
        let sample = |t: f64, n: usize| FeatureSample {
            time_s: t,
            picture: Rect {
                x: 0,
                y: 60,
                width: 854,
                height: 360,
            },
            keypoints: (0..n)
                .map(|i| Keypoint {
                    x: 17.25 + i as f32,
                    y: 301.5,
                    level: (i % 4) as u8,
                    descriptor: [i as u64, u64::MAX, 1 << 63, 0x0123_4567_89ab_cdef],
                })
                .collect(),
        };
        let samples = vec![sample(0.0, 3), sample(0.5, 0), sample(1.04, 2)];
        let bytes = encode_features(&samples);
        assert_eq!(decode_features(&bytes), Some(samples));
        assert_eq!(decode_features(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode_features(&[]), Some(Vec::new()));
    }
}
