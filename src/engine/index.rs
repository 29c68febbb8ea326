//! `index`: fingerprint files and bank them.

use std::path::PathBuf;

use rayon::prelude::*;

use super::{fingerprint_input, in_batches, read_input, Context, FileFingerprint, Sampling, Work};
use crate::bank::{Bank, BankError, FileStamp, Label, NewAsset};
use crate::fingerprint::keypoints::BANK_STEP_S;
use crate::fingerprint::{vpdq, FingerprintParams};
use crate::matching::QuerySegment;
use crate::media::{self, DecodeLimits, InputFile, MediaError, MediaKind};

/// What to record with each new asset, and how to decode.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub label: Label,
    /// Where the material came from (free text).
    pub source: Option<String>,
    /// Incident number, chain of custody, anything else (free text).
    pub note: Option<String>,
    pub limits: DecodeLimits,
    pub sampling: Sampling,
    /// What the inputs are: media files, or vPDQ hash lists to bank without the media.
    pub format: InputFormat,
    /// Forget paths that vanished, and assets left with no path.
    pub prune: bool,
    /// Bounds on what an archive may unpack to.
    pub archives: media::archive::ArchiveLimits,
}

/// What `index` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Stills and videos, decoded and fingerprinted here.
    #[default]
    Media,
    /// vPDQ hash lists (`frame,quality,hash,timestamp` lines; `.txt` in directories),
    /// each banked as a video asset identified by the digest of the list.
    VpdqList,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            label: Label::Leaked,
            source: None,
            note: None,
            limits: DecodeLimits::default(),
            sampling: Sampling::default(),
            format: InputFormat::Media,
            prune: false,
            archives: media::archive::ArchiveLimits::default(),
        }
    }
}

/// What an index run did.
#[derive(Debug, Default)]
pub struct IndexSummary {
    /// Media files considered.
    pub files: usize,
    /// New assets banked.
    pub added: usize,
    /// Segments in the new assets.
    pub segments_added: usize,
    /// Files whose bytes were already banked, under another path (the path was added).
    pub new_paths: usize,
    /// Files whose bytes and path were both already banked.
    pub unchanged: usize,
    /// Files skipped without being read: same path, size and modification time as when
    /// they were banked.
    pub skipped_unchanged: usize,
    /// Paths banked before under the inputs that this walk no longer found. Their
    /// assets stay in the bank (leaked material does not stop being leaked) unless the
    /// run prunes them.
    pub vanished: Vec<String>,
    /// Assets removed because every path they were banked from vanished (`prune`).
    pub pruned_assets: usize,
    /// Files that could not be fingerprinted, with the reason. Nothing was written for them.
    pub errors: Vec<(String, MediaError)>,
    /// Videos decoded only in part (damaged or truncated), with the reason. What was
    /// decoded is banked, since a damaged copy of leaked material is still evidence.
    pub partial: Vec<(String, String)>,
    pub skipped_not_media: usize,
    /// True when a cancel stopped the run early; what was finished is banked.
    pub cancelled: bool,
    /// Files not done because of the cancel; a rerun does them (and skips the rest).
    pub not_done: usize,
}

enum Outcome {
    Unchanged,
    /// Not started: the run was cancelled.
    NotDone,
    Known(crate::bank::AssetId),
    New(Box<FileFingerprint>),
    Failed(MediaError),
}

