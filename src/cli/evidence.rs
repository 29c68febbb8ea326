//! `celprint verify`, `backup`, `restore` and `history --verify`: what lets a studio
//! say that its bank is intact and its reports were not edited after the fact.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use super::args::{BackupArgs, RestoreArgs, VerifyArgs};
use super::{EXIT_CLEAN, EXIT_ERROR};
use celprint::audit::{self, TrailCheck};
use celprint::bank::{backup, verify};

#[derive(serde::Serialize)]
struct Verified<'a> {
    intact: bool,
    bank: &'a verify::Verification,
    trail: Option<&'a TrailCheck>,
    /// Why the trail could not be checked at all.
    trail_error: Option<String>,
}

/// The bank, then its trail; exit 2 if either is damaged.
pub fn verify(a: &VerifyArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    let db = &a.db.db;
    let bank = verify::verify(db)?;
    let trail = audit::verify_trail(db);
    let trail_error = trail
        .as_ref()
        .err()
        .map(|e| super::log::with_causes(e).to_string());
    let trail = trail.ok();
    let intact = bank.clean() && trail.as_ref().is_some_and(TrailCheck::intact);
    if a.json {
        let v = Verified {
            intact,
            bank: &bank,
            trail: trail.as_ref(),
            trail_error,
        };
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "bank {}: {} assets, {} segments, {} keys read with their checksums checked",
            db.display(),
            bank.assets,
            bank.segments,
            bank.keys
        )?;
        for line in &bank.damage {
            writeln!(out, "DAMAGED: {line}")?;
        }
        if bank.damage_count > bank.damage.len() {
            writeln!(
                out,
                "DAMAGED: ... and {} more",
                bank.damage_count - bank.damage.len()
            )?;
        }
        for line in &bank.notes {
            writeln!(out, "note: {line}")?;
        }
        match (&trail, &trail_error) {
            (Some(t), _) => trail_lines(t, out)?,
            (None, Some(e)) => writeln!(out, "DAMAGED: audit trail: {e}")?,
            (None, None) => {}
        }
        writeln!(out, "{}", if intact { "intact" } else { "DAMAGED" })?;
    }
    Ok(if intact { EXIT_CLEAN } else { EXIT_ERROR })
}

fn trail_lines(t: &TrailCheck, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "audit trail: {} runs chained (head at position {}), {} unchained from before the chain",
        t.chained,
        t.head.map_or("none".to_string(), |h| h.to_string()),
        t.unchained.len()
    )?;
    for p in &t.problems {
        writeln!(out, "DAMAGED: audit trail: {p}")?;
    }
    Ok(())
}

/// `history --verify`: the trail alone.
pub fn history_verify(db: &Path, json: bool, out: &mut impl Write) -> anyhow::Result<u8> {
    let t = audit::verify_trail(db)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &t)?;
        writeln!(out)?;
    } else {
        trail_lines(&t, out)?;
        for id in &t.unchained {
            writeln!(out, "unchained (recorded before the chain began): {id}")?;
        }
        writeln!(out, "{}", if t.intact() { "intact" } else { "DAMAGED" })?;
    }
    Ok(if t.intact() { EXIT_CLEAN } else { EXIT_ERROR })
}

pub fn backup(a: &BackupArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    let made = backup::backup(&a.db.db, &a.dest)?;
    let runs = audit::back_up_trail(&a.db.db, &a.dest)
        .context("bank backed up, but not its audit trail")?;
    writeln!(
        out,
        "backup {} of {} in {}: {} files, {} bytes (files unchanged since an earlier backup are shared); {runs} new run records copied",
        made.backup_id,
        made.backups,
        a.dest.display(),
        made.files,
        made.bytes
    )?;
    Ok(EXIT_CLEAN)
}

pub fn restore(a: &RestoreArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    let id = backup::restore(&a.dest, &a.db)?;
    let runs =
        audit::restore_trail(&a.dest, &a.db).context("bank restored, but not its audit trail")?;
    writeln!(
        out,
        "restored backup {id} from {} into {} with {runs} run records; check it with `celprint verify --db {}`",
        a.dest.display(),
        a.db.display(),
        a.db.display()
    )?;
    Ok(EXIT_CLEAN)
}
