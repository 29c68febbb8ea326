//! Matching: which banked assets a delivered file matches, and where in time.
//!
//! Each usable query segment (quality at or above the threshold; for a video, faint
//! ones too) is searched with all eight of its rotations and flips, at the strict
//! radius. What happens to those seeds depends on what meets what (a seed with a faint
//! segment on either side counts only in the last case, along a time line):
//! - a still against a still, or against a frame of a banked video: the closest banked
//!   segment is the evidence, and a banked video's time is reported;
//! - a video against a banked still: the delivered segments showing the still are merged
//!   into timed runs;
//! - a video against a banked video: [`temporal`] aligns them in time and reports runs.
//!
//! Assets labelled `ignore` form a negative bank: a query segment that hits one is
//! cleared for every asset, and such hits are counted, never reported.
//!
//! Commonness is read off the bank itself: a delivered segment whose strict-radius hits
//! fall in many banked assets shows something they share (a studio card, an intro), not
//! something copied from one of them. Each match's score is scaled by its
//! `specificity`, the mean weight of the seeding segments inside it, by duration.

mod found;
pub mod local;
mod pages;
mod seeds;
pub mod temporal;

use std::collections::{HashMap, HashSet};

use crate::bank::{AssetRecord, BankError, BankRead};
use crate::fingerprint::inset::Rect;
use crate::fingerprint::{Dihedral, FingerprintParams, Hash256, Segment};
use crate::media::MediaKind;
use crate::model::{AssetId, Label, SegmentRef};
pub use found::{BankSide, LocalEvidence, Match, QuerySide};
pub use pages::{match_document, match_panels_by_keypoints, Document, KeypointQuery};
use seeds::{seed, seed_weights, specificity, Hit};

/// Thresholds for matching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchOptions {
    /// Largest PDQ Hamming distance (bits, inclusive) for a seed. Default 31, Meta's
    /// recommended threshold for PDQ.
    pub max_distance: u32,
    /// Segments below this PDQ quality (0–100) are never used as evidence, on either
    /// side, except faint ones between two videos. Default 50, as Meta recommends.
    pub min_quality: u8,
    /// Faint segments, from this quality up to `min_quality`, are evidence only where a
    /// delivered video meets a banked one: their seeds vote and they extend runs like any
    /// other, because what rules out chance there is the time line, not one frame. A
    /// still never matches through one. Default 5; `min_quality` or more turns them
    /// off. Banks made before faint segments keep their frames under `min_quality` as
    /// gaps, so there is nothing faint in them to find.
    pub faint_quality: u8,
    /// Also search the seven rotations and flips of each query segment.
    pub dihedral: bool,
    /// Largest distance (bits) for a segment that lies on an aligned time line. Default 56.
    pub extend_distance: u32,
    /// Shortest run of delivered video reported, in seconds. Default 1. A delivered
    /// video shorter than this matches a banked one over its whole length instead, with
    /// a seed whose frames are both over the usable quality, as a still would.
    pub min_duration_s: f64,
    /// Least fraction of a run's time covered by aligned segments. Default 0.5.
    pub min_fraction: f64,
    /// Longest stretch without evidence (seconds) that a run bridges. Default 2.
    pub max_gap_s: f64,
    /// A delivered still matches a banked picture or frame by keypoints when at least
    /// this many of its corners agree on one mapping ([`local::match_still_by_keypoints`]):
    /// one sample has no time line to vouch for it, where a video's run needs five.
    /// Default [`local::STILL_MIN_KEYPOINTS`].
    pub still_keypoints: usize,
    /// Largest speed difference between delivery and bank, as a fraction. Default 0.10.
    pub max_rate_deviation: f64,
    /// A delivered segment that seeds on more banked assets than this is common material
    /// (a black-and-logo card, a shared intro): its weight in a match's score falls to
    /// `common_assets / assets hit`. Default 2, so an asset banked twice (two encodes)
    /// is not punished.
    pub common_assets: usize,
}

