//! Review decisions, kept in the `meta` family under `decision/` and a number that only
//! grows, so they read back in the order they were made.
//!
//! A decision is about one match: the delivered file's bytes (its digest), the banked
//! asset's bytes, and the two ranges (and pages) that matched. A dismissal keeps that
//! match out of later scans' `matches`, wherever the delivered file now lies; a later
//! confirmation of the same match undoes it. Decisions are never deleted: they are the
//! review's half of the audit trail.
//!
//! Like the scans' trail (`audit`), the decisions form a hash chain: each carries the
//! BLAKE3 of the stored record before it (`previous`; 64 zeros for the first), so a
//! decision edited or removed from the middle no longer fits the one after it, and
//! `celprint verify` says which. Decisions stored before the chain existed carry no
//! link and are counted as unchained; once the chain begins, every later one is linked.

use serde::{Deserialize, Serialize};

use super::{Bank, BankError, CF_META};
use crate::media::digest_hex;
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
    /// BLAKE3 (hex) of the stored record of the decision before this one; 64 zeros for
    /// the first. Set by [`Bank::add_decision`]; empty in decisions made before the
    /// chain existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub previous: String,
}

fn key(id: u64) -> Vec<u8> {
    [PREFIX, &id.to_be_bytes()].concat()
}

impl Bank {
    /// Records `decision` under the next number, durably, and returns that number.
    pub fn add_decision(&mut self, mut decision: Decision) -> Result<u64, BankError> {
        let last = self.last_decision_bytes()?;
        let last_id = match &last {
            None => 0,
            Some(bytes) => {
                serde_json::from_slice::<Decision>(bytes)
                    .map_err(|e| self.corrupt(format!("unreadable decision record: {e}")))?
                    .id
            }
        };
        decision.id = last_id + 1;
        decision.previous = link_to(last.as_deref());
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

    /// The stored bytes of the last decision, if any.
    fn last_decision_bytes(&self) -> Result<Option<Vec<u8>>, BankError> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_META)?);
        it.seek_for_prev(key(u64::MAX));
        let last = it
            .key()
            .filter(|k| k.starts_with(PREFIX))
            .and(it.value().map(<[u8]>::to_vec));
        it.status().map_err(|e| self.rocks(e))?;
        Ok(last)
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

/// The link a decision stored after `previous` (its stored bytes) carries.
fn link_to(previous: Option<&[u8]>) -> String {
    match previous {
        None => digest_hex(&[0; 32]),
        Some(bytes) => digest_hex(blake3::hash(bytes).as_bytes()),
    }
}

/// What [`check_chain`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DecisionChain {
    pub chained: usize,
    pub unchained: usize,
    /// Each way the decisions do not hold together, naming the decisions concerned.
    pub problems: Vec<String>,
}

/// Checks the decisions as stored (`meta` keys and values in key order; other keys are
/// passed over): numbers 1, 2, 3... each under its own key, and from the first linked
/// one on, every `previous` the digest of the stored record before it.
pub fn check_chain<'a>(records: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> DecisionChain {
    let mut out = DecisionChain::default();
    let mut before: Option<&[u8]> = None;
    let mut expected_id = 1;
    for (k, value) in records {
        let Some(id) = k
            .strip_prefix(PREFIX)
            .and_then(|n| <[u8; 8]>::try_from(n).ok())
            .map(u64::from_be_bytes)
        else {
            continue;
        };
        let decision: Decision = match serde_json::from_slice(value) {
            Ok(d) => d,
            Err(e) => {
                out.problems.push(format!(
                    "decision {id}: the record does not parse ({e}): edited"
                ));
                before = Some(value);
                expected_id = id + 1;
                continue;
            }
        };
        if decision.id != id {
            out.problems.push(format!(
                "decision {id}: its record says it is decision {}",
                decision.id
            ));
        }
        if id != expected_id {
            out.problems.push(format!(
                "decisions {expected_id} to {}: missing (removed)",
                id.saturating_sub(1)
            ));
        }
        if decision.previous.is_empty() {
            if out.chained > 0 {
                out.problems.push(format!(
                    "decision {id}: no link to the decision before it, in a chained trail"
                ));
            }
            out.unchained += 1;
        } else {
            out.chained += 1;
            if decision.previous != link_to(before) {
                out.problems.push(format!(
                    "decision {id}: does not fit the decision before it (that one was edited or removed)"
                ));
            }
        }
        before = Some(value);
        expected_id = id + 1;
    }
    out
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
            previous: String::new(),
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

    fn bank(dir: &std::path::Path) -> Bank {
        let create = super::super::OpenOptions {
            create: true,
            ..Default::default()
        };
        Bank::open(dir, &create).unwrap()
    }

    fn damage(dir: &std::path::Path) -> Vec<String> {
        super::super::verify::verify(dir).unwrap().damage
    }

    #[test]
    fn a_decision_edited_or_removed_from_the_middle_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = bank(dir.path());
        for i in 0..4 {
            let mut d = decision(DecisionKind::Dismiss, k((1.0, 2.0), (1.0, 2.0)));
            d.reason = format!("licensed stock {i}");
            assert_eq!(b.add_decision(d).unwrap(), i + 1);
        }
        let first = b.decisions().unwrap()[0].clone();
        assert_eq!(first.previous, digest_hex(&[0; 32]));
        drop(b);
        assert!(damage(dir.path()).is_empty(), "{:?}", damage(dir.path()));

        // An edit that keeps the record readable: the next decision no longer fits.
        let b = bank(dir.path());
        let cf = b.cf(CF_META).unwrap();
        let mut edited = b.decisions().unwrap()[1].clone();
        edited.reason = "a false match".into();
        b.db.put_cf(cf, key(2), serde_json::to_vec(&edited).unwrap())
            .unwrap();
        drop(b);
        let found = damage(dir.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("decision 3: does not fit"), "{found:?}");

        // A removal: the gap is named, and so is the decision after it.
        let b = bank(dir.path());
        b.db.delete_cf(b.cf(CF_META).unwrap(), key(2)).unwrap();
        drop(b);
        let found = damage(dir.path());
        assert!(
            found
                .iter()
                .any(|l| l.contains("decisions 2 to 2: missing")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|l| l.contains("decision 3: does not fit")),
            "{found:?}"
        );
    }

    #[test]
    fn decisions_from_before_the_chain_are_counted_and_the_chain_starts_after_them() {
        let mut old = decision(DecisionKind::Dismiss, k((1.0, 2.0), (1.0, 2.0)));
        old.id = 1;
        let old = serde_json::to_vec(&old).unwrap();
        let mut new = decision(DecisionKind::Confirm, k((1.0, 2.0), (1.0, 2.0)));
        new.id = 2;
        new.previous = link_to(Some(&old));
        let new = serde_json::to_vec(&new).unwrap();
        let (k1, k2) = (key(1), key(2));
        let chain = check_chain([(&k1[..], &old[..]), (&k2[..], &new[..])]);
        assert_eq!((chain.unchained, chain.chained), (1, 1));
        assert!(chain.problems.is_empty(), "{:?}", chain.problems);
        // An unlinked decision after the chain began was written around it.
        let chain = check_chain([(&k2[..], &new[..]), (&key(3)[..], &old[..])]);
        assert!(
            chain.problems.iter().any(|p| p.contains("no link")),
            "{:?}",
            chain.problems
        );
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
