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
//!
//! An image sequence is named in reports by its pattern and frame range, not a path. Its
//! pictures are the frames on screen at the times shown (`first + t × fps`, at the rate
//! the sequence was timed at), found by grouping its folder's names again as the walk
//! does; the frames are used only while their digests still make the sequence's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::bank::Bank;
use crate::fingerprint::alpha;
use crate::fingerprint::pdq::{
    pdq_dct_from_plane, LumaPlane, DEFAULT_FAINT_QUALITY, DEFAULT_MIN_QUALITY,
};
use crate::media::sequence::{find_runs, Frame, ImageSequence};
use crate::media::thumbnail::{
    picture_thumbnail, video_thumbnail, video_thumbnail_with_content, Content, Thumbnail,
};
use crate::media::{self, DecodeLimits, MediaKind, StillScale};
use crate::render::html::{Evidence, MatchEvidence, Moment};
use crate::report::{Match, ScanReport};

use super::sequence::read_sequence;

/// Matches given pictures, in report order; later ones are listed without them, so a
/// scan with thousands of matches still gives a report a browser can open.
pub const MAX_MATCHES_WITH_PICTURES: usize = 300;

/// A file to take pictures from, or why there is none.
type Source = Result<File, String>;

/// Where the pictures of one side of a match are, checked against its digest.
enum File {
    /// A still, a document of pages, or a video.
    Single(PathBuf, MediaKind),
    /// An image sequence's frames, in number order.
    Sequence(Vec<(u64, PathBuf)>),
}

/// Gathers the pictures for `report`'s matches, in parallel on the caller's pool.
pub fn gather_evidence(report: &ScanReport, bank: &Bank, limits: DecodeLimits) -> Evidence {
    let sources = Sources {
        report,
        bank,
        cache: Mutex::new(HashMap::new()),
        sequences: Mutex::new(HashMap::new()),
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
                            let at = At {
                                time_s: query_s,
                                page: m.query.page,
                                fps: m.query.frame_rate,
                            };
                            (label, query_s, bank_s, picture(&query, at, limits))
                        }
                    };
                    let at = At {
                        time_s: bank_s,
                        page: m.bank_asset.page,
                        fps: m.bank_asset.frame_rate,
                    };
                    Moment {
                        label,
                        query_s,
                        bank_s,
                        query,
                        bank: picture(&banked, at, limits),
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
    let Ok(File::Single(path, MediaKind::Video)) = source else {
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

/// Which picture of a file: the time in a video or sequence, the page of a document.
struct At {
    time_s: Option<f64>,
    /// From 1, in a document of several pictures (a PDF's or a TIFF's page); `None`,
    /// the first.
    page: Option<u32>,
    /// The rate a sequence was timed at.
    fps: Option<f64>,
}

/// The picture of `source` at `at`.
fn picture(source: &Source, at: At, limits: DecodeLimits) -> Result<Thumbnail, String> {
    let file = source.as_ref().map_err(Clone::clone)?;
    // Behind the decoders' panic boundary, like every other decode: a file that hashed
    // fine may still trip a codec at another seek point.
    media::catch_decoder_panic(|| match file {
        File::Single(path, MediaKind::Video) => video_thumbnail(path, at.time_s.unwrap_or(0.0)),
        File::Single(path, MediaKind::Still) => still_picture(path, at.page, limits),
        File::Sequence(frames) => {
            let fps = at
                .fps
                .filter(|f| *f > 0.0)
                .ok_or(media::MediaError::Unhashable(
                    "no frame rate recorded for the sequence",
                ))?;
            let path = frame_at(frames, at.time_s.unwrap_or(0.0), fps).ok_or(
                media::MediaError::Unhashable("no frame of the sequence at that time"),
            )?;
            still_picture(path, None, limits)
        }
    })
    .map_err(|e| e.to_string())
}

/// A still's picture (`page` of a document of several), as it was hashed: a picture
/// with transparency over its background.
fn still_picture(
    path: &Path,
    page: Option<u32>,
    limits: DecodeLimits,
) -> Result<Thumbnail, media::MediaError> {
    let bytes = std::fs::read(path).map_err(media::MediaError::Io)?;
    let pages = media::frames::open_pictures(&bytes, limits)?;
    match pages {
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
}

/// The frame of a sequence on screen at `time_s`: frame `n` starts at
/// `(n − first) / fps`, and across a gap in the numbering the last frame before it.
fn frame_at(frames: &[(u64, PathBuf)], time_s: f64, fps: f64) -> Option<&Path> {
    let first = frames.first()?.0;
    // Report times are frame starts written as decimals: a thousandth of a frame keeps
    // 0.5416… s × 24 on frame 13.
    let n = first.saturating_add((time_s.max(0.0) * fps + 1e-3).floor() as u64);
    frames
        .iter()
        .rev()
        .find(|(k, _)| *k <= n)
        .map(|(_, p)| p.as_path())
}

/// The pattern and frame range of a sequence's name (`/r/shot010.####.png [1-96]`), or
/// `None` for a name that is not one.
fn sequence_name(name: &str) -> Option<&str> {
    let (pattern, range) = name.strip_suffix(']')?.rsplit_once(" [")?;
    let (first, last) = range.split_once('-')?;
    let numbers = first.parse::<u64>().is_ok() && last.parse::<u64>().is_ok();
    (numbers && pattern.contains('#')).then_some(pattern)
}

/// The frames of the sequence named `name` as its folder holds them now, grouped by
/// name as the walk groups them; `None` when they no longer make that sequence.
fn sequence_frames(name: &str, pattern: &str) -> Option<ImageSequence> {
    let dir = &pattern[..pattern.rfind('/').map_or(0, |i| i + 1)];
    let folder = if dir.is_empty() {
        PathBuf::from(".")
    } else {
        media::pathtext::from_text(dir)
    };
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            let display = format!(
                "{dir}{}",
                media::pathtext::to_text(Path::new(&e.file_name()))
            );
            (display, e.path())
        })
        .filter(|(_, path)| media::kind_of(path) == Some(MediaKind::Still))
        .collect();
    files.sort();
    let displays: Vec<&str> = files.iter().map(|(d, _)| d.as_str()).collect();
    let run = find_runs(&displays).into_iter().find(|r| r.name == name)?;
    let frames = run
        .members
        .iter()
        .map(|&(i, number)| Frame {
            number,
            display: files[i].0.clone(),
            path: files[i].1.clone(),
            size: 0,
        })
        .collect();
    Some(ImageSequence {
        name: name.to_string(),
        frames,
    })
}

/// A sequence as its folder holds it now: its digest (hex) and its frames by number.
type FoundSequence = (String, Vec<(u64, PathBuf)>);

struct Sources<'a> {
    report: &'a ScanReport,
    bank: &'a Bank,
    /// Digest checks done so far, by path: each file is read once.
    cache: Mutex<HashMap<PathBuf, Option<String>>>,
    /// Sequences found again so far, by name: each is read once.
    sequences: Mutex<HashMap<String, Option<FoundSequence>>>,
}

