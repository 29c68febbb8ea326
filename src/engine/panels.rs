//! The storyboard panels of a still or of a document's page, each fingerprinted as a
//! still of its own, so that a panel cut out, moved to another page or laid out anew is
//! found, and so that the page's template is never the evidence.

use std::borrow::Cow;

use image::{DynamicImage, GenericImageView};

use super::{still_query_segment, FileFingerprint};
use crate::fingerprint::inset::Rect;
use crate::fingerprint::keypoints::{still_sample, FeatureSample};
use crate::fingerprint::panels::{find_panels, upright, Panel};
use crate::fingerprint::{fingerprint_still, FingerprintParams};
use crate::matching::{KeypointQuery, QuerySegment};
use crate::media::frames::Placed;
use crate::media::MediaKind;
use crate::model::{PanelBox, PanelPlace};

/// What the panel finder made of one page.
#[derive(Default)]
pub(super) struct PagePanels {
    /// The panels with a drawing in them, fingerprinted.
    pub panels: Vec<(PanelPlace, QuerySegment)>,
    /// Each of `panels`' keypoints (one sample a panel, in the same order, its time 0),
    /// when asked for; empty otherwise.
    pub samples: Vec<FeatureSample>,
    /// Panels were found on the page, blank ones included: it is laid out as a storyboard.
    pub laid_out: bool,
}

/// The panels of `page`, page `number` (from 1) of its file, whose own size is `source`
/// pixels: a JPEG may have been shrunk as it was decoded, and boxes are given in the
/// file's pixels.
///
/// `placed` are the pictures a PDF page embeds, in the page's pixels: a panel the finder
/// found where one of them is drawn is fingerprinted from the embedded pixels (the
/// export's own, before the page was rendered), and an embedded picture the finder did
/// not see (a page with no frames drawn) is a panel of its own.
///
/// With `keypoints`, each panel's keypoints too, taken from the same pixels as its hash:
/// a panel cut on a side, or collaged into another picture, keeps its corners where its
/// hash moves.
pub(super) fn panels_of(
    page: &DynamicImage,
    number: u32,
    source: (u32, u32),
    params: &FingerprintParams,
    placed: &[Placed],
    keypoints: bool,
) -> PagePanels {
    if !params.panels || (placed.is_empty() && !mostly_paper(page)) {
        return PagePanels::default();
    }
    let mut found: Vec<(Panel, Option<&DynamicImage>)> = find_panels(&page.to_luma8())
        .into_iter()
        .map(|p| (p, None))
        .collect();
    for embedded in placed {
        let Some(r) = on_page(embedded, page) else {
            continue;
        };
        match found.iter_mut().find(|(f, _)| f.rect.iou(&r) >= SAME_BOX) {
            Some(panel) => {
                panel.0.blank = false;
                panel.1 = Some(&embedded.image);
            }
            None => {
                let panel = Panel {
                    rect: r,
                    blank: false,
                    skew_degrees: 0.0,
                };
                found.push((panel, Some(&embedded.image)));
            }
        }
    }
    let scale_x = f64::from(source.0) / f64::from(page.width().max(1));
    let scale_y = f64::from(source.1) / f64::from(page.height().max(1));
    // A panel is a picture of its own: no centre crops of it are kept.
    let plain = FingerprintParams {
        crop_variants: Vec::new(),
        ..params.clone()
    };
    let mut samples = Vec::new();
    let panels = found
        .iter()
        .enumerate()
        .filter(|(_, (panel, _))| !panel.blank)
        .map(|(i, (panel, embedded))| {
            let r = panel.rect;
            let picture = match embedded {
                Some(image) => Cow::Borrowed(*image),
                None => Cow::Owned(upright(page, panel)),
            };
            let fp = fingerprint_still(&picture, &plain);
            if keypoints {
                // A panel has no bars: its frame is not part of it.
                samples.push(still_sample(&picture, 0.0, None));
            }
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
        samples,
        laid_out: !found.is_empty(),
    }
}

/// The keypoint samples a still is banked with: one a page (timed by its place, from
/// 0), then one a panel, in the order of the asset's panels, timed on after the pages
/// (`pages + k` for panel `k`): the matcher tells a panel's sample from a page's by it
/// (`matching::pages`). Panels' samples are left out unless there is one a page and
/// one a panel, so that the count never misplaces one. Takes `fp`'s samples.
pub(super) fn banked_samples(fp: &mut FileFingerprint) -> Vec<FeatureSample> {
    let mut samples = std::mem::take(&mut fp.features);
    let panels = std::mem::take(&mut fp.panel_features);
    let pages = fp.segments.len();
    let aligned = fp.kind == MediaKind::Still
        && samples.len() == pages
        && samples
            .iter()
            .enumerate()
            .all(|(i, s)| s.time_s == i as f64)
        && panels.len() == fp.panels.len();
    if aligned {
        samples.extend(panels.into_iter().enumerate().map(|(k, mut s)| {
            s.time_s = (pages + k) as f64;
            s
        }));
    }
    samples
}

/// What a delivered still is searched by for banked panels ([`match_panels_by_keypoints`]):
/// each of its panels, then each of `samples`, its pages' own keypoints (those of pages
/// laid out as storyboards already left out: mostly template).
///
/// [`match_panels_by_keypoints`]: crate::matching::match_panels_by_keypoints
pub(super) fn keypoint_queries<'a>(
    fp: &'a FileFingerprint,
    samples: &'a [FeatureSample],
) -> Vec<KeypointQuery<'a>> {
    let several = fp.segments.len() > 1;
    let panels = fp
        .panels
        .iter()
        .zip(&fp.panel_features)
        .map(|((place, _), sample)| KeypointQuery {
            place: Some(*place),
            page: Some(place.page),
            sample,
        });
    let pages = samples.iter().map(|sample| KeypointQuery {
        place: None,
        page: several.then_some(sample.time_s as u32 + 1),
        sample,
    });
    panels.chain(pages).collect()
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

