//! Image sequences: numbered stills of one pattern in one folder are one shot, timed at
//! `--sequence-fps` and matched as a video. Frames are made here with FFmpeg from the
//! shared films, or drawn; each case states its truth.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{expect_code, ffmpeg, picture, s, stdout, TestEnv};
use serde_json::Value;

fn bbb(shared: &Path) -> String {
    s(&shared.join("media/video/bbb/bower_bbb_480p_30s.mp4")).to_string()
}

/// Frames `start_s` to `start_s + len_s` of `video` at 24 a second, as
/// `dir/shot010.0001.png` …; returns `dir`.
fn frames_of(env: &TestEnv, video: &str, start_s: &str, len_s: &str, dir: &str) -> String {
    let dir = env.path(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pattern = dir.join("shot010.%04d.png");
    ffmpeg(&[
        "-ss",
        start_s,
        "-t",
        len_s,
        "-i",
        video,
        "-vf",
        "fps=24",
        s(&pattern),
    ]);
    s(&dir).to_string()
}

fn index(env: &TestEnv, paths: &[&str]) {
    let db = env.db();
    let mut args = vec!["index", "--db", s(&db)];
    args.extend_from_slice(paths);
    expect_code(&env.run(&args), 0);
}

fn scan(env: &TestEnv, extra: &[&str], paths: &[&str]) -> (i32, Value) {
    let json = env.path("r.json");
    let db = env.db();
    let mut args = vec!["scan", "--db", s(&db), "--json", s(&json)];
    args.extend_from_slice(extra);
    args.extend_from_slice(paths);
    let o = env.run(&args);
    let report = std::fs::read_to_string(&json).expect("report");
    (
        o.status.code().unwrap(),
        serde_json::from_str(&report).unwrap(),
    )
}

/// The report's scanned entries as (path, status, error).
fn scanned(report: &Value) -> Vec<(String, String, String)> {
    report["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The longest match's query and bank ranges, with its query path.
fn longest(report: &Value) -> (String, (f64, f64), (f64, f64)) {
    let m = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            let len = |m: &Value| {
                m["query"]["end_s"].as_f64().unwrap() - m["query"]["start_s"].as_f64().unwrap()
            };
            len(a).total_cmp(&len(b))
        })
        .unwrap_or_else(|| panic!("no match: {report:#}"));
    let range = |side: &Value| {
        (
            side["start_s"].as_f64().unwrap(),
            side["end_s"].as_f64().unwrap(),
        )
    };
    (
        m["query"]["path"].as_str().unwrap().to_string(),
        range(&m["query"]),
        range(&m["bank_asset"]),
    )
}

fn near(got: (f64, f64), truth: (f64, f64)) -> bool {
    (got.0 - truth.0).abs() <= 0.5 && (got.1 - truth.1).abs() <= 0.5
}

/// Truth: the frames are 10–14 s of the banked film, cut by FFmpeg at 24 a second, so at
/// the default 24 fps the sequence's 0–4 s is the film's 10–14 s. Frames cut at 12 a
/// second last twice as long each with `--sequence-fps 12`, and match the same 4 s.
#[test]
fn a_sequence_cut_from_a_film_matches_the_banked_film_with_its_seconds() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let film = bbb(&shared);
    index(&env, &[&film]);
    let dir = frames_of(&env, &film, "10", "4", "delivery/sh010");
    let name = format!("{dir}/shot010.####.png [1-96]");

    let (code, report) = scan(&env, &[], &[&dir]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        scanned(&report),
        [(name.clone(), "ok".to_string(), String::new())],
        "one shot, not 96 stills"
    );
    assert_eq!(report["scanned"][0]["kind"], "video");
    let (path, query, bank) = longest(&report);
    assert_eq!(path, name);
    assert!(near(query, (0.0, 4.0)), "sequence {query:?}");
    assert!(near(bank, (10.0, 14.0)), "film {bank:?}");

    // Frames exported at 12 a second (an animation on twos) are timed by the flag: the
    // same 4 s of film is 48 frames, and at the default 24 fps they would last 2 s.
    let twelve = env.path("delivery/sh020");
    std::fs::create_dir_all(&twelve).unwrap();
    ffmpeg(&[
        "-ss",
        "10",
        "-t",
        "4",
        "-i",
        &film,
        "-vf",
        "fps=12",
        s(&twelve.join("sh020_%04d.png")),
    ]);
    let spans = |extra: &[&str]| -> Vec<(f64, f64)> {
        let mut args = vec!["hash"];
        args.extend_from_slice(extra);
        args.push(s(&twelve));
        let o = env.run(&args);
        expect_code(&o, 0);
        stdout(&o)
            .lines()
            .map(|l| {
                let (a, b) = l.rsplit("#t=").next().unwrap().split_once(',').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect()
    };
    let at_24 = spans(&[]);
    let at_12 = spans(&["--sequence-fps", "12"]);
    assert_eq!(at_24.last().unwrap().1, 2.0);
    assert_eq!(at_12.len(), at_24.len());
    for (a, b) in at_24.iter().zip(&at_12) {
        assert!((b.0 - 2.0 * a.0).abs() < 0.002 && (b.1 - 2.0 * a.1).abs() < 0.002);
    }
    let (code, report) = scan(&env, &["--sequence-fps", "12"], &[s(&twelve)]);
    assert_eq!(code, 1, "{report:#}");
    let (path, query, bank) = longest(&report);
    assert!(path.ends_with("sh020_####.png [1-48]"), "{path}");
    assert!(near(query, (0.0, 4.0)), "sequence at 12 fps {query:?}");
    assert!(near(bank, (10.0, 14.0)), "film {bank:?}");
}

/// Truth: the banked frames are 10–14 s of the film; the delivered MP4 is its 8–16 s,
/// re-encoded, so the shot is at 2–6 s of it. The shot's last drawing is a slow pan that
/// goes on past 14 s, and the match runs on along it (to 7.75 s), exactly as it does
/// when the same 4 s are banked as an MP4: the end is not asserted tighter than that.
#[test]
fn a_banked_sequence_is_found_inside_a_delivered_mp4() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let film = bbb(&shared);
    let dir = frames_of(&env, &film, "10", "4", "bank-src/sh010");
    index(&env, &[&dir]);
    // Banked again unchanged: the shot is skipped unread, and no frame is banked alone.
    let o = env.run(&["index", "--db", s(&env.db()), &dir]);
    expect_code(&o, 0);
    let said = stdout(&o) + &common::stderr(&o);
    assert!(
        said.contains("indexed 1 files: 0 new assets")
            && said.contains("1 skipped unread")
            && said.contains("0 vanished"),
        "{said}"
    );

    let delivered = env.path("delivered.mp4");
    ffmpeg(&[
        "-ss",
        "8",
        "-t",
        "8",
        "-i",
        &film,
        "-c:v",
        "libx264",
        "-an",
        s(&delivered),
    ]);
    let (code, report) = scan(&env, &[], &[s(&delivered)]);
    assert_eq!(code, 1, "{report:#}");
    let m = &report["matches"][0];
    assert_eq!(
        m["bank_asset"]["path"].as_str().unwrap(),
        format!("{dir}/shot010.####.png [1-96]")
    );
    let (_, query, bank) = longest(&report);
    assert!(
        (query.0 - 2.0).abs() <= 0.5 && query.1 >= 5.5 && query.1 <= 8.0,
        "delivered {query:?}"
    );
    assert!(near(bank, (0.0, 4.0)), "sequence {bank:?}");
}

/// Truth: `a.*` and `b.*` are two drawn shots interleaved in one folder; `logo.png` and
/// the two numbered `v1`/`v2` are loose stills; the same folder zipped holds the same.
#[test]
fn a_folder_of_two_sequences_and_loose_stills_gives_two_shots_and_the_stills() {
    let env = TestEnv::new();
    let dir = env.path("shots");
    for n in 1..=4 {
        picture(&dir.join(format!("a.{n:04}.png")), n);
    }
    for n in 1..=3 {
        picture(&dir.join(format!("b.{n:04}.png")), 10 + n);
    }
    picture(&dir.join("logo.png"), 20);
    picture(&dir.join("v1.png"), 21);
    picture(&dir.join("v2.png"), 22);
    let d = s(&dir);

    let o = env.run(&["hash", d]);
    expect_code(&o, 0);
    let out = stdout(&o);
    let mut paths: Vec<String> = out
        .lines()
        .map(|l| {
            let path = l.splitn(3, ',').nth(2).unwrap();
            path.split("#t=").next().unwrap().to_string()
        })
        .collect();
    paths.dedup();
    assert_eq!(
        paths,
        [
            format!("{d}/a.####.png [1-4]"),
            format!("{d}/b.####.png [1-3]"),
            format!("{d}/logo.png"),
            format!("{d}/v1.png"),
            format!("{d}/v2.png"),
        ]
    );
    // Each drawing of a shot is a segment of 1/24 s, in number order.
    let a_spans: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("a.####"))
        .map(|l| l.rsplit("#t=").next().unwrap())
        .collect();
    assert_eq!(
        a_spans,
        ["0.000,0.042", "0.042,0.083", "0.083,0.125", "0.125,0.167"]
    );

    // Zipped, the folder's shots are found inside the archive the same way.
    let zip = env.path("shots.zip");
    let ok = Command::new("zip")
        .current_dir(&dir)
        .args(["-q", "-r", s(&zip), "."])
        .status()
        .expect("zip")
        .success();
    assert!(ok, "zip");
    picture(&env.path("bank/one.png"), 30);
    index(&env, &[s(&env.path("bank/one.png"))]);
    let (code, report) = scan(&env, &[], &[s(&zip)]);
    assert_eq!(code, 0, "{report:#}");
    let mut got: Vec<String> = scanned(&report).into_iter().map(|(p, ..)| p).collect();
    got.sort();
    let z = s(&zip);
    assert_eq!(
        got,
        [
            format!("{z}!/a.####.png [1-4]"),
            format!("{z}!/b.####.png [1-3]"),
            format!("{z}!/logo.png"),
            format!("{z}!/v1.png"),
            format!("{z}!/v2.png"),
        ]
    );
}