impl MatchOptions {
    /// These options as a bank can honour them. Under the least quality its segments
    /// were cut at (its faint threshold, or the usable one for banks made before faint
    /// segments), frames were pooled into gap segments that carry the first frame's
    /// hash (often black) and the best frame's quality, so no threshold may go under it.
    pub fn for_bank(self, params: &FingerprintParams) -> MatchOptions {
        let held = params
            .faint_quality
            .unwrap_or(crate::fingerprint::pdq::DEFAULT_MIN_QUALITY);
        MatchOptions {
            min_quality: self.min_quality.max(held),
            faint_quality: self.faint_quality.max(held),
            ..self
        }
    }

    /// The least quality a segment needs to be evidence of any kind.
    pub fn evidence_quality(&self) -> u8 {
        self.faint_quality.min(self.min_quality)
    }

    /// The least quality a delivered segment needs to be evidence: a video's faint
    /// segments can be, along a time line; a still has none.
    pub fn floor_for(&self, video: bool) -> u8 {
        if video {
            self.evidence_quality()
        } else {
            self.min_quality
        }
    }

    /// Under the usable threshold: evidence, if at all, only along a time line.
    pub(crate) fn is_faint(&self, quality: u8) -> bool {
        quality < self.min_quality
    }
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            max_distance: 31,
            min_quality: crate::fingerprint::pdq::DEFAULT_MIN_QUALITY,
            faint_quality: crate::fingerprint::pdq::DEFAULT_FAINT_QUALITY,
            dihedral: true,
            extend_distance: 56,
            min_duration_s: 1.0,
            min_fraction: 0.5,
            max_gap_s: 2.0,
            max_rate_deviation: 0.10,
            common_assets: 2,
            still_keypoints: local::STILL_MIN_KEYPOINTS,
        }
    }
}

/// A delivered segment with the hashes to search for it: the hash as stored first,
/// then its dihedral variants.
#[derive(Debug, Clone)]
pub struct QuerySegment {
    pub segment: Segment,
    pub variants: Vec<(Dihedral, Hash256)>,
}

impl QuerySegment {
    pub fn hash_for(&self, t: Dihedral) -> Hash256 {
        self.variants
            .iter()
            .find(|(v, _)| *v == t)
            .map(|(_, h)| *h)
            .unwrap_or(self.segment.pdq)
    }
}

/// What matching one file produced.
#[derive(Debug, Default)]
pub struct FileMatches {
    pub matches: Vec<Match>,
    pub ignored_hits: usize,
}

/// Matches a file's own segments, then each picture-in-picture inset's. An inset's
/// match that repeats one of the whole frame's (the same asset over overlapping
/// delivered time) is dropped: the whole frame said it already.
pub fn match_file_and_insets(
    bank: &dyn BankRead,
    query_path: &str,
    segments: &[QuerySegment],
    insets: &[(Rect, Vec<QuerySegment>)],
    opts: &MatchOptions,
) -> Result<FileMatches, BankError> {
    let mut found = match_file(bank, query_path, segments, opts)?;
    let whole_frame = found.matches.len();
    for (rect, inset_segments) in insets {
        let inset = match_file(bank, query_path, inset_segments, opts)?;
        found.ignored_hits += inset.ignored_hits;
        for mut m in inset.matches {
            let repeats = found.matches[..whole_frame].iter().any(|f| {
                f.bank_asset.digest == m.bank_asset.digest && times_overlap(&f.query, &m.query)
            });
            if !repeats {
                m.query_inset = Some(*rect);
                found.matches.push(m);
            }
        }
    }
    Ok(found)
}

