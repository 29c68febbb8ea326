//! A delivered still by keypoints: a picture cut on one or two sides and resized, a
//! region of a banked picture collaged into another, a frame grab reframed. A still has
//! no time line, so where a video's run needs five samples that agree along one offset,
//! one sample must carry the decision alone: a banked sample counts only when at least
//! [`MatchOptions::still_keypoints`] of its corners agree on one mapping (the figure is
//! measured in `docs/stills-keypoints.md`).
//!
//! The same samples also place a still's hash match inside a banked video: a segment
//! holds one hash for all its frames, however long it lasts, so a grab from a slow shot
//! matched its whole segment; the banked samples whose keypoints put the picture where
//! the still has it (the identity mapping) say which of those frames it is.

use std::collections::HashMap;

use super::geometry::Mapping;
use super::index::{sample_hits, SampleHit};
use super::runs::LocalRun;
use super::{placement, FileMatches};
use crate::bank::{AssetRecord, BankError, BankRead, FeatureSearch};
use crate::fingerprint::keypoints::{FeatureSample, BANK_STEP_S};
use crate::fingerprint::Dihedral;
use crate::matching::{score_for_distance, BankSide, Match, MatchOptions, QuerySide};
use crate::media::MediaKind;
use crate::model::{AssetId, Label};

/// The default of [`MatchOptions::still_keypoints`]: see `docs/stills-keypoints.md`
/// for the curve it was picked from.
pub const STILL_MIN_KEYPOINTS: usize = 24;

/// How far, in base pixels, a banked sample's mapping may move the picture's corners
/// from where the still has them and still be a frame near the one the still shows:
/// samples are half a second apart, and a pan moves the picture tens of pixels a
/// second. The sample that misses least is the still's moment.
const SAME_FRAME_MISS: f32 = 24.0;
/// Samples whose miss is within this much of the best one's are as good a place: a
/// picture held still for a while is shown by all of them.
const MISS_SLACK: f32 = 1.5;

