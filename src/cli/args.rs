//! Raw command-line arguments (clap), and their conversion into engine options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use celprint::engine::{
    IndexOptions, InputFormat, Prune, Sampling, ScanOptions, DEFAULT_SEQUENCE_FPS,
};
use celprint::fingerprint::keypoints::QUERY_STEP_S;
use celprint::fingerprint::{FingerprintParams, ImgHashAlgo};
use celprint::matching::MatchOptions;
use celprint::media::DecodeLimits;
use celprint::model::Label;

mod serve;
pub use serve::*;

/// Content-provenance fingerprinting for animation assets.
///
/// Exit status: 0 = clean, 1 = at least one match, 2 = not fully checked (a file that is
/// not media or holds nothing that can be evidence, an empty bank) or an error (a file
/// that could not be read or decoded, a bank that could not be opened). Either wins over a
/// match, because a delivery that was not fully checked is not clean.
#[derive(Debug, Parser)]
#[command(name = "celprint", version, about, long_about)]
pub struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', global = true, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub jobs: Option<usize>,
    /// How messages on stderr are written: lines for people, or one JSON object per
    /// line for a scheduler's log collector.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: super::log::LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fingerprint files and add them to a bank.
    Index(IndexArgs),
    /// Match a delivery against a bank and write a report.
    Scan(ScanArgs),
    /// Print fingerprints: `hash,quality,path` per file.
    Hash(HashArgs),
    /// Show what a bank holds and how it was built.
    Info(InfoArgs),
    /// Align two files directly, without a bank, and print the matching runs: B is
    /// treated as banked, A as delivered.
    Compare(CompareArgs),
    /// List the scans recorded in a bank, or show one of them.
    History(HistoryArgs),
    /// Check a bank for damage: RocksDB's checksums over every key, each asset's
    /// records against each other, the saved index tables, and the audit trail's chain.
    /// Exit 0 when intact, 2 when damaged.
    Verify(VerifyArgs),
    /// Back a bank up (RocksDB's files and the audit trail) into a folder that keeps
    /// every backup, sharing unchanged files; safe while an index writes.
    Backup(BackupArgs),
    /// Restore the latest backup in a folder into a new bank directory.
    Restore(RestoreArgs),
    /// Set the label of banked assets, recorded in each asset's provenance; or, with
    /// no label, show their provenance.
    Label(LabelArgs),
    /// Print a shell completion script (e.g. `celprint completions bash >
    /// /etc/bash_completion.d/celprint`).
    Completions(CompletionsArgs),
    /// Bring shard banks (`index --shard I/N`) into one bank, atomically.
    Merge(super::cluster::MergeArgs),
    /// Work on reports: join the slices of a delivery scanned with `scan --shard I/N`.
    Report(super::cluster::ReportArgs),
    /// Print the manual page, in roff (e.g. `celprint man > /usr/local/share/man/man1/celprint.1`).
    Man,
    /// Serve the bank over HTTP: lookups, scans, the audit trail (docs/serve.md).
    Serve(ServeArgs),
    /// Make, list or revoke the tokens `celprint serve` accepts.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct LabelArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The label to set. It replaces the asset's label in either direction (unlike
    /// `index`, where the most severe label given wins); the old one stays in the
    /// asset's provenance.
    #[arg(long, value_enum)]
    pub set: Option<LabelArg>,
    /// Why (free text, kept with the statement).
    #[arg(long, requires = "set")]
    pub note: Option<String>,
    /// Where the decision came from (free text).
    #[arg(long, requires = "set")]
    pub source: Option<String>,
    /// Banked assets: a path they were banked from, a file with the same bytes, or a
    /// BLAKE3 digest (64 hex digits).
    #[arg(required = true)]
    pub assets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DbArg {
    /// The bank: a RocksDB directory.
    #[arg(long, env = "CELPRINT_DB", value_name = "DIR")]
    pub db: PathBuf,
}

