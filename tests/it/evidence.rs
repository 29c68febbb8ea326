//! Evidence that holds (issue 21): `verify` against real damage (bytes flipped in SST
//! files, files cut short, records edited through RocksDB), the audit trail's hash
//! chain against runs edited, removed and reordered, backups taken while an index
//! writes, and clean failure on a full disk, a read-only bank and concurrent scans.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{expect_code, picture, s, stderr, stdout, TestEnv};
use serde_json::Value;

fn tree(env: &TestEnv, n: u32) -> PathBuf {
    let root = env.path("delivery");
    for i in 0..n {
        picture(&root.join(format!("shot_{i:03}.png")), i + 1);
    }
    root
}

fn celprint(env: &TestEnv, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_celprint"))
        .args(args)
        .env_remove("CELPRINT_DB")
        .current_dir(env.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn verify(env: &TestEnv, db: &Path) -> Output {
    env.run(&["verify", "--db", s(db)])
}

/// Exit 2 naming damage, and no panic.
fn expect_damage(o: &Output, what: &str) {
    expect_code(o, 2);
    let (out, err) = (stdout(o), stderr(o));
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.contains("DAMAGED") && out.contains(what),
        "{what}:\n{out}\n{err}"
    );
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

fn files_named(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// A bank of `n` stills, scanned `scans` times.
fn bank_with_runs(env: &TestEnv, n: u32, scans: usize) -> (PathBuf, PathBuf) {
    let root = tree(env, n);
    let db = env.db();
    expect_code(&env.run(&["index", "--db", s(&db), s(&root)]), 0);
    for i in 0..scans {
        let query = root.join(format!("shot_{:03}.png", i % n as usize));
        let o = env.run(&["scan", "--db", s(&db), s(&query)]);
        expect_code(&o, 1);
    }
    (db, root)
}

#[test]
fn verify_names_a_flipped_byte_anywhere_in_any_sst_file() {
    let env = TestEnv::new();
    let (db, _) = bank_with_runs(&env, 5, 1);
    let o = verify(&env, &db);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("intact"), "{}", stdout(&o));
    let tables = files_named(&db, "sst");
    assert!(tables.len() >= 5, "{tables:?}");
    let damaged = env.path("damaged");
    for table in &tables {
        let len = std::fs::metadata(table).unwrap().len() as usize;
        // The first byte, a data block, and the footer's last byte.
        for offset in [0, len / 2, len - 1] {
            let _ = std::fs::remove_dir_all(&damaged);
            copy_dir(&db, &damaged);
            let target = damaged.join(table.file_name().unwrap());
            let mut bytes = std::fs::read(&target).unwrap();
            bytes[offset] ^= 0x01;
            std::fs::write(&target, bytes).unwrap();
            let o = verify(&env, &damaged);
            expect_damage(&o, "");
            let name = table.file_name().unwrap().to_str().unwrap();
            assert!(
                stdout(&o).contains(name) || stdout(&o).contains("RocksDB cannot"),
                "byte {offset} of {name}: {}",
                stdout(&o)
            );
        }
    }
}

#[test]
fn verify_names_files_cut_short() {
    let env = TestEnv::new();
    let (db, _) = bank_with_runs(&env, 5, 0);
    let largest = files_named(&db, "sst")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let manifest = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("MANIFEST-"))
        .unwrap();
    // A table cut short cannot be opened. A MANIFEST cut short is read by RocksDB up
    // to its last whole record, a state from before any table was added: the bank
    // opens, empty, and only the missing meta family's keys tell.
    let cuts = [
        (
            largest.file_name().unwrap().to_str().unwrap(),
            "RocksDB cannot open the bank",
        ),
        (&manifest, "meta: the format version is missing"),
    ];
    for (cut, said) in cuts {
        let damaged = env.path("damaged");
        let _ = std::fs::remove_dir_all(&damaged);
        copy_dir(&db, &damaged);
        let target = damaged.join(cut);
        let bytes = std::fs::read(&target).unwrap();
        std::fs::write(&target, &bytes[..bytes.len() / 2]).unwrap();
        expect_damage(&verify(&env, &damaged), said);
    }
}

/// Records edited through RocksDB itself, so every checksum is right: only the
/// families' agreement tells.
#[test]
fn verify_names_records_edited_through_rocksdb() {
    let env = TestEnv::new();
    let (db, _) = bank_with_runs(&env, 4, 0);
    {
        let families = [
            "meta",
            "assets",
            "frames",
            "search",
            "digests",
            "index",
            "paths",
            "features",
            "keypoints",
        ];
        let rocks = rocksdb::DB::open_cf(&rocksdb::Options::default(), &db, families).unwrap();
        let key = 2u64.to_be_bytes();
        let assets = rocks.cf_handle("assets").unwrap();
        rocks
            .put_cf(assets, key, b"{\"id\": 2, \"digest\": ")
            .unwrap();
        let frames = rocks.cf_handle("frames").unwrap();
        rocks.delete_cf(frames, 3u64.to_be_bytes()).unwrap();
    }
    let o = verify(&env, &db);
    expect_damage(&o, "asset 2: its record does not decode");
    expect_damage(&o, "asset 3: its segments are missing or unreadable");
}

fn history_verify(env: &TestEnv, db: &Path) -> Output {
    env.run(&["history", "--db", s(db), "--verify"])
}

/// The run records of a bank, by chain position.
fn runs_by_position(db: &Path) -> Vec<(u64, PathBuf)> {
    let mut runs: Vec<_> = files_named(&db.join("runs"), "json")
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (v["report"]["chain"]["position"].as_u64().unwrap(), p)
        })
        .collect();
    runs.sort();
    runs
}

