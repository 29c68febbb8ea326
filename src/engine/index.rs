//! `index`: fingerprint files and bank them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::{
    fingerprint_input, in_batches, numbered, read_input, Context, FileFingerprint, Sampling, Work,
};
use crate::bank::{Bank, BankError, BankReader, FileStamp, NewAsset};
use crate::fingerprint::keypoints::BANK_STEP_S;
use crate::fingerprint::vpdq::{self, VpdqParseError};
use crate::fingerprint::FingerprintParams;
use crate::matching::{MatchOptions, QuerySegment};
use crate::media::{self, DecodeLimits, InputFile, MediaError, MediaKind};
use crate::model::{AssetId, Label, Provenance, ProvenanceAction, Shard};

/// What to record with each new asset, and how to decode.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub label: Label,
    /// Where the material came from (free text).
    pub source: Option<String>,
    /// Incident number, chain of custody, anything else (free text).
    pub note: Option<String>,
    /// Who runs the job (`user@host`), recorded with each statement of provenance.
    pub by: Option<String>,
    pub limits: DecodeLimits,
    pub sampling: Sampling,
    /// What the inputs are: media files, or vPDQ hash lists to bank without the media.
    pub format: InputFormat,
    /// What to do with paths banked before that are gone now.
    pub prune: Prune,
    /// Bounds on what an archive may unpack to.
    pub archives: media::archive::ArchiveLimits,
    /// Bank only this slice of the inputs ([`super::shard`]), for a shard bank that
    /// `celprint merge` joins with the others. A sharded run never looks for vanished
    /// paths: the paths of the other slices are not gone, only elsewhere.
    pub shard: Option<Shard>,
}

/// What `index` does with paths banked before under its inputs that it no longer finds.
///
/// Pruning forgets them, and removes the assets left with no path. Because an unmounted
/// share looks exactly like a folder whose files were all deleted, pruning is refused
/// under an input that cannot be read or lists no file at all, and under one where it
/// would remove more than [`Prune::MAX_SHARE`] of the assets banked from it, unless
/// `all` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prune {
    /// Report them and keep them (leaked material does not stop being leaked).
    #[default]
    Keep,
    /// Forget them, within the limits above, or beyond the share limit when `all`.
    Forget { all: bool },
    /// Walk the inputs and say what [`Prune::Forget`] would do, changing nothing and
    /// banking nothing.
    DryRun { all: bool },
}

impl Prune {
    /// The largest share of the assets banked from one input that one run may prune
    /// without `all`.
    pub const MAX_SHARE: f64 = 0.10;
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

impl IndexOptions {
    /// This run's label, source and note, as path records keep them
    /// ([`Provenance::words`]).
    pub fn words(&self) -> String {
        Provenance::words_of(self.label, self.source.as_deref(), self.note.as_deref())
    }
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            label: Label::Leaked,
            source: None,
            note: None,
            by: None,
            limits: DecodeLimits::default(),
            sampling: Sampling::default(),
            format: InputFormat::Media,
            prune: Prune::Keep,
            archives: media::archive::ArchiveLimits::default(),
            shard: None,
        }
    }
}

/// Why one file given to `index` was not banked: its bytes would not decode, or a
/// vPDQ hash list would not parse. Both write their cause into their message.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    HashList(#[from] VpdqParseError),
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
    /// Banked assets that this run gave a new statement of provenance (another label,
    /// source or note for known bytes), with the label that now decides.
    pub relabelled: Vec<(String, Label)>,
    /// New assets in which no picture is good enough to be evidence (a blank frame, a
    /// flat colour): banked, but nothing will ever match them.
    pub unusable: Vec<String>,
    /// Paths banked before under the inputs that this walk no longer found. Their
    /// assets stay in the bank (leaked material does not stop being leaked) unless the
    /// run prunes them.
    pub vanished: Vec<String>,
    /// Assets removed because every path they were banked from vanished (`prune`); in a
    /// dry run, the assets that would be.
    pub pruned_assets: usize,
    /// Inputs under which pruning was refused, and why; nothing was pruned under them.
    pub prune_refused: Vec<(String, String)>,
    /// Files that could not be fingerprinted, with the reason. Nothing was written for them.
    pub errors: Vec<(String, FileError)>,
    /// Videos decoded only in part (damaged or truncated), with the reason. What was
    /// decoded is banked, since a damaged copy of leaked material is still evidence.
    pub partial: Vec<(String, String)>,
    pub skipped_not_media: usize,
    /// Files in the inputs that are not media, with what they are.
    pub skipped: Vec<(String, String)>,
    /// A dry run: nothing was banked or forgotten; `pruned_assets` is what would be.
    pub dry_run: bool,
    /// True when a cancel stopped the run early; what was finished is banked.
    pub cancelled: bool,
    /// Files not done because of the cancel or a bank failure; a rerun does them (and
    /// skips the rest).
    pub not_done: usize,
    /// The bank could not be written (disk full, say): the run stopped there. Every
    /// asset counted in `added` was committed before it.
    pub bank_error: Option<BankError>,
}

