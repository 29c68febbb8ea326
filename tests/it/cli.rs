//! End-to-end tests of the `celprint` binary: the demo data, the report schema, exit
//! statuses, and bad input.

use crate::common;
mod safety;

use common::{expect_code, picture, s, stderr, stdout, TestEnv};
use serde_json::Value;

fn demo(rel: &str) -> String {
    common::repo()
        .join("data/demo")
        .join(rel)
        .display()
        .to_string()
}

fn index_demo_bank(env: &TestEnv) {
    let db = env.db();
    let o = env.run(&[
        "index",
        "--db",
        s(&db),
        "--label",
        "leaked",
        "--source",
        "demo",
        "--note",
        "INC-1",
        &demo("bank"),
    ]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("9 new assets"), "{}", stdout(&o));
}

/// What `scan_json` gave: the finished process and its JSON report.
struct Scan {
    output: std::process::Output,
    report: Value,
}

/// Scans `paths` with `extra` options against the test's bank, writing a JSON report.
fn scan_json(env: &TestEnv, paths: &[&str], extra: &[&str]) -> Scan {
    let db = env.db();
    let json = env.path("report.json");
    let mut args = vec!["scan", "--db", s(&db), "--json", s(&json)];
    args.extend_from_slice(extra);
    args.extend_from_slice(paths);
    let o = env.run(&args);
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|_| panic!("no report; stderr: {}", stderr(&o)));
    Scan {
        output: o,
        report: serde_json::from_str(&text).expect("report is JSON"),
    }
}

/// The first match whose delivered path ends with `file`.
fn match_of<'a>(report: &'a Value, file: &str) -> &'a Value {
    report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["query"]["path"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("no match for {file}"))
}

/// An asset of a bank, independent of its number.
#[derive(Debug, PartialEq)]
struct BankedAsset {
    digest: String,
    paths: Vec<String>,
}

