//! What the CLI prints and writes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;

use super::args::{HashAlgo, HashArgs, HashFormat, ScanArgs};
use super::{EXIT_CLEAN, EXIT_ERROR};
use celprint::bank::Bank;
use celprint::engine::hash::{self, FileHash, HashOptions, Place, VideoHashes};
use celprint::engine::{Context, IndexSummary};
use celprint::fingerprint::borders::BarRule;
use celprint::fingerprint::keypoints::BANK_STEP_S;
use celprint::fingerprint::ImgHashAlgo;
use celprint::model::PanelBox;
use celprint::render::{self, html::Evidence};
use celprint::report::{ScanReport, Verdict};

pub fn index_summary(s: &IndexSummary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "indexed {} files: {} new assets ({} segments), {} already banked under another path, \
         {} unchanged, {} skipped unread (unchanged since banked), {} errors, {} banked in part, \
         {} skipped (not media), {} vanished, {} assets {}{}",
        s.files,
        s.added,
        s.segments_added,
        s.new_paths,
        s.unchanged,
        s.skipped_unchanged,
        s.errors.len(),
        s.partial.len(),
        s.skipped_not_media,
        s.vanished.len(),
        s.pruned_assets,
        if s.dry_run {
            "would be pruned (dry run: nothing changed)"
        } else {
            "pruned"
        },
        if s.cancelled {
            format!("; INTERRUPTED: {} files not done", s.not_done)
        } else {
            String::new()
        }
    )
}

/// Writes each requested report file; '-' means stdout.
pub fn write_reports(report: &ScanReport, args: &ScanArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.json {
        write_json(report, path)?;
    }
    if let Some(path) = &args.csv {
        let options = render::CsvOptions {
            byte_order_mark: !args.csv_no_bom,
        };
        with_output(path, |w| Ok(render::write_csv(report, w, &options)?))
            .with_context(|| format!("cannot write CSV report to {}", path.display()))?;
    }
    Ok(())
}

pub fn write_html(report: &ScanReport, evidence: &Evidence, path: &Path) -> anyhow::Result<()> {
    with_output(path, |w| Ok(render::html::write_html(report, evidence, w)?))
        .with_context(|| format!("cannot write HTML report to {}", path.display()))
}

pub fn write_json(report: &ScanReport, path: &Path) -> anyhow::Result<()> {
    with_output(path, |w| {
        serde_json::to_writer_pretty(&mut *w, report)?;
        writeln!(w)?;
        Ok(())
    })
    .with_context(|| format!("cannot write JSON report to {}", path.display()))
}

fn with_output(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        f(&mut lock)?;
        lock.flush()?;
    } else {
        let mut w = BufWriter::new(File::create(path)?);
        f(&mut w)?;
        w.flush()?;
    }
    Ok(())
}

/// How a match made by keypoints is told apart in the summary: its distance is the
/// keypoints' descriptor distance, and the part of the banked picture shown is the point.
fn by_keypoints(l: &celprint::report::LocalEvidence) -> String {
    let [left, top, right, bottom] = l.bank_area.map(|f| (f * 100.0).round());
    format!(
        " (by keypoints: {} agree; shows {left}-{right} % across, {top}-{bottom} % down of the banked picture)",
        l.keypoints
    )
}

/// ` p2`, ` panel 400x300+220+179`, or both: where on its pages a match sits.
fn place(page: Option<u32>, panel: Option<PanelBox>) -> String {
    let mut out = String::new();
    if let Some(p) = page {
        out.push_str(&format!(" p{p}"));
    }
    if let Some(b) = panel {
        out.push_str(&format!(" panel {}x{}+{}+{}", b.w, b.h, b.x, b.y));
    }
    out
}

