//! Decoding video: rotation flags, damaged files, a container change, vPDQ conformance
//! and hash lists, and decoding one file's ranges in parallel.

use std::path::PathBuf;

use super::index_bbb;
use crate::common::{
    self, assert_ranges, expect_code, ffmpeg, index, media, near, runs, s, scan, scan_with, stdout,
    Scanned, TestEnv,
};

/// Truth: LICENSES.md says the two files carry the same H.264 stream.
#[test]
fn sintel_container_change_matches_over_the_whole_length() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    index(
        &env,
        &[&media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4")],
    );
    let Scanned { code, report } = scan(
        &env,
        &[&media(
            &shared,
            "sintel/mangomm_sintel_848x480_26s_withsubs.mkv",
        )],
    );
    assert_eq!(code, 1);
    let found = runs(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    let r = &found[0];
    assert!(
        near(r.query_start, 0.0)
            && r.query_end > 25.0
            && near(r.query_start, r.bank_start)
            && near(r.query_end, r.bank_end),
        "{r:?}"
    );
}

/// The display matrix is applied: the file's pixels are stored landscape with a 90°
/// flag, and our frame must hash like ffmpeg's auto-rotated (portrait) frame, not like
/// the stored pixels.
#[test]
fn rotation_flag_is_applied_as_ffmpeg_does() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let file = media(&shared, "bbb/mediabunny_rotate-buck-bunny.mp4");
    let frame = |extra: &[&str], out: &str| -> String {
        let png = env.path(out);
        let mut args = extra.to_vec();
        args.extend([
            "-i",
            &file,
            "-vf",
            "select=eq(n\\,44)",
            "-frames:v",
            "1",
            s(&png),
        ]);
        ffmpeg(&args);
        let o = env.run(&["hash", "--exact", s(&png)]);
        stdout(&o).split(',').next().unwrap().to_string()
    };
    let upright = frame(&[], "rotated.png");
    let stored = frame(&["-noautorotate"], "stored.png");
    let o = env.run(&["hash", "--exact", "--format", "vpdq", &file]);
    expect_code(&o, 0);
    let text = stdout(&o);
    let ours = text.lines().nth(44).unwrap().split(',').nth(2).unwrap();
    let d = |a: &str, b: &str| {
        let (a, b): (
            celprint::fingerprint::Hash256,
            celprint::fingerprint::Hash256,
        ) = (a.parse().unwrap(), b.parse().unwrap());
        a.distance(&b)
    };
    assert!(
        d(ours, &upright) <= 16,
        "ours {ours} vs ffmpeg upright {upright}: {}",
        d(ours, &upright)
    );
    assert!(
        d(ours, &stored) > 40,
        "ours looks like the stored, unrotated pixels"
    );
}

/// A copy that carries a rotation flag (a phone's, or one set to dodge matching) is
/// matched through the dihedral hashes, with its times. The excerpt is cut, then remuxed
/// with a 90° display matrix (FFmpeg 5.1 writes `rotate` metadata only when copying), so
/// what players show, and what we hash, is the picture on its side.
#[test]
fn rotated_copy_matches_with_its_transform_and_times() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = index_bbb(&env, &shared);
    let excerpt = env.path("excerpt.mp4");
    let rotated = env.path("rotated.mp4");
    ffmpeg(&[
        "-ss",
        "10",
        "-t",
        "4",
        "-i",
        &bbb,
        "-c:v",
        "libx264",
        "-crf",
        "23",
        s(&excerpt),
    ]);
    ffmpeg(&[
        "-i",
        s(&excerpt),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        s(&rotated),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&rotated)]);
    assert_eq!(code, 1, "{report:#}");
    let found = runs(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    let r = &found[0];
    assert_ranges(r, 0.0..4.0, 10.0..14.0);
    let transform = report["matches"][0]["transform"].as_str().unwrap();
    assert!(transform.starts_with("rot"), "transform {transform}");
}

