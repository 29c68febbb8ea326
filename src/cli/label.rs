//! `celprint label`: show or set the provenance of banked assets.

use std::io::Write;

use anyhow::Context as _;

use celprint::bank::{Bank, OpenOptions};
use celprint::media::{self, pathtext};
use celprint::model::{Provenance, ProvenanceAction};

use super::args::LabelArgs;
use super::{EXIT_CLEAN, EXIT_ERROR};

pub fn run(a: &LabelArgs, by: String, out: &mut impl Write) -> anyhow::Result<u8> {
    let mut bank = Bank::open(
        &a.db.db,
        &OpenOptions {
            create: false,
            read_only: a.set.is_none(),
            params: None,
        },
    )?;
    let mut code = EXIT_CLEAN;
    for target in &a.assets {
        let Some(digest) = digest_of(&bank, target)? else {
            super::log::file_error(target, &"not in the bank (no banked path, file or digest)");
            code = EXIT_ERROR;
            continue;
        };
        let Some(id) = bank.asset_by_digest(&digest)? else {
            super::log::file_error(target, &"these bytes are not banked");
            code = EXIT_ERROR;
            continue;
        };
        let record = match &a.set {
            None => bank
                .asset(id)?
                .with_context(|| format!("asset {} vanished while reading", id.0))?,
            Some(label) => {
                let before = bank.asset(id)?.map(|r| r.label);
                let statement = Provenance {
                    label: (*label).into(),
                    source: a.source.clone(),
                    note: a.note.clone(),
                    action: ProvenanceAction::Relabel,
                    path: None,
                    at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                    by: Some(by.clone()),
                };
                let (record, _) = bank.add_provenance(id, statement)?;
                if let Some(before) = before {
                    writeln!(
                        out,
                        "asset {} {}: {before} -> {}",
                        id.0,
                        record.path(),
                        record.label
                    )?;
                }
                record
            }
        };
        writeln!(out, "asset {} {} [{}]", id.0, record.path(), record.label)?;
        for p in record.history() {
            writeln!(
                out,
                "  {} {:?} {} source={} note={} path={} by={}",
                p.at,
                p.action,
                p.label,
                p.source.as_deref().unwrap_or("-"),
                p.note.as_deref().unwrap_or("-"),
                p.path.as_deref().unwrap_or("-"),
                p.by.as_deref().unwrap_or("-"),
            )?;
        }
    }
    Ok(code)
}

/// A target's digest: itself if it is one, the digest banked from it if it is a
/// banked path, or the digest of the file it names.
fn digest_of(bank: &Bank, target: &str) -> anyhow::Result<Option<[u8; 32]>> {
    if let Some(d) = media::digest_from_hex(target) {
        return Ok(Some(d));
    }
    let path = pathtext::absolute(std::path::Path::new(target));
    let banked = bank
        .path_record(&pathtext::to_text(&path))?
        .and_then(|r| r.digest)
        .and_then(|d| media::digest_from_hex(&d));
    if banked.is_some() {
        return Ok(banked);
    }
    if path.is_file() {
        let (digest, _) = media::digest_file(&path)
            .with_context(|| format!("cannot read {}", pathtext::to_text(&path)))?;
        return Ok(Some(digest));
    }
    Ok(None)
}
