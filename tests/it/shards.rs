//! Jobs spread over machines: `index --shard I/N` slices, `celprint merge` (a merged
//! bank is the one-machine bank, and a merge that fails or is killed changes nothing),
//! and `scan --shard` slices joined by `celprint report merge`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde_json::Value;

use crate::common::{expect_code, picture, s, shared, stderr, stdout, TestEnv};

fn zip_of(path: &Path, files: &[PathBuf]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap();
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(f).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

fn index_into(env: &TestEnv, db: &Path, extra: &[&str], inputs: &[&str]) {
    let mut args = vec!["index", "--db", s(db)];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    expect_code(&env.run(&args), 0);
}

/// The bank as `merge --dump` writes it: comparable across banks.
fn dump(env: &TestEnv, db: &Path) -> String {
    let o = env.run(&["merge", "--db", s(db), "--dump"]);
    expect_code(&o, 0);
    stdout(&o)
}

/// `n` shard banks of `inputs`, named `shard1`…
fn shards(env: &TestEnv, n: u32, inputs: &[&str]) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let db = env.path(&format!("shard{i}"));
            index_into(env, &db, &["--shard", &format!("{i}/{n}")], inputs);
            db
        })
        .collect()
}

fn merge(env: &TestEnv, db: &Path, shards: &[PathBuf]) -> std::process::Output {
    let mut args = vec!["merge", "--db", s(db)];
    args.extend(shards.iter().map(|p| s(p)));
    env.run(&args)
}

/// A folder of `n` distinct pictures, with a zip holding copies of the first three
/// (the same bytes under other paths) and a note.
fn generated(env: &TestEnv, n: u32) -> PathBuf {
    let dir = env.path("media");
    for i in 0..n {
        picture(&dir.join(format!("p{i:02}.png")), i + 1);
    }
    let copies: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("p{i:02}.png"))).collect();
    zip_of(&dir.join("delivery.zip"), &copies);
    std::fs::write(dir.join("notes.txt"), "nothing to see").unwrap();
    dir
}