/// `mediabunny_rotate-buck-bunny.mp4` is the film's first 1.9 s (LICENSES.md), stored
/// with a 90° flag: the opening fade from black, whose best frame has PDQ quality 48,
/// under Meta's threshold of 50, like the banked file's first 1.8 s. Its faint frames
/// (quality 5–48) still carry the picture, and aligned in time with the banked film's
/// they match it, turned a quarter, and the HTML report shows its dim frames brightened.
/// With faint evidence turned off nothing in it can be evidence, and the scan says so
/// instead of calling it clean.
#[test]
fn rotated_fade_in_matches_the_upright_film_on_its_faint_frames() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    index_bbb(&env, &shared);
    let clip = media(&shared, "bbb/mediabunny_rotate-buck-bunny.mp4");
    let html = env.path("r.html");
    let Scanned { code, report } = scan_with(&env, &["--html", s(&html)], &[&clip]);
    assert_eq!(code, 1, "{report:#}");
    // The reviewer sees the fade's frames brightened, and is told so.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("dim: levels ×"), "no brightened picture");
    let found = runs(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_ranges(&found[0], 0.0..1.875, 0.0..1.875);
    let m = &report["matches"][0];
    assert_eq!(m["transform"], "rot90", "{m:#}");
    assert_eq!(m["faint_only"], true, "{m:#}");
    assert_eq!(report["scanned"][0]["quality"], 48, "{report:#}");
    assert_eq!(report["scanned"][0]["low_quality"], false, "{report:#}");
    assert_eq!(report["settings"]["faint_quality"], 5, "{report:#}");

    let Scanned { code, report } = scan_with(&env, &["--faint-quality", "50"], &[&clip]);
    assert_eq!(code, 2, "not checked is not clean: {report:#}");
    assert!(report["matches"].as_array().unwrap().is_empty());
    assert_eq!(report["summary"]["low_quality_files"], 1, "{report:#}");
    assert_eq!(report["summary"]["verdict"], "not_checked", "{report:#}");
    assert_eq!(report["scanned"][0]["low_quality"], true, "{report:#}");
    assert_eq!(report["scanned"][0]["status"], "not_checked", "{report:#}");
    assert!(report["settings"]["faint_quality"].is_null(), "{report:#}");
}

/// vPDQ conformance: with --exact, at least 95 % of each video's frames land within 10
/// bits of vPDQ's reference hash for the same frame, counted over frames of reference
/// quality ≥ 80, the range where Meta states its own implementations agree within 10
/// bits (../shared/conformance/README.md). Below that, hashes of fades and flat frames
/// follow decoder rounding: `doorknob-hd-no-bar` fades through quality 50–74 to 70 frames
/// of quality 0, and there ffmpeg's own CLI frames (hashed as stills) sit exactly as far
/// from vPDQ's hashes as ours do, so the reference was decoded by a different FFmpeg.
/// The quality ≥ 50 and all-frames figures are printed too.
#[test]
fn vpdq_conformance() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let dir = shared.join("conformance/vpdq");
    let mut videos: Vec<PathBuf> = std::fs::read_dir(dir.join("videos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    videos.sort();
    assert!(!videos.is_empty());
    for video in videos {
        let stem = video.file_stem().unwrap().to_str().unwrap().to_string();
        let reference =
            std::fs::read_to_string(dir.join("hashes").join(format!("{stem}.txt"))).unwrap();
        let o = env.run(&["hash", "--exact", "--format", "vpdq", s(&video)]);
        expect_code(&o, 0);
        let ours = stdout(&o);
        let parse = |line: &str| -> (celprint::fingerprint::Hash256, f64, u8) {
            let f: Vec<&str> = line.split(',').collect();
            (
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[1].parse().unwrap(),
            )
        };
        let ref_lines: Vec<_> = reference
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse)
            .collect();
        let our_lines: Vec<_> = ours.lines().map(parse).collect();
        let n = ref_lines.len().min(our_lines.len());
        let distances: Vec<u32> = (0..n)
            .map(|i| ref_lines[i].0.distance(&our_lines[i].0))
            .collect();
        let within_all = distances.iter().filter(|d| **d <= 10).count();
        let over50 = (0..n).filter(|i| ref_lines[*i].2 >= 50);
        let within50 = over50.clone().filter(|i| distances[*i] <= 10).count();
        let count50 = over50.count();
        let usable: Vec<u32> = (0..n)
            .filter(|i| ref_lines[*i].2 >= 80)
            .map(|i| distances[i])
            .collect();
        let within = usable.iter().filter(|d| **d <= 10).count();
        let mean = usable.iter().sum::<u32>() as f64 / usable.len().max(1) as f64;
        let time_error = (0..n)
            .map(|i| (ref_lines[i].1 - our_lines[i].1).abs())
            .fold(0.0, f64::max);
        println!(
            "{stem}: frames ours {} reference {}; quality >= 80: {within}/{} within 10 bits, mean distance {mean:.2}; \
             quality >= 50: {within50}/{count50}; all frames: {within_all}/{n}; max time error {time_error:.3} s",
            our_lines.len(),
            ref_lines.len(),
            usable.len()
        );
        assert_eq!(our_lines.len(), ref_lines.len(), "{stem}: frame count");
        assert!(!usable.is_empty(), "{stem}: no frame of quality >= 80");
        assert!(
            within as f64 >= 0.95 * usable.len() as f64,
            "{stem}: only {within}/{} within 10 bits",
            usable.len()
        );
        assert!(
            time_error < 0.002,
            "{stem}: timestamps differ by {time_error}"
        );
    }
}

