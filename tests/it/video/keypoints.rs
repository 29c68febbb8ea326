//! Keypoints: off-centre reframes, and insets the inset finder misses.

use serde_json::Value;

use super::{compose, pip_layout, Clip, Rect, PIP_INSET};
use crate::common::{
    self, assert_ranges, expect_code, ffmpeg, index, media, runs, s, scan, scan_with, Scanned,
    TestEnv,
};

/// The keypoint evidence of a match (its `local`).
struct LocalEvidence {
    /// Corners agreeing on the geometry.
    keypoints: u64,
    /// The part of the banked picture shown, as left, top, right, bottom fractions.
    bank_area: Vec<f64>,
}

/// The keypoint evidence of the one match on `query`.
fn local_evidence(report: &Value, query: &str) -> LocalEvidence {
    let m = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["query"]["path"].as_str().unwrap().ends_with(query))
        .unwrap_or_else(|| panic!("no match on {query}: {report:#}"));
    let local = &m["local"];
    let area = local["bank_area"].as_array().expect("local evidence");
    LocalEvidence {
        keypoints: local["keypoints"].as_u64().unwrap(),
        bank_area: area.iter().map(|v| v.as_f64().unwrap()).collect(),
    }
}

/// Truth: built here, as the evaluation's reframes are. Big Buck Bunny 21–29 s cut to
/// 80 % of each side from 4 % in and 16 % down, and Popeye `pgs_T01` 4–12 s cut to 85 %
/// by 75 % from 12 % in and 5 % down, each scaled back up to a frame: the centre moves,
/// so no centre crop the bank keeps is near it, and the whole-frame hash sees another
/// picture. Keypoints find both, with the part of the banked picture each shows; the same
/// cut of another scene of the same cartoon (`pgs_T02` 10–18 s) matches nothing; and a
/// scan told not to use keypoints misses the reframes.
#[test]
fn off_centre_reframes_are_found_by_keypoints_and_another_scene_is_not() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let p1 = media(&shared, "popeye/showorder_pgs_Title_T01-2.mkv");
    let p2 = media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv");
    index(&env, &[&bbb, &p1]);
    let bbb_cut = "crop=trunc(iw*0.8/2)*2:trunc(ih*0.8/2)*2:iw*0.04:ih*0.16,scale=854:480,setsar=1";
    let popeye_cut =
        "crop=trunc(iw*0.85/2)*2:trunc(ih*0.75/2)*2:iw*0.12:ih*0.05,scale=640:478,setsar=1";
    let files = [
        (&bbb, "21", bbb_cut, env.path("reframe-bbb.mp4")),
        (&p1, "4", popeye_cut, env.path("reframe-p1.mp4")),
        (&p2, "10", popeye_cut, env.path("reframe-p2.mp4")),
    ];
    for (src, start, cut, out) in &files {
        ffmpeg(&[
            "-ss",
            start,
            "-t",
            "8",
            "-i",
            src,
            "-an",
            "-sn",
            "-vf",
            cut,
            "-c:v",
            "libx264",
            "-crf",
            "20",
            s(out),
        ]);
    }
    let paths: Vec<&str> = files.iter().map(|f| s(&f.3)).collect();
    let Scanned { code, report } = scan(&env, &paths);
    assert_eq!(code, 1, "{report:#}");
    let mut found = runs(&report);
    found.sort_by(|a, b| a.query.cmp(&b.query));
    assert_eq!(found.len(), 2, "the two reframes only: {found:#?}");
    assert_eq!(
        (found[0].query.as_str(), found[0].bank.as_str()),
        ("reframe-bbb.mp4", "bower_bbb_480p_30s.mp4")
    );
    assert_ranges(&found[0], 0.0..8.0, 21.0..29.0);
    assert_eq!(
        (found[1].query.as_str(), found[1].bank.as_str()),
        ("reframe-p1.mp4", "showorder_pgs_Title_T01-2.mkv")
    );
    assert_ranges(&found[1], 0.0..8.0, 4.0..12.0);
    let close =
        |area: &[f64], truth: [f64; 4]| area.iter().zip(truth).all(|(a, t)| (a - t).abs() <= 0.02);
    let LocalEvidence {
        keypoints: corners,
        bank_area: area,
    } = local_evidence(&report, "reframe-bbb.mp4");
    assert!(
        corners >= 20 && close(&area, [0.04, 0.16, 0.84, 0.96]),
        "{corners} {area:?}"
    );
    let LocalEvidence {
        keypoints: corners,
        bank_area: area,
    } = local_evidence(&report, "reframe-p1.mp4");
    assert!(
        corners >= 20 && close(&area, [0.12, 0.05, 0.97, 0.80]),
        "{corners} {area:?}"
    );
    assert!(report["settings"]["local_features"].as_u64().unwrap() > 0);

    let Scanned { code, report } = scan_with(&env, &["--no-local-features"], &paths);
    assert_eq!(code, 0, "{:#}", report["matches"]);
    assert_eq!(report["settings"]["local_features"], 0);
}

