//! `celprint serve` and `celprint token`.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;

use super::args::{RoleArg, ServeArgs, TokenCommand};
use super::{custody, log};
use celprint::bank::{Bank, BankError, DecisionKind, OpenOptions, Role};
use celprint::serve::{self, Config, UploadLimits};

/// Opens the bank for writing; a lock held by a running `celprint serve` is named as
/// such, since the way out is its API (or stopping it), not waiting for an `index`.
pub fn open_writer(db: &Path, opts: &OpenOptions) -> anyhow::Result<Bank> {
    match Bank::open(db, opts) {
        Err(e @ BankError::Locked { .. }) => match serve::holder(db) {
            Some(h) => Err(anyhow::Error::new(e).context(format!(
                "the bank at {} is held by a running `celprint serve` (pid {}, listening on {}); \
                 change it through that service's API (docs/serve.md), or stop it first",
                db.display(),
                h.pid,
                h.listen
            ))),
            None => Err(e.into()),
        },
        result => Ok(result?),
    }
}

fn writer(create: bool) -> OpenOptions {
    OpenOptions {
        create,
        read_only: false,
        ..OpenOptions::default()
    }
}

pub fn serve(a: &ServeArgs, jobs: usize, cancel: &'static AtomicBool) -> anyhow::Result<u8> {
    let mut bank = open_writer(&a.db.db, &writer(false))?;
    // A bank whose index file is missing, stale or of an older format rebuilds its
    // tables in memory at every open until the file is saved again: saved now, the
    // next opens map it, the scans beside the service among them. Nothing is written
    // when the file is current. The service searches as well without it, so a failure
    // is a warning.
    if let Err(e) = bank.save_index() {
        log::note(&format!(
            "warning: cannot save the bank's index file, so every open rebuilds it: {}",
            log::with_causes(&e)
        ));
    }
    if bank.tokens()?.iter().all(|t| t.revoked_at.is_some()) {
        log::note(&format!(
            "warning: the bank has no live token; make one with `celprint token add --db {} --name NAME --role admin`",
            a.db.db.display()
        ));
    }
    let listener = std::net::TcpListener::bind(a.listen)
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let who = custody::custody();
    let config = Config {
        listen: addr,
        scan_roots: a.scan_root.clone(),
        uploads: a.uploads.clone().unwrap_or_else(|| a.db.db.join("uploads")),
        scan: a.scan_options(),
        index: a.index_options(),
        limits: UploadLimits {
            max_request_bytes: usize::try_from(a.max_upload_mib << 20).unwrap_or(usize::MAX),
            max_files: usize::try_from(a.max_files).unwrap_or(usize::MAX),
        },
        jobs,
        host: who.host,
        cwd: who.cwd,
    };
    // The one line a script waits for (with --listen 127.0.0.1:0, the port it got).
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    drop(out);
    // The signal handler sets the CLI's flag; the service watches a flag of its own.
    let flag = Arc::new(AtomicBool::new(false));
    let watcher = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            while !cancel.load(Ordering::Relaxed) && !flag.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            flag.store(true, Ordering::Relaxed);
        })
    };
    let result = serve::serve(bank, config, listener, flag.clone());
    flag.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    result?;
    log::note("stopped; the bank is closed");
    Ok(super::EXIT_CLEAN)
}

pub fn token(cmd: &TokenCommand, out: &mut impl Write) -> anyhow::Result<u8> {
    match cmd {
        TokenCommand::Add(a) => {
            // The first token is usually made before the first `index`: the bank is
            // made here if need be.
            let mut bank = open_writer(&a.db.db, &writer(true))?;
            let role = match a.role {
                RoleArg::Scanner => Role::Scanner,
                RoleArg::Reviewer => Role::Reviewer,
                RoleArg::Admin => Role::Admin,
            };
            let token = bank.add_token(&a.name, role, &custody::custody().by())?;
            writeln!(out, "{token}")?;
            log::note(&format!(
                "token {:?} ({}) made; it is shown only this once",
                a.name,
                role.name()
            ));
        }
        TokenCommand::List(a) => {
            let bank = Bank::open(
                &a.db.db,
                &OpenOptions {
                    read_only: true,
                    ..OpenOptions::default()
                },
            )?;
            let tokens = bank.tokens()?;
            if a.json {
                serde_json::to_writer_pretty(&mut *out, &tokens)?;
                writeln!(out)?;
            } else {
                for t in &tokens {
                    let state = match &t.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => "live".into(),
                    };
                    writeln!(
                        out,
                        "{}\t{}\tmade {} by {}\t{state}",
                        t.name,
                        t.role.name(),
                        t.created_at,
                        t.created_by
                    )?;
                }
            }
        }
        TokenCommand::Revoke(a) => {
            let mut bank = open_writer(&a.db.db, &writer(false))?;
            bank.revoke_token(&a.name)?;
            log::note(&format!("token {:?} revoked", a.name));
        }
    }
    Ok(super::EXIT_CLEAN)
}

/// `celprint history RUN`: the review decisions made on the run's matches.
pub fn decisions_of_run(db: &Path, run_id: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let bank = Bank::open(
        db,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )?;
    let decisions: Vec<_> = bank
        .decisions()?
        .into_iter()
        .filter(|d| d.run_id == run_id)
        .collect();
    for d in decisions {
        let what = match d.decision {
            DecisionKind::Confirm => "CONFIRMED",
            DecisionKind::Dismiss => "DISMISSED",
        };
        writeln!(
            out,
            "decision {}: match {} ({} ~ {}) {what} by {} at {}: {}",
            d.id, d.match_index, d.query_path, d.asset_path, d.by, d.at, d.reason
        )?;
    }
    Ok(())
}