/// Damaged video, made here from real files: a truncated Matroska file decodes in part
/// and says so; a truncated MP4 (index at the end), a few bytes of a header, garbage
/// and an empty file are errors. The job finishes and the exit status is 2.
#[test]
fn damaged_videos_give_per_file_errors_or_partial_results() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    index(
        &env,
        &[&media(&shared, "popeye/showorder_pgs_Title_T00-1.mkv")],
    );
    let mkv = std::fs::read(media(&shared, "popeye/showorder_pgs_Title_T00-1.mkv")).unwrap();
    let mp4 = std::fs::read(media(&shared, "bbb/bower_bbb_480p_30s.mp4")).unwrap();
    env.write("bad/truncated.mkv", &mkv[..mkv.len() * 6 / 10]);
    env.write("bad/truncated.mp4", &mp4[..mp4.len() / 2]);
    env.write("bad/header_only.mp4", &mp4[..5000]);
    env.write("bad/garbage.mkv", b"not a video at all");
    env.write("bad/empty.webm", b"");
    let Scanned { code, report } = scan(&env, &[s(&env.path("bad"))]);
    assert_eq!(code, 2);
    let entry = |name: &str| {
        report["scanned"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };
    let t = entry("truncated.mkv");
    assert_eq!(t["status"], "partial", "{t}");
    assert!(t["error"].as_str().unwrap().contains("truncated"));
    let found = runs(&report);
    assert_eq!(
        found.len(),
        1,
        "the frames before the damage still match: {found:#?}"
    );
    assert!(found[0].query_end > 30.0, "{found:?}");
    for name in [
        "truncated.mp4",
        "header_only.mp4",
        "garbage.mkv",
        "empty.webm",
    ] {
        assert_eq!(entry(name)["status"], "error", "{name}");
    }
    assert_eq!(report["summary"]["partial"], 1);
    assert_eq!(report["summary"]["errors"], 4);

    // Indexing the truncated file banks what decoded, says so, and exits 2.
    let db = env.path("bank2");
    let o = env.run(&["index", "--db", s(&db), s(&env.path("bad/truncated.mkv"))]);
    expect_code(&o, 2);
    assert!(
        common::stderr(&o).contains("banked in part"),
        "{}",
        common::stderr(&o)
    );
    assert!(stdout(&o).contains("1 new assets"), "{}", stdout(&o));

    // Hashing it prints the segments (or, as vPDQ lists, the frames) that decoded, says
    // the file was not whole, and exits 2.
    for format in ["csv", "vpdq"] {
        let o = env.run(&[
            "hash",
            "--format",
            format,
            s(&env.path("bad/truncated.mkv")),
        ]);
        expect_code(&o, 2);
        assert!(
            common::stderr(&o).contains("hashed in part"),
            "{format}: {}",
            common::stderr(&o)
        );
        assert!(stdout(&o).lines().count() > 500, "{format}: {}", stdout(&o));
    }
}

