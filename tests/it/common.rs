//! Shared helpers for the integration tests: where `../shared` is, a temporary
//! workspace, a way to run the `celprint` binary, and the banking, scanning and
//! media-making helpers that more than one module uses.
#![allow(dead_code)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, or `None` when it is absent and not required. With
/// `CELPRINT_REQUIRE_SHARED=1` (as in CI) a missing `../shared` fails the test instead of
/// skipping it.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("CELPRINT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("..").join("shared"));
    if dir.join("conformance").is_dir() {
        return Some(dir);
    }
    if std::env::var("CELPRINT_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "CELPRINT_REQUIRE_SHARED=1 but the shared data is not at {}",
            dir.display()
        );
    }
    eprintln!("SKIPPED: shared data not found at {}", dir.display());
    None
}

/// A temporary directory for one test, and the binary under test.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn db(&self) -> PathBuf {
        self.path("bank")
    }

    /// Runs `celprint` with `args`, with no CELPRINT_DB from the outside world.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_celprint"))
            .args(args)
            .env_remove("CELPRINT_DB")
            .current_dir(self.dir.path())
            .output()
            .expect("run celprint")
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with both output streams when the exit status is not `code`.
pub fn expect_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// A PNG with structure (so its PDQ quality is high) that differs with `seed`.
pub fn picture(path: &Path, seed: u32) {
    let img = image::RgbImage::from_fn(256, 192, |x, y| {
        let v = |k: u32| {
            let t = (x * (3 + seed % 7) + y * (5 + seed % 11) + k * seed) % 256;
            ((t as f32 / 40.0).sin() * 100.0 + 128.0) as u8
        };
        image::Rgb([v(1), v(2), v(3)])
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

/// A file under `../shared/media/video`. Used by `video` and `multiframe`.
pub fn media(shared: &Path, rel: &str) -> String {
    shared.join("media/video").join(rel).display().to_string()
}

/// Runs ffmpeg quietly, overwriting its output; panics when it fails. Used by `video`,
/// `multiframe` and `sequences`.
pub fn ffmpeg(args: &[&str]) {
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg")
        .success();
    assert!(ok, "ffmpeg {args:?}");
}

/// Runs ImageMagick's `convert` with `args`; panics with its stderr when it fails. Used
/// by `fingerprints` and `multiframe`.
pub fn convert(args: &[&str]) {
    let o = Command::new("convert")
        .args(args)
        .output()
        .expect("ImageMagick's convert");
    assert!(
        o.status.success(),
        "convert {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Banks `files` in the test's bank; panics unless the index exits 0. Used by `video`
/// and `multiframe`.
pub fn index(env: &TestEnv, files: &[&str]) {
    let db = env.db();
    let mut args = vec!["index", "--db", s(&db)];
    args.extend_from_slice(files);
    expect_code(&env.run(&args), 0);
}

/// What a scan gave: its exit status and its JSON report. Used by `video`, `multiframe`
/// and `archives`.
pub struct Scanned {
    pub code: i32,
    pub report: Value,
}

/// Scans `files` against the test's bank. Used by `video` and `multiframe`.
pub fn scan(env: &TestEnv, files: &[&str]) -> Scanned {
    scan_with(env, &[], files)
}

/// `scan` with `extra` options before the files. Used by `video` (and by `scan`).
pub fn scan_with(env: &TestEnv, extra: &[&str], files: &[&str]) -> Scanned {
    let json = env.path("r.json");
    let db = env.db();
    let mut args = vec!["scan", "--db", s(&db), "--json", s(&json)];
    args.extend_from_slice(extra);
    args.extend_from_slice(files);
    let o = env.run(&args);
    let report = serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).unwrap();
    Scanned {
        code: o.status.code().unwrap(),
        report,
    }
}

/// One match of a scan report: the delivered and banked files (by name) and the
/// seconds each side matched over. Used by `video` and `multiframe`.
#[derive(Debug, Clone)]
pub struct Run {
    pub query: String,
    pub bank: String,
    pub query_start: f64,
    pub query_end: f64,
    pub bank_start: f64,
    pub bank_end: f64,
}

/// The matches in a scan report, in its order. Used by `video` and `multiframe`.
pub fn runs(report: &Value) -> Vec<Run> {
    let name = |p: &Value| p.as_str().unwrap().rsplit('/').next().unwrap().to_string();
    report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Run {
            query: name(&m["query"]["path"]),
            bank: name(&m["bank_asset"]["path"]),
            query_start: m["query"]["start_s"].as_f64().unwrap(),
            query_end: m["query"]["end_s"].as_f64().unwrap(),
            bank_start: m["bank_asset"]["start_s"].as_f64().unwrap(),
            bank_end: m["bank_asset"]["end_s"].as_f64().unwrap(),
        })
        .collect()
}

/// Two times within 0.5 s of each other. Used by `video` (and by `assert_ranges`).
pub fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.5
}

/// A run's delivered and banked ranges are each within 0.5 s of the truth. Used by
/// `video` and `multiframe`.
pub fn assert_ranges(r: &Run, query: Range<f64>, bank: Range<f64>) {
    assert!(
        near(r.query_start, query.start) && near(r.query_end, query.end),
        "query range {r:?}, truth {query:?}"
    );
    assert!(
        near(r.bank_start, bank.start) && near(r.bank_end, bank.end),
        "bank range {r:?}, truth {bank:?}"
    );
}
