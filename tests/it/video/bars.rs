//! Letterbox and pillarbox bars: copies fitted into another frame, captions and logos in
//! the bars, sampling a few frames a second, and dark pictures not read as bars.

use super::{compose, index_bbb, Clip};
use crate::common::{
    self, assert_ranges, expect_code, ffmpeg, index, media, runs, s, scan, scan_with, stdout,
    Scanned, TestEnv,
};

/// A copy fitted into another aspect ratio, with black bars, is matched on the picture
/// inside the bars, with its times: letterboxed (16:9 into 4:3) and pillarboxed.
#[test]
fn letterboxed_and_pillarboxed_copies_match_with_their_times() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bank = index_bbb(&env, &shared);
    for (name, start, filter) in [
        (
            "letterbox.mp4",
            "10",
            "scale=640:360,pad=640:480:0:60:black",
        ),
        ("pillarbox.mp4", "4", "scale=480:270,pad=640:270:80:0:black"),
    ] {
        let out = env.path(name);
        ffmpeg(&[
            "-ss",
            start,
            "-t",
            "6",
            "-i",
            &bank,
            "-vf",
            filter,
            "-c:v",
            "libx264",
            "-crf",
            "23",
            s(&out),
        ]);
        let Scanned { code, report } = scan(&env, &[s(&out)]);
        assert_eq!(code, 1, "{name}: {report:#}");
        let found = runs(&report);
        assert_eq!(found.len(), 1, "{name}: {found:#?}");
        let r = &found[0];
        let t: f64 = start.parse().unwrap();
        assert_ranges(r, 0.0..6.0, t..t + 6.0);
    }
}

/// A screener: letterboxed Sintel with "CONFIDENTIAL" and a running timecode burned
/// across three quarters of the bottom bar, in letters most of the bar high, so that
/// the bar's rows are not border rows. Under the rule banks used before (runs of mostly
/// dark lines that pair up) the bars went unfound, every frame was hashed with them and
/// the caption, and the copy was reported CLEAN. Truth: Sintel 4–12 s.
#[test]
fn letterboxed_screener_with_a_timecode_across_its_bar_matches() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let banked = media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4");
    index(&env, &[&banked]);
    let screener = env.path("screener.mp4");
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
    let caption = format!(
        "drawtext=fontfile={font}:text='CONFIDENTIAL %{{pts\\:hms}}':fontsize=h/12:fontcolor=white:x=(w-tw)/2:y=h-th-10"
    );
    ffmpeg(&[
        "-ss",
        "4",
        "-t",
        "8",
        "-i",
        &banked,
        "-vf",
        &caption,
        "-an",
        "-c:v",
        "libx264",
        "-crf",
        "20",
        s(&screener),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&screener)]);
    assert_eq!(code, 1, "{report:#}");
    let found = runs(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_ranges(&found[0], 0.0..8.0, 4.0..12.0);
}

/// Truth: built here. 8 s of Popeye, then the banked Big Buck Bunny's 14–18 s
/// letterboxed into 4:3, then 8 s more of Popeye. Sampled at 2 or 4 frames a second, the
/// excerpt is 8 or 16 frames: the bars window must keep its length in seconds, or those
/// frames are outvoted by their full-frame neighbours, hashed with their bars, and the
/// delivery is called clean (it was, before the window was scaled to the sampling).
#[test]
fn letterboxed_excerpt_is_found_when_sampling_a_few_frames_a_second() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = index_bbb(&env, &shared);
    let popeye = media(&shared, "popeye/showorder_pgs_Title_T02-3.mkv");
    let spliced = env.path("spliced.mp4");
    compose(
        &[
            Clip {
                file: &popeye,
                from: "2",
                seconds: "8",
            },
            Clip {
                file: &bbb,
                from: "14",
                seconds: "4",
            },
            Clip {
                file: &popeye,
                from: "20",
                seconds: "8",
            },
        ],
        "[0:v]fps=24,scale=640:480,setsar=1[a];\
         [1:v]fps=24,scale=640:360,pad=640:480:0:60:black,setsar=1[b];\
         [2:v]fps=24,scale=640:480,setsar=1[c];[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]",
        "23",
        &spliced,
    );
    for fps in ["2", "4"] {
        let Scanned { code, report } = scan_with(&env, &["--fps", fps], &[s(&spliced)]);
        assert_eq!(code, 1, "--fps {fps}: {report:#}");
        let found = runs(&report);
        assert_eq!(found.len(), 1, "--fps {fps}: {found:#?}");
        assert_ranges(&found[0], 8.0..12.0, 14.0..18.0);
    }
}