/// Report files, shared by `scan` and `compare`.
#[derive(Debug, Args)]
pub struct ForceArg {
    /// Write a report over an existing file that is not a celprint report, or under an
    /// input directory. Never over an input itself, into the bank, or two reports into
    /// one file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Refuse images larger than this many megapixels, before decoding them.
    #[arg(long, default_value_t = 200, value_name = "MP",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_megapixels: u64,
    /// Memory the stills being decoded and hashed at once may hold together, over all
    /// workers, in megabytes (MiB): a still waits for room, and one larger than this runs
    /// alone. Each still's need is estimated from its header.
    #[arg(long, default_value_t = celprint::media::still::DEFAULT_DECODE_MEMORY >> 20, value_name = "MB")]
    pub decode_memory: u64,
}

impl LimitArgs {
    fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_megapixels.saturating_mul(1_000_000),
            memory_bytes: self.decode_memory.saturating_mul(1 << 20),
            ..DecodeLimits::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct SamplingArgs {
    /// Hash N video frames a second instead of every frame.
    #[arg(long, value_name = "N", value_parser = positive_finite)]
    pub fps: Option<f64>,
    /// Decode only video keyframes: fast triage of large archives, coarse in time.
    #[arg(long)]
    pub keyframes: bool,
    /// Frames a second at which an image sequence (3 or more numbered stills of one
    /// pattern in one folder: `shot010.0001.png` …) is timed, from 0.01 to 1000.
    #[arg(long, value_name = "FPS", value_parser = sequence_fps, default_value_t = DEFAULT_SEQUENCE_FPS)]
    pub sequence_fps: f64,
    /// Numbered stills in one folder are stills, each checked on its own (numbered page
    /// scans, say), not the frames of one shot.
    #[arg(long)]
    pub no_sequences: bool,
}

impl SamplingArgs {
    pub fn sampling(&self) -> Sampling {
        Sampling {
            fps: self.fps,
            keyframes_only: self.keyframes,
            ranges: 0,
            find_insets: false,
            feature_step_s: None,
            sequence_fps: Some(self.sequence_fps),
            numbered_stills: self.no_sequences,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabelArg {
    Leaked,
    Suspicious,
    Own,
    Licensed,
    Ignore,
}

impl From<LabelArg> for Label {
    fn from(l: LabelArg) -> Label {
        match l {
            LabelArg::Leaked => Label::Leaked,
            LabelArg::Suspicious => Label::Suspicious,
            LabelArg::Own => Label::Own,
            LabelArg::Licensed => Label::Licensed,
            LabelArg::Ignore => Label::Ignore,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SecondaryArg {
    Phash,
    Dhash,
    Mean,
    Block,
}

impl From<SecondaryArg> for ImgHashAlgo {
    fn from(s: SecondaryArg) -> ImgHashAlgo {
        match s {
            SecondaryArg::Phash => ImgHashAlgo::Phash,
            SecondaryArg::Dhash => ImgHashAlgo::Dhash,
            SecondaryArg::Mean => ImgHashAlgo::Mean,
            SecondaryArg::Block => ImgHashAlgo::Block,
        }
    }
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("prune_any").args(["prune", "prune_all"]).multiple(true))]
pub struct IndexArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Why this material is banked.
    #[arg(long, value_enum, default_value = "leaked")]
    pub label: LabelArg,
    /// Where the material came from (free text, kept with each asset).
    #[arg(long)]
    pub source: Option<String>,
    /// Incident number, chain of custody, anything else (free text).
    #[arg(long)]
    pub note: Option<String>,
    /// The secondary 64-bit hash stored beside PDQ. Fixed when the bank is created; a bank
    /// built with another is refused.
    #[arg(long, value_enum)]
    pub secondary: Option<SecondaryArg>,
    /// Hash every pixel, of JPEG stills and of video frames (Meta's reference and vPDQ
    /// behaviour), instead of a reduced size. Fixed when the bank is created.
    #[arg(long)]
    pub exact: bool,
    /// Centre crops of every picture to bank beside it, keeping these per cents of each
    /// side, so that deliveries cropped into the safe area are found. A new bank keeps
    /// 90,80,70 unless told otherwise. Fixed when the bank is created; three crops cost
    /// about 2x the bank on disk.
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',',
          value_parser = clap::value_parser!(u8).range(50..=99))]
    pub crop_variants: Vec<u8>,
    /// Bank no centre crops: a bank half the size, in which deliveries cropped into
    /// the safe area are not found. Fixed when the bank is created.
    #[arg(long, conflicts_with = "crop_variants")]
    pub no_crop_variants: bool,
    /// Bank no keypoints of video frames: a bank less than half the size, and no
    /// keypoints held in memory by a scan (see the README), in which reframed copies and
    /// insets the inset finder misses are not found. Fixed when the bank is created.
    #[arg(long)]
    pub no_local_features: bool,
    /// What the paths hold.
    #[arg(long, value_enum, default_value = "media")]
    pub format: IndexFormat,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Forget paths banked before under these inputs that are gone now, and remove
    /// assets left with no path. Without it they are reported and kept. Refused under
    /// an input that cannot be read or holds no file (an unmounted share), and where it
    /// would remove more than 10 % of the assets banked from an input.
    #[arg(long)]
    pub prune: bool,
    /// --prune, without the 10 % limit (still never under an unreadable or empty input).
    #[arg(long)]
    pub prune_all: bool,
    /// With --prune or --prune-all: say what would be forgotten, and change nothing
    /// (nothing is banked either).
    #[arg(long, requires = "prune_any")]
    pub dry_run: bool,
    /// Take only slice I of N of the inputs (by a hash of each path; an archive or an
    /// image sequence stays whole), for one task of a cluster job (docs/cluster.md).
    #[arg(long, value_name = "I/N", conflicts_with_all = ["prune", "prune_all"])]
    pub shard: Option<celprint::model::Shard>,
    /// Files and directories to index (directories are walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

impl IndexArgs {
    /// The parameters asked for, if any were: a new bank is created with them, and an
    /// existing bank built with others is refused. Crops not asked about are the new
    /// bank default's.
    pub fn params(&self) -> Option<FingerprintParams> {
        if self.secondary.is_none()
            && !self.exact
            && self.crop_variants.is_empty()
            && !self.no_crop_variants
            && !self.no_local_features
        {
            return None;
        }
        let base = params_for(self.exact).banked();
        let crop_variants = if self.no_crop_variants {
            Vec::new()
        } else if self.crop_variants.is_empty() {
            base.crop_variants.clone()
        } else {
            self.crop_variants.clone()
        };
        let local_features = base
            .local_features
            .clone()
            .filter(|_| !self.no_local_features);
        Some(FingerprintParams {
            secondary: self.secondary.map(Into::into).unwrap_or(base.secondary),
            crop_variants,
            local_features,
            ..base
        })
    }

    pub fn options(&self, by: Option<String>) -> IndexOptions {
        let all = self.prune_all;
        IndexOptions {
            label: self.label.into(),
            source: self.source.clone(),
            note: self.note.clone(),
            by,
            limits: self.limits.limits(),
            sampling: self.sampling.sampling(),
            format: match self.format {
                IndexFormat::Media => InputFormat::Media,
                IndexFormat::Vpdq => InputFormat::VpdqList,
            },
            prune: match (self.prune || all, self.dry_run) {
                (false, _) => Prune::Keep,
                (true, false) => Prune::Forget { all },
                (true, true) => Prune::DryRun { all },
            },
            archives: Default::default(),
            shard: self.shard,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexFormat {
    /// Stills and videos.
    Media,
    /// vPDQ hash lists (`frame,quality,hash,timestamp` lines), banked without the media.
    Vpdq,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Write the full report as JSON to FILE ('-' for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write one row per match as CSV to FILE ('-' for stdout).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML review report to FILE: each match with the delivered
    /// and banked frames side by side at the start, middle and end, and timecodes.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the CSV without the UTF-8 byte-order mark it begins with by default (which
    /// spreadsheets need to read non-ASCII names).
    #[arg(long)]
    pub csv_no_bom: bool,
    #[command(flatten)]
    pub force: ForceArg,
    #[command(flatten)]
    pub matching: MatchArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Do not look for picture-in-picture insets in delivered videos. Looking costs
    /// little; a video in which an inset is found is decoded a second time to hash it.
    #[arg(long)]
    pub no_insets: bool,
    /// Do not search delivered videos by keypoints (reframed copies and insets), for a
    /// faster scan.
    #[arg(long)]
    pub no_local_features: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Take only slice I of N of the inputs (by a hash of each path; an archive or an
    /// image sequence stays whole), for one task of a cluster job (docs/cluster.md).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<celprint::model::Shard>,
    /// Files and directories to scan.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Matching thresholds, shared by `scan` and `compare`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Largest PDQ Hamming distance, in bits out of 256, that counts as a match.
    #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u32).range(0..=128))]
    pub max_distance: u32,
    /// Ignore frames whose PDQ quality (0-100) is below this, on both sides, except
    /// faint frames between two videos (see --faint-quality).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_quality: u8,
    /// Video frames from this quality up to --min-quality (the middle of a fade, a dim
    /// shot) count as evidence only where a delivered video aligns in time with a banked
    /// one; never against a still. Set it to --min-quality or more to turn them off.
    /// Banks made before faint frames existed hold none (`info`: no faint_quality).
    #[arg(long, default_value_t = celprint::fingerprint::pdq::DEFAULT_FAINT_QUALITY,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub faint_quality: u8,
    /// Do not search the rotations and flips of each delivered frame.
    #[arg(long)]
    pub no_dihedral: bool,
    /// Extend aligned runs through frames up to this PDQ distance (bits); seeds still
    /// need --max-distance.
    #[arg(long, default_value_t = 56, value_parser = clap::value_parser!(u32).range(0..=128))]
    pub extend_distance: u32,
    /// Drop runs shorter than this many seconds of delivered video (a delivered video
    /// shorter than this must match over its whole length).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = seconds)]
    pub min_duration: f64,
    /// Drop runs in which less than this fraction of the time has matching frames.
    #[arg(long, default_value_t = 0.5, value_name = "FRACTION", value_parser = fraction)]
    pub min_fraction: f64,
    /// A delivered frame that hits more than N banked assets is common material (an
    /// intro, a studio card): it weighs N / assets hit in a match's score.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub common_assets: u32,
    /// A delivered still matches by keypoints (a picture cut on a side and resized, a
    /// region collaged into another) when at least N of its corners agree on one
    /// placement of a banked picture or frame.
    #[arg(long, default_value_t = celprint::matching::local::STILL_MIN_KEYPOINTS as u32,
          value_name = "N", value_parser = clap::value_parser!(u32).range(10..=1000))]
    pub still_keypoints: u32,
}

impl MatchArgs {
    pub fn options(&self) -> MatchOptions {
        MatchOptions {
            max_distance: self.max_distance,
            min_quality: self.min_quality,
            faint_quality: self.faint_quality,
            dihedral: !self.no_dihedral,
            extend_distance: self.extend_distance,
            min_duration_s: self.min_duration,
            min_fraction: self.min_fraction,
            common_assets: self.common_assets as usize,
            still_keypoints: self.still_keypoints as usize,
            ..MatchOptions::default()
        }
    }
}

impl ScanArgs {
    pub fn options(&self) -> ScanOptions {
        ScanOptions {
            shard: self.shard,
            ..scan_options(
                &self.matching,
                &self.sampling,
                &self.limits,
                !self.no_insets,
                !self.no_local_features,
            )
        }
    }
}

/// A scan's options from the flags `scan` and `serve` share.
fn scan_options(
    matching: &MatchArgs,
    sampling: &SamplingArgs,
    limits: &LimitArgs,
    find_insets: bool,
    local_features: bool,
) -> ScanOptions {
    ScanOptions {
        matching: matching.options(),
        limits: limits.limits(),
        sampling: Sampling {
            find_insets,
            feature_step_s: local_features.then_some(QUERY_STEP_S),
            ..sampling.sampling()
        },
        archives: Default::default(),
        shard: None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashAlgo {
    Pdq,
    Phash,
    Dhash,
    Mean,
    Block,
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Which hash to print. PDQ prints 64 hex digits and its quality; the others print
    /// 16 hex digits and leave the quality empty.
    #[arg(long, value_enum, default_value = "pdq")]
    pub algo: HashAlgo,
    /// Decode every pixel, as Meta's reference tools do, for hash lists exchanged with
    /// other organisations. By default large JPEGs are decoded at reduced size, which is
    /// faster and drifts by a few bits.
    #[arg(long)]
    pub exact: bool,
    /// `csv`: `hash,quality,path` per still, and per video segment with the path
    /// followed by `#t=START,END` (seconds). `vpdq`: vPDQ's per-frame lines,
    /// `frame_number,quality,pdq_hex,timestamp_s`, for videos.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: HashFormat,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Files and directories to hash.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashFormat {
    Csv,
    Vpdq,
}

/// The parameters `--exact` selects.
fn params_for(exact: bool) -> FingerprintParams {
    if exact {
        FingerprintParams::exact()
    } else {
        FingerprintParams::default()
    }
}

impl HashArgs {
    pub fn params(&self) -> FingerprintParams {
        params_for(self.exact)
    }

    pub fn limits(&self) -> DecodeLimits {
        self.limits.limits()
    }
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// A run to show; without it, every run is listed.
    pub run_id: Option<String>,
    /// Print as JSON: the list, or the run's report exactly as that scan wrote it.
    #[arg(long)]
    pub json: bool,
    /// Check the trail's hash chain instead: exit 2, naming the runs, if a run was
    /// edited, removed or reordered.
    #[arg(long, conflicts_with = "run_id")]
    pub verify: bool,
}

// `verify`, `backup` and `restore` (docs/guarantees.md).

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The backup folder: created if absent; each backup is added to those there.
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup folder `celprint backup` wrote.
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// The bank directory to restore into: absent or empty.
    #[arg(long, value_name = "DIR")]
    pub db: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Hash every pixel (as `index --exact`).
    #[arg(long)]
    pub exact: bool,
    /// Write the report as JSON to FILE ('-' for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub force: ForceArg,
    #[command(flatten)]
    pub matching: MatchArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Do not look for a picture-in-picture inset in the delivered video.
    #[arg(long)]
    pub no_insets: bool,
    /// Do not search the delivered video by keypoints (reframed copies and insets).
    #[arg(long)]
    pub no_local_features: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The delivered file.
    pub a: PathBuf,
    /// The reference file.
    pub b: PathBuf,
}

impl CompareArgs {
    /// The throwaway bank's: like a new bank's, with crop variants, so that a delivery
    /// cropped into the safe area is aligned with its reference.
    pub fn params(&self) -> FingerprintParams {
        params_for(self.exact).banked()
    }

    pub fn options(&self) -> ScanOptions {
        ScanOptions {
            matching: self.matching.options(),
            limits: self.limits.limits(),
            sampling: Sampling {
                find_insets: !self.no_insets,
                feature_step_s: (!self.no_local_features).then_some(QUERY_STEP_S),
                ..self.sampling.sampling()
            },
            archives: Default::default(),
            shard: None,
        }
    }
}

/// A rate: more than 0, and finite.
fn positive_finite(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err("must be more than 0".to_string())
    }
}

/// An image sequence's frame rate: a storyboard's slow one up to a high-speed camera's.
fn sequence_fps(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if (0.01..=1000.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be from 0.01 to 1000".to_string())
    }
}

/// A duration: 0 or more seconds, finite.
fn seconds(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err("must be 0 or more seconds".to_string())
    }
}

/// A fraction of a whole: more than 0, at most 1.
fn fraction(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err("must be more than 0 and at most 1".to_string())
    }
}

/// A finite number: `inf` and `NaN` parse as floats but mean nothing as a threshold, and
/// a NaN would pass every comparison with the bounds above.
fn number(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err("must be a finite number".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ranges_take_their_bounds_and_refuse_the_rest() {
        assert_eq!(fraction("1"), Ok(1.0));
        assert_eq!(fraction("0.01"), Ok(0.01));
        for bad in ["0", "2", "-0.5", "NaN", "inf", "half"] {
            assert!(fraction(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds("0"), Ok(0.0));
        for bad in ["-1", "inf", "nan"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(positive_finite("0.5"), Ok(0.5));
        for bad in ["0", "-2", "inf", "NaN"] {
            assert!(positive_finite(bad).is_err(), "{bad}");
        }
    }
}