impl IndexSummary {
    /// Whether everything asked for was done: nothing failed, nothing was left undone.
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
            && self.partial.is_empty()
            && !self.cancelled
            && self.bank_error.is_none()
            && self.prune_refused.is_empty()
    }
}

enum Outcome {
    /// Same path, size and time as when banked; the digest banked from it, and whether
    /// the last index of the path said what this run says (then there is nothing to
    /// record, and the asset need not be read).
    Unchanged {
        digest: Option<[u8; 32]>,
        said_again: bool,
    },
    /// Not started: the run was cancelled, or the bank cannot be written.
    NotDone,
    Known(AssetId),
    New(Box<FileFingerprint>),
    Failed(FileError),
}

/// How long committed assets may sit in the kernel's cache before the log is synced to
/// the disk: what a power cut can cost. A killed process costs nothing committed.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Fingerprints every media file under `inputs` and banks what is new.
///
/// Files are fingerprinted in parallel on `ctx.pool`, and each asset is committed (one
/// atomic batch) as soon as its file is done, so that a run killed at any moment keeps
/// every asset finished before it. A file that fails is reported and skips nothing
/// else. A bank error (disk full, say) stops the run; the summary says what was banked
/// before it ([`IndexSummary::bank_error`]).
pub fn index_paths(
    bank: &mut Bank,
    inputs: &[PathBuf],
    opts: &IndexOptions,
    ctx: &Context<'_>,
) -> IndexSummary {
    let mut found = match opts.format {
        // Unchanged files are skipped unread, so their bytes are judged only if read.
        InputFormat::Media => media::discover_deferred(inputs, numbered(&opts.sampling)),
        InputFormat::VpdqList => media::discover_with(inputs, |p| {
            (p.extension().and_then(|e| e.to_str()) == Some("txt")).then_some(MediaKind::Video)
        }),
    };
    super::shard::keep(&mut found, opts.shard);
    // Every path the walk saw, whatever became of it: a file that is there but failed
    // or is not media has not vanished.
    let mut walked: Vec<String> = found
        .errors
        .iter()
        .map(|(p, _)| p.clone())
        .chain(found.skipped.iter().map(|(p, _)| p.clone()))
        .chain(found.text.iter().cloned())
        .collect();
    let mut summary = IndexSummary {
        files: found.errors.len(),
        skipped_not_media: found.skipped.len() + found.text.len(),
        skipped: std::mem::take(&mut found.skipped),
        errors: std::mem::take(&mut found.errors)
            .into_iter()
            .map(|(p, e)| (p, e.into()))
            .collect(),
        ..IndexSummary::default()
    };
    if let Prune::DryRun { all } = opts.prune {
        summary.dry_run = true;
        walked.extend(found.files.iter().map(|f| f.display.clone()));
        let present = Present::new(&walked, &found);
        if let Err(e) = find_vanished(bank, &found, &present, Some(all), false, &mut summary) {
            summary.bank_error = Some(e);
        }
        return summary;
    }
    ctx.progress.start(found.files.len(), found.total_bytes());
    let mut last_sync = std::time::Instant::now();
    // A batch stopped by a bank error was handed over, and its files not done are
    // counted in it; `in_batches` counts it again among those not handed over.
    let mut stopped_batch = 0;

    let not_done = in_batches(&found, &opts.archives, numbered(&opts.sampling), |work| {
        let batch = match work {
            Work::Passed(passed) => {
                walked.extend(passed.errors.iter().map(|(p, _)| p.clone()));
                walked.extend(passed.skipped.iter().map(|(p, _)| p.clone()));
                walked.extend(passed.text.iter().cloned());
                summary.files += passed.errors.len();
                summary
                    .errors
                    .extend(passed.errors.into_iter().map(|(p, e)| (p, e.into())));
                summary.skipped_not_media += passed.skipped.len() + passed.text.len();
                summary.skipped.extend(passed.skipped);
                return Ok::<bool, std::convert::Infallible>(true);
            }
            Work::Files(batch) => batch,
        };
        if ctx.cancelled() {
            summary.cancelled = true;
            return Ok(false);
        }
        summary.files += batch.len();
        walked.extend(batch.iter().map(|f| f.display.clone()));
        index_batch(bank, batch, opts, ctx, &mut summary, &mut last_sync);
        if summary.bank_error.is_some() {
            stopped_batch = batch.len();
        }
        Ok(summary.bank_error.is_none())
    })
    .unwrap_or_else(|never| match never {});
    summary.not_done += not_done - stopped_batch;
    if summary.bank_error.is_none() {
        let present = Present::new(&walked, &found);
        let prune = match opts.prune {
            Prune::Forget { all } => Some(all),
            _ => None,
        };
        let finished = if summary.cancelled || opts.shard.is_some() {
            Ok(())
        } else {
            find_vanished(bank, &found, &present, prune, true, &mut summary)
        };
        // Saved tables let the next open (every scan) skip rebuilding the index.
        if let Err(e) = finished.and_then(|_| bank.save_index().map(|_| ())) {
            summary.bank_error = Some(e);
        }
    }
    ctx.progress.finish();
    summary
}

