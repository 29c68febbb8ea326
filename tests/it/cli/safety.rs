//! Command-line safety: report paths that would destroy something, banks that cannot be
//! opened, CSV cells a spreadsheet would run, and numeric options out of range.

use std::process::Output;

use super::demo;
use crate::common::{expect_code, s, stderr, stdout, TestEnv};

/// A bank of one banked still (the mirrored demo shot matches it).
fn small_bank(env: &TestEnv) {
    let o = env.run(&["index", "--db", "bank", &demo("bank/popeye_t20s.jpg")]);
    expect_code(&o, 0);
}

/// Exit 2 with one line on stderr holding every needle, and no scan recorded: the
/// refusal came before any work.
fn refused(env: &TestEnv, o: &Output, needles: &[&str]) {
    expect_code(o, 2);
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    assert!(
        !env.db().join("runs").exists(),
        "a scan ran before the refusal"
    );
}

fn copy(env: &TestEnv, from: &str, to: &str) -> std::path::PathBuf {
    let to = env.path(to);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(demo(from), &to).unwrap();
    to
}

/// `scan --csv deliv/*.mp4`: the shell makes the first video the CSV path.
#[test]
fn report_path_filled_by_a_glob_is_refused_and_the_video_kept() {
    let env = TestEnv::new();
    small_bank(&env);
    for name in ["pip_090.mp4", "reel_020.mp4", "reframe_100.mp4"] {
        copy(&env, &format!("delivery/{name}"), &format!("deliv/{name}"));
    }
    let first = std::fs::read(env.path("deliv/pip_090.mp4")).unwrap();
    let globbed = [
        "scan",
        "--db",
        "bank",
        "--csv",
        "deliv/pip_090.mp4",
        "deliv/reel_020.mp4",
        "deliv/reframe_100.mp4",
    ];
    let o = env.run(&globbed);
    refused(&env, &o, &["--csv deliv/pip_090.mp4", "media file", "glob"]);
    // Not even with --force: no report is named .mp4.
    let mut forced = globbed.to_vec();
    forced.insert(3, "--force");
    refused(&env, &env.run(&forced), &["deliv/pip_090.mp4"]);
    assert!(std::fs::read(env.path("deliv/pip_090.mp4")).unwrap() == first);
}

#[test]
fn report_inside_the_bank_is_refused_and_the_bank_still_opens() {
    let env = TestEnv::new();
    small_bank(&env);
    let current = std::fs::read(env.db().join("CURRENT")).unwrap();
    let shot = demo("delivery/shot_050.jpg");
    for (flag, path) in [
        ("--json", "bank/CURRENT"),
        ("--json", "./bank/../bank/CURRENT"),
        ("--csv", "bank/report.csv"),
        ("--html", "bank/page.html"),
    ] {
        let o = env.run(&["scan", "--db", "bank", flag, path, &shot]);
        refused(&env, &o, &[flag, path, "inside the bank directory"]);
        let o = env.run(&["scan", "--force", "--db", "bank", flag, path, &shot]);
        expect_code(&o, 2);
    }
    assert_eq!(std::fs::read(env.db().join("CURRENT")).unwrap(), current);
    expect_code(&env.run(&["info", "--db", "bank"]), 0);
    // The bank is named by a path of its own; the report's is compared after resolving.
    let o = env.run(&["scan", "--db", "./bank/", "--json", "bank/CURRENT", &shot]);
    refused(&env, &o, &["inside the bank directory"]);
}

#[test]
fn report_over_an_input_is_refused_even_with_force() {
    let env = TestEnv::new();
    small_bank(&env);
    // A still under a name the walk does not know is still read when named.
    let input = copy(&env, "delivery/shot_050.jpg", "frame.dat");
    let bytes = std::fs::read(&input).unwrap();
    std::fs::hard_link(&input, env.path("alias.json")).unwrap();
    for target in ["frame.dat", "alias.json"] {
        for force in [&[][..], &["--force"][..]] {
            let mut args = vec!["scan", "--db", "bank", "--json", target];
            args.extend_from_slice(force);
            args.push("frame.dat");
            refused(&env, &env.run(&args), &[target, "one of the inputs"]);
        }
    }
    assert_eq!(std::fs::read(&input).unwrap(), bytes);
    // compare: the reference is an input too.
    let a = copy(&env, "delivery/shot_050.jpg", "a.jpg");
    let b = copy(&env, "bank/popeye_t20s.jpg", "b.jpg");
    let o = env.run(&["compare", "--json", "b.jpg", s(&a), s(&b)]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("one of the inputs"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&b).unwrap(),
        std::fs::read(demo("bank/popeye_t20s.jpg")).unwrap()
    );
}

