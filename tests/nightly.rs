//! The nightly job: reruns skip what is unchanged without reading it, re-fingerprint what
//! changed, report what vanished, retry what failed, and a run killed with SIGKILL at any
//! moment and then rerun leaves exactly the bank one uninterrupted run leaves.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{expect_code, s, stderr, stdout, TestEnv};

/// A PNG with structure (so its PDQ quality is high) that differs with `seed`.
fn picture(path: &Path, seed: u32) {
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

fn tree(env: &TestEnv, n: u32) -> PathBuf {
    let root = env.path("delivery");
    for i in 0..n {
        picture(&root.join(format!("shot_{i:03}.png")), i + 1);
    }
    root
}

fn index(env: &TestEnv, db: &Path, extra: &[&str], root: &Path) -> std::process::Output {
    let mut args = vec!["index", "--db", s(db)];
    args.extend_from_slice(extra);
    args.push(s(root));
    env.run(&args)
}

/// What a bank holds, independent of asset numbering: digest → (sorted paths, segment
/// hashes), plus every path record without its time.
type Contents = (
    BTreeMap<String, (Vec<String>, Vec<String>)>,
    Vec<(String, String)>,
);

fn contents(db: &Path, root: &Path) -> Contents {
    let bank = celprint::bank::Bank::open(
        db,
        &celprint::bank::OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut assets = BTreeMap::new();
    for a in bank.assets().unwrap() {
        let mut paths = a.paths.clone();
        paths.sort();
        let hashes = bank
            .segments(a.id)
            .unwrap()
            .iter()
            .map(|seg| seg.pdq.to_string())
            .collect();
        let previous = assets.insert(a.digest.clone(), (paths, hashes));
        assert!(previous.is_none(), "two assets with digest {}", a.digest);
    }
    let paths = bank
        .paths_under(s(root))
        .unwrap()
        .into_iter()
        .map(|(p, r)| (p, format!("{:?} {:?} {:?}", r.stamp, r.digest, r.error)))
        .collect();
    (assets, paths)
}

#[test]
fn rerun_skips_unchanged_files_without_reading_them() {
    let env = TestEnv::new();
    let root = tree(&env, 6);
    let db = env.db();
    expect_code(&index(&env, &db, &[], &root), 0);
    // Same size, same modification time, different bytes: only a reader would notice.
    let victim = root.join("shot_002.png");
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    let len = std::fs::metadata(&victim).unwrap().len() as usize;
    std::fs::write(&victim, vec![0u8; len]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let o = index(&env, &db, &[], &root);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("6 skipped unread"), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 errors"), "{}", stdout(&o));
}

#[test]
fn changed_files_are_refingerprinted_and_vanished_ones_kept_unless_pruned() {
    let env = TestEnv::new();
    let root = tree(&env, 5);
    let db = env.db();
    expect_code(&index(&env, &db, &[], &root), 0);
    let assets = |env: &TestEnv| contents(&env.db(), &root).0.len();
    assert_eq!(assets(&env), 5);

    // A changed file: new content, and a later modification time.
    let changed = root.join("shot_001.png");
    picture(&changed, 99);
    std::fs::File::options()
        .write(true)
        .open(&changed)
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let o = index(&env, &db, &[], &root);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("1 new assets"), "{}", stdout(&o));
    assert!(stdout(&o).contains("4 skipped unread"), "{}", stdout(&o));
    // The old content stays banked: it was seen, and may have leaked.
    assert_eq!(assets(&env), 6);

    std::fs::remove_file(root.join("shot_004.png")).unwrap();
    let o = index(&env, &db, &[], &root);
    expect_code(&o, 0);
    assert!(
        stdout(&o).contains("1 vanished, 0 assets pruned"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("shot_004.png: gone since it was banked (kept in the bank)"));
    assert_eq!(assets(&env), 6);

    let o = index(&env, &db, &["--prune"], &root);
    expect_code(&o, 0);
    assert!(
        stdout(&o).contains("1 vanished, 1 assets pruned"),
        "{}",
        stdout(&o)
    );
    assert_eq!(assets(&env), 5);
    let o = index(&env, &db, &[], &root);
    assert!(stdout(&o).contains("0 vanished"), "{}", stdout(&o));
}

#[test]
fn failures_are_recorded_and_retried_on_the_next_run() {
    let env = TestEnv::new();
    let root = tree(&env, 3);
    let broken = root.join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let db = env.db();
    let first = index(&env, &db, &[], &root);
    expect_code(&first, 2);
    let record = contents(&db, &root).1;
    let failed = record
        .iter()
        .find(|(p, _)| p.ends_with("broken.png"))
        .unwrap();
    assert!(
        failed.1.contains("Some(\""),
        "failure reason recorded: {failed:?}"
    );
    // Not cached as permanent: tried again, and fails again.
    let second = index(&env, &db, &[], &root);
    expect_code(&second, 2);
    assert!(
        stderr(&second).contains("broken.png"),
        "{}",
        stderr(&second)
    );
    // Fixed (a codec upgrade, a re-delivery): banked on the next run.
    picture(&broken, 77);
    let third = index(&env, &db, &[], &root);
    expect_code(&third, 0);
    assert!(
        stdout(&third).contains("1 new assets"),
        "{}",
        stdout(&third)
    );
}

/// xorshift, seeded from the clock and printed, so a failing schedule can be replayed
/// with CELPRINT_KILL_SEED.
fn kill_schedule() -> impl FnMut() -> u64 {
    let seed = std::env::var("CELPRINT_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("kill schedule seed {seed} (set CELPRINT_KILL_SEED to replay)");
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Assets in a bank that a killed run may have left before it was created in full.
fn banked_assets(db: &Path) -> usize {
    let opts = celprint::bank::OpenOptions {
        read_only: true,
        ..Default::default()
    };
    match celprint::bank::Bank::open(db, &opts) {
        Ok(bank) => bank.assets().unwrap().len(),
        Err(celprint::bank::BankError::NotFound(_)) => 0,
        Err(e) => panic!("{e}"),
    }
}

/// Kill points are spread over the time the work left should take. That time is
/// measured, not assumed: the other tests share the cores at first and then finish, so
/// runs can get much faster after the clean run was timed. A run that finishes before its
/// kill point is itself the rerun this test is about: the bank it leaves must be the
/// clean one. The estimate is then taken from that run, and the kills go on against a
/// new bank.
#[test]
fn killed_runs_then_a_rerun_leave_exactly_what_one_clean_run_leaves() {
    const FILES: u64 = 400;
    let env = TestEnv::new();
    let root = tree(&env, FILES as u32);
    let clean = env.path("clean-bank");
    let started = Instant::now();
    expect_code(&index(&env, &clean, &[], &root), 0);
    let clean_contents = contents(&clean, &root);
    let mut whole = started.elapsed().as_millis() as u64;

    let killed = env.path("killed-bank");
    let mut next = kill_schedule();
    let (mut kills, mut kills_resuming, mut finished) = (0, 0, 0);
    while kills < 6 {
        assert!(
            finished < 12,
            "{finished} runs finished before their kill point; {kills} kills"
        );
        let banked = banked_assets(&killed) as u64;
        let left = whole * (FILES - banked) / FILES;
        let kill_at = Duration::from_millis(left / 20 + next() % (left * 9 / 10 + 1));
        let mut child = Command::new(env!("CARGO_BIN_EXE_celprint"))
            .args(["index", "--db", s(&killed), s(&root)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let spawned = Instant::now();
        let exit = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if spawned.elapsed() >= kill_at {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let Some(status) = exit else {
            // SIGKILL: no handler runs, nothing is flushed by us.
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            kills_resuming += usize::from(banked > 0);
            continue;
        };
        let took = spawned.elapsed().as_millis() as u64;
        assert!(
            status.success(),
            "a run that was not killed failed: {status}"
        );
        assert_eq!(
            contents(&killed, &root),
            clean_contents,
            "a run after {kills} kills left a different bank"
        );
        println!("a run finished in {took} ms, before its kill point ({left} ms estimated)");
        finished += 1;
        whole = whole.min(took * FILES / (FILES - banked).max(1));
        std::fs::remove_dir_all(&killed).unwrap();
    }
    let partial = banked_assets(&killed);
    println!(
        "{kills} kills, {kills_resuming} of runs resuming a bank with assets; \
         the last bank held {partial} of {FILES}; whole run {whole} ms"
    );
    assert!(
        kills_resuming > 0,
        "no kill hit a run that resumed a partly banked tree: the test proved little"
    );
    let last = index(&env, &killed, &[], &root);
    expect_code(&last, 0);
    assert_eq!(contents(&killed, &root), clean_contents);
    let again = index(&env, &killed, &[], &root);
    assert!(
        stdout(&again).contains(&format!("{FILES} skipped unread")),
        "{}",
        stdout(&again)
    );
}

/// Ctrl-C (SIGINT) stops a run cleanly: the files in hand are finished and banked, the
/// run says how many were not done and exits 2, and the same command finishes the job.
/// The signal goes a quarter into the time a run takes, measured again whenever a run
/// finishes first (the other tests share the cores at first, then finish).
#[test]
fn interrupt_stops_cleanly_and_says_what_was_not_done() {
    let env = TestEnv::new();
    let root = tree(&env, 400);
    let clean = env.path("clean-bank");
    let started = Instant::now();
    expect_code(&index(&env, &clean, &[], &root), 0);
    let mut whole = started.elapsed().as_millis() as u64;

    let db = env.path("interrupted-bank");
    let mut interrupted = None;
    for _ in 0..10 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_celprint"))
            .args(["index", "--db", s(&db), s(&root)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (spawned, signal_at) = (Instant::now(), Duration::from_millis(whole / 4));
        let finished_first = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if spawned.elapsed() >= signal_at {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if finished_first {
            whole = spawned.elapsed().as_millis() as u64;
        } else {
            let sent = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            let out = child.wait_with_output().unwrap();
            if sent.success() && stdout(&out).contains("INTERRUPTED") {
                interrupted = Some(out);
                break;
            }
            // Too late (it was finishing) or too early (before its handler was set).
            whole = if out.status.code().is_none() {
                whole * 2
            } else {
                whole / 2
            };
        }
        std::fs::remove_dir_all(&db).ok();
    }
    let out = interrupted.expect("no run was interrupted mid-way in ten attempts");
    expect_code(&out, 2);
    assert!(stderr(&out).contains("files not done"), "{}", stderr(&out));
    let finish = index(&env, &db, &[], &root);
    expect_code(&finish, 0);
    assert_eq!(contents(&db, &root), contents(&clean, &root));
}

/// A scan runs while an index writes the same bank: it opens a read-only snapshot, so
/// every scan succeeds, a reader's snapshot holds whole assets only (the segments its
/// asset records count are exactly the entries its search index loaded), and the scan
/// after the index sees all of it. A snapshot may be older than one read a moment
/// before, when its open raced a flush (the README says so); that is counted, not failed.
#[test]
fn scans_read_consistent_snapshots_while_an_index_writes() {
    let env = TestEnv::new();
    let root = tree(&env, 400);
    let db = env.db();
    let seed = env.path("seed/one.png");
    picture(&seed, 1000);
    expect_code(&index(&env, &db, &[], &seed), 0);

    let mut writer = Command::new(env!("CARGO_BIN_EXE_celprint"))
        .args(["index", "--db", s(&db), s(&root)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let query = root.join("shot_000.png");
    let mut seen = Vec::new();
    loop {
        let done = writer.try_wait().unwrap().is_some();
        let json = env.path("r.json");
        let o = env.run(&["scan", "--db", s(&db), "--json", s(&json), s(&query)]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let (assets, segments) = (
            report["bank"]["assets"].as_u64().unwrap(),
            report["bank"]["segments"].as_u64().unwrap(),
        );
        assert_eq!(assets, segments, "still assets have one segment each");
        let reader = celprint::bank::Bank::open(
            &db,
            &celprint::bank::OpenOptions {
                read_only: true,
                ..Default::default()
            },
        )
        .unwrap();
        let stats = reader.stats().unwrap();
        // Each still is one segment, searched as itself and as each centre crop.
        let parts = 1 + reader.params().crop_variants.len();
        assert_eq!(
            stats.segments as usize * parts,
            stats.index_entries,
            "a half-written asset"
        );
        seen.push(assets);
        if done {
            break;
        }
    }
    assert!(writer.wait().unwrap().success());
    assert_eq!(*seen.last().unwrap(), 401, "{seen:?}");
    let older = seen.windows(2).filter(|w| w[1] < w[0]).count();
    println!("bank sizes seen by concurrent scans: {seen:?}; {older} older than the one before");
}

/// `--log-format json`: every stderr line is one JSON object, with the failed file's path
/// and reason as fields, and a closing event with the counts and the exit status.
#[test]
fn json_logs_carry_paths_reasons_and_counts() {
    let env = TestEnv::new();
    let root = tree(&env, 3);
    std::fs::write(root.join("broken.png"), b"not a png").unwrap();
    let o = index(&env, &env.db(), &["--log-format", "json"], &root);
    expect_code(&o, 2);
    let events: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failed = events
        .iter()
        .find(|e| e["fields"]["message"] == "file failed")
        .expect("a file-failed event");
    assert!(failed["fields"]["path"]
        .as_str()
        .unwrap()
        .ends_with("broken.png"));
    assert_eq!(failed["level"], "ERROR");
    let done = events.last().unwrap();
    assert_eq!(done["fields"]["message"], "finished");
    assert_eq!(done["fields"]["exit_status"], 2);
    assert_eq!(done["fields"]["added"], 3);
    assert_eq!(done["fields"]["errors"], 1);
}

/// On a terminal, a long run shows a progress bar on stderr: bytes done of the total,
/// the ETA, and files done of the total. `script` (util-linux, in every Debian) gives
/// the run a terminal; a log file gets no bar (every other test here).
#[test]
fn a_terminal_gets_a_progress_bar_with_bytes_eta_and_files() {
    let env = TestEnv::new();
    let root = tree(&env, 400);
    let command = format!(
        "{} index --db {} {}",
        env!("CARGO_BIN_EXE_celprint"),
        s(&env.db()),
        s(&root)
    );
    let o = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script(1) from util-linux runs the job on a terminal");
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(screen.contains("ETA"), "{screen}");
    assert!(
        screen.contains("KiB/") || screen.contains("MiB/"),
        "{screen}"
    );
    assert!(screen.contains("/400"), "files done of the total: {screen}");
    assert!(screen.contains("indexed 400 files"), "{screen}");
}
