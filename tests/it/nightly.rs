//! The nightly job: reruns skip what is unchanged without reading it, re-fingerprint what
//! changed, report what vanished, retry what failed, and a run killed with SIGKILL at any
//! moment and then rerun leaves exactly the bank one uninterrupted run leaves.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{expect_code, picture, s, stderr, stdout, TestEnv};

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

/// What a bank holds, independent of asset numbering.
#[derive(Debug, PartialEq)]
struct Contents {
    /// Each asset by its digest.
    assets: BTreeMap<String, Asset>,
    /// Every path record under the root, without its time.
    paths: Vec<PathRecord>,
}

/// An asset's paths, sorted, and its segments' hashes.
#[derive(Debug, PartialEq)]
struct Asset {
    paths: Vec<String>,
    hashes: Vec<String>,
}

/// A path the index saw, and what it recorded: stamp, digest and error.
#[derive(Debug, PartialEq)]
struct PathRecord {
    path: String,
    record: String,
}

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
        let previous = assets.insert(a.digest.clone(), Asset { paths, hashes });
        assert!(previous.is_none(), "two assets with digest {}", a.digest);
    }
    let paths = bank
        .paths_under(s(root))
        .unwrap()
        .into_iter()
        .map(|(path, r)| PathRecord {
            path,
            record: format!("{:?} {:?} {:?}", r.stamp, r.digest, r.error),
        })
        .collect();
    Contents { assets, paths }
}

