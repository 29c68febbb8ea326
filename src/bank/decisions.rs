//! Review decisions, kept in the `meta` family under `decision/` and a number that only
//! grows, so they read back in the order they were made.
//!
//! A decision is about one match: the delivered file's bytes (its digest), the banked
//! asset's bytes, and the two ranges (and pages) that matched. A dismissal keeps that
//! match out of later scans' `matches`, wherever the delivered file now lies; a later
//! confirmation of the same match undoes it. Decisions are never deleted: they are the
//! review's half of the audit trail.

use serde::{Deserialize, Serialize};

use super::{Bank, BankError, CF_META};
use crate::model::PanelBox;

const PREFIX: &[u8] = b"decision/";

/// How far (seconds) a later match's ends may lie outside a dismissed match's ranges
/// and still be the same match: the same bytes scanned again give the same ranges, but
/// another thread count or frame sampling may move an end by a frame or two. Anything
/// larger is new evidence, and is raised.
pub const RANGE_SLACK_S: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The match is real: it stays raised.
    Confirm,
    /// Not a problem (licensed, stock, a false match): not raised again.
    Dismiss,
}

/// What identifies a match from one scan to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchKey {
    /// BLAKE3 of the delivered file, hex.
    pub query_digest: String,
    /// BLAKE3 of the banked asset, hex.
    pub asset_digest: String,
    pub query_start_s: Option<f64>,
    pub query_end_s: Option<f64>,
    pub bank_start_s: Option<f64>,
    pub bank_end_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_page: Option<u32>,
    /// The storyboard panels on each side: two pages share a dismissal only panel by
    /// panel, or dismissing one licensed board would set aside every other board that
    /// matched between the same two pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_panel: Option<PanelBox>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_panel: Option<PanelBox>,
}

fn within(outer: (Option<f64>, Option<f64>), inner: (Option<f64>, Option<f64>)) -> bool {
    match (outer, inner) {
        ((None, None), (None, None)) => true,
        ((Some(a), Some(b)), (Some(c), Some(d))) => {
            c >= a - RANGE_SLACK_S && d <= b + RANGE_SLACK_S
        }
        _ => false,
    }
}

impl MatchKey {
    /// Whether `later` is this match again: the same bytes on both sides, the same
    /// pages, and both of its ranges inside this one's (give or take [`RANGE_SLACK_S`]).
    /// A longer run of the same clip is not covered: it is more than was reviewed.
    pub fn covers(&self, later: &MatchKey) -> bool {
        self.query_digest == later.query_digest
            && self.asset_digest == later.asset_digest
            && self.query_page == later.query_page
            && self.bank_page == later.bank_page
            && self.query_panel == later.query_panel
            && self.bank_panel == later.bank_panel
            && within(
                (self.query_start_s, self.query_end_s),
                (later.query_start_s, later.query_end_s),
            )
            && within(
                (self.bank_start_s, self.bank_end_s),
                (later.bank_start_s, later.bank_end_s),
            )
    }
}

/// One reviewer's decision on one match of one recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Given by [`Bank::add_decision`]; 0 until then.
    pub id: u64,
    pub run_id: String,
    /// The match's index in that run's `matches`.
    pub match_index: usize,
    pub decision: DecisionKind,
    pub reason: String,
    /// Who decided (`token:NAME`, or `user@host` from the command line).
    pub by: String,
    pub at: String,
    pub key: MatchKey,
    /// The delivered file and banked asset as that run named them, for people reading
    /// the trail.
    pub query_path: String,
    pub asset_path: String,
}

fn key(id: u64) -> Vec<u8> {
    [PREFIX, &id.to_be_bytes()].concat()
}

impl Bank {
    /// Records `decision` under the next number, durably, and returns that number.
    pub fn add_decision(&mut self, mut decision: Decision) -> Result<u64, BankError> {
        let last = self.decisions()?.last().map_or(0, |d| d.id);
        decision.id = last + 1;
        let value = serde_json::to_vec(&decision).expect("decision serialises");
        self.db
            .put_cf(self.cf(CF_META)?, key(decision.id), value)
            .map_err(|e| self.rocks(e))?;
        // A scan from the command line opens the bank read-only and reads its files:
        // the decision is flushed into them at once, not left in the write-ahead log.
        self.sync()?;
        self.flush_all().map_err(|e| self.rocks(e))?;
        Ok(decision.id)
    }