/// Adds to `found` the matches by keypoints of a delivered still's `samples` (one, or
/// one a page), and narrows the bank range of its hash matches on banked videos to the
/// samples that show the same frame.
///
/// A banked asset the hash already matched is not reported again. A hit on an asset
/// labelled `ignore` is counted, never reported, and clears the hits that cover the same
/// part of the delivered picture (a collage may hold licensed stock beside a leak).
pub fn match_still_by_keypoints(
    bank: &dyn BankRead,
    index: &dyn FeatureSearch,
    query_path: &str,
    samples: &[FeatureSample],
    found: &mut FileMatches,
    opts: &MatchOptions,
) -> Result<(), BankError> {
    if index.is_empty() || samples.is_empty() {
        return Ok(());
    }
    let mut hits: Vec<(usize, SampleHit)> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        hits.extend(sample_hits(index, s)?.into_iter().map(|h| (i, h)));
    }
    let mut assets: HashMap<u64, AssetRecord> = HashMap::new();
    for (_, h) in &hits {
        if let std::collections::hash_map::Entry::Vacant(e) = assets.entry(h.owner) {
            if let Some(record) = bank.asset(AssetId(h.owner))? {
                e.insert(record);
            }
        }
    }
    narrow_hash_matches(&hits, &assets, found);

    let strong: Vec<&(usize, SampleHit)> = hits
        .iter()
        .filter(|(_, h)| h.inliers >= opts.still_keypoints && assets.contains_key(&h.owner))
        .collect();
    let cover = |(page, h): &(usize, SampleHit)| covered(&h.mapping, h.bank_base, &samples[*page]);
    let ignored: Vec<&&(usize, SampleHit)> = strong
        .iter()
        .filter(|(_, h)| assets[&h.owner].label == Label::Ignore)
        .collect();
    found.ignored_hits += ignored.len();
    // The best hit per asset: most corners agreeing, then the closest descriptors.
    let mut best: HashMap<u64, &(usize, SampleHit)> = HashMap::new();
    for hit in strong
        .iter()
        .filter(|(_, h)| assets[&h.owner].label != Label::Ignore)
    {
        let e = best.entry(hit.1.owner).or_insert(hit);
        if (hit.1.inliers, std::cmp::Reverse(hit.1.distance))
            > (e.1.inliers, std::cmp::Reverse(e.1.distance))
        {
            *e = hit;
        }
    }
    let mut owners: Vec<u64> = best.keys().copied().collect();
    owners.sort_unstable();
    for owner in owners {
        let (page, hit) = *best[&owner];
        let asset = &assets[&owner];
        let repeats = found
            .matches
            .iter()
            .any(|m| m.bank_asset.digest == asset.digest);
        let place = cover(&(page, hit));
        let cleared = ignored
            .iter()
            .any(|i| i.0 == page && overlaps(&cover(i), &place));
        if repeats || cleared {
            continue;
        }
        let bank_range = if asset.kind == MediaKind::Video {
            let t = hit.bank_time_s;
            Some(((t - BANK_STEP_S / 2.0).max(0.0), t + BANK_STEP_S / 2.0))
        } else {
            None
        };
        let run = LocalRun {
            owner,
            bank_base: hit.bank_base,
            first_s: 0.0,
            last_s: 0.0,
            offset_s: 0.0,
            samples: 1,
            mapping: hit.mapping,
            median_inliers: hit.inliers,
            median_distance: hit.distance,
        };
        let (evidence, inset) = placement(&run, &samples[page]);
        found.matches.push(Match {
            query: QuerySide {
                path: query_path.to_string(),
                start_s: None,
                end_s: None,
                frame_rate: None,
                page: (samples.len() > 1).then_some(samples[page].time_s as u32 + 1),
                panel: None,
                dpi: None,
            },
            bank_asset: BankSide::of(asset, bank_range.map(|r| r.0), bank_range.map(|r| r.1)),
            score: score_for_distance(hit.distance),
            specificity: 1.0,
            distance: hit.distance,
            median_distance: hit.distance,
            matched_duration_s: None,
            segments: 1,
            rate: None,
            transform: Dihedral::Identity,
            bank_crop: None,
            query_inset: inset,
            faint_only: false,
            secondary_distance: None,
            local: Some(evidence),
        });
    }
    Ok(())
}

/// Narrows each hash match of the still on a banked video to the banked samples, inside
/// the matched segments' time, that show the picture where the still has it: the
/// identity mapping, give or take [`SAME_FRAME_MISS`]. Left as it is where no sample
/// does (a bank without keypoints, a picture too flat for corners).
fn narrow_hash_matches(
    hits: &[(usize, SampleHit)],
    assets: &HashMap<u64, AssetRecord>,
    found: &mut FileMatches,
) {
    const IDENTITY: Mapping = Mapping {
        sx: 1.0,
        sy: 1.0,
        tx: 0.0,
        ty: 0.0,
    };
    for m in found.matches.iter_mut().filter(|m| m.local.is_none()) {
        let (Some(start), Some(end)) = (m.bank_asset.start_s, m.bank_asset.end_s) else {
            continue;
        };
        // Mirrored or turned matches show the picture elsewhere: no identity to find.
        if m.transform != Dihedral::Identity || m.bank_crop.is_some() {
            continue;
        }
        let Some((&owner, _)) = assets
            .iter()
            .find(|(_, a)| a.digest == m.bank_asset.digest && a.kind == MediaKind::Video)
        else {
            continue;
        };
        let half = BANK_STEP_S / 2.0;
        let inside: Vec<&SampleHit> = hits
            .iter()
            .map(|(_, h)| h)
            .filter(|h| h.owner == owner && h.bank_time_s >= start - half && h.bank_time_s < end)
            .collect();
        if let Some((a, b)) = span(&inside, &IDENTITY, SAME_FRAME_MISS) {
            let (a, b) = ((a - half).max(start), (b + half).min(end));
            if a < b {
                m.bank_asset.start_s = Some(a);
                m.bank_asset.end_s = Some(b);
            }
        }
    }
}

