//! The command line: parses arguments, turns them into engine options, runs the job,
//! and prints. Exit status follows ripgrep: 0 clean, 1 matches, 2 not fully checked or
//! an error.

mod args;
mod cluster;
mod custody;
mod evidence;
mod label;
mod log;
mod output;
mod progress;
mod serve;
mod targets;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::Parser;

use args::{Cli, Command};
use celprint::audit;
use celprint::bank::{Bank, OpenOptions};
use celprint::engine::{self, Context};
use celprint::report::Verdict;

const EXIT_CLEAN: u8 = 0;
const EXIT_MATCHES: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// Set by Ctrl-C or SIGTERM: the job finishes the files in hand, writes what is done,
/// and says what is not. A second signal exits at once.
static CANCEL: AtomicBool = AtomicBool::new(false);

fn stop_on_signals() {
    let installed = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            log::note("stopped at once (second interrupt); rerun to finish");
            std::process::exit(i32::from(EXIT_ERROR));
        }
        log::note("interrupted: finishing the files in hand (interrupt again to stop now)");
    });
    if let Err(e) = installed {
        log::note(&format!(
            "warning: cannot catch interrupts ({e}); Ctrl-C will stop at once"
        ));
    }
}

pub fn main() -> ExitCode {
    celprint::heap::reuse_freed_blocks();
    let cli = Cli::parse();
    log::init(cli.log_format);
    stop_on_signals();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(EXIT_CLEAN);
            }
            log::fatal(&err);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let jobs = cli.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start worker threads")?;
    let cancel: &'static AtomicBool = &CANCEL;
    let bar = progress::Bar::for_stderr();
    let ctx = Context {
        pool: &pool,
        progress: &bar,
        cancel,
    };
    match cli.command {
        Command::Index(a) => {
            let mut bank = serve::open_writer(
                &a.db.db,
                &OpenOptions {
                    create: true,
                    read_only: false,
                    params: a.params(),
                },
            )?;
            let by = custody::custody().by();
            let summary = engine::index_paths(&mut bank, &a.paths, &a.options(Some(by)), &ctx);
            output::index_summary(&summary, &mut std::io::stdout().lock())?;
            for (path, e) in &summary.errors {
                log::file_error(path, e);
            }
            for (path, why) in &summary.partial {
                log::file_partial(path, "banked in part", why);
            }
            for (path, what) in &summary.skipped {
                log::skipped(path, what);
            }
            for path in &summary.unusable {
                log::unusable(path);
            }
            for (path, label) in &summary.relabelled {
                log::restated(path, *label);
            }
            if summary.cancelled {
                log::interrupted(summary.not_done);
            }
            let dry_run = matches!(a.options(None).prune, engine::Prune::DryRun { .. });
            for path in &summary.vanished {
                log::vanished(path, a.prune || a.prune_all, dry_run);
            }
            for (root, why) in &summary.prune_refused {
                log::prune_refused(root, why);
            }
            if let Some(e) = &summary.bank_error {
                log::bank_failed(e, &summary);
            }
            let code = if summary.complete() {
                EXIT_CLEAN
            } else {
                EXIT_ERROR
            };
            log::index_finished(&summary, code);
            Ok(code)
        }
        Command::Scan(a) => {
            targets::check_scan(&a)?;
            let bank = Bank::open(
                &a.db.db,
                &OpenOptions {
                    read_only: true,
                    ..OpenOptions::default()
                },
            )?;
            let mut report = engine::scan_paths(&bank, &a.paths, &a.options(), &ctx)?;
            let run_id = audit::new_run_id(&report.started_at);
            report.run_id = Some(run_id.clone());
            // The pictures are taken before the trail is locked: that lock makes
            // concurrent scans wait for each other, and it is held only while the
            // reports and the record are written, so that each carries its position.
            let evidence = a.html.as_ref().map(|_| {
                log::note("taking pictures of the matches for the HTML report");
                let limits = a.options().limits;
                ctx.pool
                    .install(|| engine::gather_evidence(&report, &bank, limits))
            });
            let trail = audit::Trail::lock(&a.db.db);
            if let Ok(trail) = &trail {
                report.chain = Some(trail.link().clone());
            }
            output::write_reports(&report, &a)?;
            if let (Some(path), Some(evidence)) = (&a.html, &evidence) {
                output::write_html(&report, evidence, path)?;
            }
            let to_stdout = [&a.json, &a.csv, &a.html]
                .iter()
                .any(|p| p.as_deref() == Some(std::path::Path::new("-")));
            if to_stdout {
                output::scan_summary(&report, &mut std::io::stderr().lock())?;
            } else {
                output::scan_summary(&report, &mut std::io::stdout().lock())?;
            }
            let code = verdict_code(&report);
            let mut record = audit::RunRecord {
                run_id: run_id.clone(),
                args: std::env::args().skip(1).collect(),
                exit_status: code,
                custody: Some(custody::custody()),
                report,
            };
            // A scan that cannot be shown later has not done its job: the reports are
            // written, but the exit status says something went wrong.
            let code = match trail.and_then(|t| t.append(&mut record)) {
                Ok(_) => {
                    log::note(&format!("recorded as run {run_id}"));
                    code
                }
                Err(e) => {
                    log::file_error(&a.db.db.display().to_string(), &log::with_causes(&e));
                    EXIT_ERROR
                }
            };
            log::scan_finished(&record.report, code);
            Ok(code)
        }
        Command::History(a) if a.verify => {
            evidence::history_verify(&a.db.db, a.json, &mut std::io::stdout().lock())
        }
        Command::History(a) => {
            let mut out = std::io::stdout().lock();
            match &a.run_id {
                None => output::history(&audit::list_runs(&a.db.db)?, a.json, &mut out)?,
                Some(id) => {
                    let record = audit::load_run(&a.db.db, id)?;
                    if a.json {
                        serde_json::to_writer_pretty(&mut out, &record.report)?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "run {} (exit {})", record.run_id, record.exit_status)?;
                        writeln!(out, "command: celprint {}", record.args.join(" "))?;
                        output::scan_summary(&record.report, &mut out)?;
                        serve::decisions_of_run(&a.db.db, &record.run_id, &mut out)?;
                    }
                }
            }
            Ok(EXIT_CLEAN)
        }
        Command::Verify(a) => evidence::verify(&a, &mut std::io::stdout().lock()),
        Command::Backup(a) => evidence::backup(&a, &mut std::io::stdout().lock()),
        Command::Restore(a) => evidence::restore(&a, &mut std::io::stdout().lock()),
        Command::Hash(a) => output::hash_files(&a, &ctx),
        Command::Merge(a) => cluster::merge(&a, &ctx),
        Command::Report(a) => cluster::report(&a),
        Command::Label(a) => label::run(&a, custody::custody().by(), &mut std::io::stdout().lock()),
        // Both come from the same clap definitions as the parser, so they never drift.
        Command::Completions(a) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut command, "celprint", &mut std::io::stdout());
            Ok(EXIT_CLEAN)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?;
            Ok(EXIT_CLEAN)
        }
        Command::Compare(a) => {
            targets::check_compare(&a)?;
            let report = engine::compare_files(&a.a, &a.b, &a.params(), &a.options(), &ctx)?;
            if let Some(path) = &a.json {
                output::write_json(&report, path)?;
            }
            output::scan_summary(&report, &mut std::io::stdout().lock())?;
            Ok(verdict_code(&report))
        }
        Command::Serve(a) => serve::serve(&a, jobs, cancel),
        Command::Token(c) => serve::token(&c, &mut std::io::stdout().lock()),
        Command::Info(a) => {
            let bank = Bank::open(
                &a.db.db,
                &OpenOptions {
                    read_only: true,
                    ..OpenOptions::default()
                },
            )?;
            output::info(&bank, a.json, &mut std::io::stdout().lock())?;
            Ok(EXIT_CLEAN)
        }
    }
}

fn verdict_code(report: &celprint::report::ScanReport) -> u8 {
    match report.verdict() {
        Verdict::Clean => EXIT_CLEAN,
        Verdict::Matches => EXIT_MATCHES,
        Verdict::NotChecked | Verdict::Error => EXIT_ERROR,
    }
}