fn run_id(path: &Path) -> String {
    path.file_stem().unwrap().to_str().unwrap().to_string()
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn history_verify_names_a_run_edited_removed_or_reordered() {
    let env = TestEnv::new();
    let (db, root) = bank_with_runs(&env, 3, 3);
    // The report carries its position, as its record does.
    let json = env.path("r.json");
    let query = root.join("shot_000.png");
    expect_code(
        &env.run(&["scan", "--db", s(&db), "--json", s(&json), s(&query)]),
        1,
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["chain"]["position"], 4, "{}", report["chain"]);
    let o = history_verify(&env, &db);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("4 runs chained"), "{}", stdout(&o));

    let runs = runs_by_position(&db);
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let copy = |name: &str| {
        let to = env.path(name);
        copy_dir(&db, &to);
        let runs = runs_by_position(&to);
        (to, runs)
    };

    // Edited: the exit status of run 2 changed from 1 (matches) to 0 (clean).
    let (edited, runs) = copy("edited");
    edit_json(&runs[1].1, |v| v["exit_status"] = 0.into());
    let o = history_verify(&env, &edited);
    expect_code(&o, 2);
    let named = format!("run {} (position 2)", run_id(&runs[1].1));
    assert!(
        stdout(&o).contains(&named) && stdout(&o).contains("edited"),
        "{}",
        stdout(&o)
    );

    // Removed: run 3 deleted.
    let (removed, runs) = copy("removed");
    std::fs::remove_file(&runs[2].1).unwrap();
    let o = history_verify(&env, &removed);
    expect_code(&o, 2);
    assert!(
        stdout(&o).contains("missing at position 3"),
        "{}",
        stdout(&o)
    );

    // The last run removed: only the head tells.
    let (cut, runs) = copy("cut");
    std::fs::remove_file(&runs[3].1).unwrap();
    let o = history_verify(&env, &cut);
    expect_code(&o, 2);
    assert!(
        stdout(&o).contains("positions 4 to 4 are missing"),
        "{}",
        stdout(&o)
    );

    // Reordered: runs 2 and 3 swap positions.
    let (reordered, runs) = copy("reordered");
    edit_json(&runs[1].1, |v| v["report"]["chain"]["position"] = 3.into());
    edit_json(&runs[2].1, |v| v["report"]["chain"]["position"] = 2.into());
    let o = history_verify(&env, &reordered);
    expect_code(&o, 2);
    assert!(stdout(&o).contains("reordered"), "{}", stdout(&o));

    // `verify` checks the trail too.
    expect_damage(&verify(&env, &edited), "audit trail");
}