/// The assets of the test's bank, in the bank's order.
fn bank_assets(env: &TestEnv) -> Vec<BankedAsset> {
    let bank = celprint::bank::Bank::open(
        &env.db(),
        &celprint::bank::OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .expect("open bank");
    bank.assets()
        .unwrap()
        .into_iter()
        .map(|a| BankedAsset {
            digest: a.digest,
            paths: a.paths,
        })
        .collect()
}

#[test]
fn demo_delivery_matches_exactly_the_derived_copies() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let Scan { output: o, report } = scan_json(&env, &[&demo("delivery")], &[]);
    expect_code(&o, 1);
    let mut pairs: Vec<(String, String, String)> = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let q = m["query"]["path"].as_str().unwrap();
            let b = m["bank_asset"]["path"].as_str().unwrap();
            let file = |p: &str| p.rsplit('/').next().unwrap().to_string();
            (
                file(q),
                file(b),
                m["transform"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            (
                "pip_090.mp4".into(),
                "bbb_02-14s.mp4".into(),
                "identity".into()
            ),
            (
                "reel_020.mp4".into(),
                "bbb_02-14s.mp4".into(),
                "identity".into()
            ),
            (
                "reframe_100.mp4".into(),
                "bbb_02-14s.mp4".into(),
                "identity".into()
            ),
            (
                "shot_010.jpg".into(),
                "bbb_02-14s.mp4".into(),
                "identity".into()
            ),
            (
                "shot_010.jpg".into(),
                "bbb_t13s.jpg".into(),
                "identity".into()
            ),
            (
                "shot_030.png".into(),
                "sintel_t04s.jpg".into(),
                "identity".into()
            ),
            (
                "shot_050.jpg".into(),
                "popeye_t20s.jpg".into(),
                "flip_h".into()
            ),
            (
                "shot_070.jpg".into(),
                "peppercarrot_e05p01_snowman.jpg".into(),
                "identity".into()
            ),
        ]
    );
    // The reel's truth (data/demo/TRUTH.md): its 3-7 s are the bank clip's 5-9 s.
    let reel = match_of(&report, "reel_020.mp4");
    let t = |v: &Value| v.as_f64().unwrap();
    for (got, want) in [
        (t(&reel["query"]["start_s"]), 3.0),
        (t(&reel["query"]["end_s"]), 7.0),
        (t(&reel["bank_asset"]["start_s"]), 5.0),
        (t(&reel["bank_asset"]["end_s"]), 9.0),
    ] {
        assert!((got - want).abs() <= 0.5, "{reel:#}");
    }
    assert_eq!(reel["query"]["frame_rate"], 24.0);
    assert_eq!(reel["bank_asset"]["frame_rate"], 24.0);
    assert!(reel["query_inset"].is_null());
    // The inset's 0-5 s are the bank clip's 4-9 s, in the inset 320x180 at (304, 16).
    let pip = match_of(&report, "pip_090.mp4");
    for (got, want, within) in [
        (t(&pip["query"]["start_s"]), 0.0, 0.5),
        (t(&pip["query"]["end_s"]), 5.0, 0.5),
        (t(&pip["bank_asset"]["start_s"]), 4.0, 0.5),
        (t(&pip["bank_asset"]["end_s"]), 9.0, 0.5),
        (t(&pip["query_inset"]["x"]), 304.0, 4.0),
        (t(&pip["query_inset"]["y"]), 16.0, 4.0),
        (t(&pip["query_inset"]["width"]), 320.0, 6.0),
        (t(&pip["query_inset"]["height"]), 180.0, 6.0),
    ] {
        assert!((got - want).abs() <= within, "{pip:#}");
    }
    assert!(pip["local"].is_null(), "found by the inset finder");
    // The reframe's 0-4 s are the bank clip's 4-8 s, found by keypoints, showing the
    // banked picture's 20-95 % across and 5-80 % down.
    let reframe = match_of(&report, "reframe_100.mp4");
    for (got, want, within) in [
        (t(&reframe["query"]["start_s"]), 0.0, 0.5),
        (t(&reframe["query"]["end_s"]), 4.0, 0.5),
        (t(&reframe["bank_asset"]["start_s"]), 4.0, 0.5),
        (t(&reframe["bank_asset"]["end_s"]), 8.0, 0.5),
    ] {
        assert!((got - want).abs() <= within, "{reframe:#}");
    }
    let area = reframe["local"]["bank_area"].as_array().expect("keypoints");
    for (got, want) in area.iter().zip([0.20, 0.05, 0.95, 0.80]) {
        assert!((t(got) - want).abs() <= 0.03, "{reframe:#}");
    }
    assert!(reframe["query_inset"].is_null(), "{reframe:#}");
    let summary = stdout(&o);
    let line = summary
        .lines()
        .find(|l| l.contains("reframe_100.mp4"))
        .expect("the reframe in the summary");
    assert!(line.contains("(by keypoints: "), "{line}");
    // The schema the README documents.
    let m = match_of(&report, "shot_010.jpg");
    assert!(m["query"]["start_s"].is_null() && m["query"]["end_s"].is_null());
    assert_eq!(m["bank_asset"]["label"], "leaked");
    assert_eq!(m["bank_asset"]["source"], "demo");
    assert_eq!(m["bank_asset"]["note"], "INC-1");
    assert!(m["score"].as_f64().unwrap() > 0.7);
    assert!(m["distance"].as_u64().unwrap() <= 31);
    let scanned = report["scanned"].as_array().unwrap();
    assert_eq!(
        scanned.len(),
        12,
        "the 8 images and the three videos are scanned, and notes.txt is listed as text"
    );
    let notes: Vec<&Value> = scanned
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("notes.txt"))
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["status"], "text");
    assert!(scanned
        .iter()
        .filter(|f| !f["path"].as_str().unwrap().ends_with("notes.txt"))
        .all(|f| f["status"] == "ok" && f["error"].is_null()));
    assert!(scanned[0]["path"]
        .as_str()
        .unwrap()
        .starts_with(&demo("delivery")));
    assert_eq!(report["summary"]["skipped_not_media"], 0);
    assert_eq!(report["summary"]["text_files"], 1);
    assert_eq!(report["summary"]["verdict"], "matches");
}

#[test]
fn clean_delivery_exits_zero_and_csv_has_header_only() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let csv = env.path("r.csv");
    let o = env.run(&[
        "scan",
        "--db",
        s(&env.db()),
        "--csv",
        s(&csv),
        &demo("delivery/shot_020.jpg"),
        &demo("delivery/shot_040.jpg"),
    ]);
    expect_code(&o, 0);
    assert!(stdout(&o).starts_with("CLEAN"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("\u{feff}\"query_path\",\"query_start_s\""));
}