pub fn scan_summary(r: &ScanReport, out: &mut impl Write) -> std::io::Result<()> {
    for m in &r.matches {
        writeln!(
            out,
            "MATCH {}{}{} ~ {}{} [{}]{} distance {} score {:.2} transform {}{}{}{}{}",
            m.query.path,
            place(m.query.page, m.query.panel),
            span(m.query.start_s, m.query.end_s),
            m.bank_asset.path,
            place(m.bank_asset.page, m.bank_asset.panel),
            m.bank_asset.label,
            span(m.bank_asset.start_s, m.bank_asset.end_s),
            m.distance,
            m.score,
            m.transform.name(),
            m.bank_crop
                .map(|keep| format!(" (bank centre crop {keep} %)"))
                .unwrap_or_default(),
            m.query_inset
                .map(|r| format!(" (in the inset {r} of the delivered frame)"))
                .unwrap_or_default(),
            if m.faint_only {
                " (faint frames only)"
            } else {
                ""
            },
            m.local.as_ref().map(by_keypoints).unwrap_or_default(),
        )?;
    }
    // Dismissed in review: listed, never counted (docs/serve.md).
    for d in &r.dismissed {
        writeln!(
            out,
            "DISMISSED {}{} ~ {}{} by {} at {}: {}",
            d.found.query.path,
            span(d.found.query.start_s, d.found.query.end_s),
            d.found.bank_asset.path,
            span(d.found.bank_asset.start_s, d.found.bank_asset.end_s),
            d.dismissed_by,
            d.dismissed_at,
            d.reason
        )?;
    }
    for s in r.scanned.iter().filter(|s| s.error.is_some()) {
        use celprint::report::FileStatus;
        let what = match s.status {
            FileStatus::Partial => "PARTIAL",
            FileStatus::NotChecked => "NOT CHECKED",
            FileStatus::Skipped => "SKIPPED",
            FileStatus::Text => "TEXT",
            _ => "ERROR",
        };
        writeln!(
            out,
            "{what} {}: {}",
            s.path,
            s.error.as_deref().unwrap_or("")
        )?;
    }
    let verdict = match r.verdict() {
        Verdict::Clean => "CLEAN",
        Verdict::Matches => "MATCHES",
        Verdict::NotChecked => "NOT CHECKED",
        Verdict::Error => "INCOMPLETE (errors)",
    };
    let s = &r.summary;
    for why in &s.not_checked_because {
        writeln!(out, "NOT CHECKED: {why}")?;
    }
    writeln!(
        out,
        "{verdict}: {} files scanned, {} with matches ({} matches), {} errors, {} partly decoded, \
         {} too low in quality to match, {} skipped (not media), {} text files (no pictures){}",
        s.files,
        s.matched_files,
        s.matches,
        s.errors,
        s.partial,
        s.low_quality_files,
        s.skipped_not_media,
        s.text_files,
        if s.cancelled {
            format!("; INTERRUPTED: {} files not done", s.not_done)
        } else {
            String::new()
        }
    )
}

fn span(start: Option<f64>, end: Option<f64>) -> String {
    match (start, end) {
        (Some(a), Some(b)) => format!(" @{a:.2}-{b:.2}s"),
        _ => String::new(),
    }
}

/// `celprint hash`: one `hash,quality,path` line per still (and per video segment, or
/// per video frame in vPDQ format), in input order.
pub fn hash_files(args: &HashArgs, ctx: &Context<'_>) -> anyhow::Result<u8> {
    let opts = HashOptions {
        algo: match args.algo {
            HashAlgo::Pdq => hash::HashAlgo::Pdq,
            HashAlgo::Phash => hash::HashAlgo::Secondary(ImgHashAlgo::Phash),
            HashAlgo::Dhash => hash::HashAlgo::Secondary(ImgHashAlgo::Dhash),
            HashAlgo::Mean => hash::HashAlgo::Secondary(ImgHashAlgo::Mean),
            HashAlgo::Block => hash::HashAlgo::Secondary(ImgHashAlgo::Block),
        },
        video: match args.format {
            HashFormat::Csv => VideoHashes::Segments,
            HashFormat::Vpdq => VideoHashes::Frames,
        },
        exact: args.exact,
        params: args.params(),
        limits: args.limits(),
        sampling: args.sampling.sampling(),
    };
    let run = hash::hash_paths(&args.paths, &opts, ctx);
    let mut out = std::io::stdout().lock();
    let mut failed = !run.walk.errors.is_empty();
    for (path, e) in &run.walk.errors {
        super::log::file_error(path, e);
    }
    // A file passed over is a file not hashed: said, and counted against the run.
    for (path, what) in &run.walk.skipped {
        failed = true;
        super::log::skipped(path, what);
    }
    for file in run.files {
        match file {
            Ok(hashed) => {
                for h in &hashed.hashes {
                    writeln!(out, "{}", hash_line(h, &hashed.path))?;
                }
                if let Some(why) = &hashed.partial {
                    // What decoded is printed; the run still says the file was not whole.
                    failed = true;
                    super::log::file_partial(&hashed.path, "hashed in part", why);
                }
            }
            Err((path, e)) => {
                failed = true;
                super::log::file_error(&path, &e);
            }
        }
    }
    out.flush()?;
    Ok(if failed { EXIT_ERROR } else { EXIT_CLEAN })
}

