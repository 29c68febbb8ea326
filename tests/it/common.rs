//! Shared helpers for the integration tests: where `../shared` is, a temporary
//! workspace, and a way to run the `celprint` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