#[test]
fn rerun_skips_unchanged_files_without_reading_them() {
    let env = TestEnv::new();
    let root = tree(&env, 6);
    let db = env.db();
    expect_code(&index(&env, &db, &[], &root), 0);
    // Same size, same modification time, different bytes after the head that tells
    // what kind of file it is: only a reader of the whole file would notice.
    let victim = root.join("shot_002.png");
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[1024..].fill(0);
    std::fs::write(&victim, bytes).unwrap();
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
    let assets = |env: &TestEnv| contents(&env.db(), &root).assets.len();
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

    // One of five is over the share one run may prune unasked.
    let o = index(&env, &db, &["--prune"], &root);
    expect_code(&o, 2);
    assert!(
        stdout(&o).contains("1 vanished, 0 assets pruned"),
        "{}",
        stdout(&o)
    );
    assert_eq!(assets(&env), 6);
    let o = index(&env, &db, &["--prune-all"], &root);
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
    let record = contents(&db, &root).paths;
    let failed = record
        .iter()
        .find(|r| r.path.ends_with("broken.png"))
        .unwrap();
    assert!(
        failed.record.contains("Some(\""),
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
    // A PNG cut short: known by its bytes, and failing to decode.
    let whole = std::fs::read(root.join("shot_000.png")).unwrap();
    std::fs::write(root.join("broken.png"), &whole[..100]).unwrap();
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

/// How many assets a bank holds, read as a scan would while an index may be writing.
fn assets_now(db: &Path) -> Option<usize> {
    let bank = celprint::bank::Bank::open(
        db,
        &celprint::bank::OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .ok()?;
    Some(bank.assets().ok()?.len())
}

/// A video that takes the index some seconds to fingerprint, made by ffmpeg.
fn slow_video(path: &Path, seconds: u32) {
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=1280x720:rate=25:duration={seconds}"))
        .args(["-c:v", "mpeg4", "-q:v", "5"])
        .arg(path)
        .status()
        .expect("run ffmpeg");
    assert!(made.success(), "ffmpeg failed");
}

#[test]
fn a_killed_index_keeps_every_asset_finished_before_the_kill() {
    let env = TestEnv::new();
    let root = tree(&env, 6);
    // First in name order, so a worker takes it at once while the other does the stills.
    slow_video(&root.join("a_long_take.mp4"), 60);
    let db = env.db();
    let mut child = Command::new(env!("CARGO_BIN_EXE_celprint"))
        .args(["--jobs", "2", "index", "--db", s(&db), s(&root)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        seen = assets_now(&db).unwrap_or(0);
        if seen >= 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    // Exactly the stills: the video, in the same batch, was still being fingerprinted.
    assert!(
        still_running && seen == 6,
        "the six stills were not banked while the long video was still being fingerprinted \
         (saw {seen} assets; still running: {still_running}): nothing is committed until the \
         batch ends"
    );
    // SIGKILL: nothing of ours ran after it. What was committed must all be there.
    assert!(assets_now(&db).unwrap() >= 6);
    let o = index(&env, &db, &[], &root);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("1 new assets"), "{}", stdout(&o));
    assert!(stdout(&o).contains("6 skipped unread"), "{}", stdout(&o));
}

#[test]
fn a_full_disk_stops_the_run_and_says_what_was_banked() {
    let env = TestEnv::new();
    let root = tree(&env, 6);
    slow_video(&root.join("z_take.mp4"), 20);
    let db = env.db();
    // A file-size limit makes the bank's writes fail as a full disk does (EFBIG rather
    // than ENOSPC: the same failed write), once its log passes the limit: the stills
    // fit, the video's keypoints do not.
    let o = Command::new("bash")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 300; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_celprint"),
            "--jobs",
            "1",
            "index",
            "--db",
            s(&db),
            s(&root),
        ])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    expect_code(&o, 2);
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.contains("indexed"), "no summary: {out}\n{err}");
    assert!(
        err.contains("STOPPED: the bank could not be written"),
        "{err}"
    );
    let said = err
        .lines()
        .find(|l| l.contains("new assets were banked and are safe"))
        .expect("the count banked is stated");
    let banked_said: usize = said
        .trim_start_matches("celprint: ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(banked_said, 6, "{err}");
    // Nothing banked is lost, and the bank opens without the limit.
    assert_eq!(assets_now(&db), Some(6));
    let o = index(&env, &db, &[], &root);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("1 new assets"), "{}", stdout(&o));
}

#[test]
fn prune_refuses_an_empty_or_missing_root_and_a_large_share() {
    let env = TestEnv::new();
    let root = tree(&env, 12);
    let db = env.db();
    expect_code(&index(&env, &db, &[], &root), 0);
    let assets = || assets_now(&db).unwrap();
    assert_eq!(assets(), 12);

    // An unmounted share: the mount point is there, and empty.
    let away = env.path("away");
    std::fs::rename(&root, &away).unwrap();
    std::fs::create_dir(&root).unwrap();
    let o = index(&env, &db, &["--prune-all"], &root);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("not pruned: it holds no files now"),
        "{}",
        stderr(&o)
    );
    assert_eq!(assets(), 12);
    // The share's folder is gone altogether.
    std::fs::remove_dir(&root).unwrap();
    let o = index(&env, &db, &["--prune-all"], &root);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("not pruned: it cannot be read"),
        "{}",
        stderr(&o)
    );
    assert_eq!(assets(), 12);
    std::fs::rename(&away, &root).unwrap();

    // One file of twelve deleted: within the share one run may prune.
    std::fs::remove_file(root.join("shot_011.png")).unwrap();
    let o = index(&env, &db, &["--prune"], &root);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("1 assets pruned"), "{}", stdout(&o));
    assert_eq!(assets(), 11);

    // Three of eleven: refused without --prune-all; a dry run says what it would do.
    for i in 0..3 {
        std::fs::remove_file(root.join(format!("shot_{i:03}.png"))).unwrap();
    }
    let o = index(&env, &db, &["--prune"], &root);
    expect_code(&o, 2);
    assert!(
        stderr(&o).contains("would remove 3 of the 11 assets"),
        "{}",
        stderr(&o)
    );
    assert_eq!(assets(), 11);
    let o = index(&env, &db, &["--prune-all", "--dry-run"], &root);
    expect_code(&o, 0);
    assert!(
        stdout(&o).contains("3 assets would be pruned (dry run"),
        "{}",
        stdout(&o)
    );
    assert_eq!(assets(), 11);
    let o = index(&env, &db, &["--prune-all"], &root);
    expect_code(&o, 0);
    assert_eq!(assets(), 8);
}

