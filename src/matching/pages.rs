//! Pages and panels: a document of several pictures is matched page by page, and each
//! storyboard panel on it as a picture of its own, so that a report says which page and
//! which panel matched which. The template a studio's pages share (frames, header, text
//! fields) is never evidence: a whole-page match between two pages laid out as
//! storyboards stands only when a panel of the delivered page matches a panel of the
//! same banked asset too.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::local::{place, sample_hits, SampleHit};
use super::{
    match_file, score_for_distance, BankSide, FileMatches, LocalEvidence, Match, MatchOptions,
    QuerySegment, QuerySide,
};
use crate::bank::{AssetRecord, BankError, BankRead, FeatureSearch};
use crate::fingerprint::keypoints::{FeatureSample, BANK_STEP_S};
use crate::fingerprint::Dihedral;
use crate::media::MediaKind;
use crate::model::{AssetId, Label, PanelPlace};
use crate::search::FeatureIndex;

/// What a still file holds: its pages (one segment each, in order; one for a file of
/// one picture), and the panels found on them.
pub struct Document<'a> {
    pub pages: &'a [QuerySegment],
    pub panels: &'a [(PanelPlace, QuerySegment)],
    /// The pages (from 1) on which panels were found, blank ones included.
    pub panel_pages: &'a [u32],
}

/// Matches a still file's pages and panels against the bank.
pub fn match_document(
    bank: &dyn BankRead,
    query_path: &str,
    doc: &Document<'_>,
    opts: &MatchOptions,
) -> Result<FileMatches, BankError> {
    let mut found = FileMatches::default();
    let several = doc.pages.len() > 1;
    for (i, page) in doc.pages.iter().enumerate() {
        let mut on_page = match_file(bank, query_path, std::slice::from_ref(page), opts)?;
        found.ignored_hits += on_page.ignored_hits;
        for m in &mut on_page.matches {
            m.query.page = several.then_some(i as u32 + 1);
        }
        found.matches.append(&mut on_page.matches);
    }
    let whole = found.matches.len();
    for (place, panel) in doc.panels {
        let mut in_panel = match_file(bank, query_path, std::slice::from_ref(panel), opts)?;
        found.ignored_hits += in_panel.ignored_hits;
        for m in &mut in_panel.matches {
            m.query.page = Some(place.page);
            m.query.panel = Some(place.rect);
        }
        found.matches.append(&mut in_panel.matches);
    }
    let (pages, panels) = found.matches.split_at(whole);
    let mut borne_out = Vec::with_capacity(pages.len());
    for m in pages {
        let page = m.query.page.unwrap_or(1);
        let templated = doc.panel_pages.contains(&page) && laid_out(bank, &m.bank_asset)?;
        borne_out.push(
            !templated
                || panels.iter().any(|p| {
                    p.query.page == Some(page) && p.bank_asset.digest == m.bank_asset.digest
                }),
        );
    }
    let mut keep = borne_out.into_iter().chain(std::iter::repeat(true));
    found.matches.retain(|_| keep.next().unwrap_or(true));
    Ok(found)
}

/// Whether the banked side of a match is a whole page laid out as a storyboard (panels
/// were found on it when it was banked).
fn laid_out(bank: &dyn BankRead, side: &BankSide) -> Result<bool, BankError> {
    if side.panel.is_some() {
        return Ok(false);
    }
    let Some(digest) = crate::media::digest_from_hex(&side.digest) else {
        return Ok(false);
    };
    let Some(id) = bank.asset_by_digest(&digest)? else {
        return Ok(false);
    };
    Ok(bank
        .asset(id)?
        .is_some_and(|a| a.panel_pages.contains(&side.page.unwrap_or(1))))
}