/// The vPDQ round trip: a hash list written by `hash --format vpdq` is banked without
/// the media, and a copy of the video matches it with its times.
#[test]
fn vpdq_hash_list_round_trip() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let o = env.run(&[
        "hash",
        "--exact",
        "--format",
        "vpdq",
        &media(&shared, "bbb/bower_bbb_480p_30s.mp4"),
    ]);
    expect_code(&o, 0);
    let list = env.write("lists/bbb.txt", stdout(&o).as_bytes());
    let db = env.db();
    let o = env.run(&[
        "index",
        "--db",
        s(&db),
        "--format",
        "vpdq",
        "--source",
        "partner list",
        s(&list),
    ]);
    expect_code(&o, 0);
    let Scanned { code, report } = scan(
        &env,
        &[&media(&shared, "bbb/smelter_big_buck_bunny_10s.mp4")],
    );
    assert_eq!(code, 1);
    let r = &runs(&report)[0];
    assert_eq!(r.bank, "bbb.txt");
    assert!(
        near(r.query_start, 0.0)
            && near(r.query_end, 10.0)
            && near(r.bank_start, 0.0)
            && near(r.bank_end, 10.0),
        "{r:?}"
    );
    let bad = env.write("lists/bad.txt", b"0,100,nothex,0.0\n");
    let o = env.run(&["index", "--db", s(&db), "--format", "vpdq", s(&bad)]);
    expect_code(&o, 2);
}

/// Cutting one file at keyframes and decoding the ranges in parallel must give exactly
/// the segments of one pass: nothing lost or doubled at the cuts, and the joins must
/// hold (no fall-back to one pass). Letterboxed Sintel, with crop variants, checks that
/// bars are judged across the cuts: its letterbox edge flickers between two rows, so at
/// some cuts the first frames of a range get other bars from the frames before the cut
/// and are hashed again. The keypoints of sampled frames are the same too.
#[test]
fn parallel_ranges_give_the_same_segments_as_one_pass() {
    let Some(shared) = common::shared() else {
        return;
    };
    use celprint::engine::{fingerprint_video, Sampling};
    use celprint::fingerprint::FingerprintParams;
    // Sintel again at 2 frames a second: the window and the ranges' overlap are then
    // counted in sampled frames.
    let cases = [
        (
            "popeye/showorder_pgs_Title_T00-1.mkv",
            vec![90, 80, 70],
            None,
            500,
        ),
        (
            "sintel/mangomm_sintel_848x480_26s.mp4",
            vec![90, 80],
            None,
            400,
        ),
        (
            "sintel/mangomm_sintel_848x480_26s.mp4",
            vec![90, 80],
            Some(2.0),
            35,
        ),
    ];
    for (name, crop_variants, fps, least) in cases {
        let sampling = Sampling {
            fps,
            feature_step_s: Some(celprint::fingerprint::keypoints::QUERY_STEP_S),
            ..Sampling::default()
        };
        let file = PathBuf::from(media(&shared, name));
        let params = FingerprintParams {
            crop_variants,
            ..FingerprintParams::default()
        };
        let one = fingerprint_video(&file, &params, sampling).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let three = pool
            .install(|| {
                fingerprint_video(
                    &file,
                    &params,
                    Sampling {
                        ranges: 3,
                        ..sampling
                    },
                )
            })
            .unwrap();
        let segs = |v: &celprint::engine::VideoFingerprint| {
            v.segments.iter().map(|q| q.segment).collect::<Vec<_>>()
        };
        assert!(one.segments.len() > least, "{name}: {}", one.segments.len());
        assert_eq!(one.ranges, 1);
        // Not a fall-back to one pass: the joins held.
        assert!(three.ranges > 3, "{name}: {} ranges", three.ranges);
        same(name, &segs(&one), &segs(&three));
        assert_eq!(one.crops.len(), three.crops.len());
        for ((keep, a), (_, b)) in one.crops.iter().zip(&three.crops) {
            same(&format!("{name}, crop {keep}"), a, b);
        }
        assert_eq!(one.info.frames_decoded, three.info.frames_decoded, "{name}");
        // Keypoints are sampled on a grid of time, so the ranges sample the same frames.
        assert!(
            one.features.len() > least / 20,
            "{name}: {}",
            one.features.len()
        );
        assert!(one.features == three.features, "{name}: keypoints differ");
    }
}

/// Fails with the first segment where two runs differ (the whole lists are too long to
/// print).
fn same(what: &str, a: &[celprint::fingerprint::Segment], b: &[celprint::fingerprint::Segment]) {
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "{what}: segment {i} differs: {:?} against {:?} ({} and {} segments)",
            a.get(i),
            b.get(i),
            a.len(),
            b.len()
        );
    }
}