/// Truth: frame 3 of 6 is a PNG cut short; the other five are whole. The shot was not
/// all checked, so the delivery is not clean, and the report names the frame.
#[test]
fn a_corrupt_frame_in_the_middle_makes_the_shot_partial_never_clean() {
    let env = TestEnv::new();
    // Rings, unlike the stripes `picture` draws: nothing delivered matches it, so only
    // the damaged frame stands between this delivery and a clean verdict.
    let rings = image::GrayImage::from_fn(256, 192, |x, y| {
        let r = ((x as f32 - 100.0).powi(2) + (y as f32 - 80.0).powi(2)).sqrt();
        image::Luma([((r / 9.0).sin() * 120.0 + 128.0) as u8])
    });
    let banked = env.path("bank/unrelated.png");
    std::fs::create_dir_all(banked.parent().unwrap()).unwrap();
    rings.save(&banked).unwrap();
    index(&env, &[s(&banked)]);
    let dir = env.path("delivery");
    for n in 1..=6 {
        picture(&dir.join(format!("s.{n:03}.png")), n);
    }
    let third = dir.join("s.003.png");
    let bytes = std::fs::read(&third).unwrap();
    std::fs::write(&third, &bytes[..bytes.len() / 2]).unwrap();

    let (code, report) = scan(&env, &[], &[s(&dir)]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["summary"]["verdict"], "error", "{report:#}");
    assert_eq!(report["summary"]["partial"], 1);
    assert_eq!(report["summary"]["matches"], 0, "{report:#}");
    let entries = scanned(&report);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (path, status, error) = &entries[0];
    assert_eq!(path, &format!("{}/s.###.png [1-6]", s(&dir)));
    assert_eq!(status, "partial");
    assert!(error.starts_with("frame 3 (s.003.png): "), "{error}");

    // Every frame broken: nothing checked, an error.
    for n in [1, 2, 4, 5, 6] {
        std::fs::write(dir.join(format!("s.{n:03}.png")), b"not a png").unwrap();
    }
    let (code, report) = scan(&env, &[], &[s(&dir)]);
    assert_eq!(code, 2);
    assert_eq!(scanned(&report)[0].1, "error", "{report:#}");
}