#[test]
fn report_under_an_input_directory_or_over_a_foreign_file_needs_force() {
    let env = TestEnv::new();
    small_bank(&env);
    copy(&env, "delivery/shot_050.jpg", "deliv/shot_050.jpg");
    let o = env.run(&["scan", "--db", "bank", "--json", "deliv/r.json", "deliv"]);
    refused(
        &env,
        &o,
        &["deliv/r.json", "under the input directory", "--force"],
    );
    let o = env.run(&[
        "scan",
        "--db",
        "bank",
        "--force",
        "--json",
        "deliv/r.json",
        "deliv",
    ]);
    expect_code(&o, 1);
    assert!(env.path("deliv/r.json").is_file());

    let env = TestEnv::new();
    small_bank(&env);
    let shot = demo("delivery/shot_050.jpg");
    let notes = env.write("notes.txt", b"chain of custody, keep me\n");
    let o = env.run(&["scan", "--db", "bank", "--json", "notes.txt", &shot]);
    refused(&env, &o, &["notes.txt", "not a celprint report", "--force"]);
    assert_eq!(
        std::fs::read(&notes).unwrap(),
        b"chain of custody, keep me\n"
    );
    let o = env.run(&[
        "scan",
        "--db",
        "bank",
        "--force",
        "--json",
        "notes.txt",
        &shot,
    ]);
    expect_code(&o, 1);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&notes).unwrap()).unwrap();
    assert_eq!(v["summary"]["matches"], 1);
}

/// A report of ours (each kind) and an empty file are overwritten without --force, so a
/// nightly job writing the same paths keeps working.
#[test]
fn reports_of_ours_and_empty_files_are_overwritten() {
    let env = TestEnv::new();
    small_bank(&env);
    env.write("empty.json", b"");
    let shot = demo("delivery/shot_050.jpg");
    let args = [
        "scan", "--db", "bank", "--json", "r.json", "--csv", "r.csv", "--html", "r.html", &shot,
    ];
    expect_code(&env.run(&args), 1);
    expect_code(&env.run(&args), 1);
    let o = env.run(&[
        "scan",
        "--db",
        "bank",
        "--csv-no-bom",
        "--csv",
        "r.csv",
        &shot,
    ]);
    expect_code(&o, 1);
    expect_code(&env.run(&args), 1);
    expect_code(
        &env.run(&["scan", "--db", "bank", "--json", "empty.json", &shot]),
        1,
    );
    for (report, start) in [
        ("r.json", "{"),
        ("r.csv", "\u{feff}\"query_path\""),
        ("r.html", "<!DOCTYPE html>"),
        ("empty.json", "{"),
    ] {
        let text = std::fs::read_to_string(env.path(report)).unwrap();
        assert!(text.starts_with(start), "{report}: {text}");
    }
}

#[test]
fn two_reports_into_one_place_and_paths_that_cannot_be_files_are_refused() {
    let env = TestEnv::new();
    small_bank(&env);
    std::fs::create_dir(env.path("out")).unwrap();
    let shot = demo("delivery/shot_050.jpg");
    for (args, needles) in [
        (
            &["--json", "r.txt", "--csv", "./r.txt"][..],
            &["--csv ./r.txt", "--json writes to the same file"][..],
        ),
        (
            &["--json", "-", "--csv", "-"],
            &["--json and --csv", "stdout"],
        ),
        (
            &["--csv", "-", "--html", "-"],
            &["--csv and --html", "stdout"],
        ),
        (&["--json", "out"], &["--json out", "directory"]),
        (
            &["--json", "nowhere/r.json"],
            &["--json nowhere/r.json", "No such file"],
        ),
    ] {
        let mut full = vec!["scan", "--db", "bank", "--force"];
        full.extend_from_slice(args);
        full.push(&shot);
        refused(&env, &env.run(&full), needles);
    }
    assert!(!env.path("r.txt").exists());
    // One report to stdout is fine, and so is a device.
    expect_code(
        &env.run(&[
            "scan",
            "--db",
            "bank",
            "--json",
            "-",
            "--csv",
            "/dev/null",
            &shot,
        ]),
        1,
    );
}

// ---- Banks that cannot be opened -------------------------------------------------

#[test]
fn history_of_a_missing_bank_is_an_error() {
    let env = TestEnv::new();
    for args in [
        &["history", "--db", "nothing"][..],
        &["history", "--db", "nothing", "--json"],
        &["history", "--db", "nothing", "20990101T000000Z-1"],
    ] {
        let o = env.run(args);
        expect_code(&o, 2);
        assert_eq!(stdout(&o), "", "no table");
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains("no bank at nothing"), "{}", stderr(&o));
    }
}

