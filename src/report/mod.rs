//! The scan report: plain data, serialised as JSON (the full record). The HTML and CSV
//! layouts of it live in `render`; only the CLI decides where any of them goes.

mod dismissed;

use serde::{Deserialize, Serialize};

use crate::fingerprint::inset::Rect;
use crate::fingerprint::FingerprintParams;
pub use crate::matching::{BankSide, LocalEvidence, Match, QuerySide};
use crate::media::claims::Claim;
use crate::media::MediaKind;
use crate::model::Shard;

mod join;
pub use dismissed::{match_key, query_digest, set_aside, Dismissed};
pub use join::{join_slices, JoinError};

/// Everything a scan found, and everything it could not check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    pub celprint_version: String,
    /// The run's id in the bank's audit trail (`celprint history`); `None` for reports
    /// not recorded there (`compare`).
    pub run_id: Option<String>,
    /// Where the run sits in the bank's chain of runs (`celprint history --verify`);
    /// `None` for reports not recorded there, and in reports from before the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainLink>,
    pub started_at: String,
    pub finished_at: String,
    pub bank: BankInfo,
    pub settings: ScanSettings,
    pub matches: Vec<Match>,
    /// Matches a reviewer dismissed (`celprint serve`'s review): not counted in
    /// `summary.matches` or the verdict, listed here with who, when and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dismissed: Vec<Dismissed>,
    pub scanned: Vec<ScannedFile>,
    pub summary: Summary,
    /// The slice of the delivery this scan covered (`scan --shard I/N`); absent for a
    /// whole delivery. A slice alone says nothing of the rest: join the slices' reports
    /// (`celprint report merge`, [`join_slices`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// In a report joined from slices, each slice's run id in the audit trail, in
    /// slice order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<String>,
}

/// A run's place in the bank's audit trail, a hash chain: each record carries the
/// BLAKE3 of the record before it, so a record edited, removed or moved after the fact
/// no longer fits the one after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// 1 for the bank's first chained run, then one more for each run recorded.
    pub position: u64,
    /// BLAKE3 (hex) of the previous run's record file as written. At position 1, the
    /// BLAKE3 of the runs recorded before the chain began (one `run_id digest` line
    /// each), or 64 zeros when there were none.
    pub previous: String,
}

/// Why a scan as a whole checked nothing, when its inputs held no picture; recomputed
/// over the whole delivery when slices are joined, since one slice may rightly hold none.
pub const NOTHING_TO_SCAN: &str = "no image or video was found to scan";

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
    /// What the file says about itself (container tags, EXIF, XMP, PNG text): claims,
    /// never evidence (docs/claims.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Claim>,
    /// The file's claims that the bank contradicts, one per banked file it matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_conflicts: Vec<ClaimConflict>,
}

/// A delivered file that says it was made after the bank already held material it
/// matches (docs/claims.md): its claim to be original work does not stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimConflict {
    /// The file's earliest claim of when it was made.
    pub claim: Claim,
    /// The banked file it matched.
    pub bank_path: String,
    pub bank_digest: String,
    /// When the bank shows that material existed, RFC 3339 (UTC).
    pub banked_since: String,
    /// What that time is: `indexed` (a statement in the bank about the asset) or
    /// `file modified` (the banked file's modification time when it was indexed).
    pub basis: String,
}

/// Slack for a claimed time written without a zone (EXIF's): the furthest any zone is
/// from UTC, so that a zone never makes a conflict.
const ZONELESS_SLACK_S: i64 = 14 * 3600;

/// The rule of docs/claims.md: a conflict when the earliest creation time the file
/// claims comes after the earliest time the bank shows for the banked material it
/// matched (`banked`: unix seconds and basis). None when the file claims no creation
/// time, or the bank shows no time.
pub fn claim_conflict(
    claims: &[Claim],
    banked: &[(i64, String)],
    bank_path: &str,
    bank_digest: &str,
) -> Option<ClaimConflict> {
    let (claimed, claim) = crate::media::claims::earliest_created(claims)?;
    let (since, basis) = banked.iter().min_by_key(|(t, _)| *t)?;
    let slack = if claimed.zoned { 0 } else { ZONELESS_SLACK_S };
    (*since < claimed.unix_s - slack).then(|| ClaimConflict {
        claim: claim.clone(),
        bank_path: bank_path.to_string(),
        bank_digest: bank_digest.to_string(),
        banked_since: u64::try_from(*since)
            .map(|s| {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
                humantime::format_rfc3339_seconds(t).to_string()
            })
            .unwrap_or_else(|_| format!("{since} s from 1970")),
        basis: basis.clone(),
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub files: usize,
    pub errors: usize,
    /// Files checked only in part; like errors, they make a scan incomplete.
    pub partial: usize,
    pub matched_files: usize,
    pub matches: usize,
    /// Matches set aside by a reviewer's dismissal (`ScanReport::dismissed`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dismissed: usize,
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

/// Most severe label first, then by delivered file and time, so that a report reads in
/// order of urgency and is stable from run to run.
pub fn sort_matches(matches: &mut [Match]) {
    matches.sort_by(|a, b| {
        (
            a.bank_asset.label,
            &a.query.path,
            a.query.start_s.unwrap_or(0.0),
            a.distance,
        )
            .partial_cmp(&(
                b.bank_asset.label,
                &b.query.path,
                b.query.start_s.unwrap_or(0.0),
                b.distance,
            ))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
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

fn is_zero(n: &usize) -> bool {
    *n == 0
}