#[test]
fn csv_rows_follow_the_matches() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let o = env.run(&[
        "scan",
        "--db",
        s(&env.db()),
        "--csv",
        "-",
        &demo("delivery/shot_050.jpg"),
    ]);
    expect_code(&o, 1);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains("popeye_t20s.jpg") && lines[1].contains("flip_h"),
        "{text}"
    );
    assert!(
        lines[0].ends_with(
            ",\"transform\",\"specificity\",\"bank_crop\",\"query_inset\",\"faint_only\",\"local_keypoints\",\"status\",\"reason\",\"query_page\",\"query_panel\",\"bank_page\",\"bank_panel\""
        ),
        "{text}"
    );
    assert!(
        lines[1].ends_with(
            ",\"flip_h\",1.0000,\"\",\"\",\"false\",\"\",\"match\",\"\",\"\",\"\",\"\",\"\""
        ),
        "{text}"
    );
    assert!(
        stderr(&o).contains("MATCHES"),
        "summary goes to stderr when the report takes stdout"
    );
}

#[test]
fn reindexing_the_same_bytes_adds_only_the_path() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let before = bank_assets(&env);
    let copy = env.path("copy/again.jpg");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(demo("bank/bbb_t05s.jpg"), &copy).unwrap();
    let o = env.run(&["index", "--db", s(&env.db()), &demo("bank"), s(&copy)]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("0 new assets"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("1 already banked under another path"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("9 skipped unread"), "{}", stdout(&o));
    let after = bank_assets(&env);
    assert_eq!(before.len(), after.len());
    let paths = &after
        .iter()
        .find(|a| a.paths.iter().any(|p| p.ends_with("again.jpg")))
        .unwrap()
        .paths;
    assert_eq!(paths.len(), 2);
}

#[test]
fn ignore_label_never_raises_a_match() {
    let env = TestEnv::new();
    let o = env.run(&[
        "index",
        "--db",
        s(&env.db()),
        "--label",
        "ignore",
        &demo("bank/popeye_t20s.jpg"),
    ]);
    expect_code(&o, 0);
    let Scan { output: o, report } = scan_json(&env, &[&demo("delivery/shot_050.jpg")], &[]);
    expect_code(&o, 0);
    assert_eq!(report["summary"]["ignored_hits"], 1);
    assert!(report["matches"].as_array().unwrap().is_empty());
}

#[test]
fn no_dihedral_misses_the_mirrored_copy() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let Scan { output: o, .. } =
        scan_json(&env, &[&demo("delivery/shot_050.jpg")], &["--no-dihedral"]);
    expect_code(&o, 0);
}

