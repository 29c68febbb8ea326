//! `scan`: match delivered files against a bank and build the report.

use std::path::PathBuf;

use rayon::prelude::*;

use super::panels::keypoint_queries;
use super::{fingerprint_file, in_batches, numbered, Context, Work};
use crate::bank::{Bank, BankError, FeatureSearch, FORMAT_VERSION};
use crate::fingerprint::FingerprintParams;
use crate::matching::local::{match_by_keypoints, match_still_by_keypoints};
use crate::matching::{
    match_document, match_file_and_insets, match_panels_by_keypoints, Document, MatchOptions,
};
use crate::media::{self, DecodeLimits, MediaKind};
use crate::model::Shard;
use crate::report::{
    self, BankInfo, ClaimConflict, FileStatus, ScanReport, ScanSettings, ScannedFile, Summary,
};
use crate::search::FeatureIndex;

#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    pub matching: MatchOptions,
    pub limits: DecodeLimits,
    pub sampling: super::Sampling,
    /// Bounds on what an archive may unpack to.
    pub archives: media::archive::ArchiveLimits,
    /// Scan only this slice of the inputs ([`super::shard`]); the report says which,
    /// and `celprint report merge` joins the slices' reports.
    pub shard: Option<Shard>,
}

/// Scans every media file under `inputs` against `bank`.
///
/// Per-file failures land in the report's `scanned` list; only a failure of the bank
/// itself is an `Err`.
pub fn scan_paths(
    bank: &Bank,
    inputs: &[PathBuf],
    opts: &ScanOptions,
    ctx: &Context<'_>,
) -> Result<ScanReport, BankError> {
    let started_at = now();
    let stats = bank.stats()?;
    let mut found = media::discover(inputs, numbered(&opts.sampling));
    super::shard::keep(&mut found, opts.shard);
    let mut scanned: Vec<ScannedFile> = found
        .errors
        .iter()
        .map(|(path, e)| error_entry(path, e.to_string()))
        .chain(found.skipped.iter().map(|(p, what)| skipped_entry(p, what)))
        .chain(found.text.iter().map(|p| text_entry(p)))
        .collect();
    let mut matches = Vec::new();
    let mut summary = Summary::default();
    ctx.progress.start(found.files.len(), found.total_bytes());
    // Crop variants are a bank-side thing: a delivery is hashed as it is.
    let params = FingerprintParams {
        crop_variants: Vec::new(),
        ..bank.params().clone()
    };
    let matching = opts.matching.for_bank(&params);
    // Keypoints are looked for in delivered files (videos and stills) only when the bank
    // has some to meet them, and only when there is something to scan; a bank keeps
    // them on disk, where the search reads only the buckets it needs.
    let may_hold_pictures = !found.archives.is_empty() || !found.files.is_empty();
    // Storyboard panels' keypoints are an index of their own, searched at their own
    // threshold by the panel matcher only.
    let (features, panel_features): (Box<dyn FeatureSearch>, FeatureIndex) =
        match (opts.sampling.feature_step_s, &params.local_features) {
            (Some(_), Some(_)) if may_hold_pictures => bank.feature_searches()?,
            _ => (Box::new(FeatureIndex::new()), FeatureIndex::new()),
        };
    let base_sampling = super::Sampling {
        feature_step_s: opts
            .sampling
            .feature_step_s
            .filter(|_| !features.is_empty() || !panel_features.is_empty()),
        ..opts.sampling
    };

    let not_done = in_batches(&found, &opts.archives, numbered(&opts.sampling), |work| {
        let batch = match work {
            Work::Passed(passed) => {
                scanned.extend(
                    passed
                        .errors
                        .iter()
                        .map(|(p, e)| error_entry(p, e.to_string())),
                );
                scanned.extend(passed.skipped.iter().map(|(p, w)| skipped_entry(p, w)));
                scanned.extend(passed.text.iter().map(|p| text_entry(p)));
                return Ok(true);
            }
            Work::Files(batch) => batch,
        };
        if ctx.cancelled() {
            summary.cancelled = true;
            return Ok(false);
        }
        let sampling = ctx.sampling_for(base_sampling, batch.len());
        let results = ctx.pool.install(|| {
            batch
                .par_iter()
                .map(|file| {
                    let result =
                        fingerprint_file(file, &params, opts.limits, sampling).map(|mut fp| {
                            // Keypoints are spent once matched; the batch keeps the rest of
                            // each fingerprint for the report until its last file is done.
                            let mut samples = std::mem::take(&mut fp.features);
                            // A page laid out as a storyboard is not one picture: its
                            // keypoints are mostly the template's (frames, captions),
                            // which must never be evidence. Its panels are searched.
                            if fp.kind == MediaKind::Still {
                                let page_of = |t: f64| t as u32 + 1;
                                samples.retain(|s| !fp.panel_pages.contains(&page_of(s.time_s)));
                            }
                            let matched = if fp.kind == MediaKind::Still {
                                // Page by page, and each storyboard panel on its own.
                                let doc = Document {
                                    pages: &fp.segments,
                                    panels: &fp.panels,
                                    panel_pages: &fp.panel_pages,
                                };
                                match_document(bank, &file.display, &doc, &matching)
                            } else {
                                match_file_and_insets(
                                    bank,
                                    &file.display,
                                    &fp.segments,
                                    &fp.insets,
                                    &matching,
                                )
                            }
                            .and_then(|mut found| {
                                if fp.kind == MediaKind::Still {
                                    // Banked panels first, so that a match names them.
                                    let queries = keypoint_queries(&fp, &samples);
                                    match_panels_by_keypoints(
                                        bank,
                                        (features.as_ref(), &panel_features),
                                        &file.display,
                                        &queries,
                                        &mut found,
                                        &matching,
                                    )?;
                                    match_still_by_keypoints(
                                        bank,
                                        features.as_ref(),
                                        &file.display,
                                        &samples,
                                        &mut found,
                                        &matching,
                                    )?;
                                } else {
                                    match_by_keypoints(
                                        bank,
                                        features.as_ref(),
                                        &file.display,
                                        &samples,
                                        &mut found,
                                    )?;
                                }
                                Ok(found)
                            });
                            // An image sequence's name is no file to read.
                            let claims = match &file.sequence {
                                None => media::claims::read(&file.path, fp.kind),
                                Some(_) => Vec::new(),
                            };
                            (fp, matched, claims)
                        });
                    ctx.progress.file_done(&file.display, file.size);
                    (file, result)
                })
                .collect::<Vec<_>>()
        });
        for (file, result) in results {
            match result {
                Err(e) => scanned.push(error_entry(&file.display, e.to_string())),
                Ok((fp, matched, claims)) => {
                    let found = matched?;
                    let claim_conflicts = claim_conflicts(bank, &claims, &found.matches)?;
                    let quality = fp.best_quality();
                    // A video's faint frames are evidence against banked videos, so
                    // only a video with none is beyond matching.
                    let floor = matching.floor_for(fp.kind == MediaKind::Video);
                    let low_quality = quality.is_none_or(|q| q < floor);
                    summary.low_quality_files += low_quality as usize;
                    summary.ignored_hits += found.ignored_hits;
                    summary.matched_files += !found.matches.is_empty() as usize;
                    matches.extend(found.matches.into_iter().map(|mut m| {
                        m.query.frame_rate = fp.frame_rate;
                        m.query.dpi = crate::model::page_dpi(&fp.page_dpi, m.query.page);
                        m
                    }));
                    let (status, error) = match (&fp.partial, low_quality) {
                        (Some(why), _) => (FileStatus::Partial, Some(why.clone())),
                        (None, true) => (
                            FileStatus::NotChecked,
                            Some(format!(
                                "nothing in it can be evidence: best picture quality {}, \
                                 under the {floor} a match needs",
                                quality.unwrap_or(0)
                            )),
                        ),
                        (None, false) => (FileStatus::Ok, None),
                    };
                    scanned.push(ScannedFile {
                        path: file.display.clone(),
                        status,
                        error,
                        kind: Some(fp.kind),
                        digest: Some(media::digest_hex(&fp.digest)),
                        quality,
                        low_quality,
                        insets: fp.insets.iter().map(|(rect, _)| *rect).collect(),
                        claims,
                        claim_conflicts,
                    });
                }
            }
        }
        Ok::<bool, BankError>(true)
    })?;
    summary.not_done = not_done;
    ctx.progress.finish();
    summary.files = scanned.len();
    summary.errors = scanned
        .iter()
        .filter(|s| s.status == FileStatus::Error)
        .count();
    summary.partial = scanned
        .iter()
        .filter(|s| s.status == FileStatus::Partial)
        .count();
    summary.skipped_not_media = scanned
        .iter()
        .filter(|s| s.status == FileStatus::Skipped)
        .count();
    summary.text_files = scanned
        .iter()
        .filter(|s| s.status == FileStatus::Text)
        .count();
    summary.matches = matches.len();
    if stats.assets == 0 {
        summary
            .not_checked_because
            .push("the bank holds no assets: nothing to match against".to_string());
    }
    // A folder of notes alone, or the wrong folder, has nothing clean about it.
    let decoded = scanned
        .iter()
        .any(|s| s.kind.is_some() && s.digest.is_some());
    if !decoded && !summary.cancelled {
        summary
            .not_checked_because
            .push(crate::report::NOTHING_TO_SCAN.to_string());
    }
    crate::report::sort_matches(&mut matches);
    // A match a reviewer dismissed is listed apart and no longer decides the verdict.
    let (matches, dismissed) = crate::report::set_aside(matches, &scanned, &bank.dismissals()?);
    if !dismissed.is_empty() {
        summary.dismissed = dismissed.len();
        summary.matches = matches.len();
        let files: std::collections::BTreeSet<&str> =
            matches.iter().map(|m| m.query.path.as_str()).collect();
        summary.matched_files = files.len();
    }
    let mut report = ScanReport {
        celprint_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: None,
        chain: None,
        started_at,
        finished_at: now(),
        bank: BankInfo {
            path: bank.path().display().to_string(),
            format_version: FORMAT_VERSION,
            params: bank.params().clone(),
            assets: stats.assets,
            segments: stats.segments,
            generation: stats.generation,
        },
        settings: ScanSettings {
            max_distance: matching.max_distance,
            min_quality: matching.min_quality,
            faint_quality: (matching.faint_quality < matching.min_quality)
                .then_some(matching.faint_quality),
            dihedral: matching.dihedral,
            common_assets: matching.common_assets,
            insets: opts.sampling.looks_for_insets(),
            local_features: if base_sampling.feature_step_s.is_some() {
                features.len() + panel_features.len()
            } else {
                0
            },
        },
        matches,
        dismissed,
        scanned,
        summary,
        shard: opts.shard,
        slices: Vec::new(),
    };
    report.summary.verdict = Some(report.verdict());
    Ok(report)
}