/// Fingerprints every media file under `inputs` and banks what is new.
///
/// Files are fingerprinted in parallel on `ctx.pool` and written one asset per atomic
/// batch. A file that fails is reported and skips nothing else. A bank error (disk full,
/// say) stops the run: what was written before it stays.
pub fn index_paths(
    bank: &mut Bank,
    inputs: &[PathBuf],
    opts: &IndexOptions,
    ctx: &Context<'_>,
) -> Result<IndexSummary, BankError> {
    let mut found = match opts.format {
        InputFormat::Media => media::discover(inputs),
        InputFormat::VpdqList => media::discover_with(inputs, |p| {
            (p.extension().and_then(|e| e.to_str()) == Some("txt")).then_some(MediaKind::Video)
        }),
    };
    ctx.progress.start(found.files.len(), found.total_bytes());
    let mut summary = IndexSummary {
        files: found.errors.len(),
        skipped_not_media: found.skipped_not_media,
        errors: std::mem::take(&mut found.errors),
        ..IndexSummary::default()
    };
    let params = bank.params().clone();
    // Every path handed over, archive entries included, for finding what vanished.
    let mut walked: Vec<String> = Vec::new();

    let not_done = in_batches(&found, &opts.archives, |work| {
        let batch = match work {
            Work::Refused(errors, skipped) => {
                summary.files += errors.len();
                summary.errors.extend(errors);
                summary.skipped_not_media += skipped;
                return Ok(true);
            }
            Work::Files(batch) => batch,
        };
        if ctx.cancelled() {
            summary.cancelled = true;
            return Ok(false);
        }
        summary.files += batch.len();
        walked.extend(batch.iter().map(|f| f.display.clone()));
        let shared: &Bank = bank;
        // A bank's keypoints are sampled on its own step, whatever the caller asked.
        let sampling = Sampling {
            feature_step_s: shared.params().local_features.as_ref().map(|_| BANK_STEP_S),
            ..ctx.sampling_for(opts.sampling, batch.len())
        };
        let outcomes: Vec<(&InputFile, Outcome)> = ctx.pool.install(|| {
            batch
                .par_iter()
                .map(|file| {
                    if ctx.cancelled() {
                        return (file, Outcome::NotDone);
                    }
                    let stamp = stamp_of(file);
                    // A read error on the bank surfaces again, fatally, at write time.
                    let seen = shared.path_record(&file.display).ok().flatten();
                    if seen.is_some_and(|r| r.unchanged(&stamp)) {
                        ctx.progress.file_done(&file.display, file.size);
                        return (file, Outcome::Unchanged);
                    }
                    let outcome = match read_input(file) {
                        Err(e) => Outcome::Failed(e),
                        Ok(input) => match shared.asset_by_digest(&input.digest) {
                            Ok(Some(id)) => Outcome::Known(id),
                            // A read error on the bank surfaces again, fatally, at write time.
                            Ok(None) | Err(_) => {
                                let fp = match opts.format {
                                    InputFormat::Media => fingerprint_input(
                                        file,
                                        &input,
                                        &params,
                                        opts.limits,
                                        sampling,
                                    ),
                                    InputFormat::VpdqList => {
                                        vpdq_fingerprint(file, &input, &params)
                                    }
                                };
                                match fp {
                                    Ok(fp) => Outcome::New(Box::new(fp)),
                                    Err(e) => Outcome::Failed(e),
                                }
                            }
                        },
                    };
                    ctx.progress.file_done(&file.display, file.size);
                    (file, outcome)
                })
                .collect()
        });
        for (file, outcome) in outcomes {
            let stamp = stamp_of(file);
            match outcome {
                Outcome::Unchanged => summary.skipped_unchanged += 1,
                Outcome::NotDone => {
                    summary.cancelled = true;
                    summary.not_done += 1;
                }
                Outcome::Failed(e) => {
                    bank.record_failure(&file.display, stamp, &e.to_string())?;
                    summary.errors.push((file.display.clone(), e));
                }
                Outcome::Known(id) => record_path(bank, id, file, &mut summary)?,
                Outcome::New(fp) => {
                    // The same bytes may have arrived twice in one batch.
                    if let Some(id) = bank.asset_by_digest(&fp.digest)? {
                        record_path(bank, id, file, &mut summary)?;
                        continue;
                    }
                    let segments = fp.bank_segments();
                    summary.segments_added += segments.len();
                    bank.add_asset(NewAsset {
                        digest: fp.digest,
                        kind: fp.kind,
                        label: opts.label,
                        source: opts.source.clone(),
                        note: opts.note.clone(),
                        path: file.display.clone(),
                        bytes: fp.bytes,
                        width: fp.width,
                        height: fp.height,
                        frame_rate: fp.frame_rate,
                        segments,
                        crops: fp.crops,
                        features: fp.features,
                        seen: Some(stamp),
                    })?;
                    summary.added += 1;
                    if let Some(why) = &fp.partial {
                        summary.partial.push((file.display.clone(), why.clone()));
                    }
                }
            }
        }
        Ok(true)
    })?;
    summary.not_done += not_done;
    if !summary.cancelled {
        find_vanished(bank, inputs, &walked, opts.prune, &mut summary)?;
    }
    // Saved tables let the next open (every scan) skip rebuilding the index.
    bank.save_index()?;
    ctx.progress.finish();
    Ok(summary)
}

fn stamp_of(file: &InputFile) -> FileStamp {
    FileStamp {
        size: file.size,
        modified_ns: file.modified_ns,
    }
}

/// Paths recorded under the inputs that the walk did not find again; pruned if asked.
fn find_vanished(
    bank: &mut Bank,
    inputs: &[PathBuf],
    walked: &[String],
    prune: bool,
    summary: &mut IndexSummary,
) -> Result<(), BankError> {
    let here: std::collections::HashSet<&str> = walked.iter().map(String::as_str).collect();
    for input in inputs {
        let root = input.display().to_string();
        for (path, _) in bank.paths_under(&root)? {
            // `root` as a string prefix also matches siblings (`ep1` and `ep10`).
            let rest = &path[root.len()..];
            let below = rest.is_empty()
                || rest.starts_with(std::path::MAIN_SEPARATOR)
                || rest.starts_with("!/")
                || root.ends_with(std::path::MAIN_SEPARATOR);
            if !below || here.contains(path.as_str()) || summary.vanished.contains(&path) {
                continue;
            }
            if prune && bank.prune_path(&path)? {
                summary.pruned_assets += 1;
            }
            summary.vanished.push(path);
        }
    }
    Ok(())
}

fn record_path(
    bank: &mut Bank,
    id: crate::bank::AssetId,
    file: &InputFile,
    summary: &mut IndexSummary,
) -> Result<(), BankError> {
    if bank.add_path(id, &file.display, Some(stamp_of(file)))? {
        summary.new_paths += 1;
    } else {
        summary.unchanged += 1;
    }
    Ok(())
}

/// A vPDQ hash list as a fingerprint. Its hashes are used as they are: they were made at
/// native resolution by vPDQ, and land within a few bits of this bank's own.
fn vpdq_fingerprint(
    file: &InputFile,
    input: &super::ReadInput,
    params: &FingerprintParams,
) -> Result<FileFingerprint, MediaError> {
    let text = std::fs::read_to_string(&file.path).map_err(MediaError::Io)?;
    let frames = vpdq::parse(&text)?;
    let opts = params.segment_options();
    let segments = vpdq::segments(&frames, opts)
        .into_iter()
        .map(|segment| QuerySegment {
            variants: vec![(crate::fingerprint::Dihedral::Identity, segment.pdq)],
            segment,
        })
        .collect();
    Ok(FileFingerprint {
        digest: input.digest,
        bytes: input.size,
        kind: MediaKind::Video,
        width: 0,
        height: 0,
        frame_rate: None,
        partial: None,
        segments,
        crops: Vec::new(),
        insets: Vec::new(),
        features: Vec::new(),
    })
}
