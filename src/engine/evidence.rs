//! Pictures of each match for the HTML review report: the delivered frame beside the
//! banked frame at the start, middle and end of each run.
//!
//! A picture is shown only from a file whose bytes still have the digest the scan (or
//! the bank) recorded: a file replaced since would put someone else's frame in front of
//! the reviewer as evidence. Where no trustworthy file is at hand the picture says why.
//!
//! A run can start on black (a film that opens on black, a fade in: the run extends over
//! them along the time line), and a black pair of pictures shows the reviewer nothing.
//! The first pair is then taken further on in the run, at the first delivered frame that
//! shows a picture, and captioned with its own times.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::bank::Bank;
use crate::fingerprint::alpha;
use crate::fingerprint::pdq::{
    pdq_dct_from_plane, LumaPlane, DEFAULT_FAINT_QUALITY, DEFAULT_MIN_QUALITY,
};
use crate::media::thumbnail::{
    picture_thumbnail, video_thumbnail, video_thumbnail_with_content, Content, Thumbnail,
};
use crate::media::{self, DecodeLimits, MediaKind, StillScale};
use crate::render::html::{Evidence, MatchEvidence, Moment};
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
                .map(|(label, query_s, bank_s)| {
                    let first = (label == "start")
                        .then(|| first_picture(&query, m))
                        .flatten();
                    let (label, query_s, bank_s, query) = match first {
                        Some(Ok((Some(t), pic))) => {
                            ("first picture", Some(t), bank_at(m, t).or(bank_s), Ok(pic))
                        }
                        Some(Ok((None, pic))) => (label, query_s, bank_s, Ok(pic)),
                        Some(Err(why)) => (label, query_s, bank_s, Err(why)),
                        None => {
                            let pic = picture(&query, query_s, m.query.page, limits);
                            (label, query_s, bank_s, pic)
                        }
                    };
                    Moment {
                        label,
                        query_s,
                        bank_s,
                        query,
                        bank: picture(&banked, bank_s, m.bank_asset.page, limits),
                    }
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
    let qe = last_frame(qe, qs, m.query.frame_rate);
    [("start", qs), ("middle", (qs + qe) / 2.0), ("end", qe)]
        .into_iter()
        .map(|(label, q)| (label, Some(q), bank_at(m, q).or(m.bank_asset.start_s)))
        .collect()
}

/// The time of a run's last frame, not of the one after it.
fn last_frame(end: f64, start: f64, fps: Option<f64>) -> f64 {
    (end - fps.filter(|f| *f > 0.0).map_or(0.04, |f| 1.0 / f)).max(start)
}

/// The banked time that delivered time `q` of `m` aligns with.
fn bank_at(m: &Match, q: f64) -> Option<f64> {
    let qs = m.query.start_s?;
    let (bs, be) = (m.bank_asset.start_s?, m.bank_asset.end_s?);
    let rate = m.rate.unwrap_or(1.0);
    Some((bs + (q - qs) * rate).clamp(bs, last_frame(be, bs, m.bank_asset.frame_rate)))
}

/// How far into a run its first picture is looked for: up to its middle picture (shown
/// anyway), and no more than this many seconds, since every frame on the way is decoded.
const MAX_FIRST_PICTURE_S: f64 = 30.0;

/// The delivered video's picture at the start of `m`'s run, or at the first frame after
/// it that shows a picture (with that frame's time); `None` when the delivered file is
/// not a video at hand.
fn first_picture(source: &Source, m: &Match) -> Option<Result<(Option<f64>, Thumbnail), String>> {
    let Ok((path, MediaKind::Video)) = source else {
        return None;
    };
    let (qs, qe) = (m.query.start_s?, m.query.end_s?);
    let middle = (qs + last_frame(qe, qs, m.query.frame_rate)) / 2.0;
    let until = middle.min(qs + MAX_FIRST_PICTURE_S);
    Some(
        media::catch_decoder_panic(|| video_thumbnail_with_content(path, qs, until, content))
            .map_err(|e| e.to_string()),
    )
}

/// What a frame shows, by PDQ quality, the measure the matcher trusts a picture by:
/// under the faint threshold a frame is black or flat, and from the usable threshold it
/// is a clear picture.
fn content(rgb: &[u8], width: usize, height: usize) -> Content {
    let luma: Vec<u8> = rgb
        .chunks_exact(3)
        .map(|p| {
            let y = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
            ((y + 500) / 1000) as u8
        })
        .collect();
    let quality = pdq_dct_from_plane(&LumaPlane {
        data: &luma,
        stride: width,
        width,
        height,
        gain: 1.0,
    })
    .quality();
    if quality >= DEFAULT_MIN_QUALITY {
        Content::Clear
    } else if quality >= DEFAULT_FAINT_QUALITY {
        Content::Faint
    } else {
        Content::Flat
    }
}

/// The picture of `source` at `time_s` (a video) or on `page` (a document of several
/// pictures: a PDF's or a TIFF's page, from 1; `None`, the first).
fn picture(
    source: &Source,
    time_s: Option<f64>,
    page: Option<u32>,
    limits: DecodeLimits,
) -> Result<Thumbnail, String> {
    let (path, kind) = source.as_ref().map_err(Clone::clone)?;
    // Behind the decoders' panic boundary, like every other decode: a file that hashed
    // fine may still trip a codec at another seek point.
    media::catch_decoder_panic(|| match kind {
        MediaKind::Video => video_thumbnail(path, time_s.unwrap_or(0.0)),
        MediaKind::Still => std::fs::read(path)
            .map_err(media::MediaError::Io)
            .and_then(|bytes| {
                // As it was hashed: a picture with transparency over its background.
                match media::frames::open_pictures(&bytes, limits)? {
                    Some(mut pages) => {
                        let n = page.unwrap_or(1).max(1) as usize;
                        match pages.nth(n - 1) {
                            Some(picture) => picture_thumbnail(&alpha::flatten(&picture?.image)),
                            None => Err(media::MediaError::Unhashable("no such page")),
                        }
                    }
                    None => {
                        let still = media::decode_still(&bytes, limits, StillScale::Full)?;
                        picture_thumbnail(&alpha::flatten(&still))
                    }
                }
            }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_frames_are_flat_dim_ones_faint_and_pictures_clear() {
        let (w, h) = (320, 180);
        let frame = |level: u32| -> Vec<u8> {
            (0..w * h)
                .flat_map(|i| {
                    let (x, y) = (i % w, i / w);
                    let v = ((x / 20 + y / 30) % 2 * level + (x * level / w)) as u8;
                    [v, v, v]
                })
                .collect()
        };
        assert_eq!(content(&frame(0), w as usize, h as usize), Content::Flat);
        assert_eq!(content(&frame(3), w as usize, h as usize), Content::Faint);
        assert_eq!(content(&frame(120), w as usize, h as usize), Content::Clear);
    }
}