/// A dark shot whose own left and right edges are over nine tenths black from top to
/// bottom (Sintel trailer, 5 s in): such edges sit near the bar rule's three-quarter mark,
/// so a grade moved them across it and the banked still (cropped as pillarbox) and its
/// brightened copy (hashed whole) lay 100 bits apart. Padding has solidly dark lines and
/// these edges have none, so neither is cropped now. Truth: the delivered still is the
/// banked one through ffmpeg's `eq` filter.
#[test]
fn brightened_copy_of_a_dark_still_matches() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let video = media(&shared, "sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4");
    let banked = env.path("dark.png");
    ffmpeg(&["-ss", "5.0", "-i", &video, "-frames:v", "1", s(&banked)]);
    index(&env, &[s(&banked)]);
    for (name, grade) in [
        ("gamma.png", "eq=gamma=1.2"),
        ("bright.png", "eq=brightness=0.06"),
    ] {
        let delivered = env.path(name);
        ffmpeg(&["-i", s(&banked), "-vf", grade, s(&delivered)]);
        let Scanned { code, report } = scan(&env, &[s(&delivered)]);
        assert_eq!(code, 1, "{grade}: {report:#}");
        let m = &report["matches"][0];
        assert!(
            m["bank_asset"]["path"]
                .as_str()
                .unwrap()
                .ends_with("dark.png"),
            "{grade}: {m:#}"
        );
    }
}

/// Bars are judged over a window of frames. In the Sintel trailer clip, 13 frames of a
/// dark close-up (4.80–5.28 s) have dark left and right thirds that, frame by frame,
/// read as pillarbox bars, and were hashed as a cut-out 86–94 bits from the whole frame.
/// Over the window they take their neighbours' answer, no bars: every frame of quality
/// ≥ 50 stays within 10 bits of `--exact` (which hashes every pixel, bars or not).
#[test]
fn a_dark_shot_is_not_mistaken_for_pillarbox_bars() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let file = media(&shared, "sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4");
    let lines = |extra: &[&str]| -> Vec<(u8, celprint::fingerprint::Hash256)> {
        let mut args = vec!["hash", "--format", "vpdq"];
        args.extend(extra);
        args.push(&file);
        let o = env.run(&args);
        expect_code(&o, 0);
        stdout(&o)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect()
    };
    let (ours, exact) = (lines(&[]), lines(&["--exact"]));
    assert_eq!(ours.len(), exact.len());
    let far: Vec<(usize, u32)> = ours
        .iter()
        .zip(&exact)
        .enumerate()
        .filter(|(_, (e, _))| e.0 >= 50)
        .map(|(i, (a, b))| (i, a.1.distance(&b.1)))
        .filter(|(_, d)| *d > 10)
        .collect();
    assert!(ours.len() > 240);
    assert!(far.is_empty(), "frames cut as if boxed: {far:?}");
}

/// Truth: built here. Sintel 12-20 s of the banked clip (848×480 with 58-row bars) with
/// a subtitle burned into the bottom bar and a logo into the top one, as distributors
/// do; it must match 0-8 s to 12-20 s like the clean excerpt.
#[test]
fn subtitles_and_logo_inside_the_letterbox_bars_still_match() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let sintel = media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4");
    index(&env, &[&sintel]);
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    let query = env.path("subtitled.mp4");
    ffmpeg(&[
        "-ss", "12", "-t", "8", "-i", &sintel, "-vf",
        &format!(
            "drawtext=fontfile={font}:text='Where did you find it?':fontsize=26:fontcolor=white:x=(w-tw)/2:y=h-44,\
             drawbox=x=iw-170:y=8:w=150:h=42:color=0xE0A020@0.8:t=fill"
        ),
        "-c:v", "libx264", "-crf", "23", s(&query),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&query)]);
    assert_eq!(code, 1);
    let found = runs(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    let r = &found[0];
    assert_ranges(r, 0.0..8.0, 12.0..20.0);
}