/// Fingerprints one batch on the pool while this thread commits each result as it
/// comes: the workers read the bank through a [`BankReader`], the writer alone holds
/// it mutably.
fn index_batch(
    bank: &mut Bank,
    batch: &[InputFile],
    opts: &IndexOptions,
    ctx: &Context<'_>,
    summary: &mut IndexSummary,
    last_sync: &mut std::time::Instant,
) {
    let reader = bank.reader();
    let params = bank.params().clone();
    // A bank's keypoints are sampled on its own step, whatever the caller asked.
    let sampling = Sampling {
        feature_step_s: params.local_features.as_ref().map(|_| BANK_STEP_S),
        ..ctx.sampling_for(opts.sampling, batch.len())
    };
    let floor = MatchOptions::default().for_bank(&params);
    let broken = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(&InputFile, Outcome)>();
        let (reader, params, broken) = (&reader, &params, &broken);
        scope.spawn(move || {
            ctx.pool.install(|| {
                batch.par_iter().for_each_with(tx, |tx, file| {
                    let outcome = if ctx.cancelled() || broken.load(Ordering::Relaxed) {
                        Outcome::NotDone
                    } else {
                        let outcome = examine(file, reader, params, opts, sampling);
                        ctx.progress.file_done(&file.display, file.size);
                        outcome
                    };
                    // The writer only hangs up by panicking, which ends the job anyway.
                    let _ = tx.send((file, outcome));
                })
            })
        });
        for (file, outcome) in rx {
            if summary.bank_error.is_some() {
                summary.not_done += 1;
                continue;
            }
            let committed = commit(bank, file, outcome, opts, &floor, summary).and_then(|_| {
                if last_sync.elapsed() >= SYNC_EVERY {
                    *last_sync = std::time::Instant::now();
                    bank.sync()?;
                }
                Ok(())
            });
            if let Err(e) = committed {
                summary.not_done += 1;
                summary.bank_error = Some(e);
                broken.store(true, Ordering::Relaxed);
            }
        }
    });
}

/// A worker's look at one file: unchanged, already banked, or fingerprinted anew.
fn examine(
    file: &InputFile,
    reader: &BankReader,
    params: &FingerprintParams,
    opts: &IndexOptions,
    sampling: Sampling,
) -> Outcome {
    // A read error on the bank surfaces again, fatally, at write time.
    let seen = reader.path_record(&file.display).ok().flatten();
    if let Some(record) = seen.filter(|r| r.unchanged(&stamp_of(file))) {
        return Outcome::Unchanged {
            digest: record.digest.as_deref().and_then(media::digest_from_hex),
            said_again: record.said.as_deref() == Some(opts.words().as_str()),
        };
    }
    let input = match read_input(file) {
        Err(e) => return Outcome::Failed(e.into()),
        Ok(input) => input,
    };
    if let Ok(Some(id)) = reader.asset_by_digest(&input.digest) {
        return Outcome::Known(id);
    }
    let fp = match opts.format {
        InputFormat::Media => {
            fingerprint_input(file, &input, params, opts.limits, sampling).map_err(FileError::from)
        }
        InputFormat::VpdqList => vpdq_fingerprint(file, &input, params),
    };
    match fp {
        Ok(fp) => Outcome::New(Box::new(fp)),
        Err(e) => Outcome::Failed(e),
    }
}