/// Fewest corners of a banked panel (or, for a delivered panel, of any banked picture)
/// that must agree on one placement in a delivered picture for a match by keypoints.
/// Higher than a still's [`MatchOptions::still_keypoints`]: boards of one shot share
/// their background, and a pencil board of another moment of a banked shot reached 42
/// corners against its banked board (`docs/storyboards.md`, "Keypoints per panel"); 47
/// keeps a margin of 5 over it, as the still figure does over its worst negative.
pub const PANEL_MIN_KEYPOINTS: usize = 47;

/// A delivered picture searched by keypoints for banked panels: a storyboard panel of
/// a delivered page (`place` set), or a delivered still or page that is not laid out as
/// a storyboard.
pub struct KeypointQuery<'a> {
    pub place: Option<PanelPlace>,
    /// The page (from 1) of a file of several pages; a panel's page is its place's.
    pub page: Option<u32>,
    pub sample: &'a FeatureSample,
}

/// Where a banked sample lies in its asset.
#[derive(Clone, Copy)]
enum BankedAt {
    /// A still's page, or the still itself: the stored segment it is.
    Page(u32),
    /// A storyboard panel: the stored segment it is.
    Panel(u32),
    /// A video's moment, in seconds.
    Time(f64),
}

/// Where the banked sample at `time_s` of `asset` lies, or `None` for a page laid out as
/// a storyboard, whose keypoints are mostly its template's and never evidence. A
/// still is banked with one sample a page (timed by its place, from 0), then one a
/// panel (timed on after the pages: `pages + k` for panel `k`, as `index` banks them).
fn banked_at(asset: &AssetRecord, time_s: f64) -> Option<BankedAt> {
    if asset.kind == MediaKind::Video {
        return Some(BankedAt::Time(time_s));
    }
    let k = time_s.round().max(0.0) as u32;
    if asset.is_panel_sample(time_s) {
        let panel = k - asset.segments;
        let crops: u32 = asset.crops.iter().map(|&(_, n)| n).sum();
        return ((panel as usize) < asset.panels.len())
            .then_some(BankedAt::Panel(asset.segments + crops + panel));
    }
    (!asset.panel_pages.contains(&(k + 1))).then_some(BankedAt::Page(k))
}