#[test]
fn bank_built_with_other_parameters_is_refused() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let o = env.run(&[
        "index",
        "--db",
        s(&env.db()),
        "--secondary",
        "dhash",
        &demo("bank"),
    ]);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("fingerprint parameters"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&[
        "index",
        "--db",
        s(&env.db()),
        "--secondary",
        "phash",
        &demo("bank"),
    ]);
    expect_code(&o, 0);
    // A new bank keeps crops unless told otherwise, so asking for none is other
    // parameters; a bank made without them is reindexed without them when nothing is asked.
    let (db, bank) = (env.db(), demo("bank"));
    let o = env.run(&["index", "--db", s(&db), "--no-crop-variants", &bank]);
    expect_code(&o, 2);
    let plain = env.path("plain");
    let plain_index = |extra: &[&str]| {
        let mut args = vec!["index", "--db", s(&plain)];
        args.extend_from_slice(extra);
        args.push(&bank);
        env.run(&args)
    };
    expect_code(&plain_index(&["--no-crop-variants"]), 0);
    expect_code(&plain_index(&[]), 0);
    expect_code(&plain_index(&["--crop-variants", "90,80,70"]), 2);
    let o = env.run(&["info", "--db", s(&plain), "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["params"].get("crop_variants").is_none(), "{v:#}");
}

#[test]
fn scan_of_a_missing_bank_is_an_error() {
    let env = TestEnv::new();
    let o = env.run(&["scan", "--db", s(&env.path("nothing")), &demo("delivery")]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("no bank at"), "{}", stderr(&o));
}

#[test]
fn info_shows_counts_and_parameters() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let o = env.run(&["info", "--db", s(&env.db()), "--json"]);
    expect_code(&o, 0);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["stats"]["assets"], 9);
    assert_eq!(v["stats"]["assets_by_label"]["leaked"], 9);
    assert_eq!(v["params"]["secondary"], "phash");
    assert_eq!(v["params"]["bars_window"], 24);
    assert_eq!(
        v["params"]["crop_variants"],
        serde_json::json!([90, 80, 70])
    );
    assert!(v["stats"]["disk_bytes"].as_u64().unwrap() > 0);
    let o = env.run(&["info", "--db", s(&env.db())]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("leaked"));
    assert!(
        stdout(&o).contains(
            "cropped, when they look like padding (in video judged over 24 frames either side)"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn hash_prints_meta_style_lines() {
    let env = TestEnv::new();
    let o = env.run(&["hash", &demo("bank/bbb_t13s.jpg")]);
    expect_code(&o, 0);
    let line = stdout(&o);
    let fields: Vec<&str> = line.trim().split(',').collect();
    assert_eq!(fields.len(), 3);
    assert_eq!(fields[0].len(), 64);
    assert!(fields[1].parse::<u8>().unwrap() >= 50);
    assert!(fields[2].ends_with("bbb_t13s.jpg"));
    for algo in ["phash", "dhash", "mean", "block"] {
        let o = env.run(&["hash", "--algo", algo, &demo("bank/bbb_t13s.jpg")]);
        expect_code(&o, 0);
        assert_eq!(stdout(&o).split(',').next().unwrap().len(), 16, "{algo}");
    }
}

// ---- Bad input ---------------------------------------------------------------------

/// Standard CRC-32 (as PNG uses), so the test can forge a valid PNG header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A real 1×1 PNG whose header is rewritten to claim 100000×100000 pixels, with a
/// correct CRC, so only the size gives it away.
fn png_bomb() -> Vec<u8> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(1, 1))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ...
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn truncated_png() -> Vec<u8> {
    let img = image::open(demo("bank/bbb_t13s.jpg")).unwrap();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png.truncate(png.len() * 6 / 10);
    png
}

/// Builds a folder of bad files (five bad pictures, a good one and a directory loop) and
/// returns it.
fn bad_delivery(env: &TestEnv) -> std::path::PathBuf {
    let jpeg = std::fs::read(demo("bank/bbb_t13s.jpg")).unwrap();
    env.write("bad/empty.jpg", b"");
    env.write("bad/truncated.jpg", &jpeg[..jpeg.len() * 6 / 10]);
    env.write("bad/truncated.png", &truncated_png());
    env.write("bad/text.png", b"this is a delivery note, not a picture\n");
    env.write("bad/bomb.png", &png_bomb());
    env.write(
        "bad/good.jpg",
        &std::fs::read(demo("delivery/shot_020.jpg")).unwrap(),
    );
    let loop_dir = env.path("bad/loop/inner");
    std::fs::create_dir_all(&loop_dir).unwrap();
    std::os::unix::fs::symlink("..", loop_dir.join("back")).unwrap();
    env.path("bad")
}

#[test]
fn bad_files_get_per_file_errors_and_the_job_finishes() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let before = bank_assets(&env);
    let bad = bad_delivery(&env);
    let missing = env.path("does/not/exist.jpg");
    let Scan { output: o, report } = scan_json(&env, &[s(&bad), s(&missing)], &[]);
    expect_code(&o, 2);
    let scanned = report["scanned"].as_array().unwrap();
    let status = |suffix: &str| {
        scanned
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not in report: {scanned:#?}"))
            .clone()
    };
    for (suffix, needle) in [
        ("empty.jpg", "empty"),
        ("truncated.jpg", "JPEG"),
        ("truncated.png", "decode"),
        ("text.png", "not a recognised image"),
        ("bomb.png", "decode limit"),
        ("exist.jpg", "No such file"),
    ] {
        let f = status(suffix);
        assert_eq!(f["status"], "error", "{suffix}");
        let err = f["error"].as_str().unwrap();
        assert!(err.contains(needle), "{suffix}: {err}");
    }
    let looped = scanned
        .iter()
        .find(|f| f["error"].as_str().is_some_and(|e| e.contains("loop")));
    assert!(
        looped.is_some(),
        "directory loop not reported: {scanned:#?}"
    );
    assert_eq!(
        status("good.jpg")["status"],
        "ok",
        "the good file is still scanned"
    );
    assert_eq!(report["summary"]["errors"], 7);
    assert_eq!(bank_assets(&env), before, "a scan never changes the bank");
}

#[test]
fn indexing_bad_files_leaves_the_bank_unchanged() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let before = bank_assets(&env);
    let bad = bad_delivery(&env);
    std::fs::remove_file(bad.join("good.jpg")).unwrap();
    let o = env.run(&["index", "--db", s(&env.db()), s(&bad)]);
    expect_code(&o, 2);
    assert!(stdout(&o).contains("0 new assets"), "{}", stdout(&o));
    for name in [
        "empty.jpg",
        "truncated.jpg",
        "truncated.png",
        "text.png",
        "bomb.png",
    ] {
        assert!(
            stderr(&o).contains(name),
            "{name} not reported:\n{}",
            stderr(&o)
        );
    }
    assert_eq!(bank_assets(&env), before);
}

/// Every scan is recorded in the bank: `history` lists the runs with their exit status,
/// and `history RUN --json` gives back the report that scan wrote, byte for byte.
#[test]
fn scans_are_recorded_and_history_reproduces_their_reports() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let db = env.db();
    let clean = env.run(&["scan", "--db", s(&db), &demo("delivery/shot_020.jpg")]);
    expect_code(&clean, 0);
    let Scan {
        output: matched,
        report,
    } = scan_json(&env, &[&demo("delivery")], &[]);
    expect_code(&matched, 1);
    let run_id = report["run_id"]
        .as_str()
        .expect("report carries its run id");
    assert!(stderr(&matched).contains(run_id), "{}", stderr(&matched));
    // What was checked is tied to the report: every input's digest, and the version.
    assert!(report["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "ok")
        .all(|f| f["digest"].as_str().is_some_and(|d| d.len() == 64)));
    assert_eq!(report["celprint_version"], env!("CARGO_PKG_VERSION"));
    assert!(report["bank"]["generation"].as_u64().unwrap() > 0);

    let list = env.run(&["history", "--db", s(&db), "--json"]);
    expect_code(&list, 0);
    let runs: Value = serde_json::from_str(&stdout(&list)).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let exits: Vec<u64> = runs
        .iter()
        .map(|r| r["exit_status"].as_u64().unwrap())
        .collect();
    assert!(exits.contains(&0) && exits.contains(&1), "{exits:?}");
    assert!(runs.iter().any(|r| r["run_id"] == run_id));

    let again = env.run(&["history", "--db", s(&db), run_id, "--json"]);
    expect_code(&again, 0);
    let written = std::fs::read_to_string(env.path("report.json")).unwrap();
    assert_eq!(stdout(&again), written);

    let text = env.run(&["history", "--db", s(&db)]);
    assert!(stdout(&text).lines().count() == 3, "{}", stdout(&text));
    let missing = env.run(&["history", "--db", s(&db), "20990101T000000Z-1"]);
    expect_code(&missing, 2);
    assert!(
        stderr(&missing).contains("no recorded run"),
        "{}",
        stderr(&missing)
    );
    let traversal = env.run(&["history", "--db", s(&db), "../../etc/passwd"]);
    expect_code(&traversal, 2);
}

/// A still fitted into another aspect ratio with black bars matches the banked picture.
#[test]
fn letterboxed_still_matches_the_banked_picture() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let boxed = env.path("boxed.png");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i", &demo("bank/sintel_t04s.jpg")])
        .args(["-vf", "scale=640:272,pad=640:480:0:104:black", s(&boxed)])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let Scan { output: o, report } = scan_json(&env, &[s(&boxed)], &[]);
    expect_code(&o, 1);
    let m = &report["matches"][0];
    assert!(m["bank_asset"]["path"]
        .as_str()
        .unwrap()
        .ends_with("sintel_t04s.jpg"));
}