fn times_overlap(a: &QuerySide, b: &QuerySide) -> bool {
    match (a.start_s, a.end_s, b.start_s, b.end_s) {
        (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 < b1 && b0 < a1,
        _ => true,
    }
}

/// Matches one file's segments against the bank.
pub fn match_file(
    bank: &dyn BankRead,
    query_path: &str,
    segments: &[QuerySegment],
    opts: &MatchOptions,
) -> Result<FileMatches, BankError> {
    let hits = seed(bank, segments, opts);
    let mut assets: HashMap<AssetId, AssetRecord> = HashMap::new();
    for h in &hits {
        if let std::collections::hash_map::Entry::Vacant(e) = assets.entry(h.seg.asset) {
            if let Some(record) = bank.asset(h.seg.asset)? {
                e.insert(record);
            }
        }
    }
    let is_ignore = |a: &AssetId| assets.get(a).is_some_and(|r| r.label == Label::Ignore);
    // A query segment that hits the negative bank is cleared for every asset: licensed
    // stock that also appears in leaked material must not raise a match through it.
    let cleared: HashSet<usize> = hits
        .iter()
        .filter(|h| is_ignore(&h.seg.asset))
        .map(|h| h.q)
        .collect();
    let mut out = FileMatches {
        ignored_hits: hits.iter().filter(|h| is_ignore(&h.seg.asset)).count(),
        ..FileMatches::default()
    };
    let query_is_video = segments.iter().any(|q| q.segment.start_s.is_some());

    let mut by_asset: HashMap<AssetId, Vec<&Hit>> = HashMap::new();
    for h in hits
        .iter()
        .filter(|h| !cleared.contains(&h.q) && !is_ignore(&h.seg.asset))
    {
        by_asset.entry(h.seg.asset).or_default().push(h);
    }
    let mut ids: Vec<AssetId> = by_asset.keys().copied().collect();
    ids.sort();
    for id in ids {
        let Some(asset) = assets.get(&id) else {
            continue;
        };
        let hits = &by_asset[&id];
        let side = |start_s, end_s| BankSide::of(asset, start_s, end_s);
        let firm: Vec<&Hit> = hits.iter().copied().filter(|h| !h.faint).collect();
        if query_is_video && asset.kind == MediaKind::Video {
            let bank_segments = bank.segments(id)?;
            // The picture and each of its banked centre crops are aligned on their own
            // (each is a time line), and the best run per stretch is kept.
            let mut runs = Vec::new();
            for (crop, range) in asset.parts() {
                let Some(part) = bank_segments.get(range.clone()) else {
                    continue;
                };
                let local: Vec<Hit> = hits
                    .iter()
                    .filter(|h| range.contains(&(h.seg.index as usize)))
                    .map(|h| Hit {
                        seg: SegmentRef {
                            index: h.seg.index - range.start as u32,
                            ..h.seg
                        },
                        ..**h
                    })
                    .collect();
                if local.is_empty() {
                    continue;
                }
                let local: Vec<&Hit> = local.iter().collect();
                runs.extend(
                    align_videos(query_path, segments, part, &local, &cleared, opts, &side)
                        .into_iter()
                        .map(|mut m| {
                            m.bank_crop = crop;
                            m
                        }),
                );
            }
            out.matches.extend(keep_best_per_stretch(runs));
        } else if query_is_video {
            out.matches.extend(
                video_against_still(query_path, segments, &firm, opts, &side, &|i| {
                    asset.picture_of(i)
                })
                .into_iter()
                .map(|(mut m, index)| {
                    m.bank_crop = asset.crop_of(index);
                    m.bank_asset = m.bank_asset.at(asset, index);
                    m
                }),
            );
        } else {
            // A still: its best evidence in this asset.
            let Some(best) = firm
                .iter()
                .min_by_key(|h| (h.distance, h.transform != Dihedral::Identity))
            else {
                continue;
            };
            let Some(bank_seg) = bank.segment(best.seg)? else {
                continue;
            };
            let (start_s, end_s) = if bank_seg.start_s.is_some() {
                held_span(&firm, best, &bank.segments(id)?, asset)
            } else {
                (None, None)
            };
            let q = &segments[best.q].segment;
            out.matches.push(Match {
                query: QuerySide {
                    path: query_path.to_string(),
                    start_s: None,
                    end_s: None,
                    frame_rate: None,
                    page: None,
                    panel: None,
                    dpi: None,
                },
                bank_asset: side(start_s, end_s).at(asset, best.seg.index),
                score: score_for_distance(best.distance),
                distance: best.distance,
                median_distance: best.distance,
                transform: best.transform,
                secondary_distance: (best.transform == Dihedral::Identity)
                    .then(|| (q.secondary ^ bank_seg.secondary).count_ones()),
                matched_duration_s: None,
                segments: 1,
                rate: None,
                specificity: 1.0,
                bank_crop: asset.crop_of(best.seg.index),
                query_inset: None,
                local: None,
                faint_only: false,
            });
        }
    }
    let weights = seed_weights(&hits, &cleared, &is_ignore, opts.common_assets);
    for m in &mut out.matches {
        m.specificity = specificity(m, segments, &weights);
        m.score *= m.specificity;
    }
    Ok(out)
}

/// The banked time a still's best hit in a video stands for: its segment, joined by the
/// segments next to it (in the same part: the picture or one crop) that the still also
/// hits within the radius, in the same orientation. A segment keeps one hash for all
/// its frames, so this is as near as the hashes can place the still; neighbours it does
/// not hit are not included. The keypoints narrow it further where the bank has them
/// (`local::match_still_by_keypoints`).
fn held_span(
    hits: &[&Hit],
    best: &Hit,
    segments: &[Segment],
    asset: &AssetRecord,
) -> (Option<f64>, Option<f64>) {
    let at = best.seg.index as usize;
    let part = asset
        .parts()
        .into_iter()
        .map(|(_, range)| range)
        .find(|r| r.contains(&at))
        .unwrap_or(at..at + 1);
    let hit: HashSet<usize> = hits
        .iter()
        .filter(|h| h.seg.asset == best.seg.asset && h.transform == best.transform)
        .map(|h| h.seg.index as usize)
        .filter(|i| part.contains(i))
        .collect();
    let (mut first, mut last) = (at, at);
    while first > part.start && hit.contains(&(first - 1)) {
        first -= 1;
    }
    while last + 1 < part.end && hit.contains(&(last + 1)) {
        last += 1;
    }
    match (segments.get(first), segments.get(last)) {
        (Some(a), Some(b)) => (a.start_s, b.end_s),
        _ => segments
            .get(at)
            .map_or((None, None), |s| (s.start_s, s.end_s)),
    }
}

/// Time-aligned runs between a delivered and a banked video, per transform.
fn align_videos(
    query_path: &str,
    query: &[QuerySegment],
    bank_segments: &[Segment],
    hits: &[&Hit],
    cleared: &HashSet<usize>,
    opts: &MatchOptions,
    side: &dyn Fn(Option<f64>, Option<f64>) -> BankSide,
) -> Vec<Match> {
    let mut by_transform: HashMap<Dihedral, Vec<temporal::Seed>> = HashMap::new();
    for h in hits {
        by_transform
            .entry(h.transform)
            .or_default()
            .push(temporal::Seed {
                q: h.q,
                b: h.seg.index as usize,
                distance: h.distance,
                firm: !h.faint,
            });
    }
    let usable: Vec<QuerySegment> = query
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut q = q.clone();
            if cleared.contains(&i) {
                q.segment.quality = 0;
            }
            q
        })
        .collect();
    let mut out = Vec::new();
    let mut transforms: Vec<Dihedral> = by_transform.keys().copied().collect();
    // In a fixed order, identity first: runs of equal score in two orientations are
    // then kept the same way every time.
    transforms.sort_by_key(|t| Dihedral::ALL.iter().position(|a| a == t));
    for t in transforms {
        let seeds = by_transform.remove(&t).unwrap_or_default();
        for run in temporal::align(&usable, |q| q.hash_for(t), bank_segments, seeds, opts) {
            let duration = run.query_end_s - run.query_start_s;
            let fraction = if duration > 0.0 {
                run.matched_s / duration
            } else {
                1.0
            };
            out.push(Match {
                query: QuerySide {
                    path: query_path.to_string(),
                    start_s: Some(run.query_start_s),
                    end_s: Some(run.query_end_s),
                    frame_rate: None,
                    page: None,
                    panel: None,
                    dpi: None,
                },
                bank_asset: side(Some(run.bank_start_s), Some(run.bank_end_s)),
                score: fraction.min(1.0) * score_for_distance(run.median_distance),
                distance: run.median_distance,
                median_distance: run.median_distance,
                transform: t,
                secondary_distance: None,
                matched_duration_s: Some(run.matched_s),
                segments: run.segments,
                rate: Some(run.rate),
                specificity: 1.0,
                bank_crop: None,
                query_inset: None,
                local: None,
                faint_only: run.firm_segments == 0,
            });
        }
    }
    out
}

