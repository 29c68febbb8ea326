//! Pictures with more than one frame or page (animated GIF, APNG and WebP, multi-page
//! TIFF) against banked stills and videos, and single-frame files of those formats
//! fingerprinted as stills.

use std::path::{Path, PathBuf};

use crate::common::{
    self, assert_ranges, convert, ffmpeg, index, media, runs, s, scan, Scanned, TestEnv,
};

/// A frame of `video` at `at` seconds, scaled to 320×180, saved as `out` (PNG).
fn frame_at(video: &str, at: &str, out: &Path) {
    ffmpeg(&[
        "-ss",
        at,
        "-i",
        video,
        "-frames:v",
        "1",
        "-vf",
        "scale=320:180",
        s(out),
    ]);
}

/// 320×180 PNGs made by [`pictures_around_a_banked_frame`].
struct Pictures {
    /// Frames of other films, and of another part of Big Buck Bunny.
    others: [PathBuf; 3],
    /// The banked frame, scaled like the others.
    banked_scaled: PathBuf,
}

/// Three frames of other films and a frame of Big Buck Bunny at 20 s, as 320×180
/// PNGs; that frame at its own size is banked.
fn pictures_around_a_banked_frame(env: &TestEnv, shared: &Path) -> Pictures {
    let bbb = media(shared, "bbb/bower_bbb_480p_30s.mp4");
    let banked = env.path("bank/frame.png");
    std::fs::create_dir_all(banked.parent().unwrap()).unwrap();
    ffmpeg(&["-ss", "20", "-i", &bbb, "-frames:v", "1", s(&banked)]);
    index(env, &[s(&banked)]);
    let others = [
        ("sintel/mangomm_sintel_848x480_26s.mp4", "4", "other-1.png"),
        ("popeye/showorder_pgs_Title_T02-3.mkv", "20", "other-2.png"),
        ("bbb/bower_bbb_480p_30s.mp4", "5", "other-3.png"),
    ]
    .map(|(video, at, name)| {
        let out = env.path(name);
        frame_at(&media(shared, video), at, &out);
        out
    });
    let scaled = env.path("banked-scaled.png");
    frame_at(&bbb, "20", &scaled);
    Pictures {
        others,
        banked_scaled: scaled,
    }
}

/// Issue 22, item 7. Truth: built here with ImageMagick. An animated GIF of four
/// frames, half a second each, whose third is the banked still (Big Buck Bunny at 20 s)
/// and whose others are other films; saved whole and with ImageMagick's frame
/// optimisation (later frames stored as the changed part over the one before). Only the
/// first frame was checked, and both scanned CLEAN; the third frame is found, at its
/// time. The same frames as a GIF without the banked one match nothing.
#[test]
fn a_gif_whose_third_frame_is_banked_is_found_at_its_time() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let Pictures {
        others: [a, b, c],
        banked_scaled: banked,
    } = pictures_around_a_banked_frame(&env, &shared);
    let (whole, optimised, without) = (
        env.path("whole.gif"),
        env.path("optimised.gif"),
        env.path("without.gif"),
    );
    let frames = [s(&a), s(&b), s(&banked), s(&c)];
    for (out, extra) in [(&whole, None), (&optimised, Some("optimize"))] {
        let mut args = vec!["-delay", "50"];
        args.extend(frames);
        if let Some(layers) = extra {
            args.extend(["-layers", layers]);
        }
        args.extend(["-loop", "0", s(out)]);
        convert(&args);
    }
    convert(&[
        "-delay",
        "50",
        s(&a),
        s(&b),
        s(&c),
        s(&c),
        "-loop",
        "0",
        s(&without),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&whole), s(&optimised), s(&without)]);
    assert_eq!(code, 1, "{report:#}");
    let matches = report["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 2, "{report:#}");
    for m in matches {
        let name = m["query"]["path"].as_str().unwrap();
        assert!(!name.ends_with("without.gif"), "{m:#}");
        assert!(m["bank_asset"]["path"]
            .as_str()
            .unwrap()
            .ends_with("frame.png"));
        let (qs, qe) = (
            m["query"]["start_s"].as_f64().unwrap(),
            m["query"]["end_s"].as_f64().unwrap(),
        );
        assert!(
            (qs - 1.0).abs() < 0.01 && (qe - 1.5).abs() < 0.01,
            "{name}: {qs}-{qe}"
        );
    }
    for f in report["scanned"].as_array().unwrap() {
        assert_eq!(f["status"], "ok", "{f:#}");
        assert_eq!(f["kind"], "video", "{f:#}");
    }
}

/// Issue 22, item 7. Truth: built here with ImageMagick. A three-page TIFF whose last
/// page is the banked still; only the first page was checked, and it scanned CLEAN.
/// The same pages without the banked one match nothing.
#[test]
fn a_multi_page_tiff_whose_last_page_is_banked_is_found() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let Pictures {
        others: [a, b, c],
        banked_scaled: banked,
    } = pictures_around_a_banked_frame(&env, &shared);
    let (pages, without) = (env.path("pages.tif"), env.path("without.tif"));
    convert(&[s(&a), s(&b), s(&banked), s(&pages)]);
    convert(&[s(&a), s(&b), s(&c), s(&without)]);
    let Scanned { code, report } = scan(&env, &[s(&pages), s(&without)]);
    assert_eq!(code, 1, "{report:#}");
    let matches = report["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{report:#}");
    let m = &matches[0];
    assert!(m["query"]["path"].as_str().unwrap().ends_with("pages.tif"));
    assert!(m["bank_asset"]["path"]
        .as_str()
        .unwrap()
        .ends_with("frame.png"));
    assert!(m["distance"].as_u64().unwrap() <= 16, "{m:#}");
    for f in report["scanned"].as_array().unwrap() {
        assert_eq!(
            (&f["status"], &f["kind"]),
            (&"ok".into(), &"still".into()),
            "{f:#}"
        );
    }
    // `hash` prints every page, as the bank holds them; a 64-bit hash of one picture
    // would pass the others over, so it is refused.
    let o = env.run(&["hash", s(&pages)]);
    common::expect_code(&o, 0);
    let lines: Vec<String> = common::stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (n, line) in lines.iter().enumerate() {
        assert!(
            line.ends_with(&format!("pages.tif#page={}", n + 1)),
            "{line}"
        );
    }
    let o = env.run(&["hash", "--algo", "phash", s(&pages)]);
    common::expect_code(&o, 2);
    assert!(common::stderr(&o).contains("only --algo pdq"));
}

