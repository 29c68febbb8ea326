//! Pages and panels: a document of several pictures is matched page by page, and each
//! storyboard panel on it as a picture of its own, so that a report says which page and
//! which panel matched which. The template a studio's pages share (frames, header, text
//! fields) is never evidence: a whole-page match between two pages laid out as
//! storyboards stands only when a panel of the delivered page matches a panel of the
//! same banked asset too.

use super::{match_file, FileMatches, MatchOptions, QuerySegment};
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
    let borne_out: Vec<bool> = pages
        .iter()
        .map(|m| {
            let page = m.query.page.unwrap_or(1);
            let templated = doc.panel_pages.contains(&page) && m.bank_asset.template_page;
            !templated
                || panels.iter().any(|p| {
                    p.query.page == Some(page) && p.bank_asset.digest == m.bank_asset.digest
                })
        })
        .collect();
    let mut keep = borne_out.into_iter().chain(std::iter::repeat(true));
    found.matches.retain(|_| keep.next().unwrap_or(true));
    Ok(found)
}
