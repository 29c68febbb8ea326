//! The scan report: plain data, serialised as JSON (the full record) or CSV (one row per
//! match). Only the CLI decides where it goes.

mod csv_out;
pub mod html;

use serde::{Deserialize, Serialize};

pub use csv_out::{write_csv, CsvOptions};

use crate::bank::{AssetRecord, Label, Provenance};
use crate::fingerprint::inset::Rect;
use crate::fingerprint::{Dihedral, FingerprintParams};
use crate::media::MediaKind;

/// Everything a scan found, and everything it could not check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    pub celprint_version: String,
    /// The run's id in the bank's audit trail (`celprint history`); `None` for reports
    /// not recorded there (`compare`).
    pub run_id: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub bank: BankInfo,
    pub settings: ScanSettings,
    pub matches: Vec<Match>,
    pub scanned: Vec<ScannedFile>,
    pub summary: Summary,
}

/// The bank a scan ran against, as it was at the time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankInfo {
    pub path: String,
    pub format_version: u32,
    pub params: FingerprintParams,
    pub assets: u64,
    pub segments: u64,
    /// The bank's generation (bumped with every asset added or removed).
    pub generation: u64,
}

/// The thresholds a scan used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSettings {
    pub max_distance: u32,
    pub min_quality: u8,
    /// See [`crate::matching::MatchOptions::faint_quality`]; `None` in reports written
    /// before faint evidence existed, which had none.
    #[serde(default)]
    pub faint_quality: Option<u8>,
    pub dihedral: bool,
    /// See [`crate::matching::MatchOptions::common_assets`].
    #[serde(default)]
    pub common_assets: usize,
    /// Whether delivered videos were searched for picture-in-picture insets.
    #[serde(default)]
    pub insets: bool,
    /// How many banked keypoints delivered videos were searched by (0: not searched,
    /// because the bank has none or the scan was told not to).
    #[serde(default)]
    pub local_features: usize,
}

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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Ok,
    /// Decoded only in part (damaged or truncated): what was decoded was matched, and
    /// `error` says where decoding stopped.
    Partial,
    Error,
    /// Decoded, but nothing in it can be evidence (a blank or flat picture, a video of
    /// faint frames only): it was compared with nothing, and `error` says why.
    NotChecked,
    /// Found in a folder, not media (`error` says what it looks like), so not read
    /// further: not checked.
    Skipped,
    /// Plain text (notes, an edit list): no pictures in it, so nothing to check; it
    /// does not stand in the way of a clean verdict.
    Text,
}

impl FileStatus {
    /// As in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            FileStatus::Ok => "ok",
            FileStatus::Partial => "partial",
            FileStatus::Error => "error",
            FileStatus::NotChecked => "not_checked",
            FileStatus::Skipped => "skipped",
            FileStatus::Text => "text",
        }
    }
}

/// One input file and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScannedFile {
    pub path: String,
    pub status: FileStatus,
    /// Why the file was not (fully) checked, for every status but `ok`.
    pub error: Option<String>,
    pub kind: Option<MediaKind>,
    /// BLAKE3 of the bytes checked, hex.
    pub digest: Option<String>,
    /// Best PDQ quality among the file's segments.
    pub quality: Option<u8>,
    /// True when nothing in the file could be evidence: no segment of a still reached
    /// the quality threshold, or none of a video reached the faint threshold.
    pub low_quality: bool,
    /// The picture-in-picture insets found in a delivered video and matched on their
    /// own, whether or not they matched anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insets: Vec<Rect>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub files: usize,
    pub errors: usize,
    /// Files checked only in part; like errors, they make a scan incomplete.
    pub partial: usize,
    pub matched_files: usize,
    pub matches: usize,
    /// Hits on assets labelled `ignore`, which never count as matches.
    pub ignored_hits: usize,
    pub low_quality_files: usize,
    /// Files that are not media and not plain text: not checked.
    pub skipped_not_media: usize,
    /// Plain-text files: listed, with no pictures to check.
    #[serde(default)]
    pub text_files: usize,
    /// Why the scan as a whole checked nothing (an empty bank, no file to scan); such a
    /// scan is never clean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked_because: Vec<String>,
    /// The verdict as the scan gave it ([`ScanReport::verdict`]); absent in reports
    /// from before it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// True when the scan was interrupted before every file was checked.
    pub cancelled: bool,
    /// Files not scanned because of the cancel.
    #[serde(default)]
    pub not_done: usize,
}

impl ScanReport {
    /// What the scan says of the delivery. Only a scan that checked every file against
    /// a bank holding something can be clean. An error wins over a match, and so does a
    /// file not checked, since a delivery that was not fully checked is not clean
    /// whatever else was found; the matches are in the report all the same.
    pub fn verdict(&self) -> Verdict {
        let s = &self.summary;
        if s.errors > 0 || s.partial > 0 || s.cancelled {
            Verdict::Error
        } else if s.low_quality_files > 0
            || s.skipped_not_media > 0
            || !s.not_checked_because.is_empty()
        {
            Verdict::NotChecked
        } else if s.matches > 0 {
            Verdict::Matches
        } else {
            Verdict::Clean
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every file was checked against a bank holding something, and nothing matched.
    Clean,
    /// Every file was checked, and at least one matched.
    Matches,
    /// Some file, or the whole scan, was not checked: skipped as not media, nothing in
    /// it good enough to be evidence, an empty bank, nothing to scan.
    NotChecked,
    /// Some file could not be read or decoded in full, or the scan was interrupted.
    Error,
}