/// Where runs for different transforms cover the same stretch of the delivery (a
/// symmetric frame matches in several orientations), keeps the best: highest score, the
/// identity on a tie.
fn keep_best_per_stretch(mut runs: Vec<Match>) -> Vec<Match> {
    runs.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((a.transform != Dihedral::Identity).cmp(&(b.transform != Dihedral::Identity)))
    });
    let mut kept: Vec<Match> = Vec::new();
    for m in runs {
        let (s, e) = (m.query.start_s.unwrap_or(0.0), m.query.end_s.unwrap_or(0.0));
        let overlaps = kept.iter().any(|k| {
            let (ks, ke) = (k.query.start_s.unwrap_or(0.0), k.query.end_s.unwrap_or(0.0));
            let common = (e.min(ke) - s.max(ks)).max(0.0);
            common > 0.5 * (e - s).min(ke - ks)
        });
        if !overlaps {
            kept.push(m);
        }
    }
    kept.sort_by(|a, b| {
        a.query
            .start_s
            .unwrap_or(0.0)
            .total_cmp(&b.query.start_s.unwrap_or(0.0))
    });
    kept
}

/// Delivered segments showing a banked still, merged into timed runs; each with the
/// stored index of its closest banked segment (the still, or one of its crops).
fn video_against_still(
    query_path: &str,
    query: &[QuerySegment],
    hits: &[&Hit],
    opts: &MatchOptions,
    side: &dyn Fn(Option<f64>, Option<f64>) -> BankSide,
    picture_of: &dyn Fn(u32) -> u32,
) -> Vec<(Match, u32)> {
    let mut best: HashMap<usize, &Hit> = HashMap::new();
    for h in hits {
        let e = best.entry(h.q).or_insert(h);
        if h.distance < e.distance {
            *e = h;
        }
    }
    let mut qs: Vec<usize> = best.keys().copied().collect();
    qs.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < qs.len() {
        let mut j = i;
        let end_of = |k: usize| query[qs[k]].segment.end_s.unwrap_or(0.0);
        // A run shows one picture: an animatic cuts from one banked panel or page to the
        // next, and each is its own match with its own seconds.
        let picture = |k: usize| picture_of(best[&qs[k]].seg.index);
        while j + 1 < qs.len()
            && query[qs[j + 1]].segment.start_s.unwrap_or(0.0) - end_of(j) <= opts.max_gap_s
            && picture(j + 1) == picture(i)
        {
            j += 1;
        }
        let run: Vec<&Hit> = qs[i..=j].iter().map(|q| best[q]).collect();
        let mut distances: Vec<u32> = run.iter().map(|h| h.distance).collect();
        distances.sort_unstable();
        let median = distances[distances.len() / 2];
        let closest = run.iter().min_by_key(|h| h.distance);
        let transform = closest.map(|h| h.transform).unwrap_or(Dihedral::Identity);
        let index = closest.map(|h| h.seg.index).unwrap_or(0);
        let matched: f64 = run
            .iter()
            .map(|h| {
                let s = &query[h.q].segment;
                s.end_s.unwrap_or(0.0) - s.start_s.unwrap_or(0.0)
            })
            .sum();
        let m = Match {
            query: QuerySide {
                path: query_path.to_string(),
                start_s: query[qs[i]].segment.start_s,
                end_s: query[qs[j]].segment.end_s,
                frame_rate: None,
                page: None,
                panel: None,
                dpi: None,
            },
            bank_asset: side(None, None),
            score: score_for_distance(median),
            distance: median,
            median_distance: median,
            transform,
            secondary_distance: None,
            matched_duration_s: Some(matched),
            segments: run.len() as u32,
            rate: None,
            specificity: 1.0,
            bank_crop: None,
            query_inset: None,
            local: None,
            faint_only: false,
        };
        out.push((m, index));
        i = j + 1;
    }
    out
}