/// The file's claims that the bank contradicts: one per banked file matched, judged
/// by [`report::claim_conflict`] against every time the bank shows for that file.
fn claim_conflicts(
    bank: &Bank,
    claims: &[media::claims::Claim],
    matches: &[crate::report::Match],
) -> Result<Vec<ClaimConflict>, BankError> {
    let mut out: Vec<ClaimConflict> = Vec::new();
    if media::claims::earliest_created(claims).is_none() {
        return Ok(out);
    }
    for m in matches {
        let digest = &m.bank_asset.digest;
        if out.iter().any(|c| &c.bank_digest == digest) {
            continue;
        }
        let Some(id) = media::digest_from_hex(digest)
            .map(|d| bank.asset_by_digest(&d))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let Some(record) = bank.asset(id)? else {
            continue;
        };
        let mut times: Vec<(i64, String)> = record
            .history()
            .iter()
            .filter_map(|p| media::claims::parse_time(&p.at))
            .map(|t| (t.unix_s, "indexed".to_string()))
            .collect();
        for path in &record.paths {
            let modified = bank
                .path_record(path)?
                .and_then(|r| r.stamp.modified_ns)
                .and_then(|ns| i64::try_from(ns / 1_000_000_000).ok());
            times.extend(modified.map(|t| (t, "file modified".to_string())));
        }
        out.extend(report::claim_conflict(
            claims,
            &times,
            record.path(),
            digest,
        ));
    }
    Ok(out)
}

fn error_entry(path: &str, error: String) -> ScannedFile {
    ScannedFile {
        path: path.to_string(),
        status: FileStatus::Error,
        error: Some(error),
        kind: media::kind_of(std::path::Path::new(path)),
        digest: None,
        quality: None,
        low_quality: false,
        insets: Vec::new(),
        claims: Vec::new(),
        claim_conflicts: Vec::new(),
    }
}

fn skipped_entry(path: &str, what: &str) -> ScannedFile {
    ScannedFile {
        path: path.to_string(),
        status: FileStatus::Skipped,
        error: Some(format!("not media ({what}): not checked")),
        kind: None,
        digest: None,
        quality: None,
        low_quality: false,
        insets: Vec::new(),
        claims: Vec::new(),
        claim_conflicts: Vec::new(),
    }
}

fn text_entry(path: &str) -> ScannedFile {
    ScannedFile {
        status: FileStatus::Text,
        error: Some("plain text: holds no pictures".to_string()),
        ..skipped_entry(path, "text")
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
