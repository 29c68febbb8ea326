//! Image sequences: the numbered frames of one shot (`shot010.0001.png`,
//! `layout_v3_0001.tga`, …) found in one folder, or one folder of an archive, grouped
//! into one input that the engine fingerprints as a video.
//!
//! The frame number is the last run of digits before the extension. Files of one folder
//! whose names differ only in that number (same text before it, same text and extension
//! after it) are one sequence, in number order, when there are at least [`MIN_FRAMES`] of
//! them, numbered as frames are ([`frame_like`]). Numbers are either padded to one width
//! (`0001`, `0048`, and `1000` beside them) or unpadded (`1`, `12`, `100`); the two are
//! different sequences, as they are to the tools that write them. Grouping reads names
//! only: no file is opened.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{InputFile, MediaKind};

/// Fewest numbered files that make a sequence. Two are more often two versions of one
/// picture (`logo1.png`, `logo2.png`) than a shot, and stay two stills; three of one
/// pattern is the shortest run a renderer or a layout export writes as a shot.
pub const MIN_FRAMES: usize = 3;

/// Fewest digits of a frame number not set off by a dot: renderers and layout exports pad
/// frames to 4 (`%04d`, `####`), while shots are numbered in 3 (`shot_010.jpg`).
const FRAME_DIGITS: usize = 4;

/// Longest frame number, in digits. Longer runs are ids or timestamps, not frames, and a
/// frame number must fit the time line.
const MAX_DIGITS: usize = 9;

/// One frame of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub number: u64,
    /// The frame's own path as reported ([`super::pathtext`] text).
    pub display: String,
    /// Where to read it.
    pub path: PathBuf,
    /// Bytes when the walk saw it.
    pub size: u64,
}

/// A sequence of numbered frames, in number order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSequence {
    /// Its name in reports: the folder, the file name with a `#` for each digit of the
    /// frame number (as many as the shortest number has), and the first and last
    /// numbers: `/renders/sh010/shot010.####.png [1-48]`.
    pub name: String,
    pub frames: Vec<Frame>,
}

impl ImageSequence {
    pub fn first_number(&self) -> u64 {
        self.frames.first().map_or(0, |f| f.number)
    }
}

/// A file name cut around its frame number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numbered<'a> {
    /// The folder part of the display path, with its final `/`.
    dir: &'a str,
    prefix: &'a str,
    digits: &'a str,
    /// What follows the number, the extension included.
    suffix: &'a str,
}

impl Numbered<'_> {
    fn padded(&self) -> bool {
        self.digits.len() > 1 && self.digits.starts_with('0')
    }

    fn number(&self) -> u64 {
        self.digits.parse().unwrap_or(0)
    }
}

/// Cuts a display path around the last run of digits of its file name before the
/// extension; `None` when there is none, or it is too long to be a frame number. Names
/// with a [`super::pathtext`] escape are left alone: the escape's hex digits could run
/// into the number.
fn numbered(display: &str) -> Option<Numbered<'_>> {
    let name_at = display.rfind('/').map_or(0, |i| i + 1);
    let (dir, name) = display.split_at(name_at);
    if name.contains('\\') {
        return None;
    }
    let stem_len = name.rfind('.').filter(|&i| i > 0).unwrap_or(name.len());
    let stem = &name[..stem_len];
    let end = stem.rfind(|c: char| c.is_ascii_digit())? + 1;
    // After the last character that is not a digit, which may be several bytes long.
    let start = stem[..end]
        .char_indices()
        .rfind(|(_, c)| !c.is_ascii_digit())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let digits = &name[start..end];
    (digits.len() <= MAX_DIGITS).then_some(Numbered {
        dir,
        prefix: &name[..start],
        digits,
        suffix: &name[end..],
    })
}

/// One sequence found among names: its name, and each member's index among the names
/// given with its frame number, in number order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub name: String,
    pub members: Vec<(usize, u64)>,
}