impl Sources<'_> {
    fn query(&self, display: &str) -> Source {
        if display.contains("!/") {
            return Err("inside an archive: not unpacked again for pictures".to_string());
        }
        let scanned = self.report.scanned.iter().find(|s| s.path == display);
        let digest = scanned.and_then(|s| s.digest.clone());
        if sequence_name(display).is_some() {
            return match (digest, self.sequence(display)) {
                (Some(d), Some((now, frames))) if now == d => Ok(File::Sequence(frames)),
                (Some(_), _) => Err("frames changed or gone since they were scanned".to_string()),
                (None, _) => Err("no digest recorded".to_string()),
            };
        }
        let kind = scanned
            .and_then(|s| s.kind)
            .or_else(|| media::kind_of(Path::new(display)))
            .ok_or("not a media file")?;
        // Reports carry paths as escaped text; the file is found from its bytes.
        let path = media::pathtext::from_text(display);
        match digest {
            Some(d) if self.digest_of(&path).as_deref() == Some(d.as_str()) => {
                Ok(File::Single(path, kind))
            }
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
        let found = record.paths.iter().find_map(|p| {
            if sequence_name(p).is_some() {
                let (now, frames) = self.sequence(p)?;
                return (now == digest).then_some(File::Sequence(frames));
            }
            let path = media::pathtext::from_text(p);
            (self.digest_of(&path).as_deref() == Some(digest))
                .then_some(File::Single(path, record.kind))
        });
        found.ok_or_else(|| format!("banked file not found with its digest at {}", record.path()))
    }

    /// The sequence named `name` as its folder holds it now: its digest and its frames
    /// by number; `None` when its frames no longer make it.
    fn sequence(&self, name: &str) -> Option<FoundSequence> {
        if let Some(known) = self.sequences.lock().ok()?.get(name) {
            return known.clone();
        }
        let found = sequence_name(name)
            .and_then(|pattern| sequence_frames(name, pattern))
            .map(|sequence| {
                let digest = media::digest_hex(&read_sequence(&sequence).digest);
                let frames = sequence.frames.into_iter().map(|f| (f.number, f.path));
                (digest, frames.collect())
            });
        self.sequences
            .lock()
            .ok()?
            .insert(name.to_string(), found.clone());
        found
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

    #[test]
    fn a_sequence_shows_the_frame_on_screen_at_a_time() {
        let frames: Vec<(u64, PathBuf)> = [1, 2, 3, 11, 12]
            .into_iter()
            .map(|n| (n, PathBuf::from(format!("f.{n:04}.png"))))
            .collect();
        let at = |t: f64| frame_at(&frames, t, 24.0).unwrap().to_str().unwrap();
        assert_eq!(at(0.0), "f.0001.png");
        // 1 / 24 s written as a decimal, a hair under it, is still frame 2.
        assert_eq!(at(0.041_666_666), "f.0002.png");
        assert_eq!(at(0.083_333), "f.0003.png");
        // In a gap of the numbering, the last frame before it.
        assert_eq!(at(0.2), "f.0003.png");
        assert_eq!(at(10.0 / 24.0), "f.0011.png");
        assert_eq!(at(100.0), "f.0012.png");
    }

    #[test]
    fn sequence_names_are_told_from_paths() {
        assert_eq!(
            sequence_name("/r/shot010.####.png [1-96]"),
            Some("/r/shot010.####.png")
        );
        assert_eq!(sequence_name("/r/shot [1-96].png"), None);
        assert_eq!(sequence_name("/r/take#1 [a-b]"), None);
        assert_eq!(sequence_name("/r/frame [1-2]"), None, "no # for the number");
    }
}
