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

/// A panel of a storyboard page: the page (from 1; a file of one picture is page 1),
/// its place in reading order on the page (from 1), and its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelPlace {
    pub page: u32,
    pub panel: u32,
    #[serde(rename = "box")]
    pub rect: PanelBox,
}