/// A bank from before the chain: its runs carry no link and there is no head. The chain
/// starts at the first new run; the old runs are listed as unchained, not damage. A
/// head removed once the chain has begun is damage, and a scan refuses to start a
/// second chain.
#[test]
fn runs_from_before_the_chain_are_unchained_and_the_chain_starts_after_them() {
    let env = TestEnv::new();
    let (db, root) = bank_with_runs(&env, 2, 2);
    let old_runs: Vec<PathBuf> = runs_by_position(&db).into_iter().map(|(_, p)| p).collect();
    for path in &old_runs {
        edit_json(path, |v| {
            v["report"].as_object_mut().unwrap().remove("chain");
        });
    }
    std::fs::remove_file(db.join("runs/HEAD")).unwrap();
    let query = root.join("shot_000.png");
    expect_code(&env.run(&["scan", "--db", s(&db), s(&query)]), 1);
    let o = history_verify(&env, &db);
    expect_code(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("1 runs chained (head at position 1), 2 unchained"),
        "{out}"
    );
    assert_eq!(
        out.matches("unchained (recorded before the chain began)")
            .count(),
        2
    );
    // The chain's start vouches for the older runs as they were.
    let older = env.path("older-edited");
    copy_dir(&db, &older);
    // One of the runs from before the chain, by name: a run id sorts by its second, and
    // the chained scan may share the older runs' second.
    let first_old = older.join("runs").join(old_runs[0].file_name().unwrap());
    edit_json(&first_old, |v| v["exit_status"] = 0.into());
    let o = history_verify(&env, &older);
    expect_code(&o, 2);
    assert!(
        stdout(&o).contains("does not fit the runs unchained before it"),
        "{}",
        stdout(&o)
    );

    std::fs::remove_file(db.join("runs/HEAD")).unwrap();
    let o = history_verify(&env, &db);
    expect_code(&o, 2);
    assert!(
        stdout(&o).contains("the head (runs/HEAD) is missing"),
        "{}",
        stdout(&o)
    );
    let o = env.run(&["scan", "--db", s(&db), s(&query)]);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("the head (runs/HEAD) is gone"),
        "{}",
        stderr(&o)
    );
}

