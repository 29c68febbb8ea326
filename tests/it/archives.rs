//! Deliveries as archives: zip, tar, tar.gz and tar.zst, one level of nesting, and
//! hostile archives built here with real zip and tar writers.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{expect_code, s, Scanned, TestEnv};

fn demo(rel: &str) -> PathBuf {
    common::repo().join("data/demo").join(rel)
}

fn bank(env: &TestEnv) {
    let o = env.run(&["index", "--db", s(&env.db()), s(&demo("bank"))]);
    expect_code(&o, 0);
}

/// Scans with TMPDIR inside the test folder, so the test can check that every unpacked
/// entry was removed, and returns the report.
fn scan(env: &TestEnv, target: &Path) -> Scanned {
    let tmp = env.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let json = env.path("report.json");
    let csv = env.path("report.csv");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_celprint"))
        .args([
            "scan",
            "--db",
            s(&env.db()),
            "--json",
            s(&json),
            "--csv",
            s(&csv),
            s(target),
        ])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "unpacked entries left behind: {leftovers:?}"
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    Scanned {
        code: o.status.code().unwrap(),
        report,
    }
}

/// The delivered paths with at least one match, sorted, each once (a frame can match a
/// banked still and the banked clip it comes from).
fn matched_paths(report: &Value) -> Vec<String> {
    let mut paths: Vec<String> = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["query"]["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// A file the scan could not read, and why.
#[derive(Debug)]
struct FileError {
    path: String,
    error: String,
}

/// The files of a report with the status `error`.
fn errors(report: &Value) -> Vec<FileError> {
    report["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "error")
        .map(|f| {
            let path = f["path"].as_str().unwrap().to_string();
            FileError {
                path,
                error: f["error"].as_str().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// A file to put in an archive: its path inside, and its bytes.
struct Entry<'a> {
    name: &'a str,
    bytes: &'a [u8],
}

fn zip_with(path: &Path, entries: &[Entry]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for entry in entries {
        zip.start_file(entry.name, opts).unwrap();
        zip.write_all(entry.bytes).unwrap();
    }
    zip.finish().unwrap();
}

fn tar_with(out: impl Write, entries: &[Entry]) -> impl Write {
    let mut tar = tar::Builder::new(out);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(entry.bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, entry.name, entry.bytes)
            .unwrap();
    }
    tar.into_inner().unwrap()
}

#[test]
fn entries_are_scanned_in_place_and_reported_with_their_inner_path() {
    let env = TestEnv::new();
    bank(&env);
    let copy = std::fs::read(demo("delivery/shot_050.jpg")).unwrap();
    let clean = std::fs::read(demo("delivery/shot_020.jpg")).unwrap();
    let zip = env.path("delivery.zip");
    zip_with(
        &zip,
        &[
            Entry {
                name: "shots/sh050.jpg",
                bytes: &copy,
            },
            Entry {
                name: "shots/sh020.jpg",
                bytes: &clean,
            },
            Entry {
                name: "notes.txt",
                bytes: b"x",
            },
        ],
    );
    let Scanned { code, report } = scan(&env, &zip);
    assert_eq!(code, 1, "{report:#}");
    let zip_name = format!("{}!/shots/sh050.jpg", zip.display());
    assert_eq!(matched_paths(&report), vec![zip_name.clone()]);
    // The two pictures, and the note listed as text (no pictures in it).
    assert_eq!(report["summary"]["files"], 3);
    assert_eq!(report["summary"]["text_files"], 1);
    assert_eq!(report["summary"]["skipped_not_media"], 0);
    let csv = std::fs::read_to_string(env.path("report.csv")).unwrap();
    assert!(csv.contains(&zip_name), "{csv}");
}

#[test]
fn a_zip_inside_a_compressed_tar_is_opened_one_level_deep() {
    let env = TestEnv::new();
    bank(&env);
    let copy = std::fs::read(demo("delivery/shot_050.jpg")).unwrap();
    let inner = env.path("inner.zip");
    zip_with(
        &inner,
        &[Entry {
            name: "shots/sh050.jpg",
            bytes: &copy,
        }],
    );
    let inner = std::fs::read(&inner).unwrap();
    let innermost = env.path("deeper.zip");
    zip_with(
        &innermost,
        &[Entry {
            name: "x.zip",
            bytes: &inner,
        }],
    );
    let deeper = std::fs::read(&innermost).unwrap();
    let entries: [Entry; 2] = [
        Entry {
            name: "vendor/inner.zip",
            bytes: &inner,
        },
        Entry {
            name: "vendor/deeper.zip",
            bytes: &deeper,
        },
    ];

    let gz = env.path("outer.tar.gz");
    let enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    tar_with(enc, &entries).flush().unwrap();
    let zst = env.path("outer.tar.zst");
    let enc = zstd::stream::write::Encoder::new(std::fs::File::create(&zst).unwrap(), 3)
        .unwrap()
        .auto_finish();
    drop(tar_with(enc, &entries));

    for outer in [gz, zst] {
        let Scanned { code, report } = scan(&env, &outer);
        assert_eq!(code, 2, "the too-deep one is an error: {report:#}");
        let expected = format!("{}!/vendor/inner.zip!/shots/sh050.jpg", outer.display());
        assert_eq!(matched_paths(&report), vec![expected]);
        let errs = errors(&report);
        assert!(
            errs.iter()
                .any(|f| f.path.ends_with("deeper.zip!/x.zip") && f.error.contains("nested")),
            "{errs:#?}"
        );
    }
}

/// Sets the "encrypted" flag of every entry, in the local headers and the central
/// directory: the zip writer here cannot encrypt, and the reader must refuse either way.
fn mark_encrypted(bytes: &mut [u8]) {
    for i in 0..bytes.len().saturating_sub(10) {
        if bytes[i..i + 4] == *b"PK\x03\x04" {
            bytes[i + 6] |= 1;
        }
        if bytes[i..i + 4] == *b"PK\x01\x02" {
            bytes[i + 8] |= 1;
        }
    }
}

#[test]
fn hostile_entries_get_their_own_errors_and_the_rest_is_scanned() {
    let env = TestEnv::new();
    bank(&env);
    let copy = std::fs::read(demo("delivery/shot_050.jpg")).unwrap();
    // A zip bomb: 64 MiB of zeros deflates to about 64 KiB.
    let bomb = vec![0u8; 64 << 20];
    let zip = env.path("hostile.zip");
    zip_with(
        &zip,
        &[
            Entry {
                name: "../../escaped.jpg",
                bytes: &copy,
            },
            Entry {
                name: "/etc/absolute.jpg",
                bytes: &copy,
            },
            Entry {
                name: "bomb.png",
                bytes: &bomb,
            },
            Entry {
                name: "shots/sh050.jpg",
                bytes: &copy,
            },
        ],
    );
    let Scanned { code, report } = scan(&env, &zip);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(matched_paths(&report).len(), 1, "{report:#}");
    let errs = errors(&report);
    let reason = |name: &str| {
        errs.iter()
            .find(|f| f.path.ends_with(name))
            .map(|f| f.error.clone())
            .unwrap_or_else(|| panic!("no error for {name}: {errs:#?}"))
    };
    assert!(reason("escaped.jpg").contains("unsafe path"));
    assert!(reason("absolute.jpg").contains("unsafe path"));
    assert!(reason("bomb.png").contains("zip bomb"));
    assert!(
        !env.path("escaped.jpg").exists()
            && !env
                .dir
                .path()
                .parent()
                .unwrap()
                .join("escaped.jpg")
                .exists()
    );

    let locked = env.path("locked.zip");
    zip_with(
        &locked,
        &[Entry {
            name: "shots/sh050.jpg",
            bytes: &copy,
        }],
    );
    let mut bytes = std::fs::read(&locked).unwrap();
    mark_encrypted(&mut bytes);
    std::fs::write(&locked, bytes).unwrap();
    let Scanned { code, report } = scan(&env, &locked);
    assert_eq!(code, 2);
    assert!(matched_paths(&report).is_empty());
    assert!(errors(&report)[0].error.contains("encrypted"), "{report:#}");
}

#[test]
fn links_in_a_tar_are_not_followed() {
    let env = TestEnv::new();
    bank(&env);
    let copy = std::fs::read(demo("delivery/shot_050.jpg")).unwrap();
    let path = env.path("links.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    tar.append_link(&mut link, "shots/passwd.jpg", "/etc/passwd")
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(copy.len() as u64);
    header.set_cksum();
    tar.append_data(&mut header, "shots/sh050.jpg", copy.as_slice())
        .unwrap();
    tar.finish().unwrap();
    drop(tar);
    let Scanned { code, report } = scan(&env, &path);
    assert_eq!(code, 2);
    assert_eq!(matched_paths(&report).len(), 1);
    let errs = errors(&report);
    assert!(
        errs[0].path.ends_with("passwd.jpg") && errs[0].error.contains("link"),
        "{errs:#?}"
    );
}

#[test]
fn truncated_archives_give_what_comes_before_the_damage() {
    let env = TestEnv::new();
    bank(&env);
    let first = std::fs::read(demo("delivery/shot_050.jpg")).unwrap();
    let second = std::fs::read(demo("delivery/shot_010.jpg")).unwrap();
    let filler = std::fs::read(demo("delivery/shot_020.jpg")).unwrap();
    let entries: [Entry; 3] = [
        Entry {
            name: "a.jpg",
            bytes: &first,
        },
        Entry {
            name: "b.jpg",
            bytes: &second,
        },
        Entry {
            name: "c.jpg",
            bytes: &filler,
        },
    ];
    let cut = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let keep = first.len() + second.len() + 2048;
        assert!(keep < bytes.len());
        std::fs::write(path, &bytes[..keep]).unwrap();
    };

    let zip = env.path("cut.zip");
    zip_with(&zip, &entries);
    cut(&zip);
    let gz = env.path("cut.tar.gz");
    let enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::none(),
    );
    tar_with(enc, &entries).flush().unwrap();
    cut(&gz);

    for archive in [zip, gz] {
        let Scanned { code, report } = scan(&env, &archive);
        assert_eq!(code, 2, "{report:#}");
        let found = matched_paths(&report);
        assert_eq!(found.len(), 2, "both entries before the cut: {report:#}");
        assert!(!errors(&report).is_empty());
    }
}

/// `index` reads archives the same way: assets are banked under their inner paths.
#[test]
fn index_banks_archive_entries_under_their_inner_paths() {
    let env = TestEnv::new();
    let copy = std::fs::read(demo("bank/bbb_t13s.jpg")).unwrap();
    let zip = env.path("leak.zip");
    zip_with(
        &zip,
        &[Entry {
            name: "dump/frame.jpg",
            bytes: &copy,
        }],
    );
    let o = env.run(&["index", "--db", s(&env.db()), s(&zip)]);
    expect_code(&o, 0);
    let bank = celprint::bank::Bank::open(
        &env.db(),
        &celprint::bank::OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    let assets = bank.assets().unwrap();
    assert_eq!(assets.len(), 1);
    assert_eq!(
        assets[0].paths,
        vec![format!("{}!/dump/frame.jpg", zip.display())]
    );
    drop(bank);
    let again = env.run(&["index", "--db", s(&env.db()), s(&zip)]);
    assert!(
        common::stdout(&again).contains("1 skipped unread"),
        "{}",
        common::stdout(&again)
    );
}