/// The paths a bank holds records for, from its dump.
fn banked_paths(dump: &str) -> BTreeSet<String> {
    dump.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["path"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn shards_take_every_input_once_and_keep_an_archive_whole() {
    let env = TestEnv::new();
    let dir = generated(&env, 12);
    let one = env.path("one");
    index_into(&env, &one, &[], &[s(&dir)]);
    let all = banked_paths(&dump(&env, &one));
    assert_eq!(all.len(), 12 + 3, "{all:?}");
    let parts = shards(&env, 3, &[s(&dir)]);
    let mut union = BTreeSet::new();
    let mut holding_zip = 0;
    for p in &parts {
        let paths = banked_paths(&dump(&env, p));
        let in_zip = paths.iter().filter(|p| p.contains(".zip!/")).count();
        assert!(in_zip == 0 || in_zip == 3, "an archive split: {paths:?}");
        holding_zip += (in_zip == 3) as usize;
        for path in paths {
            assert!(union.insert(path.clone()), "{path} in two shards");
        }
    }
    assert_eq!(holding_zip, 1);
    assert_eq!(union, all);
    // A slice that takes nothing is allowed (a small job, many tasks), and a bad one
    // is refused before anything starts.
    let o = env.run(&[
        "index",
        "--db",
        s(&env.path("x")),
        "--shard",
        "4/3",
        s(&dir),
    ]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("1 <= I <= N"), "{}", stderr(&o));
    let o = env.run(&[
        "index",
        "--db",
        s(&env.path("x")),
        "--shard",
        "1/3",
        "--prune",
        s(&dir),
    ]);
    expect_code(&o, 2);
}

/// The test: on real media (stills, storyboard boards and a PDF, videos, and
/// copies of banked bytes in an archive), the bank merged from three shards holds what
/// the one-machine bank holds (assets, digests, segments, keypoints, path records, and
/// the search's answers for every banked segment), and a scan answers the same.
#[test]
fn a_merged_bank_is_the_one_machine_bank() {
    let Some(shared) = shared() else { return };
    let env = TestEnv::new();
    let m = shared.join("media");
    let copies: Vec<PathBuf> = ["frog.png", "gecko.png", "rocket.png"]
        .iter()
        .map(|n| m.join("stills/lineart").join(n))
        .collect();
    let zip = env.path("copies.zip");
    zip_of(&zip, &copies);
    let inputs: Vec<String> = [
        m.join("stills/lineart"),
        m.join("storyboards/boards"),
        m.join("storyboards/pages/grid6.pdf"),
        m.join("video/bbb/moviepy_doc_example2_bbb_2s.mp4"),
        m.join("video/bbb/smelter_big_buck_bunny_10s.mp4"),
        zip.clone(),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let one = env.path("one");
    index_into(&env, &one, &[], &inputs);
    let parts = shards(&env, 3, &inputs);
    let merged = env.path("merged");
    let o = merge(&env, &merged, &parts);
    expect_code(&o, 0);
    let (a, b) = (dump(&env, &one), dump(&env, &merged));
    assert!(a.lines().count() > 40, "{a}");
    assert!(
        a.contains(".zip!/frog.png"),
        "the copies are banked as paths"
    );
    assert!(
        a.contains("\"features\":\""),
        "videos' keypoints are in the dump"
    );
    let differ: Vec<_> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
    assert!(a == b, "banks differ:\n{differ:#?}");
    // The merge is on record in the bank.
    let records: Vec<_> = std::fs::read_dir(merged.join("merges")).unwrap().collect();
    assert_eq!(records.len(), 1);

    let delivery = [
        m.join("stills/lineart/elephant.png"),
        m.join("storyboards/boards/bbb_f0216.png"),
        m.join("video/bbb/moviepy_doc_example2_bbb_2s.mp4"),
    ];
    let scan = |db: &Path, name: &str| -> (i32, Vec<String>) {
        let json = env.path(name);
        let mut args = vec!["scan", "--db", s(db), "--json", s(&json)];
        args.extend(delivery.iter().map(|p| s(p)));
        let code = env.run(&args).status.code().unwrap();
        let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let mut found: Vec<String> = report["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {} {} {} {} {}",
                    m["query"]["path"],
                    m["bank_asset"]["digest"],
                    m["query"]["start_s"],
                    m["query"]["end_s"],
                    m["bank_asset"]["start_s"],
                    m["distance"]
                )
            })
            .collect();
        found.sort();
        (code, found)
    };
    let (code_one, found_one) = scan(&one, "one.json");
    let (code_merged, found_merged) = scan(&merged, "merged.json");
    assert_eq!(code_one, 1);
    assert!(found_one.len() >= 3, "{found_one:#?}");
    assert_eq!((code_one, found_one), (code_merged, found_merged));
}

#[test]
fn merge_refuses_a_shard_made_with_other_parameters_and_changes_nothing() {
    let env = TestEnv::new();
    let dir = generated(&env, 6);
    let bank = env.path("bank");
    index_into(&env, &bank, &["--shard", "1/2"], &[s(&dir)]);
    let odd = env.path("odd");
    index_into(
        &env,
        &odd,
        &["--shard", "2/2", "--no-crop-variants"],
        &[s(&dir)],
    );
    let before = dump(&env, &bank);
    let o = merge(&env, &bank, &[odd]);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("other fingerprint parameters")
            || stderr(&o).contains("fingerprint parameters"),
        "{}",
        stderr(&o)
    );
    assert_eq!(dump(&env, &bank), before);
    assert!(
        !env.path(".bank.merging").exists(),
        "the staged copy is removed"
    );
}