#[test]
fn html_report_shows_each_match_with_pictures_and_timecodes() {
    let env = TestEnv::new();
    index_demo_bank(&env);
    let html_path = env.path("report.html");
    let Scan { output: o, report } =
        scan_json(&env, &[&demo("delivery")], &["--html", s(&html_path)]);
    expect_code(&o, 1);
    let html = std::fs::read_to_string(&html_path).expect("HTML report written");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    let matches = report["matches"].as_array().unwrap().len();
    assert_eq!(html.matches("<article class=\"match\">").count(), matches);
    // A still gives one pair of pictures; each video (the reel, the inset, the reframe)
    // three pairs (start, middle, end).
    let pictures = html.matches("src=\"data:image/jpeg;base64,").count();
    assert_eq!(pictures, 2 * (matches - 3) + 3 * 2 * 3, "{html}");
    assert!(
        html.contains("shown in an inset of the delivered frame"),
        "{html}"
    );
    assert!(
        html.contains("matched by keypoints, not by the whole-frame hash"),
        "{html}"
    );
    // The inset is outlined on each of its delivered pictures, and nowhere else.
    assert_eq!(html.matches("<div class=\"inset\"").count(), 3, "{html}");
    assert!(!html.contains("no picture"), "every source is at hand");
    // Nothing is fetched from outside the file.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src=\"/"));
    // Timecodes at the reel's own 24 fps, on both sides of its run (about 3 s in the
    // delivery and 5 s in the bank clip, data/demo/TRUTH.md).
    let reel = match_of(&report, "reel_020.mp4");
    for side in ["query", "bank_asset"] {
        let start = reel[side]["start_s"].as_f64().unwrap();
        let tc = celprint::render::html::timecode(start, Some(24.0));
        assert!(tc.starts_with("00:00:0"), "{tc}");
        assert!(html.contains(&format!("{tc} – ")), "{side} {tc}");
    }
    // Header: what was scanned, against which bank and parameters.
    assert!(html.contains(&env.db().display().to_string()));
    assert!(html.contains("hold_distance"));
    assert!(html.contains("INC-1"));
    // Grouped by delivered file: each file's heading appears once.
    assert_eq!(html.matches("reel_020.mp4</h2>").count(), 1);
}