/// The times of the first and last of the banked samples that show the picture as
/// `reference` places it: the one whose mapping is closest to it (within `within` base
/// pixels), and the samples on either side of it, one banked step apart, as close give
/// or take [`MISS_SLACK`].
fn span(hits: &[&SampleHit], reference: &Mapping, within: f32) -> Option<(f64, f64)> {
    let mut by_time: Vec<(f64, f32)> = hits
        .iter()
        .map(|h| (h.bank_time_s, miss(&h.mapping, reference, h.bank_base)))
        .collect();
    by_time.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    by_time.dedup_by(|a, b| a.0 == b.0);
    let (at, best) = by_time
        .iter()
        .enumerate()
        .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, h)| (i, h.1))?;
    if best > within {
        return None;
    }
    let good = |i: usize| by_time[i].1 <= (best + MISS_SLACK).min(within);
    let next_to = |i: usize, j: usize| (by_time[i].0 - by_time[j].0).abs() <= 1.5 * BANK_STEP_S;
    let (mut first, mut last) = (at, at);
    while first > 0 && good(first - 1) && next_to(first - 1, first) {
        first -= 1;
    }
    while last + 1 < by_time.len() && good(last + 1) && next_to(last + 1, last) {
        last += 1;
    }
    Some((by_time[first].0, by_time[last].0))
}

/// How far `m` puts the banked picture's corners from where `reference` puts them, in
/// delivered base pixels: the larger of the two corners' moves along either axis.
fn miss(m: &Mapping, reference: &Mapping, (w, h): (f32, f32)) -> f32 {
    [(0.0, 0.0), (w, h)]
        .iter()
        .map(|&(x, y)| {
            let (a, b) = (m.apply(x, y), reference.apply(x, y));
            (a.0 - b.0).abs().max((a.1 - b.1).abs())
        })
        .fold(0.0, f32::max)
}

/// The part of the delivered picture a hit's banked picture covers, in delivered base
/// pixels: left, top, right, bottom.
fn covered(m: &Mapping, (bw, bh): (f32, f32), sample: &FeatureSample) -> [f32; 4] {
    let (qw, qh) = sample.base();
    let (qw, qh) = (qw as f32, qh as f32);
    [
        m.tx.clamp(0.0, qw),
        m.ty.clamp(0.0, qh),
        (m.tx + m.sx * bw).clamp(0.0, qw),
        (m.ty + m.sy * bh).clamp(0.0, qh),
    ]
}

