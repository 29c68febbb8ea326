//! What matching finds: one match between a piece of delivered material and a banked
//! asset, as plain data. The scan report (`report`) carries these as they are.

use serde::{Deserialize, Serialize};

use crate::bank::AssetRecord;
use crate::fingerprint::inset::Rect;
use crate::fingerprint::Dihedral;
use crate::model::{page_dpi, Label, PanelBox, Provenance};

/// One piece of delivered material that matches one banked asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Match {
    pub query: QuerySide,
    pub bank_asset: BankSide,
    /// 1 for identical hashes, falling linearly to 0 at 128 bits, the typical distance
    /// between unrelated images; for a timed run, times the fraction of its time covered
    /// by evidence; and times `specificity`.
    pub score: f64,
    /// 1 when the evidence is specific to this asset; lower when the delivered frames
    /// also hit many other banked assets (common material such as a shared intro or a
    /// studio card): the mean over the seeding segments, by duration, of
    /// `common_assets / assets hit`, capped at 1.
    #[serde(default = "one")]
    pub specificity: f64,
    /// Hamming distance between the PDQ hashes, 0–256 (for a timed run, the median over
    /// its aligned segments).
    pub distance: u32,
    /// Median distance over the evidence (equal to `distance` for a still).
    pub median_distance: u32,
    /// Seconds of delivered video covered by matching segments; `None` for a still.
    pub matched_duration_s: Option<f64>,
    /// How many delivered segments are evidence for this match.
    pub segments: u32,
    /// Bank seconds per delivered second along the aligned run (1 = same speed); `None`
    /// unless both sides are videos.
    pub rate: Option<f64>,
    /// The rotation or flip that turns the banked picture into the delivered one.
    pub transform: Dihedral,
    /// When the delivery matched a centre crop the bank keeps of this asset (its
    /// `crop_variants`), the per cent of each side that crop keeps; `None` for the whole
    /// picture.
    #[serde(default)]
    pub bank_crop: Option<u8>,
    /// When the banked picture was found in a picture-in-picture inset of the delivered
    /// frame, where that inset is, in the delivered frame's pixels; `None` for the whole
    /// frame.
    #[serde(default)]
    pub query_inset: Option<Rect>,
    /// Set when the match was made by keypoints ([`LocalEvidence`]), not by the PDQ
    /// hash: the banked picture moved or resized inside the delivered frame. `distance`
    /// and `median_distance` are then the keypoints' median descriptor distance (of 256
    /// bits), and `transform` is the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalEvidence>,
    /// True when every aligned segment of a video run is faint on one side or the other
    /// (under `min_quality`: the middle of a fade, a dim shot), so that only the time
    /// line vouches for it; a reviewer should look at the pictures. False for stills.
    #[serde(default)]
    pub faint_only: bool,
    /// Hamming distance between the secondary 64-bit hashes, when the transform is the
    /// identity (the secondary hash has no dihedral variants).
    pub secondary_distance: Option<u32>,
}

/// How a match by keypoints was made: what agreed, and where the two pictures lie on
/// each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalEvidence {
    /// Keypoints that agree on one mapping of the banked picture onto the delivered
    /// one: the median over the run's delivered samples.
    pub keypoints: usize,
    /// Delivered samples (four a second) that are evidence.
    pub samples: usize,
    /// How much wider and taller the banked picture's content shows in the delivered
    /// picture, both pictures taken at the same area: over 1 for a crop blown up to
    /// fill the frame, under 1 for a shrunk inset.
    pub scale_x: f64,
    pub scale_y: f64,
    /// The part of the banked picture the delivered one shows, as fractions of its
    /// width and height: left, top, right, bottom.
    pub bank_area: [f64; 4],
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuerySide {
    pub path: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// Frames a second of the delivered video, for timecodes; `None` for a still.
    #[serde(default)]
    pub frame_rate: Option<f64>,
    /// The page (from 1) of a document of several pictures, or of a page whose panel
    /// matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The storyboard panel that matched, in the page's pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel: Option<PanelBox>,
    /// The resolution a PDF page was rendered at, so that its pixels (the panel's box)
    /// can be read against the document: 150, or lower for a page past the pixel limit.
    /// `None` for other files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpi: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankSide {
    pub path: String,
    pub label: Label,
    pub source: Option<String>,
    pub note: Option<String>,
    pub digest: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// Frames a second of the banked video, for timecodes; `None` for a still or when
    /// the bank does not know it.
    #[serde(default)]
    pub frame_rate: Option<f64>,
    /// Every statement of why the asset is banked, oldest first, when there is more
    /// than one; `label`, `source` and `note` are those of the one that decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
    /// The banked page (from 1) of a document of several pictures, or of a banked
    /// panel that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The banked storyboard panel that matched, in its page's pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel: Option<PanelBox>,
    /// The resolution the banked PDF page was rendered at, as on the delivered side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpi: Option<f64>,
}

impl BankSide {
    /// The banked asset's side of a match, over `start_s`..`end_s` of it.
    pub fn of(asset: &AssetRecord, start_s: Option<f64>, end_s: Option<f64>) -> BankSide {
        let history = asset.history();
        BankSide {
            path: asset.path().to_string(),
            label: asset.label,
            source: asset.source.clone(),
            note: asset.note.clone(),
            digest: asset.digest.clone(),
            start_s,
            end_s,
            frame_rate: asset.frame_rate,
            provenance: if history.len() > 1 {
                history
            } else {
                Vec::new()
            },
            page: None,
            panel: None,
            dpi: page_dpi(&asset.page_dpi, None),
        }
    }

    /// This side placed on the page or panel that stored segment `index` of `asset`
    /// holds ([`AssetRecord::place_of`]).
    pub fn at(mut self, asset: &AssetRecord, index: u32) -> BankSide {
        let (page, panel) = asset.place_of(index);
        self.page = page;
        self.panel = panel.map(|p| p.rect);
        self.dpi = page_dpi(&asset.page_dpi, page);
        self
    }
}
