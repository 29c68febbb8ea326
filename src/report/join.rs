//! Joining the reports of a delivery scanned in slices (`scan --shard I/N`) into the
//! report of the whole delivery.
//!
//! The joined report is what one scan of the whole delivery would have said, with one
//! more rule: a slice that is missing is a part of the delivery not checked, so the
//! delivery is not clean. Everything a slice could not check is carried over; only
//! "nothing to scan" is judged again over the whole, since one slice of a small delivery
//! may rightly hold no picture.

use std::collections::BTreeSet;

use super::{ScanReport, Summary, NOTHING_TO_SCAN};

/// Why slices' reports cannot be joined: they are not slices of one scan.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("no report to join")]
    Nothing,
    #[error("report {0} is not a slice (it was not made by `scan --shard I/N`)")]
    NotASlice(usize),
    #[error("slice {0} is given twice")]
    Twice(crate::model::Shard),
    #[error("the reports are slices of different splits ({0} and {1} slices)")]
    Counts(u32, u32),
    #[error(
        "slice {slice} was scanned with another {what} than slice {first}: they are not one scan"
    )]
    Differ {
        slice: crate::model::Shard,
        first: crate::model::Shard,
        what: &'static str,
    },
}

/// The report of the whole delivery from its slices' reports, in any order. The result
/// has no run id (the caller records it) and names the slices' run ids in `slices`.
pub fn join_slices(mut reports: Vec<ScanReport>) -> Result<ScanReport, JoinError> {
    for (i, r) in reports.iter().enumerate() {
        if r.shard.is_none() {
            return Err(JoinError::NotASlice(i + 1));
        }
    }
    reports.sort_by_key(|r| r.shard);
    let first = reports.first().ok_or(JoinError::Nothing)?;
    let head = first.shard.expect("checked");
    for pair in reports.windows(2) {
        if pair[0].shard == pair[1].shard {
            return Err(JoinError::Twice(pair[0].shard.expect("checked")));
        }
    }
    for r in &reports {
        let shard = r.shard.expect("checked");
        if shard.count != head.count {
            return Err(JoinError::Counts(head.count, shard.count));
        }
        let differ = |what| JoinError::Differ {
            slice: shard,
            first: head,
            what,
        };
        if r.bank.path != first.bank.path || r.bank.format_version != first.bank.format_version {
            return Err(differ("bank"));
        }
        if r.bank.params != first.bank.params {
            return Err(differ("bank's fingerprint parameters"));
        }
        // How many banked keypoints a slice loaded depends on whether it held a picture.
        let settings = |r: &ScanReport| {
            let mut s = r.settings.clone();
            s.local_features = 0;
            serde_json::to_string(&s).expect("settings serialise")
        };
        if settings(r) != settings(first) {
            return Err(differ("threshold or setting"));
        }
    }

    let mut reasons: Vec<String> = Vec::new();
    let present: BTreeSet<u32> = reports
        .iter()
        .filter_map(|r| r.shard)
        .map(|s| s.index)
        .collect();
    for index in (1..=head.count).filter(|i| !present.contains(i)) {
        reasons.push(format!(
            "slice {index}/{} is missing: its part of the delivery was not checked",
            head.count
        ));
    }
    let generations: BTreeSet<u64> = reports.iter().map(|r| r.bank.generation).collect();
    if generations.len() > 1 {
        reasons.push(format!(
            "the slices were scanned against different states of the bank (generations {}): \
             scan them again against one",
            generations
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    let mut joined = ScanReport {
        celprint_version: first.celprint_version.clone(),
        run_id: None,
        started_at: reports
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .expect("one"),
        finished_at: reports
            .iter()
            .map(|r| r.finished_at.clone())
            .max()
            .expect("one"),
        bank: first.bank.clone(),
        chain: None,
        settings: first.settings.clone(),
        matches: Vec::new(),
        dismissed: Vec::new(),
        scanned: Vec::new(),
        summary: Summary::default(),
        shard: None,
        slices: Vec::new(),
    };
    for r in reports {
        let s = &r.summary;
        let t = &mut joined.summary;
        t.files += s.files;
        t.errors += s.errors;
        t.partial += s.partial;
        t.matched_files += s.matched_files;
        t.matches += s.matches;
        t.dismissed += s.dismissed;
        t.ignored_hits += s.ignored_hits;
        t.low_quality_files += s.low_quality_files;
        t.skipped_not_media += s.skipped_not_media;
        t.text_files += s.text_files;
        t.cancelled |= s.cancelled;
        t.not_done += s.not_done;
        for why in &s.not_checked_because {
            if why != NOTHING_TO_SCAN && !reasons.contains(why) {
                reasons.push(why.clone());
            }
        }
        joined.settings.local_features = joined
            .settings
            .local_features
            .max(r.settings.local_features);
        joined.slices.push(
            r.run_id
                .clone()
                .unwrap_or_else(|| "(not recorded)".to_string()),
        );
        joined.matches.extend(r.matches);
        joined.dismissed.extend(r.dismissed);
        joined.scanned.extend(r.scanned);
    }
    let decoded = joined
        .scanned
        .iter()
        .any(|s| s.kind.is_some() && s.digest.is_some());
    if !decoded && !joined.summary.cancelled {
        reasons.push(NOTHING_TO_SCAN.to_string());
    }
    joined.summary.not_checked_because = reasons;
    super::sort_matches(&mut joined.matches);
    joined.scanned.sort_by(|a, b| a.path.cmp(&b.path));
    joined.summary.verdict = Some(joined.verdict());
    Ok(joined)
}
