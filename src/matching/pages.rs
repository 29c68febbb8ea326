//! Pages and panels: a document of several pictures is matched page by page, and each
//! storyboard panel on it as a picture of its own, so that a report says which page and
//! which panel matched which. The template a studio's pages share (frames, header, text
//! fields) is never evidence: a whole-page match between two pages laid out as
//! storyboards stands only when a panel of the delivered page matches a panel of the
//! same banked asset too.

use super::{match_file, BankSide, FileMatches, MatchOptions, QuerySegment};
use crate::bank::{BankError, BankRead};
use crate::model::PanelPlace;

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
}