#[test]
fn html_report_says_why_a_picture_is_missing_and_the_scan_still_succeeds() {
    let env = TestEnv::new();
    let bank_copy = env.path("bank-media");
    std::fs::create_dir_all(&bank_copy).unwrap();
    std::fs::copy(
        demo("bank/popeye_t20s.jpg"),
        bank_copy.join("popeye_t20s.jpg"),
    )
    .unwrap();
    let o = env.run(&["index", "--db", s(&env.db()), s(&bank_copy)]);
    expect_code(&o, 0);
    // The banked file is then replaced by other bytes: its frame must not be shown.
    std::fs::copy(demo("bank/bbb_t05s.jpg"), bank_copy.join("popeye_t20s.jpg")).unwrap();
    let html_path = env.path("report.html");
    let Scan { output: o, .. } = scan_json(
        &env,
        &[&demo("delivery/shot_050.jpg")],
        &["--html", s(&html_path)],
    );
    expect_code(&o, 1);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("src=\"data:image/jpeg;base64,").count(), 1);
    assert!(
        html.contains("no picture: banked file not found with its digest"),
        "{html}"
    );
}

/// A new bank keeps centre crops unless told otherwise.
#[test]
fn still_cropped_into_the_safe_area_matches_a_new_bank() {
    let env = TestEnv::new();
    let banked = demo("bank/sintel_t16s.jpg");
    let o = env.run(&["index", "--db", s(&env.db()), &banked]);
    expect_code(&o, 0);
    // 10 % cut from every edge, scaled back to the original size.
    let img = image::open(&banked).unwrap();
    let (w, h) = (img.width(), img.height());
    let cropped = img
        .crop_imm(w / 10, h / 10, w - w / 5, h - h / 5)
        .resize_exact(w, h, image::imageops::FilterType::Triangle);
    let delivered = env.path("cropped.png");
    cropped.save(&delivered).unwrap();
    let Scan { output: o, report } = scan_json(&env, &[s(&delivered)], &[]);
    expect_code(&o, 1);
    let m = match_of(&report, "cropped.png");
    assert_eq!(m["bank_crop"], 80, "{m:#}");
    assert!(
        stdout(&o).contains("(bank centre crop 80 %)"),
        "{}",
        stdout(&o)
    );
}

fn scanned_entry<'a>(report: &'a Value, suffix: &str) -> &'a Value {
    report["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} is not in the report: {report:#}"))
}

#[test]
fn files_are_known_by_their_bytes_and_nothing_is_passed_over_unnamed() {
    let env = TestEnv::new();
    let banked = env.path("bank-src/frame.png");
    picture(&banked, 5);
    expect_code(&env.run(&["index", "--db", s(&env.db()), s(&banked)]), 0);
    // The banked clip of the demo, renamed: a video called .png, a still called .dat
    // and one with no extension at all.
    let delivery = env.path("delivery");
    std::fs::create_dir_all(&delivery).unwrap();
    std::fs::copy(&banked, delivery.join("frame.dat")).unwrap();
    std::fs::copy(&banked, delivery.join("frame")).unwrap();
    std::fs::copy(demo("bank/bbb_02-14s.mp4"), delivery.join("clip.png")).unwrap();
    std::fs::write(delivery.join("notes.txt"), "shot list\n").unwrap();
    let Scan { output: o, report } = scan_json(&env, &[s(&delivery)], &[]);
    expect_code(&o, 1);
    for name in ["frame.dat", "/frame"] {
        assert_eq!(scanned_entry(&report, name)["kind"], "still", "{report:#}");
        match_of(&report, name);
    }
    assert_eq!(scanned_entry(&report, "clip.png")["kind"], "video");
    assert_eq!(scanned_entry(&report, "notes.txt")["status"], "text");

    // Bytes no one can identify: named in the report, and the scan is not clean.
    std::fs::write(delivery.join("blob.bin"), [0u8, 0xff, 0x13, 0x37, 0, 1, 2]).unwrap();
    let Scan { output: o, report } = scan_json(&env, &[s(&delivery)], &[]);
    expect_code(&o, 2);
    let blob = scanned_entry(&report, "blob.bin");
    assert_eq!(blob["status"], "skipped");
    assert!(blob["error"]
        .as_str()
        .unwrap()
        .contains("unrecognised data"));
    assert_eq!(report["summary"]["verdict"], "not_checked");
    assert!(stdout(&o).contains("SKIPPED "), "{}", stdout(&o));
}