/// The sequences among `displays` (display paths), in order of their first member.
pub fn find_runs(displays: &[&str]) -> Vec<Run> {
    // (folder, before, after) → padded width (0: unpadded) → members.
    type Classes = BTreeMap<usize, Vec<usize>>;
    let mut patterns: BTreeMap<(&str, &str, &str), Classes> = BTreeMap::new();
    let parsed: Vec<Option<Numbered<'_>>> = displays.iter().map(|d| numbered(d)).collect();
    for (i, n) in parsed.iter().enumerate() {
        let Some(n) = n else { continue };
        let classes = patterns.entry((n.dir, n.prefix, n.suffix)).or_default();
        if n.padded() {
            classes.entry(n.digits.len()).or_default().push(i);
        }
    }
    // A number without a leading zero joins the padded class of its width (`1000` after
    // `0999`), and otherwise the unpadded one.
    for (i, n) in parsed.iter().enumerate() {
        let Some(n) = n.filter(|n| !n.padded()) else {
            continue;
        };
        let classes = patterns
            .get_mut(&(n.dir, n.prefix, n.suffix))
            .expect("entered");
        let width = if classes.contains_key(&n.digits.len()) && n.digits.len() > 1 {
            n.digits.len()
        } else {
            0
        };
        classes.entry(width).or_default().push(i);
    }
    let mut runs = Vec::new();
    for ((dir, prefix, suffix), classes) in patterns {
        for (_, members) in classes {
            if members.len() < MIN_FRAMES {
                continue;
            }
            let mut members: Vec<(usize, u64)> = members
                .into_iter()
                .map(|i| (i, parsed[i].expect("parsed").number()))
                .collect();
            members.sort_by_key(|&(i, number)| (number, i));
            let hashes = members
                .iter()
                .map(|&(i, _)| parsed[i].expect("parsed").digits.len())
                .min()
                .unwrap_or(1);
            let numbers: Vec<u64> = members.iter().map(|&(_, n)| n).collect();
            if !frame_like(prefix, hashes, &numbers) {
                continue;
            }
            let (first, last) = (members[0].1, members[members.len() - 1].1);
            let name = format!(
                "{dir}{prefix}{}{suffix} [{first}-{last}]",
                "#".repeat(hashes)
            );
            runs.push(Run { name, members });
        }
    }
    runs.sort_by_key(|r| r.members.iter().map(|&(i, _)| i).min());
    runs
}

/// Whether numbers of at least `digits` digits after `prefix`, in order, are frames and
/// not shots or takes: the number is set off by a dot (`shot010.0001.png`, `comp.7.exr`)
/// or has at least [`FRAME_DIGITS`] digits (`layout_v3_0001.tga`), and at least half the
/// steps from one number to the next are 1. Gaps are allowed (frames not rendered), but a
/// delivery of shots numbered in tens (`shot_010.jpg`, `shot_020.jpg`, …) or in 3
/// digits (`shot_001.png`, …) is a delivery of stills.
fn frame_like(prefix: &str, digits: usize, numbers: &[u64]) -> bool {
    let steps = numbers.windows(2).map(|w| w[1] - w[0]);
    let ones = steps.clone().filter(|&d| d == 1).count();
    (prefix.ends_with('.') || digits >= FRAME_DIGITS) && 2 * ones >= steps.count()
}