/// Writes what a worker found, in the bank and in the summary.
fn commit(
    bank: &mut Bank,
    file: &InputFile,
    outcome: Outcome,
    opts: &IndexOptions,
    floor: &MatchOptions,
    summary: &mut IndexSummary,
) -> Result<(), BankError> {
    let stamp = stamp_of(file);
    match outcome {
        Outcome::Unchanged { said_again, .. } if said_again => summary.skipped_unchanged += 1,
        Outcome::Unchanged { digest, .. } => {
            summary.skipped_unchanged += 1;
            // Unread, but a new label or note for these bytes still counts.
            let id = digest.map(|d| bank.asset_by_digest(&d)).transpose()?;
            if let Some(id) = id.flatten() {
                restate(bank, Some(id), file, opts, summary)?;
                bank.add_path(id, &file.display, Some(stamp), Some(opts.words()))?;
            }
        }
        Outcome::NotDone => {
            summary.cancelled = true;
            summary.not_done += 1;
        }
        Outcome::Failed(e) => {
            bank.record_failure(&file.display, stamp, &e.to_string())?;
            summary.errors.push((file.display.clone(), e));
        }
        Outcome::Known(id) => {
            record_path(bank, id, file, opts, summary)?;
            restate(bank, Some(id), file, opts, summary)?;
        }
        Outcome::New(mut fp) => {
            // The same bytes may have arrived twice in one batch.
            if let Some(id) = bank.asset_by_digest(&fp.digest)? {
                record_path(bank, id, file, opts, summary)?;
                return restate(bank, Some(id), file, opts, summary);
            }
            let segments = fp.bank_segments();
            summary.segments_added += segments.len();
            let features = super::panels::banked_samples(&mut fp);
            let usable = fp
                .best_quality()
                .is_some_and(|q| q >= floor.floor_for(fp.kind == MediaKind::Video));
            bank.add_asset(NewAsset {
                digest: fp.digest,
                kind: fp.kind,
                label: opts.label,
                source: opts.source.clone(),
                note: opts.note.clone(),
                by: opts.by.clone(),
                path: file.display.clone(),
                bytes: fp.bytes,
                width: fp.width,
                height: fp.height,
                frame_rate: fp.frame_rate,
                segments,
                crops: fp.crops,
                panels: fp
                    .panels
                    .into_iter()
                    .map(|(place, q)| (place, q.segment))
                    .collect(),
                panel_pages: fp.panel_pages,
                page_dpi: fp.page_dpi,
                features,
                seen: Some(stamp),
            })?;
            summary.added += 1;
            if !usable {
                summary.unusable.push(file.display.clone());
            }
            if let Some(why) = &fp.partial {
                summary.partial.push((file.display.clone(), why.clone()));
            }
        }
    }
    Ok(())
}

/// Records this run's label, source and note for bytes already banked, if they say
/// something new.
fn restate(
    bank: &mut Bank,
    id: Option<AssetId>,
    file: &InputFile,
    opts: &IndexOptions,
    summary: &mut IndexSummary,
) -> Result<(), BankError> {
    let Some(id) = id else { return Ok(()) };
    let statement = Provenance {
        label: opts.label,
        source: opts.source.clone(),
        note: opts.note.clone(),
        action: ProvenanceAction::Index,
        path: Some(file.display.clone()),
        at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        by: opts.by.clone(),
    };
    let (record, changed) = bank.add_provenance(id, statement)?;
    if changed {
        summary
            .relabelled
            .push((record.path().to_string(), record.label));
    }
    Ok(())
}

fn stamp_of(file: &InputFile) -> FileStamp {
    FileStamp {
        size: file.size,
        modified_ns: file.modified_ns,
    }
}

/// What a walk found still there: files, and archives (whose banked entries count as
/// present while the archive is, in a dry run that does not unpack them).
struct Present<'a> {
    files: std::collections::HashSet<&'a str>,
    archives: std::collections::HashSet<&'a str>,
}