#[test]
fn what_was_not_checked_is_never_called_clean() {
    let env = TestEnv::new();
    // An empty bank: nothing to match against.
    let empty = env.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    expect_code(&env.run(&["index", "--db", s(&env.db()), s(&empty)]), 0);
    let picture_path = env.path("delivery/shot.png");
    picture(&picture_path, 3);
    let Scan { output: o, report } = scan_json(&env, &[s(&picture_path)], &[]);
    expect_code(&o, 2);
    assert_eq!(report["summary"]["verdict"], "not_checked");
    assert!(
        stdout(&o).contains("NOT CHECKED: the bank holds no assets"),
        "{}",
        stdout(&o)
    );

    let banked = env.path("bank-src/frame.png");
    picture(&banked, 9);
    expect_code(&env.run(&["index", "--db", s(&env.db()), s(&banked)]), 0);
    // A folder of notes alone (or the wrong folder): no picture was checked.
    let notes = env.path("notes-only/readme.txt");
    env.write("notes-only/readme.txt", b"delivery notes\n");
    let Scan { output: o, report } = scan_json(&env, &[s(notes.parent().unwrap())], &[]);
    expect_code(&o, 2);
    assert!(
        stdout(&o).contains("NOT CHECKED: no image or video was found to scan"),
        "{}",
        stdout(&o)
    );
    assert_eq!(report["summary"]["verdict"], "not_checked");
    // A flat picture: nothing in it can be evidence.
    let flat = env.path("delivery/flat.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90]))
        .save(&flat)
        .unwrap();
    let html = env.path("r.html");
    let csv = env.path("r.csv");
    let Scan { output: o, report } =
        scan_json(&env, &[s(&flat)], &["--html", s(&html), "--csv", s(&csv)]);
    expect_code(&o, 2);
    assert_eq!(scanned_entry(&report, "flat.png")["status"], "not_checked");
    // The CSV alone does not read as clean: the file has a row, with its status.
    let rows = std::fs::read_to_string(&csv).unwrap();
    let row = rows
        .lines()
        .find(|l| l.contains("flat.png"))
        .expect("a CSV row for the file not checked");
    assert!(row.contains("\"not_checked\""), "{row}");
    assert_eq!(report["summary"]["verdict"], "not_checked");
    assert!(stdout(&o).starts_with("NOT CHECKED "), "{}", stdout(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Not checked"), "the HTML names the verdict");
    assert!(!page.contains("Clean: no match"));

    // Things that are not files: a FIFO, and a link to a device, named directly or in a
    // folder. Never read (a FIFO would block), never passed over.
    let odd = env.path("odd");
    std::fs::create_dir_all(&odd).unwrap();
    let fifo = odd.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", odd.join("zero.png")).unwrap();
    for target in [fifo.clone(), odd.join("zero.png"), odd.clone()] {
        let Scan { output: o, report } = scan_json(&env, &[s(&target)], &[]);
        expect_code(&o, 2);
        assert_eq!(report["summary"]["verdict"], "error", "{report:#}");
        assert!(report["summary"]["files"].as_u64().unwrap() >= 1);
    }
    let Scan { report, .. } = scan_json(&env, &[s(&odd)], &[]);
    assert!(scanned_entry(&report, "pipe")["error"]
        .as_str()
        .unwrap()
        .contains("a FIFO"));
    assert!(scanned_entry(&report, "zero.png")["error"]
        .as_str()
        .unwrap()
        .contains("a character device"));
}

#[test]
fn odd_file_names_are_kept_byte_for_byte_and_found_again() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let bank_dir = env.path("bank-src");
    let latin1 = bank_dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9.png"));
    picture(&latin1, 4);
    let delivery = env.path("delivery");
    let two_lines = delivery.join("two\nlines.png");
    picture(&two_lines, 4);
    expect_code(&env.run(&["index", "--db", s(&env.db()), s(&bank_dir)]), 0);
    let html = env.path("r.html");
    let Scan { output: o, report } = scan_json(&env, &[s(&delivery)], &["--html", s(&html)]);
    expect_code(&o, 1);
    let m = &report["matches"][0];
    assert!(m["bank_asset"]["path"]
        .as_str()
        .unwrap()
        .ends_with("caf\\xe9.png"));
    assert!(m["query"]["path"]
        .as_str()
        .unwrap()
        .ends_with("two\\nlines.png"));
    // One line per match.
    let printed = stdout(&o);
    let lines: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("MATCH "))
        .collect();
    assert_eq!(lines.len(), 1, "{}", stdout(&o));
    assert!(lines[0].contains("two\\nlines.png"));
    // The HTML found both files again from the escaped text.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("changed or gone") && !page.contains("not found with its digest"),
        "pictures missing from the HTML report"
    );
}