/// 1 at distance 0, 0 at 128 bits (what unrelated images typically differ by).
pub fn score_for_distance(distance: u32) -> f64 {
    (1.0 - distance as f64 / 128.0).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{MemoryBank, NewAsset};

    fn hash(seed: u8) -> Hash256 {
        // Bytes far apart for different seeds: each a different picture.
        let hex: String = (0..32u8)
            .map(|i| {
                format!(
                    "{:02x}",
                    i.wrapping_mul(37).wrapping_add(seed.wrapping_mul(101))
                )
            })
            .collect();
        hex.parse().unwrap()
    }

    fn still(h: Hash256) -> Segment {
        Segment {
            start_s: None,
            end_s: None,
            pdq: h,
            quality: 90,
            frames: 1,
            secondary: 0,
        }
    }

    fn bank_of(hashes: &[Hash256]) -> MemoryBank {
        let mut bank = MemoryBank::new();
        for (i, h) in hashes.iter().enumerate() {
            bank.add_asset(NewAsset {
                by: None,
                digest: [i as u8 + 1; 32],
                kind: MediaKind::Still,
                label: Label::Leaked,
                source: None,
                note: None,
                path: format!("banked-{i}.png"),
                bytes: 1,
                width: 64,
                height: 64,
                frame_rate: None,
                segments: vec![still(*h)],
                crops: Vec::new(),
                panels: Vec::new(),
                panel_pages: Vec::new(),
                page_dpi: Vec::new(),
                features: Vec::new(),
                seen: None,
            });
        }
        bank
    }

    fn query(h: Hash256) -> Vec<QuerySegment> {
        vec![QuerySegment {
            segment: still(h),
            variants: vec![(Dihedral::Identity, h)],
        }]
    }

    fn with_quality(mut q: Vec<QuerySegment>, quality: u8) -> Vec<QuerySegment> {
        for s in &mut q {
            s.segment.quality = quality;
        }
        q
    }

    /// Three seconds of video showing one picture.
    fn held(h: Hash256, quality: u8) -> Vec<QuerySegment> {
        (0..3)
            .map(|i| QuerySegment {
                segment: Segment {
                    start_s: Some(i as f64),
                    end_s: Some(i as f64 + 1.0),
                    quality,
                    ..still(h)
                },
                variants: vec![(Dihedral::Identity, h)],
            })
            .collect()
    }

    /// Faint evidence needs a time line: a faint still, or faint video frames against a
    /// banked still, never match, where the same at full quality does.
    #[test]
    fn faint_segments_never_match_a_still() {
        let a = hash(1);
        let bank = bank_of(&[a]);
        let opts = MatchOptions::default();
        let found = |q: &[QuerySegment]| match_file(&bank, "q", q, &opts).unwrap().matches.len();
        assert_eq!(found(&query(a)), 1);
        assert_eq!(found(&with_quality(query(a), 30)), 0);
        assert_eq!(found(&held(a, 90)), 1);
        assert_eq!(found(&held(a, 30)), 0);
    }

    /// No threshold goes under the quality a bank cut its segments at: under it, frames
    /// were pooled into gaps that carry the first frame's hash.
    #[test]
    fn thresholds_never_go_under_what_the_bank_segmented_at() {
        let before_faint = FingerprintParams {
            faint_quality: None,
            ..FingerprintParams::default()
        };
        let o = MatchOptions {
            min_quality: 30,
            ..MatchOptions::default()
        }
        .for_bank(&before_faint);
        assert_eq!((o.min_quality, o.evidence_quality()), (50, 50));
        let o = MatchOptions::default().for_bank(&FingerprintParams::default());
        assert_eq!((o.min_quality, o.evidence_quality()), (50, 5));
        assert_eq!((o.floor_for(true), o.floor_for(false)), (5, 50));
        let o = MatchOptions {
            faint_quality: 2,
            ..MatchOptions::default()
        }
        .for_bank(&FingerprintParams::default());
        assert_eq!(o.evidence_quality(), 5);
    }

    /// An inset's match is reported with its place, unless the whole frame already
    /// matched the same asset at the same time.
    #[test]
    fn inset_matches_carry_their_place_and_do_not_repeat_the_whole_frame() {
        let (a, b) = (hash(1), hash(2));
        assert!(a.distance(&b) > 64);
        let bank = bank_of(&[a, b]);
        let rect = Rect {
            x: 10,
            y: 20,
            width: 30,
            height: 40,
        };
        let opts = MatchOptions::default();
        let both = [(rect, query(a)), (rect, query(b))];
        let found = match_file_and_insets(&bank, "q.png", &query(a), &both, &opts).unwrap();
        let places: Vec<(String, Option<Rect>)> = found
            .matches
            .iter()
            .map(|m| (m.bank_asset.path.clone(), m.query_inset))
            .collect();
        assert_eq!(
            places,
            vec![
                ("banked-0.png".to_string(), None),
                ("banked-1.png".to_string(), Some(rect)),
            ]
        );
    }
}