/// Issue 22, item 7. Truth: built here. An animated GIF of Big Buck Bunny 10–14 s at
/// 10 frames a second is banked; an MP4 that FFmpeg made of the GIF (its frames, at the
/// GIF's times) is delivered, and so are an APNG and an animated WebP made of the same
/// frames. Each matches the banked GIF over its 4 s, on both sides.
#[test]
fn a_banked_animated_gif_matches_an_mp4_apng_and_webp_of_its_frames() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let gif = env.path("bank/clip.gif");
    std::fs::create_dir_all(gif.parent().unwrap()).unwrap();
    ffmpeg(&[
        "-ss",
        "10",
        "-t",
        "4",
        "-i",
        &bbb,
        "-vf",
        "fps=10,scale=320:180,split[a][b];[a]palettegen[p];[b][p]paletteuse",
        s(&gif),
    ]);
    index(&env, &[s(&gif)]);
    let (mp4, apng, webp) = (
        env.path("clip.mp4"),
        env.path("clip.png"),
        env.path("clip.webp"),
    );
    ffmpeg(&[
        "-i",
        s(&gif),
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        s(&mp4),
    ]);
    ffmpeg(&["-i", s(&gif), "-f", "apng", "-plays", "0", s(&apng)]);
    ffmpeg(&[
        "-i",
        s(&gif),
        "-c:v",
        "libwebp_anim",
        "-lossless",
        "0",
        "-loop",
        "0",
        s(&webp),
    ]);
    let Scanned { code, report } = scan(&env, &[s(&mp4), s(&apng), s(&webp)]);
    assert_eq!(code, 1, "{report:#}");
    let mut found = runs(&report);
    found.sort_by(|a, b| a.query.cmp(&b.query));
    let names: Vec<&str> = found.iter().map(|r| r.query.as_str()).collect();
    assert_eq!(names, ["clip.mp4", "clip.png", "clip.webp"], "{found:#?}");
    for r in &found {
        assert_eq!(r.bank, "clip.gif");
        assert_ranges(r, 0.0..4.0, 0.0..4.0);
    }
}

/// Single-frame GIF, PNG, WebP and TIFF files (and a one-page animated-format GIF)
/// fingerprint exactly as they did: the still path, one segment, untimed.
#[test]
fn single_frame_image_files_fingerprint_as_before() {
    let Some(shared) = common::shared() else {
        return;
    };
    use celprint::engine::{fingerprint_file, fingerprint_still_bytes, Sampling};
    use celprint::fingerprint::FingerprintParams;
    use celprint::media::{discover, DecodeLimits, MediaKind};
    let env = TestEnv::new();
    let png = env.path("frame.png");
    frame_at(&media(&shared, "bbb/bower_bbb_480p_30s.mp4"), "20", &png);
    let mut files = vec![png.clone()];
    for ext in ["gif", "webp", "tif"] {
        let out = env.path(&format!("frame.{ext}"));
        convert(&[s(&png), s(&out)]);
        files.push(out);
    }
    let params = FingerprintParams::default().banked();
    for file in discover(&files, celprint::media::Numbered::Sequences).files {
        let limits = DecodeLimits::default();
        let fp = fingerprint_file(&file, &params, limits, Sampling::default()).unwrap();
        let bytes = std::fs::read(&file.path).unwrap();
        let before = fingerprint_still_bytes(&bytes, fp.digest, &params, limits).unwrap();
        assert_eq!(fp.kind, MediaKind::Still, "{}", file.display);
        assert_eq!(fp.segments.len(), 1, "{}", file.display);
        assert_eq!(
            fp.bank_segments(),
            before.bank_segments(),
            "{}",
            file.display
        );
        assert_eq!(fp.crops, before.crops, "{}", file.display);
    }
}