/// Adds to `found` what a delivered still's panels, and the still itself, show of
/// banked panels by keypoints (a panel cut on a side and resized, a panel collaged into
/// another picture), with the page and panel on both sides. The bank's keypoints come
/// in two indexes ([`crate::bank::Bank::feature_searches`]): its pictures' (stills,
/// pages, video frames) and its panels'.
///
/// A delivered panel is searched against every banked sample but a storyboard page's
/// (the template is never evidence): panels, stills, video frames. A delivered whole
/// picture is searched here against banked panels only; what else it shows is
/// `local::match_still_by_keypoints`' to find, which runs after this and does not
/// report an asset matched here again. A hit counts with at least
/// [`PANEL_MIN_KEYPOINTS`] corners agreeing (or the still figure, where that is set
/// higher): a panel, like a still, is one sample with no time line to confirm it. The best hit per delivered
/// picture and banked asset is reported, unless a match already names the same
/// delivered picture, or the same banked panel, of that asset. A hit on an asset
/// labelled `ignore` is counted, never reported, and clears the delivered picture's
/// other hits.
pub fn match_panels_by_keypoints(
    bank: &dyn BankRead,
    (pictures, panels): (&dyn FeatureSearch, &FeatureIndex),
    query_path: &str,
    queries: &[KeypointQuery<'_>],
    found: &mut FileMatches,
    opts: &MatchOptions,
) -> Result<(), BankError> {
    if pictures.is_empty() && panels.is_empty() {
        return Ok(());
    }
    let mut assets: HashMap<u64, Option<AssetRecord>> = HashMap::new();
    for q in queries {
        let mut best: Vec<(SampleHit, BankedAt)> = Vec::new();
        let mut ignored = false;
        // A delivered whole picture meets only banked panels here.
        let mut hits = Vec::new();
        if q.place.is_some() {
            hits = sample_hits(pictures, q.sample)?;
        }
        hits.extend(sample_hits(panels, q.sample)?);
        for hit in hits {
            if hit.inliers < opts.still_keypoints.max(PANEL_MIN_KEYPOINTS) {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = assets.entry(hit.owner) {
                e.insert(bank.asset(AssetId(hit.owner))?);
            }
            let Some(asset) = &assets[&hit.owner] else {
                continue;
            };
            let Some(at) = banked_at(asset, hit.bank_time_s) else {
                continue;
            };
            if q.place.is_none() && !matches!(at, BankedAt::Panel(_)) {
                continue;
            }
            if asset.label == Label::Ignore {
                found.ignored_hits += 1;
                ignored = true;
                continue;
            }
            match best.iter_mut().find(|(b, _)| b.owner == hit.owner) {
                Some(b)
                    if (hit.inliers, Reverse(hit.distance))
                        > (b.0.inliers, Reverse(b.0.distance)) =>
                {
                    *b = (hit, at)
                }
                Some(_) => {}
                None => best.push((hit, at)),
            }
        }
        if ignored {
            continue;
        }
        best.sort_by_key(|(h, _)| h.owner);
        for (hit, at) in best {
            let Some(asset) = &assets[&hit.owner] else {
                continue;
            };
            let m = keypoint_match(query_path, q, asset, &hit, at);
            let repeats = found.matches.iter().any(|f| {
                f.bank_asset.digest == m.bank_asset.digest
                    && ((f.query.page, f.query.panel) == (m.query.page, m.query.panel)
                        || m.bank_asset.panel.is_some()
                            && (f.bank_asset.page, f.bank_asset.panel)
                                == (m.bank_asset.page, m.bank_asset.panel))
            });
            if !repeats {
                found.matches.push(m);
            }
        }
    }
    Ok(())
}

/// The match a keypoint hit of a delivered picture on a banked sample makes.
fn keypoint_match(
    query_path: &str,
    q: &KeypointQuery<'_>,
    asset: &AssetRecord,
    hit: &SampleHit,
    at: BankedAt,
) -> Match {
    let bank_asset = match at {
        BankedAt::Page(index) | BankedAt::Panel(index) => {
            BankSide::of(asset, None, None).at(asset, index)
        }
        BankedAt::Time(t) => {
            let half = BANK_STEP_S / 2.0;
            BankSide::of(asset, Some((t - half).max(0.0)), Some(t + half))
        }
    };
    // A delivered panel's place is its box; a delivered whole picture that shows the
    // banked panel over less than most of it (a collage) says where.
    let (bank_area, inset) = place(&hit.mapping, hit.bank_base, q.sample);
    let inset = inset.filter(|_| q.place.is_none());
    Match {
        query: QuerySide {
            path: query_path.to_string(),
            start_s: None,
            end_s: None,
            frame_rate: None,
            page: q.place.map(|p| p.page).or(q.page),
            panel: q.place.map(|p| p.rect),
            dpi: None,
        },
        bank_asset,
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
        local: Some(LocalEvidence {
            keypoints: hit.inliers,
            samples: 1,
            scale_x: f64::from(hit.mapping.sx),
            scale_y: f64::from(hit.mapping.sy),
            bank_area,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{MemoryBank, NewAsset};
    use crate::fingerprint::{Dihedral, Hash256, Segment};
    use crate::media::MediaKind;
    use crate::model::{Label, PanelBox, PanelPlace};

    fn hash(seed: u8) -> Hash256 {
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

    fn query(h: Hash256) -> QuerySegment {
        QuerySegment {
            segment: still(h),
            variants: vec![(Dihedral::Identity, h)],
        }
    }

    fn place(panel: u32) -> PanelPlace {
        PanelPlace {
            page: 1,
            panel,
            rect: PanelBox {
                x: 10 * panel,
                y: 10,
                w: 40,
                h: 30,
            },
        }
    }

    /// A banked storyboard page (its whole-page hash `page`) with one drawn panel.
    fn bank_of(page: Hash256, panel: Hash256) -> MemoryBank {
        let mut bank = MemoryBank::new();
        bank.add_asset(NewAsset {
            by: None,
            digest: [1; 32],
            kind: MediaKind::Still,
            label: Label::Leaked,
            source: None,
            note: None,
            path: "banked-page.png".into(),
            bytes: 1,
            width: 160,
            height: 120,
            frame_rate: None,
            segments: vec![still(page)],
            crops: Vec::new(),
            panels: vec![(place(1), still(panel))],
            panel_pages: vec![1],
            page_dpi: Vec::new(),
            features: Vec::new(),
            seen: None,
        });
        bank
    }

    /// Two storyboard pages whose whole-page hashes meet but whose panels differ share
    /// only a template: no match. The same page with the banked drawing in a panel
    /// matches, page and panel both.
    #[test]
    fn a_page_match_between_storyboard_pages_needs_a_panel_to_bear_it_out() {
        let bank = bank_of(hash(1), hash(2));
        let opts = MatchOptions::default();
        let page = [query(hash(1))];
        let other_drawing = [(place(1), query(hash(3)))];
        let doc = Document {
            pages: &page,
            panels: &other_drawing,
            panel_pages: &[1],
        };
        let found = match_document(&bank, "q.png", &doc, &opts).unwrap();
        assert!(found.matches.is_empty(), "{:?}", found.matches);

        let same_drawing = [(place(2), query(hash(2)))];
        let doc = Document {
            panels: &same_drawing,
            ..doc
        };
        let found = match_document(&bank, "q.png", &doc, &opts).unwrap();
        assert_eq!(found.matches.len(), 2, "{:?}", found.matches);
        assert!(found.matches[1].bank_asset.panel.is_some());

        // A delivered page with no panels found is one picture, as before.
        let doc = Document {
            panels: &[],
            panel_pages: &[],
            ..doc
        };
        let found = match_document(&bank, "q.png", &doc, &opts).unwrap();
        assert_eq!(found.matches.len(), 1, "{:?}", found.matches);
    }

    /// A still's samples are its pages' (from 0), then its panels' (`pages + k`); a
    /// page laid out as a storyboard is never a place to match, its panels are.
    #[test]
    fn a_banked_sample_is_placed_on_its_page_or_panel() {
        let asset = NewAsset {
            by: None,
            digest: [2; 32],
            kind: MediaKind::Still,
            label: Label::Leaked,
            source: None,
            note: None,
            path: "banked.tif".into(),
            bytes: 1,
            width: 160,
            height: 120,
            frame_rate: None,
            segments: vec![still(hash(1)), still(hash(2))],
            crops: vec![(90, vec![still(hash(3)), still(hash(4))])],
            panels: vec![(place(1), still(hash(5))), (place(2), still(hash(6)))],
            panel_pages: vec![1],
            page_dpi: Vec::new(),
            features: Vec::new(),
            seen: None,
        }
        .record(crate::model::AssetId(7), String::new());
        let at = |t: f64| match banked_at(&asset, t) {
            None => "none".to_string(),
            Some(BankedAt::Page(i)) => format!("page segment {i}"),
            Some(BankedAt::Panel(i)) => format!("panel segment {i}"),
            Some(BankedAt::Time(t)) => format!("{t} s"),
        };
        assert_eq!(at(0.0), "none", "page 1 is laid out: its template");
        assert_eq!(at(1.0), "page segment 1");
        // After the two pages' segments and their two crops.
        assert_eq!(at(2.0), "panel segment 4");
        assert_eq!(at(3.0), "panel segment 5");
        assert_eq!(at(4.0), "none");
        let (page, panel) = asset.place_of(5);
        assert_eq!((page, panel.map(|p| p.panel)), (Some(1), Some(2)));
    }
}