/// Truth: three unrelated drawings of three sizes, numbered `ref.1` to `ref.3`. They are
/// one sequence (grouping reads names; a size change does not split it), and each
/// frame is still checked on its own: the middle one, banked alone under another name,
/// is found at its time, 1/24 s.
#[test]
fn numbered_stills_of_different_sizes_are_one_sequence_and_each_is_checked() {
    let env = TestEnv::new();
    let dir = env.path("refs");
    let sizes = ["320x240", "200x300", "640x360"];
    for (n, size) in sizes.iter().enumerate() {
        let drawn = env.path(&format!("drawn{n}.png"));
        picture(&drawn, 50 + n as u32);
        let out = dir.join(format!("ref.{}.png", n + 1));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("convert")
            .args([s(&drawn), "-resize", &format!("{size}!"), s(&out)])
            .status()
            .unwrap()
            .success();
        assert!(ok, "convert");
    }
    let banked = env.path("bank/middle.png");
    std::fs::create_dir_all(banked.parent().unwrap()).unwrap();
    std::fs::copy(dir.join("ref.2.png"), &banked).unwrap();
    index(&env, &[s(&banked)]);
    let (code, report) = scan(&env, &[], &[s(&dir)]);
    assert_eq!(code, 1, "{report:#}");
    let entries = scanned(&report);
    assert_eq!(
        entries,
        [(
            format!("{}/ref.#.png [1-3]", s(&dir)),
            "ok".to_string(),
            String::new()
        )]
    );
    let m = &report["matches"][0];
    assert!(m["bank_asset"]["path"]
        .as_str()
        .unwrap()
        .ends_with("middle.png"));
    let start = m["query"]["start_s"].as_f64().unwrap();
    assert!((start - 1.0 / 24.0).abs() < 1e-6, "{m:#}");
}

