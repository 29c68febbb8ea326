//! The cluster commands: `merge` (shard banks into one) and `report merge` (slices'
//! scan reports into one report and one run in the audit trail).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::args::{DbArg, ForceArg};
use super::{custody, log, output, targets, verdict_code, EXIT_CLEAN};
use celprint::audit;
use celprint::bank::{merge_shards, Bank, MergeOptions, OpenOptions};
use celprint::engine::Context;
use celprint::report::ScanReport;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The bank to merge into: created, with the shards' parameters, if there is none.
    #[command(flatten)]
    pub db: DbArg,
    /// Print the bank's content as lines that compare across banks (no asset numbers,
    /// times or users), instead of merging: a merged bank and the bank one machine makes
    /// of the same files print the same.
    #[arg(long, conflicts_with = "shards")]
    pub dump: bool,
    /// Shard banks (`index --shard I/N`), merged in the order given.
    #[arg(required_unless_present = "dump")]
    pub shards: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Join the JSON reports of a delivery scanned in slices (`scan --shard I/N`) into
    /// one report, recorded as one run in the bank's audit trail. A missing slice, or
    /// one not clean, means the delivery is not clean.
    Merge(ReportMergeArgs),
}

#[derive(Debug, Args)]
pub struct ReportMergeArgs {
    /// The bank the slices were scanned against, whose audit trail holds their runs.
    #[command(flatten)]
    pub db: DbArg,
    /// Write the joined report as JSON to FILE ('-' for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub force: ForceArg,
    /// The slices' JSON reports, in any order.
    #[arg(required = true)]
    pub slices: Vec<PathBuf>,
}

pub fn merge(a: &MergeArgs, ctx: &Context<'_>) -> anyhow::Result<u8> {
    if a.dump {
        let read_only = OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        };
        let bank = Bank::open(&a.db.db, &read_only)?;
        let mut out = std::io::stdout().lock();
        for line in bank.canonical_dump()? {
            writeln!(out, "{line}")?;
        }
        return Ok(EXIT_CLEAN);
    }
    let count = a.shards.len();
    let staged = move |n: usize| log::note(&format!("shard {n} of {count} staged"));
    let summary = merge_shards(
        &a.db.db,
        &a.shards,
        &MergeOptions {
            by: Some(custody::custody().by()),
            cancel: ctx.cancel,
            staged: &staged,
        },
    )?;
    let mut out = std::io::stdout().lock();
    for s in &summary.shards {
        writeln!(
            out,
            "{}: {} assets, {} added ({} segments), {} already banked",
            s.path, s.assets, s.added, s.segments_added, s.known
        )?;
    }
    writeln!(
        out,
        "merged {} shards into {}: {} assets before, {} after (generation {}, swapped in by {})",
        summary.shards.len(),
        a.db.db.display(),
        summary.assets_before,
        summary.assets_after,
        summary.generation_after,
        summary.swap
    )?;
    Ok(EXIT_CLEAN)
}

pub fn report(a: &ReportArgs) -> anyhow::Result<u8> {
    let ReportCommand::Merge(a) = &a.command;
    targets::check_report_merge(a)?;
    let mut slices = Vec::new();
    for path in &a.slices {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let report: ScanReport = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a celprint JSON report", path.display()))?;
        // Every slice must be on record in this bank, so that the joined run stands
        // on runs the trail holds.
        if let Some(id) = &report.run_id {
            audit::load_run(&a.db.db, id).with_context(|| {
                format!(
                    "slice report {} is not in this bank's audit trail",
                    path.display()
                )
            })?;
        }
        slices.push(report);
    }
    let mut report = celprint::report::join_slices(slices)?;
    let run_id = audit::new_run_id(&report.finished_at);
    report.run_id = Some(run_id.clone());
    // Locked before the report is written, so that the joined report carries its
    // position in the chain, as a scan's does.
    let trail = audit::Trail::lock(&a.db.db)?;
    report.chain = Some(trail.link().clone());
    if let Some(path) = &a.json {
        output::write_json(&report, path)?;
    }
    if a.json.as_deref() == Some(std::path::Path::new("-")) {
        output::scan_summary(&report, &mut std::io::stderr().lock())?;
    } else {
        output::scan_summary(&report, &mut std::io::stdout().lock())?;
    }
    let code = verdict_code(&report);
    let mut record = audit::RunRecord {
        run_id,
        args: std::env::args().skip(1).collect(),
        exit_status: code,
        custody: Some(custody::custody()),
        report,
    };
    trail.append(&mut record)?;
    log::note(&format!("recorded as run {}", record.run_id));
    log::scan_finished(&record.report, code);
    Ok(code)
}