#[test]
fn known_bytes_banked_again_keep_every_label_and_the_most_severe_decides() {
    let env = TestEnv::new();
    let db = env.db();
    let cleared = env.path("stock/frame.png");
    picture(&cleared, 7);
    let leaked = env.path("incident/frame_copy.png");
    std::fs::create_dir_all(leaked.parent().unwrap()).unwrap();
    std::fs::copy(&cleared, &leaked).unwrap();
    let delivered = env.path("delivery/shot.png");
    std::fs::create_dir_all(delivered.parent().unwrap()).unwrap();
    std::fs::copy(&cleared, &delivered).unwrap();

    expect_code(&index(&env, &db, &["--label", "ignore"], &cleared), 0);
    let o = index(
        &env,
        &db,
        &["--label", "leaked", "--source", "dump", "--note", "INC-2"],
        &leaked,
    );
    expect_code(&o, 0);
    assert!(
        stderr(&o).contains("new provenance recorded, label now leaked"),
        "{}",
        stderr(&o)
    );
    let scan = |env: &TestEnv| {
        let json = env.path("r.json");
        let o = env.run(&["scan", "--db", s(&db), "--json", s(&json), s(&delivered)]);
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        (o, report)
    };
    let (o, report) = scan(&env);
    expect_code(&o, 1);
    let side = &report["matches"][0]["bank_asset"];
    assert_eq!(side["label"], "leaked", "{report:#}");
    assert_eq!(side["note"], "INC-2");
    assert_eq!(side["provenance"].as_array().unwrap().len(), 2);

    // The same path, unchanged and so not read again, with a milder label: recorded,
    // and the most severe still decides.
    let o = index(&env, &db, &["--label", "suspicious"], &cleared);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("1 skipped unread"), "{}", stdout(&o));
    let (_, report) = scan(&env);
    let side = &report["matches"][0]["bank_asset"];
    assert_eq!(side["label"], "leaked");
    assert_eq!(side["provenance"].as_array().unwrap().len(), 3);

    // A decision by hand sets the label either way, and is kept with the rest.
    let o = env.run(&[
        "label",
        "--db",
        s(&db),
        "--set",
        "licensed",
        "--note",
        "cleared by legal",
        s(&leaked),
    ]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("leaked -> licensed"), "{}", stdout(&o));
    let (o, report) = scan(&env);
    expect_code(&o, 1);
    let side = &report["matches"][0]["bank_asset"];
    assert_eq!(side["label"], "licensed");
    let history = side["provenance"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[3]["action"], "relabel");
    assert_eq!(history[3]["note"], "cleared by legal");
    assert!(history[3]["by"].as_str().unwrap().contains('@'));
    let o = env.run(&["label", "--db", s(&db), s(&delivered)]);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("INC-2"), "{}", stdout(&o));
}

#[test]
fn a_path_typed_relative_or_absolute_is_one_path_and_runs_say_who_ran_them() {
    let env = TestEnv::new();
    let root = tree(&env, 3);
    let db = env.db();
    // From the test folder: `./delivery/../delivery` and the absolute path.
    let o = env.run(&["index", "--db", "bank", "./delivery/../delivery"]);
    expect_code(&o, 0);
    let o = index(&env, &db, &[], &root);
    expect_code(&o, 0);
    assert!(stdout(&o).contains("3 skipped unread"), "{}", stdout(&o));
    let bank = celprint::bank::Bank::open(
        &db,
        &celprint::bank::OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    for asset in bank.assets().unwrap() {
        assert_eq!(asset.paths.len(), 1, "{:?}", asset.paths);
        assert!(asset.paths[0].starts_with(s(&root)), "{:?}", asset.paths);
    }
    drop(bank);
    let o = env.run(&["scan", "--db", "bank", "delivery/shot_000.png"]);
    expect_code(&o, 1);
    let o = env.run(&["history", "--db", "bank", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = runs[0]["run_id"].as_str().unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(db.join("runs").join(format!("{id}.json"))).unwrap())
            .unwrap();
    let custody = &record["custody"];
    assert_eq!(
        custody["cwd"].as_str().unwrap(),
        s(&std::fs::canonicalize(env.dir.path()).unwrap())
    );
    assert!(!custody["user"].as_str().unwrap().is_empty());
    assert!(!custody["host"].as_str().unwrap().is_empty());
    assert!(record["report"]["matches"][0]["query"]["path"]
        .as_str()
        .unwrap()
        .starts_with('/'));
}