/// `--no-sequences`: numbered stills (page scans named `scan_0001.png` …, which a name
/// cannot tell from frames) are each hashed as a still, and without it they are one
/// shot.
#[test]
fn no_sequences_keeps_numbered_stills_apart() {
    let env = TestEnv::new();
    let dir = env.path("scans");
    std::fs::create_dir_all(&dir).unwrap();
    for n in 1..=4 {
        picture(&dir.join(format!("scan_{n:04}.png")), n * 7);
    }
    let as_shot = env.run(&["hash", s(&dir)]);
    expect_code(&as_shot, 0);
    assert!(
        stdout(&as_shot)
            .lines()
            .all(|l| l.contains("scan_####.png [1-4]#t=")),
        "{}",
        stdout(&as_shot)
    );
    let apart = env.run(&["hash", "--no-sequences", s(&dir)]);
    expect_code(&apart, 0);
    let lines: Vec<String> = stdout(&apart).lines().map(String::from).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (n, line) in (1..=4).zip(&lines) {
        assert!(line.ends_with(&format!("scan_{n:04}.png")), "{line}");
    }
}

/// Truth: a sequence's frames are hashed as a video's frames are (the sampled filter, the
/// secondary hash from a point-sampled thumbnail), which is how they are segmented and
/// matched against banked video, and not as stills (the reference filter, every pixel).
/// On 4 s of the film, each frame's PDQ is within 2 bits of its hash as a still (on
/// the mean, far under 1) at the same quality, so the two ways meet well inside any
/// matching distance; the secondary hash, only reported beside a match, stays near.
#[test]
fn sequence_frames_hash_within_a_few_bits_of_the_same_pictures_as_stills() {
    use celprint::fingerprint::imghash::imghash64;
    use celprint::fingerprint::sampled::{frame_dcts, frame_secondary};
    use celprint::fingerprint::{flattened, picture_dcts, FingerprintParams};

    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let dir = frames_of(&env, &bbb(&shared), "10", "4", "frames");
    let params = FingerprintParams::default();
    let (mut pdq_bits, mut secondary_bits) = (Vec::new(), Vec::new());
    for n in 1..=96 {
        let img = image::open(Path::new(&dir).join(format!("shot010.{n:04}.png"))).unwrap();
        let img = flattened(&img, &params);
        let (still, _) = picture_dcts(&img, &params);
        let (frame, _) = frame_dcts(&img, &params);
        let (still, frame) = (still.hash(), frame.hash());
        assert_eq!(still.quality, frame.quality, "frame {n}");
        pdq_bits.push(still.hash.distance(&frame.hash));
        let secondary = frame_secondary(&img, params.secondary);
        secondary_bits.push((imghash64(&img, params.secondary) ^ secondary).count_ones());
    }
    let mean = |v: &[u32]| v.iter().sum::<u32>() as f64 / v.len() as f64;
    let max = |v: &[u32]| *v.iter().max().unwrap();
    eprintln!(
        "PDQ: mean {:.3} max {} bits; secondary: mean {:.2} max {} bits",
        mean(&pdq_bits),
        max(&pdq_bits),
        mean(&secondary_bits),
        max(&secondary_bits)
    );
    assert!(max(&pdq_bits) <= 2 && mean(&pdq_bits) < 0.5, "{pdq_bits:?}");
    assert!(mean(&secondary_bits) < 8.0, "{secondary_bits:?}");
}

