//! Where in a file a piece of evidence sits: a page of a document and a panel on it.

use serde::{Deserialize, Serialize};

/// A rectangle in a page's own pixels, origin top-left, as reports give panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PanelBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The resolution page `page` (from 1) of a PDF was rendered at, from `dpi`, one per
/// page in order (empty for other files). With no page named, the file's one page.
pub fn page_dpi(dpi: &[f64], page: Option<u32>) -> Option<f64> {
    match page {
        Some(p) => dpi.get((p as usize).checked_sub(1)?).copied(),
        None if dpi.len() == 1 => Some(dpi[0]),
        None => None,
    }
}

/// A panel of a storyboard page: the page (from 1; a file of one picture is page 1),
/// its place in reading order on the page (from 1), and its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelPlace {
    pub page: u32,
    pub panel: u32,
    #[serde(rename = "box")]
    pub rect: PanelBox,
}