/// One line of `hash`'s output: `hash,quality,path[#t=START,END|#page=N]`, or vPDQ's
/// `frame,quality,hash,seconds`.
fn hash_line(h: &FileHash, path: &str) -> String {
    match *h {
        FileHash::Pdq { hash, quality, at } => {
            let at = match at {
                Place::Whole => String::new(),
                Place::Span { start_s, end_s } => format!("#t={start_s:.3},{end_s:.3}"),
                Place::Page(n) => format!("#page={n}"),
            };
            format!("{hash},{quality},{path}{at}")
        }
        FileHash::Frame {
            index,
            time_s,
            hash,
            quality,
        } => format!("{index},{quality},{hash},{time_s:.3}"),
        FileHash::Secondary(hash) => format!("{hash:016x},,{path}"),
    }
}

pub fn info(bank: &Bank, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let stats = bank.stats()?;
    if json {
        let value = serde_json::json!({
            "path": bank.path().display().to_string(),
            "format_version": celprint::bank::FORMAT_VERSION,
            "params": bank.params(),
            "stats": stats,
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "bank:            {}", bank.path().display())?;
    writeln!(out, "format version:  {}", celprint::bank::FORMAT_VERSION)?;
    writeln!(out, "pdq:             {}", bank.params().pdq)?;
    writeln!(out, "secondary hash:  {}", bank.params().secondary.name())?;
    let params = bank.params();
    let rule = match params.bar_rule {
        BarRule::Padding => "when they look like padding",
        BarRule::Dark => "when their lines are mostly dark",
    };
    let bars = match (params.crop_borders, params.bars_window) {
        (false, _) => "kept (every pixel hashed)".to_string(),
        (true, 0) => format!("cropped, {rule} (in video judged frame by frame)"),
        (true, n) => format!("cropped, {rule} (in video judged over {n} frames either side)"),
    };
    writeln!(out, "letterbox bars:  {bars}")?;
    if !bank.params().crop_variants.is_empty() {
        let keeps: Vec<String> = bank
            .params()
            .crop_variants
            .iter()
            .map(|k| format!("{k} %"))
            .collect();
        writeln!(
            out,
            "crop variants:   centres keeping {} of each side",
            keeps.join(", ")
        )?;
    }
    let keypoints = match &bank.params().local_features {
        Some(variant) => {
            format!("video frames every {BANK_STEP_S} s, one sample a still or page ({variant})")
        }
        None => "none (reframed copies and insets found only by the inset finder)".to_string(),
    };
    writeln!(out, "keypoints:       {keypoints}")?;
    let panels = if bank.params().panels {
        "storyboard panels of stills and pages, each banked as a picture"
    } else {
        "none (stills hashed whole: a bank made before panels)"
    };
    writeln!(out, "panels:          {panels}")?;
    writeln!(out, "assets:          {}", stats.assets)?;
    for (label, n) in &stats.assets_by_label {
        writeln!(out, "  {:<13}  {n}", label.name())?;
    }
    writeln!(out, "segments:        {}", stats.segments)?;
    writeln!(out, "disk size:       {} bytes", stats.disk_bytes)?;
    match &stats.index_layout {
        Some(layout) => writeln!(
            out,
            "search index:    multi-index hashing, {} tables of {} bits, {} entries ({} not yet in tables), {} bytes in memory, {}",
            layout.widths.len(),
            chunk_widths(&layout.widths),
            stats.index_entries,
            stats.index_tail,
            stats.index_memory_bytes,
            stats.index_origin
        )?,
        None => writeln!(
            out,
            "search index:    linear scan (too few entries for tables), {} entries, {} bytes in memory",
            stats.index_entries, stats.index_memory_bytes
        )?,
    }
    Ok(())
}

/// "24/23" for tables of 24 and 23 bits: the widths, widest first, without repeats.
fn chunk_widths(widths: &[u32]) -> String {
    let mut distinct: Vec<u32> = widths.to_vec();
    distinct.sort_unstable_by(|a, b| b.cmp(a));
    distinct.dedup();
    distinct
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// `celprint history`: one line per recorded scan, oldest first.
pub fn history(
    runs: &[celprint::audit::RunSummary],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, runs)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<28} {:<21} {:>6} {:>8} {:>8} {:>7} {:>5}",
        "RUN", "STARTED", "FILES", "MATCHED", "MATCHES", "ERRORS", "EXIT"
    )?;
    for r in runs {
        writeln!(
            out,
            "{:<28} {:<21} {:>6} {:>8} {:>8} {:>7} {:>5}",
            r.run_id, r.started_at, r.files, r.matched_files, r.matches, r.errors, r.exit_status
        )?;
    }
    Ok(())
}