fn count_files(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn assets_in(env: &TestEnv, db: &Path) -> u64 {
    let o = env.run(&["info", "--db", s(db), "--json"]);
    expect_code(&o, 0);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["stats"]["assets"]
        .as_u64()
        .or_else(|| v["assets"].as_u64())
        .unwrap_or_else(|| panic!("{v}"))
}

/// Backups taken while an index writes restore to banks that verify: each holds a
/// whole state, the bank as the writer last flushed it (a backup of a read-only open
/// leaves out the write-ahead log); the backup after the index holds every asset. The
/// restore refuses a folder that holds anything.
#[test]
fn backups_taken_while_an_index_writes_restore_and_verify() {
    let env = TestEnv::new();
    let root = tree(&env, 240);
    let db = env.db();
    let seed = env.path("seed/one.png");
    picture(&seed, 1000);
    expect_code(&env.run(&["index", "--db", s(&db), s(&seed)]), 0);
    let mut writer = celprint(&env, &["index", "--db", s(&db), s(&root)]);
    let dest = env.path("backups");
    let mut backups = 0;
    let restore_and_verify = |backups: usize| {
        let restored = env.path(&format!("restored{backups}"));
        expect_code(&env.run(&["restore", s(&dest), "--db", s(&restored)]), 0);
        expect_code(&verify(&env, &restored), 0);
        let n = assets_in(&env, &restored);
        println!("backup {backups}: {n} assets");
        n
    };
    let mut during = 0;
    loop {
        let running = writer.try_wait().unwrap().is_none();
        expect_code(&env.run(&["backup", "--db", s(&db), s(&dest)]), 0);
        backups += 1;
        let n = restore_and_verify(backups);
        assert!((1..=241).contains(&n), "{n}");
        if !running {
            assert_eq!(n, 241, "the backup after the index");
            break;
        }
        during += 1;
    }
    assert!(writer.wait().unwrap().success());
    assert!(during >= 1, "the index finished before a backup");
    let o = env.run(&["restore", s(&dest), "--db", s(&env.path("restored1"))]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("is not empty"), "{}", stderr(&o));
}

/// A second backup of an unchanged bank adds no table file; after one more asset, only
/// the few files its flush wrote. The runs folder travels with the backup.
#[test]
fn backups_share_unchanged_files_and_carry_the_runs() {
    let env = TestEnv::new();
    // Three index runs: three flushes, so the first backup holds several table files
    // per family.
    let (db, root) = bank_with_runs(&env, 10, 2);
    for batch in 1..3 {
        let more = env.path(&format!("more{batch}"));
        for i in 0..10 {
            picture(&more.join(format!("m{i}.png")), 100 * batch + i);
        }
        expect_code(&env.run(&["index", "--db", s(&db), s(&more)]), 0);
    }
    let dest = env.path("backups");
    let shared = dest.join("rocksdb/shared_checksum");
    expect_code(&env.run(&["backup", "--db", s(&db), s(&dest)]), 0);
    let first = count_files(&shared);
    expect_code(&env.run(&["backup", "--db", s(&db), s(&dest)]), 0);
    assert_eq!(
        count_files(&shared),
        first,
        "an unchanged bank copied again"
    );
    // One asset relabelled: one record rewritten, one small table file flushed.
    let one = root.join("shot_007.png");
    let o = env.run(&["label", "--db", s(&db), "--set", "own", s(&one)]);
    expect_code(&o, 0);
    expect_code(&env.run(&["backup", "--db", s(&db), s(&dest)]), 0);
    let added = count_files(&shared) - first;
    println!("shared table files: {first} in the first backup, {added} added by the third");
    assert!(
        (1..=2).contains(&added) && first >= 14,
        "{added} added to {first}"
    );

    let restored = env.path("restored");
    let o = env.run(&["restore", s(&dest), "--db", s(&restored)]);
    expect_code(&o, 0);
    // The backup holds no index file (a cache of the search family): the restore
    // builds it, for the restored bank to map at open.
    assert_eq!(
        std::fs::read_dir(restored.join("search-index"))
            .unwrap()
            .count(),
        1
    );
    expect_code(&verify(&env, &restored), 0);
    assert_eq!(assets_in(&env, &restored), 30);
    let o = history_verify(&env, &restored);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("2 runs chained"), "{}", stdout(&o));
    let query = root.join("shot_001.png");
    expect_code(&env.run(&["scan", "--db", s(&restored), s(&query)]), 1);
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        let o = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                s(&dir),
            ])
            .output()
            .expect("run mount");
        assert!(
            o.status.success(),
            "cannot mount a tmpfs (these tests run as root): {}",
            stderr(&o)
        );
        Tmpfs(dir)
    }

    fn remount_read_only(&self) {
        let o = Command::new("mount")
            .args(["-o", "remount,ro", s(&self.0)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The bank on a small tmpfs, a filler file taking most of it: the index stops with a
/// clear error and exit 2, says how many assets are safe and how many files are not
/// banked, the bank opens with exactly those assets and verifies, and once the filler
/// is gone the same command finishes.
#[test]
fn a_full_disk_stops_index_cleanly_and_a_rerun_finishes() {
    let env = TestEnv::new();
    let root = tree(&env, 150);
    let disk = Tmpfs::mount(env.path("disk"), "2m");
    let filler = disk.0.join("filler");
    std::fs::write(&filler, vec![0u8; 1700 * 1024]).unwrap();
    let db = disk.0.join("bank");
    let o = env.run(&["--jobs", "1", "index", "--db", s(&db), s(&root)]);
    expect_code(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("No space left on device"), "{err}");
    let said = err
        .lines()
        .find(|l| l.contains("new assets were banked and are safe"))
        .unwrap_or_else(|| panic!("{err}"));
    let numbers: Vec<u64> = said
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (banked, not_banked) = (numbers[0], numbers[1]);
    assert!(banked > 0 && banked < 150, "{said}");
    assert_eq!(banked + not_banked, 150, "{said}");
    assert_eq!(assets_in(&env, &db), banked);
    expect_code(&verify(&env, &db), 0);
    std::fs::remove_file(&filler).unwrap();
    let o = env.run(&["index", "--db", s(&db), s(&root)]);
    expect_code(&o, 0);
    assert_eq!(assets_in(&env, &db), 150);
    expect_code(&verify(&env, &db), 0);
    drop(disk);
}

/// A bank on a file system mounted read-only: `index` says why it cannot write it;
/// `scan` still matches and writes its report (exiting 2 only because its run cannot
/// be recorded in the bank, which it says); `verify` still reads it.
#[test]
fn a_read_only_bank_refuses_index_clearly_and_still_scans() {
    let env = TestEnv::new();
    let root = tree(&env, 3);
    let disk = Tmpfs::mount(env.path("disk"), "8m");
    let db = disk.0.join("bank");
    expect_code(&env.run(&["index", "--db", s(&db), s(&root)]), 0);
    disk.remount_read_only();
    let more = env.path("more/new.png");
    picture(&more, 77);
    let o = env.run(&["index", "--db", s(&db), s(&more)]);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("cannot be written (a read-only file system"),
        "{}",
        stderr(&o)
    );
    let json = env.path("r.json");
    let query = root.join("shot_001.png");
    let o = env.run(&["scan", "--db", s(&db), "--json", s(&json), s(&query)]);
    expect_code(&o, 2);
    assert!(stderr(&o).contains("audit trail"), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["summary"]["matched_files"], 1, "{report}");
    assert!(report.get("chain").is_none());
    expect_code(&verify(&env, &db), 0);
    drop(disk);
}

/// Eight scans at once while an index writes: each completes, each report describes a
/// whole bank (every still is one asset of one segment, each added with one generation
/// bump: counts and generation agree), and each run takes its own chain position.
#[test]
fn eight_concurrent_scans_during_an_index_see_whole_banks_and_chain_in_turn() {
    let env = TestEnv::new();
    let root = tree(&env, 300);
    let db = env.db();
    let seed = env.path("seed/one.png");
    picture(&seed, 1000);
    expect_code(&env.run(&["index", "--db", s(&db), s(&seed)]), 0);
    let mut writer = celprint(&env, &["index", "--db", s(&db), s(&root)]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let query = s(&seed).to_string();
    let scans: Vec<(PathBuf, Child)> = (0..8)
        .map(|i| {
            let json = env.path(&format!("r{i}.json"));
            let child = celprint(&env, &["scan", "--db", s(&db), "--json", s(&json), &query]);
            (json, child)
        })
        .collect();
    let mut positions = Vec::new();
    let mut sizes = Vec::new();
    for (json, child) in scans {
        let o = child.wait_with_output().unwrap();
        expect_code(&o, 1);
        let r: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let bank = &r["bank"];
        assert_eq!(bank["assets"], bank["segments"], "{bank}");
        assert_eq!(bank["assets"], bank["generation"], "{bank}");
        sizes.push(bank["assets"].as_u64().unwrap());
        positions.push(r["chain"]["position"].as_u64().unwrap());
    }
    let during = writer.try_wait().unwrap().is_none();
    assert!(writer.wait().unwrap().success());
    positions.sort();
    assert_eq!(positions, (1..=8).collect::<Vec<_>>());
    println!("bank sizes seen: {sizes:?}; index still running after the scans: {during}");
    assert!(
        sizes.iter().any(|&n| n < 301),
        "no scan ran during the index: {sizes:?}"
    );
    expect_code(&history_verify(&env, &db), 0);
}
