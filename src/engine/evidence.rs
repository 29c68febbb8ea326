//! Pictures of each match for the HTML review report: the delivered frame beside the
//! banked frame at the start, middle and end of each run.
//!
//! A picture is shown only from a file whose bytes still have the digest the scan (or
//! the bank) recorded: a file replaced since would put someone else's frame in front of
//! the reviewer as evidence. Where no trustworthy file is at hand the picture says why.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::bank::Bank;
use crate::media::thumbnail::{still_thumbnail, video_thumbnail, Thumbnail};
use crate::media::{self, DecodeLimits, MediaKind};
use crate::report::html::{Evidence, MatchEvidence, Moment};
use crate::report::{Match, ScanReport};

/// Matches given pictures, in report order; later ones are listed without them, so a
/// scan with thousands of matches still gives a report a browser can open.
pub const MAX_MATCHES_WITH_PICTURES: usize = 300;

/// A file to take pictures from, or why there is none.
type Source = Result<(PathBuf, MediaKind), String>;

/// Gathers the pictures for `report`'s matches, in parallel on the caller's pool.
pub fn gather_evidence(report: &ScanReport, bank: &Bank, limits: DecodeLimits) -> Evidence {
    let sources = Sources {
        report,
        bank,
        cache: Mutex::new(HashMap::new()),
    };
    let matches = report
        .matches
        .par_iter()
        .enumerate()
        .map(|(i, m)| {
            if i >= MAX_MATCHES_WITH_PICTURES {
                return MatchEvidence::default();
            }
            let query = sources.query(&m.query.path);
            let banked = sources.banked(&m.bank_asset.digest);
            let moments = moments(m)
                .into_iter()
                .map(|(label, query_s, bank_s)| Moment {
                    label,
                    query_s,
                    bank_s,
                    query: picture(&query, query_s, limits),
                    bank: picture(&banked, bank_s, limits),
                })
                .collect();
            MatchEvidence { moments }
        })
        .collect();
    Evidence {
        matches,
        pictures_limit: MAX_MATCHES_WITH_PICTURES,
    }
}

/// The moments to show, with the time on each side (`None` for a still).
fn moments(m: &Match) -> Vec<(&'static str, Option<f64>, Option<f64>)> {
    let (Some(qs), Some(qe)) = (m.query.start_s, m.query.end_s) else {
        return vec![("match", None, m.bank_asset.start_s)];
    };
    // Show the last frame of the run, not the one after it.
    let last = |end: f64, start: f64, fps: Option<f64>| {
        (end - fps.filter(|f| *f > 0.0).map_or(0.04, |f| 1.0 / f)).max(start)
    };
    let qe = last(qe, qs, m.query.frame_rate);
    let bank_at = |q: f64| -> Option<f64> {
        let (bs, be) = (m.bank_asset.start_s?, m.bank_asset.end_s?);
        let rate = m.rate.unwrap_or(1.0);
        Some((bs + (q - qs) * rate).clamp(bs, last(be, bs, m.bank_asset.frame_rate)))
    };
    [("start", qs), ("middle", (qs + qe) / 2.0), ("end", qe)]
        .into_iter()
        .map(|(label, q)| (label, Some(q), bank_at(q).or(m.bank_asset.start_s)))
        .collect()
}

fn picture(
    source: &Source,
    time_s: Option<f64>,
    limits: DecodeLimits,
) -> Result<Thumbnail, String> {
    let (path, kind) = source.as_ref().map_err(Clone::clone)?;
    // Behind the decoders' panic boundary, like every other decode: a file that hashed
    // fine may still trip a codec at another seek point.
    media::catch_decoder_panic(|| match kind {
        MediaKind::Video => video_thumbnail(path, time_s.unwrap_or(0.0)),
        MediaKind::Still => std::fs::read(path)
            .map_err(media::MediaError::Io)
            .and_then(|bytes| still_thumbnail(&bytes, limits)),
    })
    .map_err(|e| e.to_string())
}

struct Sources<'a> {
    report: &'a ScanReport,
    bank: &'a Bank,
    /// Digest checks done so far, by path: each file is read once.
    cache: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl Sources<'_> {
    fn query(&self, display: &str) -> Source {
        if display.contains("!/") {
            return Err("inside an archive: not unpacked again for pictures".to_string());
        }
        let scanned = self.report.scanned.iter().find(|s| s.path == display);
        let digest = scanned.and_then(|s| s.digest.clone());
        let kind = scanned
            .and_then(|s| s.kind)
            .or_else(|| media::kind_of(Path::new(display)))
            .ok_or("not a media file")?;
        // Reports carry paths as escaped text; the file is found from its bytes.
        let path = media::pathtext::from_text(display);
        match digest {
            Some(d) if self.digest_of(&path).as_deref() == Some(d.as_str()) => Ok((path, kind)),
            Some(_) => Err("changed or gone since it was scanned".to_string()),
            None => Err("no digest recorded".to_string()),
        }
    }

    fn banked(&self, digest: &str) -> Source {
        let record = media::digest_from_hex(digest)
            .and_then(|d| self.bank.asset_by_digest(&d).ok().flatten())
            .and_then(|id| self.bank.asset(id).ok().flatten())
            .ok_or("asset no longer in the bank")?;
        if record.paths.iter().all(|p| p.contains("!/")) {
            return Err("banked from inside an archive: not unpacked for pictures".to_string());
        }
        record
            .paths
            .iter()
            .map(|p| media::pathtext::from_text(p))
            .find(|p| self.digest_of(p).as_deref() == Some(digest))
            .map(|p| (p, record.kind))
            .ok_or_else(|| format!("banked file not found with its digest at {}", record.path()))
    }

    fn digest_of(&self, path: &Path) -> Option<String> {
        if let Some(known) = self.cache.lock().ok()?.get(path) {
            return known.clone();
        }
        let digest = media::digest_file(path)
            .ok()
            .map(|(d, _)| media::digest_hex(&d));
        self.cache
            .lock()
            .ok()?
            .insert(path.to_path_buf(), digest.clone());
        digest
    }
}