#[test]
fn a_bank_path_that_is_a_file_is_refused_by_every_command() {
    let env = TestEnv::new();
    let file = env.write("bank.db", b"not a bank\n");
    let shot = demo("delivery/shot_050.jpg");
    for args in [
        &["index", "--db", "bank.db", &shot][..],
        &["scan", "--db", "bank.db", &shot],
        &["info", "--db", "bank.db"],
        &["history", "--db", "bank.db"],
    ] {
        let o = env.run(args);
        expect_code(&o, 2);
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("bank.db is a file, not a bank; give --db the bank's directory"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a bank\n");
}

#[test]
fn a_second_writer_is_told_the_bank_is_locked() {
    let env = TestEnv::new();
    // This process holds the write lock, as a running index would.
    let held = celprint::bank::Bank::open(
        &env.db(),
        &celprint::bank::OpenOptions {
            create: true,
            ..Default::default()
        },
    )
    .expect("open for writing");
    let o = env.run(&["index", "--db", s(&env.db()), &demo("bank/popeye_t20s.jpg")]);
    expect_code(&o, 2);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    let bank = format!("bank at {} is locked", env.db().display());
    assert!(err.contains(&bank), "{err}");
    assert!(err.contains("wait for it to finish"), "{err}");
    assert_eq!(err.matches("lock file").count(), 1, "said once: {err}");
    // A scan reads while the writer writes (here an empty bank, so nothing is checked).
    let o = env.run(&["scan", "--db", s(&env.db()), &demo("delivery/shot_050.jpg")]);
    expect_code(&o, 2);
    assert!(stdout(&o).contains("NOT CHECKED: the bank holds no assets"));
    drop(held);
    let o = env.run(&["index", "--db", s(&env.db()), &demo("bank/popeye_t20s.jpg")]);
    expect_code(&o, 0);
}

// ---- CSV for spreadsheets ----------------------------------------------------------

/// A delivered file named as a formula, banked with a note and a source that begin like
/// formulas: every such cell is escaped with a `'`, quoted, and the numbers are not.
#[test]
fn csv_cells_that_would_run_as_formulas_are_escaped() {
    let env = TestEnv::new();
    let name = "=HYPERLINK(\"evil.example?q=1\",\"open\").png";
    let img = image::open(demo("bank/popeye_t20s.jpg")).unwrap();
    img.save(env.path(name)).unwrap();
    let o = env.run(&[
        "index", "--db", "bank", "--note", "+cmd", "--source", "@vendor", name,
    ]);
    expect_code(&o, 0);
    let o = env.run(&["scan", "--db", "bank", "--csv", "r.csv", name]);
    expect_code(&o, 1);
    let bytes = std::fs::read(env.path("r.csv")).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF\"query_path\","),
        "BOM first"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    let cell = |col: &str| &row[header.iter().position(|h| h == col).unwrap()];
    // Paths are absolute, so a formula-named file cannot open its cell; the name is
    // kept as it is.
    let absolute = format!("{}/{name}", env.dir.path().display());
    assert_eq!(cell("query_path"), absolute);
    assert_eq!(cell("bank_path"), absolute);
    assert_eq!(cell("bank_note"), "'+cmd");
    assert_eq!(cell("bank_source"), "'@vendor");
    assert_eq!(cell("distance"), "0");
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.contains("/=HYPERLINK(\"\"evil.example?q=1\"\",\"\"open\"\").png\","),
        "{line}"
    );
    assert!(line.contains(",\"'+cmd\","), "{line}");
    assert!(
        line.contains(",\"identity\",1.0000,\"\","),
        "numbers bare, text quoted: {line}"
    );
    let o = env.run(&["scan", "--db", "bank", "--csv-no-bom", "--csv", "-", name]);
    expect_code(&o, 1);
    assert!(stdout(&o).starts_with("\"query_path\","), "{}", stdout(&o));
}

// ---- Numeric options -------------------------------------------------------------

#[test]
fn numeric_options_out_of_range_are_refused_before_anything_runs() {
    let env = TestEnv::new();
    let shot = demo("delivery/shot_050.jpg");
    for args in [
        &["scan", "--db", "bank", "--min-fraction", "2", &shot][..],
        &["scan", "--db", "bank", "--min-fraction", "0", &shot],
        &["scan", "--db", "bank", "--min-duration=-1", &shot],
        &["scan", "--db", "bank", "--fps", "0", &shot],
        &["compare", "--min-fraction", "1.5", &shot, &shot],
        &["compare", "--min-duration", "inf", &shot, &shot],
        &["index", "--db", "bank", "--fps", "NaN", &shot],
        &["hash", "--fps=-2", &shot],
        &["hash", "--max-megapixels", "0", &shot],
        &["--jobs", "0", "hash", &shot],
        &["scan", "--db", "bank", "--max-distance", "300", &shot],
    ] {
        let o = env.run(args);
        expect_code(&o, 2);
        assert!(
            stderr(&o).contains("invalid value"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(!env.db().exists(), "nothing ran");
    // The bounds themselves are accepted.
    let o = env.run(&[
        "compare",
        "--min-fraction",
        "1",
        "--min-duration",
        "0",
        "--fps",
        "0.5",
        &shot,
        &shot,
    ]);
    expect_code(&o, 1);
}

/// Decoded size is capped at --max-megapixels, checked before decoding.
#[test]
fn decode_limit_is_configurable() {
    let env = TestEnv::new();
    let big = env.path("big.png");
    image::RgbImage::from_pixel(1500, 1000, image::Rgb([90, 120, 200]))
        .save(&big)
        .unwrap();
    let o = env.run(&["hash", "--max-megapixels", "1", s(&big)]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("decode limit"), "{}", stderr(&o));
    expect_code(&env.run(&["hash", "--max-megapixels", "2", s(&big)]), 0);
}
