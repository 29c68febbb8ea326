//! Matches a reviewer dismissed: set aside from `matches` into `dismissed`, with who
//! dismissed them, when and why, so they no longer decide the verdict but are never
//! hidden from the report.

use serde::{Deserialize, Serialize};

use super::ScannedFile;
use crate::bank::{Decision, MatchKey};
use crate::matching::Match;

/// A match a dismissal in force covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dismissed {
    #[serde(rename = "match")]
    pub found: Match,
    pub dismissed_by: String,
    pub dismissed_at: String,
    pub reason: String,
    /// The decision's number in the bank, and the run whose match was dismissed.
    pub decision_id: u64,
    pub decided_in_run: String,
}

/// What identifies `m` across scans, given its delivered file's digest.
pub fn match_key(m: &Match, query_digest: &str) -> MatchKey {
    MatchKey {
        query_digest: query_digest.to_string(),
        asset_digest: m.bank_asset.digest.clone(),
        query_start_s: m.query.start_s,
        query_end_s: m.query.end_s,
        bank_start_s: m.bank_asset.start_s,
        bank_end_s: m.bank_asset.end_s,
        query_page: m.query.page,
        bank_page: m.bank_asset.page,
        query_panel: m.query.panel,
        bank_panel: m.bank_asset.panel,
    }
}

/// The digest of the delivered file `m` was found in, from the scan's file list.
pub fn query_digest<'a>(m: &Match, scanned: &'a [ScannedFile]) -> Option<&'a str> {
    scanned
        .iter()
        .find(|s| s.path == m.query.path)
        .and_then(|s| s.digest.as_deref())
}

/// Splits `matches` into those still raised and those a dismissal covers. A match
/// whose delivered file has no digest cannot be identified, and stays raised.
pub fn set_aside(
    matches: Vec<Match>,
    scanned: &[ScannedFile],
    dismissals: &[Decision],
) -> (Vec<Match>, Vec<Dismissed>) {
    if dismissals.is_empty() {
        return (matches, Vec::new());
    }
    let mut raised = Vec::new();
    let mut dismissed = Vec::new();
    for m in matches {
        let by = query_digest(&m, scanned).and_then(|digest| {
            let key = match_key(&m, digest);
            dismissals.iter().find(|d| d.key.covers(&key))
        });
        match by {
            Some(d) => dismissed.push(Dismissed {
                found: m,
                dismissed_by: d.by.clone(),
                dismissed_at: d.at.clone(),
                reason: d.reason.clone(),
                decision_id: d.id,
                decided_in_run: d.run_id.clone(),
            }),
            None => raised.push(m),
        }
    }
    (raised, dismissed)
}