/// `files` with the frames of each sequence among its stills replaced, where the first
/// frame was, by one input for the whole sequence ([`InputFile::sequence`]): a video,
/// whose size is its frames' and whose modification time their latest, so that a rerun
/// of `index` sees a sequence as changed when any frame is.
pub fn group(files: Vec<InputFile>) -> Vec<InputFile> {
    let stills: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].kind == MediaKind::Still && files[i].sequence.is_none())
        .collect();
    let displays: Vec<&str> = stills.iter().map(|&i| files[i].display.as_str()).collect();
    let runs = find_runs(&displays);
    if runs.is_empty() {
        return files;
    }
    // For each file: its sequence's place in `runs` and whether it is the first frame.
    let mut role: Vec<Option<(usize, bool)>> = vec![None; files.len()];
    for (r, run) in runs.iter().enumerate() {
        let first = run.members.iter().map(|&(i, _)| i).min().expect("members");
        for &(i, _) in &run.members {
            role[stills[i]] = Some((r, i == first));
        }
    }
    let sequences: Vec<ImageSequence> = runs
        .iter()
        .map(|run| ImageSequence {
            name: run.name.clone(),
            frames: run
                .members
                .iter()
                .map(|&(i, number)| {
                    let file = &files[stills[i]];
                    Frame {
                        number,
                        display: file.display.clone(),
                        path: file.path.clone(),
                        size: file.size,
                    }
                })
                .collect(),
        })
        .collect();
    let inputs: Vec<InputFile> = runs
        .iter()
        .zip(sequences)
        .map(|(run, sequence)| {
            let members = run.members.iter().map(|&(i, _)| &files[stills[i]]);
            let modified_ns = members.clone().map(|f| f.modified_ns).max().flatten();
            let first = &files[stills[run.members[0].0]];
            InputFile {
                display: sequence.name.clone(),
                path: first.path.clone(),
                kind: MediaKind::Video,
                size: members.map(|f| f.size).sum(),
                modified_ns,
                kind_from_name: false,
                sequence: Some(Arc::new(sequence)),
            }
        })
        .collect();
    let mut inputs: Vec<Option<InputFile>> = inputs.into_iter().map(Some).collect();
    files
        .into_iter()
        .zip(role)
        .filter_map(|(file, role)| match role {
            None => Some(file),
            Some((r, true)) => inputs[r].take(),
            Some((_, false)) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(runs: &[Run], displays: &[&str]) -> Vec<(String, Vec<String>)> {
        runs.iter()
            .map(|r| {
                let members = r.members.iter().map(|&(i, _)| displays[i].to_string());
                (r.name.clone(), members.collect())
            })
            .collect()
    }

    #[test]
    fn a_letter_of_several_bytes_may_come_before_the_number() {
        // Found by fuzzing (tests/fixtures/fuzz/): the number's start was taken one
        // byte after the letter, inside it, and the walk panicked.
        // Four digits: a frame-like number, so that the three make a sequence.
        let displays = [
            "/r/カット0001.png",
            "/r/カット0002.png",
            "/r/カット0003.png",
        ];
        let n = numbered(displays[0]).unwrap();
        assert_eq!((n.prefix, n.digits, n.suffix), ("カット", "0001", ".png"));
        assert_eq!(find_runs(&displays).len(), 1);
    }

    #[test]
    fn a_frame_number_is_the_last_run_of_digits_before_the_extension() {
        let n = numbered("/r/shot010.0001.png").unwrap();
        assert_eq!(
            (n.dir, n.prefix, n.digits, n.suffix),
            ("/r/", "shot010.", "0001", ".png")
        );
        let n = numbered("a.zip!/layout_v3_0012_comp.tga").unwrap();
        assert_eq!(
            (n.dir, n.prefix, n.digits, n.suffix),
            ("a.zip!/", "layout_v3_", "0012", "_comp.tga")
        );
        let n = numbered("/r/0042.png").unwrap();
        assert_eq!((n.prefix, n.digits, n.suffix), ("", "0042", ".png"));
        assert_eq!(numbered("/r/logo.png"), None);
        assert_eq!(
            numbered("/r/id_1234567890.png"),
            None,
            "too long for a frame"
        );
        assert_eq!(
            numbered("/r/caf\\xe91.png"),
            None,
            "escaped names are left alone"
        );
        // Digits in the folder are not the file's.
        assert_eq!(numbered("/r/sh010/notes.png"), None);
    }

    #[test]
    fn numbered_files_of_one_pattern_are_one_sequence_in_number_order() {
        let d = [
            "/r/shot010.0010.png",
            "/r/shot010.0002.png",
            "/r/shot010.0001.png",
            "/r/logo.png",
        ];
        let runs = find_runs(&d);
        assert_eq!(
            names(&runs, &d),
            [(
                "/r/shot010.####.png [1-10]".to_string(),
                vec![d[2].to_string(), d[1].to_string(), d[0].to_string()]
            )]
        );
        assert_eq!(
            runs[0].members[2],
            (0, 10),
            "a gap is kept as the numbers say"
        );
    }

    #[test]
    fn interleaved_patterns_folders_and_extensions_are_separate() {
        let d = [
            "/r/a.0001.png",
            "/r/b.0001.png",
            "/r/a.0002.png",
            "/r/b.0002.png",
            "/r/a.0003.png",
            "/r/b.0003.png",
            "/r/b.0004.jpg",
            "/s/a.0004.png",
        ];
        let runs = find_runs(&d);
        let got: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(got, ["/r/a.####.png [1-3]", "/r/b.####.png [1-3]"]);
    }

    #[test]
    fn two_numbered_files_stay_stills() {
        assert!(find_runs(&["/r/logo1.png", "/r/logo2.png"]).is_empty());
    }

    /// The demo delivery's layout, and the nightly job's: shots, not frames.
    #[test]
    fn shots_numbered_in_tens_or_three_digits_stay_stills() {
        let tens = ["/d/shot_010.jpg", "/d/shot_020.jpg", "/d/shot_040.jpg"];
        assert!(find_runs(&tens).is_empty());
        let three = ["/d/shot_000.png", "/d/shot_001.png", "/d/shot_002.png"];
        assert!(find_runs(&three).is_empty());
        // Set off by a dot, or four digits, consecutive numbers are frames, gaps and all.
        let dotted = [
            "/d/s.001.png",
            "/d/s.002.png",
            "/d/s.003.png",
            "/d/s.010.png",
        ];
        assert_eq!(find_runs(&dotted)[0].name, "/d/s.###.png [1-10]");
        let four = ["/d/l_v3_0001.png", "/d/l_v3_0002.png", "/d/l_v3_0003.png"];
        assert_eq!(find_runs(&four)[0].name, "/d/l_v3_####.png [1-3]");
        // Four digits in steps of ten: takes or shots, not frames.
        let takes = ["/d/t_0010.png", "/d/t_0020.png", "/d/t_0030.png"];
        assert!(find_runs(&takes).is_empty());
    }

    #[test]
    fn padded_and_unpadded_numbers_are_different_sequences() {
        let d = [
            "/r/x.0998.png",
            "/r/x.0999.png",
            "/r/x.1000.png",
            "/r/x.8.png",
            "/r/x.9.png",
            "/r/x.10.png",
        ];
        let runs = find_runs(&d);
        assert_eq!(
            names(&runs, &d),
            [
                (
                    "/r/x.####.png [998-1000]".to_string(),
                    vec![d[0].into(), d[1].into(), d[2].into()]
                ),
                (
                    "/r/x.#.png [8-10]".to_string(),
                    vec![d[3].into(), d[4].into(), d[5].into()]
                ),
            ]
        );
        // Unpadded numbers all of one width read as that width (Nuke's 1001 start).
        let runs = find_runs(&["/r/y.1001.png", "/r/y.1002.png", "/r/y.1003.png"]);
        assert_eq!(runs[0].name, "/r/y.####.png [1001-1003]");
    }

    fn file(display: &str, kind: MediaKind, size: u64, modified_ns: u64) -> InputFile {
        InputFile {
            display: display.to_string(),
            path: PathBuf::from(display),
            kind,
            size,
            modified_ns: Some(modified_ns),
            kind_from_name: false,
            sequence: None,
        }
    }

    #[test]
    fn a_sequence_takes_its_first_frames_place_and_the_loose_files_stay() {
        let still = MediaKind::Still;
        let files = vec![
            file("/r/a.mp4", MediaKind::Video, 1, 1),
            file("/r/s.001.png", still, 10, 5),
            file("/r/s.002.png", still, 20, 9),
            file("/r/s.003.png", still, 30, 7),
            file("/r/z.png", still, 1, 1),
            // Videos are never frames.
            file("/r/v.001.mp4", MediaKind::Video, 1, 1),
            file("/r/v.002.mp4", MediaKind::Video, 1, 1),
            file("/r/v.003.mp4", MediaKind::Video, 1, 1),
        ];
        let out = group(files);
        let shown: Vec<&str> = out.iter().map(|f| f.display.as_str()).collect();
        assert_eq!(
            shown,
            [
                "/r/a.mp4",
                "/r/s.###.png [1-3]",
                "/r/z.png",
                "/r/v.001.mp4",
                "/r/v.002.mp4",
                "/r/v.003.mp4"
            ]
        );
        let s = &out[1];
        assert_eq!(s.kind, MediaKind::Video);
        assert_eq!((s.size, s.modified_ns), (60, Some(9)));
        let seq = s.sequence.as_ref().unwrap();
        let numbers: Vec<u64> = seq.frames.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert_eq!(seq.frames[0].display, "/r/s.001.png");
    }
}