/// Truth: built here, as the evaluation's third picture-in-picture query is. Popeye
/// `pgs_T01` 12–20 s at half size, 24 pixels from the top right, over another scene of
/// the same cartoon (`pgs_T03` 30–38 s): brown beside brown, the inset's border barely
/// shows and the inset finder misses it; keypoints find it, with its place. Its twin,
/// an unbanked scene (`pgs_T02`) in the same place, matches nothing. And Big Buck Bunny
/// in an inset shown for 4 s only, too short for the inset finder's 10 s windows, is
/// found with its times.
#[test]
fn insets_the_inset_finder_misses_are_found_by_keypoints() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let p1 = media(&shared, "popeye/showorder_pgs_Title_T01-2.mkv");
    let p2 = media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv");
    let p3 = media(&shared, "popeye/showorder_pgs_Title_T03-4.mkv");
    let bbb = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let sintel = media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4");
    index(&env, &[&p1, &bbb]);
    let popeye_layout = "[0:v]fps=24,scale=640:478,setsar=1[bg];\
        [1:v]fps=24,scale=320:240,setsar=1[fg];\
        [bg][fg]overlay=W-w-24:24:shortest=1,format=yuv420p[v]";
    let (inset, twin) = (env.path("pip-p1.mp4"), env.path("pip-p2.mp4"));
    for (src, start, out) in [(&p1, "12", &inset), (&p2, "12", &twin)] {
        compose(
            &[
                Clip {
                    file: &p3,
                    from: "30",
                    seconds: "8",
                },
                Clip {
                    file: src,
                    from: start,
                    seconds: "8",
                },
            ],
            popeye_layout,
            "20",
            out,
        );
    }
    let short = env.path("pip-4s.mp4");
    compose(
        &[
            Clip {
                file: &sintel,
                from: "0",
                seconds: "24",
            },
            Clip {
                file: &bbb,
                from: "5",
                seconds: "24",
            },
        ],
        &pip_layout("enable='between(t,8,12)'"),
        "20",
        &short,
    );
    let Scanned { code, report } = scan(&env, &[s(&inset), s(&twin), s(&short)]);
    assert_eq!(code, 1, "{report:#}");
    let mut found = runs(&report);
    found.sort_by(|a, b| a.query.cmp(&b.query));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].query, "pip-4s.mp4");
    assert_ranges(&found[0], 8.0..12.0, 13.0..17.0);
    assert_eq!(found[1].query, "pip-p1.mp4");
    assert_ranges(&found[1], 0.0..8.0, 12.0..20.0);
    for m in report["matches"].as_array().unwrap() {
        let got = Rect::of(&m["query_inset"]);
        let truth = if m["query"]["path"].as_str().unwrap().ends_with("pip-p1.mp4") {
            Rect {
                x: 296,
                y: 24,
                width: 320,
                height: 240,
            }
        } else {
            PIP_INSET
        };
        let off = (got.x - truth.x).abs().max((got.y - truth.y).abs());
        let size = (got.width - truth.width)
            .abs()
            .max((got.height - truth.height).abs());
        assert!(off <= 6 && size <= 8, "{got:?} against {truth:?}");
        assert!(m["local"]["keypoints"].as_u64().unwrap() >= 12, "{m:#}");
    }
}

/// Turns the test's bank into one made before keypoints were kept on disk: no
/// `keypoints` family, no mark that it is whole.
fn drop_keypoint_buckets(env: &TestEnv) {
    let db = env.db();
    let opts = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&opts, &db).unwrap();
    assert!(families.iter().any(|f| f == "keypoints"), "{families:?}");
    let mut rocks = rocksdb::DB::open_cf(&opts, &db, families).unwrap();
    rocks
        .delete_cf(rocks.cf_handle("meta").unwrap(), b"keypoints_on_disk")
        .unwrap();
    rocks.drop_cf("keypoints").unwrap();
}

/// The keypoint index read from the bank's buckets and the one loaded into memory (a
/// bank from before the buckets, opened read-only) give the same report on an
/// off-centre reframe of Big Buck Bunny and a Popeye inset, both found by keypoints;
/// the bank migrated by a writable open (an `index` run) gives it again, and verifies.
#[test]
fn keypoints_on_disk_and_in_memory_give_the_same_report() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let p1 = media(&shared, "popeye/showorder_pgs_Title_T01-2.mkv");
    let p3 = media(&shared, "popeye/showorder_pgs_Title_T03-4.mkv");
    index(&env, &[&bbb, &p1]);
    let reframe = env.path("reframe-bbb.mp4");
    ffmpeg(&[
        "-ss",
        "21",
        "-t",
        "8",
        "-i",
        &bbb,
        "-an",
        "-vf",
        "crop=trunc(iw*0.8/2)*2:trunc(ih*0.8/2)*2:iw*0.04:ih*0.16,scale=854:480,setsar=1",
        "-c:v",
        "libx264",
        "-crf",
        "20",
        s(&reframe),
    ]);
    let inset = env.path("pip-p1.mp4");
    compose(
        &[
            Clip {
                file: &p3,
                from: "30",
                seconds: "8",
            },
            Clip {
                file: &p1,
                from: "12",
                seconds: "8",
            },
        ],
        "[0:v]fps=24,scale=640:478,setsar=1[bg];\
         [1:v]fps=24,scale=320:240,setsar=1[fg];\
         [bg][fg]overlay=W-w-24:24:shortest=1,format=yuv420p[v]",
        "20",
        &inset,
    );
    let files = [s(&reframe), s(&inset)];
    let on_disk = scan(&env, &files).report;
    let matches = on_disk["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 2, "{matches:#?}");
    assert!(matches
        .iter()
        .all(|m| m["local"]["keypoints"].as_u64().unwrap() >= 12));
    let banked = on_disk["settings"]["local_features"].clone();
    assert!(banked.as_u64().unwrap() > 0);

    drop_keypoint_buckets(&env);
    let in_memory = scan(&env, &files).report;
    assert_eq!(in_memory["matches"], on_disk["matches"]);
    assert_eq!(in_memory["settings"]["local_features"], banked);

    index(&env, &[&bbb, &p1]);
    let migrated = scan(&env, &files).report;
    assert_eq!(migrated["matches"], on_disk["matches"]);
    assert_eq!(migrated["settings"]["local_features"], banked);
    expect_code(&env.run(&["verify", "--db", s(&env.db())]), 0);
}