/// The pictures of one `<tr>` of an HTML report's first table of frames (after its
/// header row), decoded, with the row's text outside them.
fn row_pictures(html: &str, row: usize) -> (Vec<image::RgbImage>, String) {
    let tr = html
        .split("<table class=\"frames\">")
        .nth(1)
        .and_then(|table| table.split("<tr><th>").nth(row + 1))
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row {row}: {html}"));
    let mut text = String::new();
    let mut pictures = Vec::new();
    for (i, part) in tr.split("data:image/jpeg;base64,").enumerate() {
        let (data, rest) = if i == 0 {
            ("", part)
        } else {
            part.split_once('"').unwrap()
        };
        if !data.is_empty() {
            let jpeg = base64_decode(data);
            pictures.push(image::load_from_memory(&jpeg).unwrap().to_rgb8());
        }
        text.push_str(rest);
    }
    (pictures, text)
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Mean absolute difference per channel between `thumb` and frame `number` of the
/// sequence in `dir`, brought to the thumbnail's size.
fn frame_difference(thumb: &image::RgbImage, dir: &str, number: u64) -> f64 {
    let frame = image::open(Path::new(dir).join(format!("shot010.{number:04}.png")))
        .unwrap()
        .resize_exact(
            thumb.width(),
            thumb.height(),
            image::imageops::FilterType::Triangle,
        )
        .to_rgb8();
    let sum: u64 = frame
        .as_raw()
        .iter()
        .zip(thumb.as_raw())
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    sum as f64 / thumb.as_raw().len() as f64
}

/// Asserts that `thumb` shows frame `number` of the `count` frames in `dir`: it is no
/// further from that frame than from any other (within JPEG's noise), and close to it.
fn assert_shows_frame(thumb: &image::RgbImage, dir: &str, number: u64, count: u64) {
    let expected = frame_difference(thumb, dir, number);
    let (best, best_diff) = (1..=count)
        .map(|n| (n, frame_difference(thumb, dir, n)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert!(
        expected < 6.0 && expected <= best_diff + 0.5,
        "{dir}: frame {number} differs by {expected:.2}, frame {best} by {best_diff:.2}"
    );
}

/// Truth: the banked sequence is 10–14 s of the film, the delivered one its 11–13 s, so
/// each delivered frame `n` is banked frame `n + 24`. The HTML report's pictures are
/// the frames at the match's times (`first + t × 24`), and once a banked frame is
/// replaced the banked side has no picture rather than a wrong one.
#[test]
fn html_report_shows_the_frames_of_a_matched_sequence_and_none_once_changed() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let film = bbb(&shared);
    let banked = frames_of(&env, &film, "10", "4", "bank/sh010");
    index(&env, &[&banked]);
    let delivered = frames_of(&env, &film, "11", "2", "delivery/sh020");
    let html_path = env.path("r.html");
    let html_args = ["--html", s(&html_path)];

    let (code, report) = scan(&env, &html_args, &[&delivered]);
    assert_eq!(code, 1, "{report:#}");
    let m = &report["matches"][0];
    assert_eq!(report["matches"].as_array().unwrap().len(), 1, "{report:#}");
    let frame = |t: &Value| 1 + (t.as_f64().unwrap() * 24.0 + 1e-3).floor() as u64;
    let (query_frame, bank_frame) = (
        frame(&m["query"]["start_s"]),
        frame(&m["bank_asset"]["start_s"]),
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    let (pictures, text) = row_pictures(&html, 1);
    assert!(text.starts_with("start</th>"), "{text}");
    assert_eq!(pictures.len(), 2, "{text}");
    assert_shows_frame(&pictures[0], &delivered, query_frame, 48);
    assert_shows_frame(&pictures[1], &banked, bank_frame, 96);
    assert!(bank_frame.abs_diff(query_frame + 24) <= 1, "{m:#}");

    // A banked frame replaced by its neighbour: the sequence is no longer the one banked.
    std::fs::copy(
        Path::new(&banked).join("shot010.0049.png"),
        Path::new(&banked).join("shot010.0050.png"),
    )
    .unwrap();
    let (code, _) = scan(&env, &html_args, &[&delivered]);
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(&html_path).unwrap();
    let (pictures, text) = row_pictures(&html, 1);
    assert_eq!(pictures.len(), 1, "{text}");
    assert_shows_frame(&pictures[0], &delivered, query_frame, 48);
    assert!(
        text.contains("no picture: banked file not found with its digest"),
        "{text}"
    );
}
