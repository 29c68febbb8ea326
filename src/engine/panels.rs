//! The storyboard panels of a still or of a document's page, each fingerprinted as a
//! still of its own, so that a panel cut out, moved to another page or laid out anew is
//! found, and so that the page's template is never the evidence.

use image::DynamicImage;

use super::still_query_segment;
use crate::fingerprint::panels::find_panels;
use crate::fingerprint::{fingerprint_still, FingerprintParams};
use crate::matching::QuerySegment;
use crate::model::{PanelBox, PanelPlace};

/// What the panel finder made of one page.
#[derive(Default)]
pub(super) struct PagePanels {
    /// The panels with a drawing in them, fingerprinted.
    pub panels: Vec<(PanelPlace, QuerySegment)>,
    /// Panels were found on the page, blank ones included: it is laid out as a storyboard.
    pub laid_out: bool,
}

/// The panels of `page`, page `number` (from 1) of its file, whose own size is `source`
/// pixels: a JPEG may have been shrunk as it was decoded, and boxes are given in the
/// file's pixels.
pub(super) fn panels_of(
    page: &DynamicImage,
    number: u32,
    source: (u32, u32),
    params: &FingerprintParams,
) -> PagePanels {
    if !params.panels {
        return PagePanels::default();
    }
    let found = find_panels(&page.to_luma8());
    let scale_x = f64::from(source.0) / f64::from(page.width().max(1));
    let scale_y = f64::from(source.1) / f64::from(page.height().max(1));
    // A panel is a picture of its own: no centre crops of it are kept.
    let plain = FingerprintParams {
        crop_variants: Vec::new(),
        ..params.clone()
    };
    let panels = found
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.blank)
        .map(|(i, p)| {
            let r = p.rect;
            let cut = page.crop_imm(r.x as u32, r.y as u32, r.width as u32, r.height as u32);
            let fp = fingerprint_still(&cut, &plain);
            let place = PanelPlace {
                page: number,
                panel: i as u32 + 1,
                rect: PanelBox {
                    x: (r.x as f64 * scale_x).round() as u32,
                    y: (r.y as f64 * scale_y).round() as u32,
                    w: (r.width as f64 * scale_x).round() as u32,
                    h: (r.height as f64 * scale_y).round() as u32,
                },
            };
            (place, still_query_segment(&fp))
        })
        .collect();
    PagePanels {
        panels,
        laid_out: !found.is_empty(),
    }
}

/// A still's size as its header gives it, which the decoded picture may be under (a
/// JPEG shrunk while decoded); `None` when the header is not one the image crate reads.
pub(super) fn source_size(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}