/// Whether two parts of a picture share more than half of the smaller.
fn overlaps(a: &[f32; 4], b: &[f32; 4]) -> bool {
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let common = [
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ];
    area(&common) > 0.5 * area(a).min(area(b))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{banked, delivered, keypoint, picture};
    use super::*;
    use crate::bank::{MemoryBank, NewAsset};
    use crate::fingerprint::keypoints::Keypoint;
    use crate::fingerprint::Segment;
    use crate::search::FeatureIndex;

    fn asset(kind: MediaKind, label: Label, n: u8) -> NewAsset {
        NewAsset {
            by: None,
            digest: [n; 32],
            kind,
            label,
            source: None,
            note: None,
            path: format!("banked-{n}"),
            bytes: 1,
            width: 370,
            height: 208,
            frame_rate: None,
            segments: Vec::<Segment>::new(),
            crops: Vec::new(),
            panels: Vec::new(),
            panel_pages: Vec::new(),
            page_dpi: Vec::new(),
            features: Vec::new(),
            seen: None,
        }
    }

    fn sample(t: f64, keypoints: Vec<Keypoint>) -> FeatureSample {
        FeatureSample {
            time_s: t,
            picture: picture(),
            keypoints,
        }
    }

    /// 5 % cut off the left and the top, resized back to the frame.
    const CUT: Mapping = Mapping {
        sx: 1.0 / 0.95,
        sy: 1.0 / 0.95,
        tx: -0.05 / 0.95 * 370.0,
        ty: -0.05 / 0.95 * 208.0,
    };

    fn still_query(keypoints: Vec<Keypoint>) -> Vec<FeatureSample> {
        vec![sample(0.0, keypoints)]
    }

    fn matches(
        bank: &MemoryBank,
        index: &FeatureIndex,
        query: &[FeatureSample],
        opts: &MatchOptions,
    ) -> FileMatches {
        let mut found = FileMatches::default();
        match_still_by_keypoints(bank, index, "q.png", query, &mut found, opts).unwrap();
        found
    }

    /// Two banked stills: one delivered still cut on two sides and resized matches its
    /// own with `local` evidence of the cut; a still that shares only a dozen corners
    /// placed alike (what another frame of a show can share) is no match at the
    /// default, though a video sample would count it, and only a threshold lowered to
    /// a video sample's makes it one.
    #[test]
    fn one_sample_decides_only_with_a_still_s_stronger_agreement() {
        let mut bank = MemoryBank::new();
        let a = bank.add_asset(asset(MediaKind::Still, Label::Leaked, 1));
        let b = bank.add_asset(asset(MediaKind::Still, Label::Leaked, 2));
        let mut index = FeatureIndex::new();
        index.add(a.0, &[sample(0.0, banked(1))]);
        index.add(b.0, &[sample(0.0, banked(2))]);
        index.build();
        let opts = MatchOptions::default();

        let found = matches(
            &bank,
            &index,
            &still_query(delivered(&banked(1), CUT, 0, 5)),
            &opts,
        );
        assert_eq!(found.matches.len(), 1, "{:#?}", found.matches);
        let m = &found.matches[0];
        assert_eq!(m.bank_asset.path, "banked-1");
        assert_eq!((m.bank_asset.start_s, m.query.start_s), (None, None));
        let local = m.local.as_ref().expect("local evidence");
        assert!(local.keypoints >= opts.still_keypoints, "{local:?}");
        assert!((local.scale_x - 1.0 / 0.95).abs() < 0.01, "{local:?}");
        assert!((local.bank_area[0] - 0.05).abs() < 0.01, "{local:?}");
        assert!((local.bank_area[1] - 0.05).abs() < 0.01, "{local:?}");

        // Twelve of the banked corners where the cut puts them, among unrelated ones.
        let few: Vec<Keypoint> = delivered(&banked(2)[..12], CUT, 0, 9);
        let found = matches(&bank, &index, &still_query(few.clone()), &opts);
        assert!(found.matches.is_empty(), "{:#?}", found.matches);
        let video_like = MatchOptions {
            still_keypoints: super::super::MIN_INLIERS,
            ..opts
        };
        let found = matches(&bank, &index, &still_query(few), &video_like);
        assert_eq!(found.matches.len(), 1, "{:#?}", found.matches);
    }

    /// A still the hash already matched to an asset is not reported again by keypoints;
    /// a hit on an `ignore` asset is counted, and clears a hit on the same part of the
    /// picture but not one elsewhere (a collage).
    #[test]
    fn no_repeat_of_a_hash_match_and_ignore_clears_only_its_own_part() {
        let mut bank = MemoryBank::new();
        let leak = bank.add_asset(asset(MediaKind::Still, Label::Leaked, 1));
        let stock = bank.add_asset(asset(MediaKind::Still, Label::Ignore, 2));
        let mut index = FeatureIndex::new();
        index.add(leak.0, &[sample(0.0, banked(1))]);
        index.add(stock.0, &[sample(0.0, banked(2))]);
        index.build();
        let opts = MatchOptions::default();
        let record = bank.asset(leak).unwrap().unwrap();

        let mut found = FileMatches::default();
        found.matches.push(Match {
            local: None,
            ..local_match(&record)
        });
        let query = still_query(delivered(&banked(1), CUT, 0, 5));
        match_still_by_keypoints(&bank, &index, "q.png", &query, &mut found, &opts).unwrap();
        assert_eq!(found.matches.len(), 1, "the hash match alone");

        // Both pictures at 70 %: side by side, then one over the other.
        let half = |tx: f32| Mapping {
            sx: 0.7,
            sy: 0.7,
            tx,
            ty: 50.0,
        };
        let collage = |stock_at: f32| {
            let mut k = delivered(&banked(1), half(0.0), 0, 5);
            k.extend(delivered(&banked(2), half(stock_at), 0, 6));
            still_query(k)
        };
        let found = matches(&bank, &index, &collage(185.0), &opts);
        assert_eq!(found.ignored_hits, 1);
        let paths: Vec<&str> = found
            .matches
            .iter()
            .map(|m| m.bank_asset.path.as_str())
            .collect();
        assert_eq!(paths, ["banked-1"]);
        let found = matches(&bank, &index, &collage(10.0), &opts);
        assert_eq!((found.ignored_hits, found.matches.len()), (1, 0));
    }

    fn local_match(record: &AssetRecord) -> Match {
        Match {
            query: QuerySide {
                path: "q.png".into(),
                start_s: None,
                end_s: None,
                frame_rate: None,
                page: None,
                panel: None,
                dpi: None,
            },
            bank_asset: BankSide::of(record, None, None),
            score: 1.0,
            specificity: 1.0,
            distance: 4,
            median_distance: 4,
            matched_duration_s: None,
            segments: 1,
            rate: None,
            transform: Dihedral::Identity,
            bank_crop: None,
            query_inset: None,
            faint_only: false,
            secondary_distance: None,
            local: None,
        }
    }

    /// A slow pan: the banked video's samples every 0.5 s show the same corners moved 8
    /// pixels a step. A grab at 11.0 s matched by hash a segment of 9.8-12.3 s; the
    /// samples place it at the one whose corners sit where the grab has them.
    #[test]
    fn a_hash_match_in_a_slow_shot_is_narrowed_to_the_samples_that_show_the_grab() {
        let mut bank = MemoryBank::new();
        let video = bank.add_asset(asset(MediaKind::Video, Label::Leaked, 1));
        let scene: Vec<Keypoint> = (0..60u64)
            .map(|i| {
                let (x, y) = (40.0 + (i % 10) as f32 * 29.0, 20.0 + (i / 10) as f32 * 30.0);
                keypoint(x, y, 0, 500 + i)
            })
            .collect();
        let panned = |t: f64| {
            let m = Mapping {
                sx: 1.0,
                sy: 1.0,
                tx: ((t - 11.0) * 16.0) as f32,
                ty: 0.0,
            };
            delivered(&scene, m, 0, 1000 + (t * 10.0) as u64)
        };
        let times = [10.0, 10.5, 11.0, 11.5, 12.0];
        let mut index = FeatureIndex::new();
        let samples: Vec<FeatureSample> = times.iter().map(|&t| sample(t, panned(t))).collect();
        index.add(video.0, &samples);
        index.build();
        let record = bank.asset(video).unwrap().unwrap();
        let mut found = FileMatches::default();
        found.matches.push(Match {
            bank_asset: BankSide::of(&record, Some(9.8), Some(12.3)),
            ..local_match(&record)
        });
        let grab = still_query(panned(11.0));
        let opts = MatchOptions::default();
        match_still_by_keypoints(&bank, &index, "q.png", &grab, &mut found, &opts).unwrap();
        assert_eq!(found.matches.len(), 1, "no repeat by keypoints");
        let b = &found.matches[0].bank_asset;
        assert_eq!((b.start_s, b.end_s), (Some(10.75), Some(11.25)));
    }
}