impl<'a> Present<'a> {
    fn new(walked: &'a [String], found: &'a media::Discovered) -> Present<'a> {
        Present {
            files: walked.iter().map(String::as_str).collect(),
            archives: found.archives.iter().map(|f| f.display.as_str()).collect(),
        }
    }

    fn holds(&self, path: &str, unpacked: bool) -> bool {
        self.files.contains(path)
            || (!unpacked
                && path
                    .split_once("!/")
                    .is_some_and(|(archive, _)| self.archives.contains(archive)))
    }
}

/// Paths recorded under the inputs that the walk did not find again; pruned when
/// `prune` is `Some(all)` and [`Prune`]'s safety rules allow, and only counted when
/// `write` is false (a dry run).
fn find_vanished(
    bank: &mut Bank,
    found: &media::Discovered,
    present: &Present<'_>,
    prune: Option<bool>,
    write: bool,
    summary: &mut IndexSummary,
) -> Result<(), BankError> {
    for root in &found.roots {
        let mut gone = Vec::new();
        let mut assets_here = std::collections::HashSet::new();
        for (path, record) in bank.paths_under(&root.display)? {
            // `root` as a string prefix also matches siblings (`ep1` and `ep10`).
            let rest = &path[root.display.len()..];
            let below = rest.is_empty()
                || rest.starts_with(std::path::MAIN_SEPARATOR)
                || rest.starts_with("!/")
                || root.display.ends_with(std::path::MAIN_SEPARATOR);
            if !below {
                continue;
            }
            if let Some(d) = &record.digest {
                assets_here.insert(d.clone());
            }
            if !present.holds(&path, write) && !summary.vanished.contains(&path) {
                gone.push((path, record.digest));
            }
        }
        if gone.is_empty() {
            continue;
        }
        summary.vanished.extend(gone.iter().map(|(p, _)| p.clone()));
        let Some(all) = prune else { continue };
        if let Some(why) = &root.unreadable {
            summary.prune_refused.push((
                root.display.clone(),
                format!("it cannot be read ({why}); an unmounted share looks like this"),
            ));
            continue;
        }
        if root.files == 0 {
            summary.prune_refused.push((
                root.display.clone(),
                "it holds no files now; an empty mount point looks like this".to_string(),
            ));
            continue;
        }
        let doomed = assets_left_without_path(bank, &gone)?;
        let share = doomed.len() as f64 / assets_here.len().max(1) as f64;
        if share > Prune::MAX_SHARE && !all {
            summary.prune_refused.push((
                root.display.clone(),
                format!(
                    "it would remove {} of the {} assets banked from it ({:.0} %, over the {:.0} % \
                     one run may prune); check the folder, then use --prune-all",
                    doomed.len(),
                    assets_here.len(),
                    share * 100.0,
                    Prune::MAX_SHARE * 100.0
                ),
            ));
            continue;
        }
        if !write {
            summary.pruned_assets += doomed.len();
            continue;
        }
        for (path, _) in &gone {
            if bank.prune_path(path)? {
                summary.pruned_assets += 1;
            }
        }
    }
    Ok(())
}

/// The assets that forgetting `gone` would leave with no path at all.
fn assets_left_without_path(
    bank: &Bank,
    gone: &[(String, Option<String>)],
) -> Result<std::collections::HashSet<AssetId>, BankError> {
    let forgotten: std::collections::HashSet<&str> = gone.iter().map(|(p, _)| p.as_str()).collect();
    let mut doomed = std::collections::HashSet::new();
    for digest in gone.iter().filter_map(|(_, d)| d.as_deref()) {
        let Some(id) = media::digest_from_hex(digest)
            .map(|d| bank.asset_by_digest(&d))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        if let Some(record) = bank.asset(id)? {
            if record.paths.iter().all(|p| forgotten.contains(p.as_str())) {
                doomed.insert(id);
            }
        }
    }
    Ok(doomed)
}

fn record_path(
    bank: &mut Bank,
    id: crate::model::AssetId,
    file: &InputFile,
    opts: &IndexOptions,
    summary: &mut IndexSummary,
) -> Result<(), BankError> {
    if bank.add_path(id, &file.display, Some(stamp_of(file)), Some(opts.words()))? {
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
) -> Result<FileFingerprint, FileError> {
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
        panels: Vec::new(),
        panel_pages: Vec::new(),
        panel_features: Vec::new(),
        page_dpi: Vec::new(),
        features: Vec::new(),
    })
}