/// The odd files in `tests/fixtures/odd` (see its README): each is named in the report
/// with what it is, the disguised media are matched, and the scan is not called clean.
#[test]
fn odd_files_in_a_delivery_are_each_accounted_for() {
    let env = TestEnv::new();
    let o = env.run(&["index", "--db", s(&env.db()), &demo("bank/popeye_t20s.jpg")]);
    expect_code(&o, 0);
    let odd = common::repo().join("tests/fixtures/odd");
    let Scan { output: o, report } = scan_json(&env, &[s(&odd)], &[]);
    expect_code(&o, 2);
    let entry = |name: &str| {
        let f = scanned_entry(&report, &format!("/{name}"));
        (
            f["status"].as_str().unwrap().to_string(),
            f["kind"].as_str().unwrap_or("").to_string(),
            f["error"].as_str().unwrap_or("").to_string(),
        )
    };
    for (name, status, kind, why) in [
        ("popeye-named.dat", "ok", "still", ""),
        ("popeye-no-extension", "ok", "still", ""),
        ("popeye-clip.png", "ok", "video", ""),
        ("popeye-truncated.jpg", "error", "", "JPEG"),
        (
            "not-a-picture.png",
            "error",
            "",
            "not a recognised image or video (text)",
        ),
        ("notes", "text", "", "plain text"),
        ("empty.jpg", "error", "", "empty"),
        ("noise.bin", "skipped", "", "unrecognised data"),
    ] {
        let (got_status, got_kind, got_why) = entry(name);
        assert_eq!(got_status, status, "{name}: {got_why}");
        if !kind.is_empty() {
            assert_eq!(got_kind, kind, "{name}");
        }
        assert!(got_why.contains(why), "{name}: {got_why}");
    }
    for name in ["popeye-named.dat", "popeye-no-extension", "popeye-clip.png"] {
        match_of(&report, name);
    }
    assert_eq!(report["summary"]["files"], 8);
    assert_eq!(report["summary"]["verdict"], "error");

    // `index` reads a file's kind from its name until it reads the file (a rerun skips
    // unchanged files unread), and then its bytes decide, as in a scan.
    let other = env.path("bank2");
    let o = env.run(&["index", "--db", s(&other), s(&odd)]);
    expect_code(&o, 2);
    let bank = celprint::bank::Bank::open(
        &other,
        &celprint::bank::OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    let kinds: Vec<(String, celprint::media::MediaKind)> = bank
        .assets()
        .unwrap()
        .into_iter()
        .map(|a| (a.path().rsplit('/').next().unwrap().to_string(), a.kind))
        .collect();
    assert!(
        kinds.contains(&(
            "popeye-clip.png".to_string(),
            celprint::media::MediaKind::Video
        )),
        "{kinds:?}"
    );
    let err = stderr(&o);
    for (name, why) in [
        (
            "not-a-picture.png",
            "not a recognised image or video (text)",
        ),
        ("popeye-truncated.jpg", "JPEG"),
        ("empty.jpg", "empty"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(name) && l.contains(why)),
            "{name}: {err}"
        );
    }
}

/// Shell completions and the manual page come from the parser's own definitions.
#[test]
fn completions_and_the_manual_page_are_generated_from_the_command_line() {
    let env = TestEnv::new();
    let o = env.run(&["completions", "bash"]);
    expect_code(&o, 0);
    let script = stdout(&o);
    assert!(script.contains("_celprint()"), "{script}");
    assert!(script.contains("--prune-all"), "every flag is completed");
    let o = env.run(&["man"]);
    expect_code(&o, 0);
    let page = stdout(&o);
    assert!(
        page.starts_with(".ie") || page.contains(".TH celprint"),
        "{page}"
    );
    assert!(page.contains("Content\\-provenance") || page.contains("Content-provenance"));
}