    /// Every decision, oldest first.
    pub fn decisions(&self) -> Result<Vec<Decision>, BankError> {
        self.meta_records(PREFIX, "decision")
    }

    /// The dismissals in force: each dismissal not followed by a confirmation of a
    /// match it covers.
    pub fn dismissals(&self) -> Result<Vec<Decision>, BankError> {
        Ok(in_force(self.decisions()?))
    }
}

/// The dismissals among `decisions` (oldest first) that no later confirmation undoes.
pub fn in_force(decisions: Vec<Decision>) -> Vec<Decision> {
    let mut out: Vec<Decision> = Vec::new();
    for d in decisions {
        match d.decision {
            DecisionKind::Dismiss => out.push(d),
            DecisionKind::Confirm => out.retain(|x| !x.key.covers(&d.key)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(q: (f64, f64), b: (f64, f64)) -> MatchKey {
        MatchKey {
            query_digest: "q".into(),
            asset_digest: "a".into(),
            query_start_s: Some(q.0),
            query_end_s: Some(q.1),
            bank_start_s: Some(b.0),
            bank_end_s: Some(b.1),
            query_page: None,
            bank_page: None,
            query_panel: None,
            bank_panel: None,
        }
    }

    fn decision(kind: DecisionKind, key: MatchKey) -> Decision {
        Decision {
            id: 0,
            run_id: "r".into(),
            match_index: 0,
            decision: kind,
            reason: String::new(),
            by: String::new(),
            at: String::new(),
            key,
            query_path: String::new(),
            asset_path: String::new(),
        }
    }

    #[test]
    fn a_dismissal_covers_the_same_match_and_nothing_more() {
        let d = k((10.0, 20.0), (0.0, 10.0));
        assert!(d.covers(&k((10.2, 19.8), (0.1, 10.3))));
        // A longer run of the same clip, another banked range, other bytes: new evidence.
        assert!(!d.covers(&k((10.0, 25.0), (0.0, 15.0))));
        assert!(!d.covers(&k((10.0, 20.0), (30.0, 40.0))));
        assert!(!d.covers(&MatchKey {
            asset_digest: "b".into(),
            ..k((10.0, 20.0), (0.0, 10.0))
        }));
        // A still against a still: no ranges on either side.
        let still = MatchKey {
            query_start_s: None,
            query_end_s: None,
            bank_start_s: None,
            bank_end_s: None,
            ..d.clone()
        };
        assert!(still.covers(&still) && !still.covers(&d) && !d.covers(&still));
    }

    #[test]
    fn a_dismissed_panel_covers_no_other_panel_of_the_same_pages() {
        let panel = |x| {
            Some(PanelBox {
                x,
                y: 10,
                w: 200,
                h: 120,
            })
        };
        let page = |q, b| MatchKey {
            query_start_s: None,
            query_end_s: None,
            bank_start_s: None,
            bank_end_s: None,
            query_page: Some(2),
            bank_page: Some(1),
            query_panel: q,
            bank_panel: b,
            ..k((0.0, 0.0), (0.0, 0.0))
        };
        let d = page(panel(10), panel(40));
        assert!(d.covers(&page(panel(10), panel(40))));
        assert!(!d.covers(&page(panel(300), panel(40))));
        assert!(!d.covers(&page(panel(10), panel(400))));
        // A whole-page match is not one of its panels, nor the other way round.
        assert!(!d.covers(&page(None, None)) && !page(None, None).covers(&d));
    }

    #[test]
    fn a_later_confirmation_undoes_a_dismissal() {
        let key = k((1.0, 2.0), (1.0, 2.0));
        let dismissed = vec![decision(DecisionKind::Dismiss, key.clone())];
        assert_eq!(in_force(dismissed.clone()).len(), 1);
        let mut both = dismissed;
        both.push(decision(DecisionKind::Confirm, key.clone()));
        assert!(in_force(both.clone()).is_empty());
        both.push(decision(DecisionKind::Dismiss, key));
        assert_eq!(in_force(both).len(), 1);
    }
}