/// A merge cancelled after its first shard is staged leaves the bank as it was: the
/// shard's files were ingested, but into the staged copy, never swapped in.
#[test]
fn a_cancelled_merge_leaves_the_bank_as_it_was() {
    let env = TestEnv::new();
    let dir = generated(&env, 9);
    let parts = shards(&env, 3, &[s(&dir)]);
    let bank = env.path("bank");
    std::fs::rename(&parts[0], &bank).unwrap();
    let before = dump(&env, &bank);
    let cancel = AtomicBool::new(false);
    let staged = |n: usize| {
        if n == 1 {
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let result = celprint::bank::merge_shards(
        &bank,
        &parts[1..],
        &celprint::bank::MergeOptions {
            by: None,
            cancel: &cancel,
            staged: &staged,
        },
    );
    assert!(
        matches!(result, Err(celprint::bank::MergeError::Cancelled)),
        "{result:?}"
    );
    assert_eq!(dump(&env, &bank), before);
    assert!(!env.path(".bank.merging").exists());
    // The same merge, let run, is whole.
    expect_code(&merge(&env, &bank, &parts[1..]), 0);
    assert_eq!(banked_paths(&dump(&env, &bank)).len(), 9 + 3);
}

/// `kill -9` at any moment of a merge leaves the bank either as it was or merged,
/// never in between, and the merge can be run again.
#[test]
fn a_killed_merge_leaves_the_bank_whole() {
    let env = TestEnv::new();
    let dir = generated(&env, 24);
    let parts = shards(&env, 4, &[s(&dir)]);
    let base = env.path("base");
    std::fs::rename(&parts[0], &base).unwrap();
    let before = dump(&env, &base);
    let after = {
        let probe = env.path("probe");
        copy_dir(&base, &probe);
        expect_code(&merge(&env, &probe, &parts[1..]), 0);
        dump(&env, &probe)
    };
    assert_ne!(before, after);
    // Kills spread over the time a whole merge takes, from before it opens anything to
    // after it is done.
    let took = {
        let probe = env.path("timed");
        copy_dir(&base, &probe);
        let start = std::time::Instant::now();
        expect_code(&merge(&env, &probe, &parts[1..]), 0);
        start.elapsed()
    };
    let mut outcomes = BTreeSet::new();
    for step in 0..8u32 {
        let delay = took * step / 6;
        let delay_ms = delay.as_millis();
        let bank = env.path(&format!("bank{delay_ms}"));
        copy_dir(&base, &bank);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_celprint"))
            .args(["merge", "--db", s(&bank)])
            .args(parts[1..].iter().map(|p| s(p)))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let now = dump(&env, &bank);
        assert!(
            now == before || now == after,
            "killed after {delay_ms} ms: a bank in between"
        );
        outcomes.insert(now == after);
        expect_code(&merge(&env, &bank, &parts[1..]), 0);
        assert_eq!(
            dump(&env, &bank),
            after,
            "merged again after a kill at {delay_ms} ms"
        );
    }
    eprintln!("a merge takes {took:?}; kills that left the bank merged: {outcomes:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn scan_json(
    env: &TestEnv,
    db: &Path,
    extra: &[&str],
    inputs: &[&str],
    name: &str,
) -> (i32, Value, PathBuf) {
    let json = env.path(name);
    let mut args = vec!["scan", "--db", s(db), "--json", s(&json)];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    let o = env.run(&args);
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (o.status.code().unwrap(), report, json)
}

/// Slices of a scan joined are the whole scan: the same verdict, files and matches,
/// recorded as one run; a slice missing makes the delivery not clean, even when every
/// slice given is clean; and a slice with no picture in it does not.
#[test]
fn scan_slices_join_into_the_whole_scan() {
    let env = TestEnv::new();
    let dir = generated(&env, 8);
    let bank = env.path("bank");
    index_into(
        &env,
        &bank,
        &[],
        &[
            s(&dir.join("p00.png")),
            s(&dir.join("p01.png")),
            s(&dir.join("p02.png")),
        ],
    );
    let (whole_code, whole, _) = scan_json(&env, &bank, &[], &[s(&dir)], "whole.json");
    // The note is text (no obstacle to clean); p00-p02 and their copies in the zip match.
    assert_eq!(whole_code, 1, "{}", whole["summary"]);
    let slice_paths: Vec<PathBuf> = (1..=3)
        .map(|i| {
            scan_json(
                &env,
                &bank,
                &["--shard", &format!("{i}/3")],
                &[s(&dir)],
                &format!("slice{i}.json"),
            )
            .2
        })
        .collect();
    let joined_path = env.path("joined.json");
    let mut args = vec![
        "report",
        "merge",
        "--db",
        s(&bank),
        "--json",
        s(&joined_path),
    ];
    args.extend(slice_paths.iter().map(|p| s(p)));
    let o = env.run(&args);
    let joined: Value = serde_json::from_slice(&std::fs::read(&joined_path).unwrap()).unwrap();
    assert_eq!(o.status.code(), Some(whole_code), "{}", stderr(&o));
    assert_eq!(joined["summary"]["verdict"], whole["summary"]["verdict"]);
    let files = |r: &Value| -> BTreeSet<String> {
        r["scanned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["path"], f["status"]))
            .collect()
    };
    assert_eq!(files(&joined), files(&whole));
    let hits = |r: &Value| -> Vec<String> {
        let mut v: Vec<String> = r["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| format!("{} {}", m["query"]["path"], m["bank_asset"]["digest"]))
            .collect();
        v.sort();
        v
    };
    assert_eq!(hits(&joined), hits(&whole));
    assert_eq!(joined["slices"].as_array().unwrap().len(), 3);
    let history = env.run(&["history", "--db", s(&bank)]);
    assert!(
        stdout(&history).contains(joined["run_id"].as_str().unwrap()),
        "{}",
        stdout(&history)
    );

    // A clean delivery of one picture: one slice holds it, the other holds nothing.
    let clean = env.path("clean");
    picture(&clean.join("new.png"), 99);
    let parts: Vec<PathBuf> = (1..=2)
        .map(|i| {
            scan_json(
                &env,
                &bank,
                &["--shard", &format!("{i}/2")],
                &[s(&clean)],
                &format!("c{i}.json"),
            )
            .2
        })
        .collect();
    let join = |given: &[&PathBuf]| {
        let mut args = vec!["report", "merge", "--db", s(&bank)];
        args.extend(given.iter().map(|p| s(p)));
        env.run(&args)
    };
    let o = join(&[&parts[0], &parts[1]]);
    expect_code(&o, 0);
    for lone in &parts {
        let o = join(&[lone]);
        expect_code(&o, 2);
        assert!(stdout(&o).contains("is missing"), "{}", stdout(&o));
    }
    // The same slice twice is not two slices.
    expect_code(&join(&[&parts[0], &parts[0]]), 2);
}

/// The merge benchmark, run on purpose (it writes about 4 GB, 3.3 min here):
/// `MERGE_DIR=/var/tmp/merge-bench cargo test --release --test it -- --ignored
/// shards::merge_benchmark --nocapture`. Writes MERGE_SHARDS (16) shard banks of
/// MERGE_SEGMENTS (1M) random segments each, as `index` would (an asset of 1,000
/// segments at a time, tables saved at the end), merges them, opens the merged bank and
/// checks that it answers as the shards did; prints each time.
#[test]
#[ignore]
fn merge_benchmark() {
    use celprint::bank::{Bank, MergeOptions, NewAsset, OpenOptions};
    use celprint::fingerprint::{Hash256, Segment};
    use std::time::Instant;
    let var = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (count, per) = (var("MERGE_SHARDS", 16), var("MERGE_SEGMENTS", 1_000_000));
    let root = std::env::var_os("MERGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(root).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let create = OpenOptions {
        create: true,
        ..OpenOptions::default()
    };
    let mut probes: Vec<(usize, Hash256)> = Vec::new();
    let mut shards = Vec::new();
    let t = Instant::now();
    for k in 0..count {
        let path = dir.path().join(format!("shard{k}"));
        let mut bank = Bank::open(&path, &create).unwrap();
        for a in 0..per.div_ceil(1000) {
            let n = 1000.min(per - a * 1000);
            let segments: Vec<Segment> = (0..n)
                .map(|i| Segment {
                    start_s: Some(i as f64 / 24.0),
                    end_s: Some((i + 1) as f64 / 24.0),
                    pdq: Hash256::from_words([next(), next(), next(), next()]),
                    quality: 90,
                    frames: 1,
                    secondary: 0,
                })
                .collect();
            if a % 97 == 0 {
                probes.push((k, segments[n / 2].pdq));
            }
            let mut digest = [0u8; 32];
            digest[..8].copy_from_slice(&(k as u64).to_le_bytes());
            digest[8..16].copy_from_slice(&(a as u64).to_le_bytes());
            bank.add_asset(NewAsset {
                by: None,
                digest,
                kind: celprint::media::MediaKind::Video,
                label: celprint::model::Label::Leaked,
                source: None,
                note: None,
                path: format!("/synthetic/{k:02}/{a:06}.mp4"),
                bytes: 0,
                width: 1920,
                height: 1080,
                frame_rate: Some(24.0),
                crops: Vec::new(),
                panels: Vec::new(),
                panel_pages: Vec::new(),
                page_dpi: Vec::new(),
                features: Vec::new(),
                segments,
                seen: None,
            })
            .unwrap();
        }
        bank.save_index().unwrap();
        shards.push(path);
    }
    let write_s = t.elapsed().as_secs_f64();
    let merged = dir.path().join("merged");
    let cancel = AtomicBool::new(false);
    let t = Instant::now();
    // When the last shard is in: the rest of the merge is the search tables' rebuild.
    let ingested = std::sync::Mutex::new(0.0f64);
    let summary = celprint::bank::merge_shards(
        &merged,
        &shards,
        &MergeOptions {
            by: None,
            cancel: &cancel,
            staged: &|n| {
                if n == count {
                    *ingested.lock().unwrap() = t.elapsed().as_secs_f64();
                }
            },
        },
    )
    .unwrap();
    let merge_s = t.elapsed().as_secs_f64();
    let ingest_s = *ingested.lock().unwrap();
    let read_only = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    let t = Instant::now();
    let bank = Bank::open(&merged, &read_only).unwrap();
    let open_s = t.elapsed().as_secs_f64();
    assert_eq!(bank.stats().unwrap().segments, (count * per) as u64);
    assert_eq!(summary.assets_after as usize, count * per.div_ceil(1000));
    // Each probe is found where its shard had it: the same asset (by digest), segment
    // and distance.
    let answer = |b: &Bank, q: Hash256| -> Vec<(String, u32, u32)> {
        let mut v: Vec<_> = b
            .search(&[q], 31)
            .iter()
            .map(|h| {
                (
                    b.asset(h.segment.asset).unwrap().unwrap().digest,
                    h.segment.index,
                    h.distance,
                )
            })
            .collect();
        v.sort();
        v
    };
    for (k, path) in shards.iter().enumerate() {
        let shard = Bank::open(path, &read_only).unwrap();
        for (_, q) in probes.iter().filter(|(of, _)| *of == k) {
            let found = answer(&bank, *q);
            assert!(!found.is_empty());
            assert_eq!(found, answer(&shard, *q));
        }
    }
    eprintln!(
        "{count} shards of {per} segments: written in {write_s:.1} s, merged in {merge_s:.1} s \
         ({:.2}x; shards ingested in {ingest_s:.1} s, then the search tables rebuilt), merged \
         bank opened in {open_s:.2} s; {} probes answered as in their shards",
        merge_s / write_s,
        probes.len()
    );
}