/// A storyboard page is mostly paper: light pixels (200 of 255 and up) are 91–94 % of the
/// shared pages, scanned and tinted copies included, and a page whose panels were all
/// black would still be over 60 % paper; frames of animation are 17 % at the median. A
/// picture under this share is not searched for panels, which spares most stills the
/// finder's cost (about 20 ms of a 1080p still's indexing).
const MIN_PAPER_SHARE: f64 = 0.5;

/// Whether `page` is light enough to be a storyboard page, from about 4,000 pixels
/// sampled on a grid.
fn mostly_paper(page: &DynamicImage) -> bool {
    let (w, h) = (page.width(), page.height());
    let step = ((u64::from(w) * u64::from(h) / 4096) as f64)
        .sqrt()
        .max(1.0) as u32;
    let (mut light, mut all) = (0u32, 0u32);
    for y in (0..h).step_by(step as usize) {
        for x in (0..w).step_by(step as usize) {
            let [r, g, b, _] = page.get_pixel(x, y).0;
            let luma = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
            light += u32::from(luma >= 200.0);
            all += 1;
        }
    }
    all > 0 && f64::from(light) >= MIN_PAPER_SHARE * f64::from(all)
}

/// An embedded picture and a found panel this much alike (intersection over union) are
/// one panel: the layout's boxes and the found ones agree within a few pixels.
const SAME_BOX: f64 = 0.8;
/// An embedded picture smaller than this share of the page's shorter side on either
/// side is a logo or a rule, not a panel: as the panel finder's own minimum.
const MIN_PANEL_SHARE: f64 = 0.05;

/// An embedded picture's box clipped to the page, when enough of it is on the page to
/// be a panel.
fn on_page(embedded: &Placed, page: &DynamicImage) -> Option<Rect> {
    let (pw, ph) = (i64::from(page.width()), i64::from(page.height()));
    let r = embedded.rect;
    let (x0, y0) = (r.x.clamp(0, pw), r.y.clamp(0, ph));
    let x1 = (r.x + r.width as i64).clamp(0, pw);
    let y1 = (r.y + r.height as i64).clamp(0, ph);
    let min = (pw.min(ph) as f64 * MIN_PANEL_SHARE) as i64;
    (x1 - x0 >= min.max(8) && y1 - y0 >= min.max(8)).then(|| Rect {
        x: x0 as usize,
        y: y0 as usize,
        width: (x1 - x0) as usize,
        height: (y1 - y0) as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A page of paper with dark panels on 40 % of it is searched; a dark frame with a
    /// bright window on 40 % of it is not.
    #[test]
    fn only_pictures_that_are_mostly_paper_are_searched_for_panels() {
        let page = RgbImage::from_fn(400, 300, |x, _| {
            if x < 160 {
                Rgb([20, 20, 20])
            } else {
                Rgb([246, 244, 238])
            }
        });
        assert!(mostly_paper(&DynamicImage::ImageRgb8(page)));
        let frame = RgbImage::from_fn(400, 300, |x, _| {
            if x < 160 {
                Rgb([250, 250, 250])
            } else {
                Rgb([40, 60, 80])
            }
        });
        assert!(!mostly_paper(&DynamicImage::ImageRgb8(frame)));
    }
}
