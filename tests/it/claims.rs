//! What files claim about themselves (src/media/claims.rs, docs/claims.md): claims read
//! from real files written by ffmpeg and ImageMagick, shown in the JSON and HTML
//! reports, and flagged where the bank contradicts them.

use std::process::Command;

use serde_json::Value;

use super::common::{convert, ffmpeg, index, picture, s, scan, TestEnv};

/// Sets a file's modification time, as a file copied from an old archive keeps it.
fn touch(path: &std::path::Path, when: &str) {
    let ok = Command::new("touch")
        .args(["-d", when, s(path)])
        .status()
        .expect("touch")
        .success();
    assert!(ok);
}

/// The report's entry for the file whose path ends with `name`.
fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in the report"))
}

/// `(what, value, from)` of each claim.
fn claims(entry: &Value) -> Vec<(String, String, String)> {
    let field = |c: &Value, k: &str| c[k].as_str().unwrap().to_string();
    entry["claims"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| (field(c, "what"), field(c, "value"), field(c, "from")))
                .collect()
        })
        .unwrap_or_default()
}

fn conflicts(entry: &Value) -> Vec<Value> {
    entry["claim_conflicts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A copy of `src` whose PNG text says it was made at `created`, by `software`. The
/// date chunks ImageMagick adds of its own accord are left out.
fn with_claims(src: &std::path::Path, dst: &std::path::Path, created: Option<&str>) {
    let mut args = vec![s(src).to_string()];
    if let Some(created) = created {
        args.extend(["-set".into(), "Creation Time".into(), created.into()]);
    }
    args.extend(["-set".into(), "Software".into(), "PaintTool 9".into()]);
    args.extend(["-define".into(), "png:exclude-chunk=date,time".into()]);
    args.push(s(dst).to_string());
    convert(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn a_files_claims_are_in_the_json_and_html_reports() {
    let env = TestEnv::new();
    let other = env.path("bank/other.png");
    picture(&other, 3);
    index(&env, &[s(&other)]);
    let video = env.path("v.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "1",
        "-pix_fmt",
        "yuv420p",
        "-metadata",
        "creation_time=2031-05-06T07:08:09Z",
        "-metadata",
        "artist=Jo Artist",
        s(&video),
    ]);
    let still = env.path("s.png");
    let plain = env.path("plain.png");
    picture(&plain, 7);
    with_claims(&plain, &still, Some("2022-02-03T04:05:06Z"));
    let html = env.path("r.html");
    let db = env.db();
    let json = env.path("r.json");
    let o = env.run(&[
        "scan",
        "--db",
        s(&db),
        "--json",
        s(&json),
        "--html",
        s(&html),
        s(&video),
        s(&still),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let v = claims(entry(&report, "v.mp4"));
    let has = |list: &[(String, String, String)], what: &str, value: &str, from: &str| {
        list.iter()
            .any(|(w, v, f)| w == what && v.starts_with(value) && f == from)
    };
    assert!(
        has(&v, "created", "2031-05-06T07:08:09", "container"),
        "{v:?}"
    );
    assert!(has(&v, "creator", "Jo Artist", "container"), "{v:?}");
    assert!(has(&v, "encoder", "Lav", "container"), "{v:?}");
    let p = claims(entry(&report, "s.png"));
    assert_eq!(
        p,
        [
            (
                "created".into(),
                "2022-02-03T04:05:06Z".into(),
                "png".into()
            ),
            ("software".into(), "PaintTool 9".into(), "png".into()),
        ]
    );
    // A scan with no matches flags nothing: claims alone are never a finding.
    assert!(conflicts(entry(&report, "s.png")).is_empty());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("What the files claim about themselves"));
    assert!(
        page.contains("software: PaintTool 9 (png)"),
        "claims shown in the HTML"
    );
}

#[test]
fn a_claim_to_be_made_after_the_banked_material_is_flagged() {
    let env = TestEnv::new();
    let banked = env.path("bank/layout.png");
    picture(&banked, 5);
    // The banked file has existed since 2020 (its modification time when indexed).
    touch(&banked, "2020-01-01T00:00:00Z");
    index(&env, &[s(&banked)]);
    let deliver = |name: &str, created: Option<&str>| {
        let p = env.path(name);
        with_claims(&banked, &p, created);
        p
    };
    let later = deliver("later.png", Some("2024-06-01T12:00:00Z"));
    let earlier = deliver("earlier.png", Some("2019-06-01T00:00:00Z"));
    let unclaimed = deliver("unclaimed.png", None);
    // Ten hours after the banked time, in a zone it does not name: within the slack
    // any zone needs, so not a contradiction; the same time in UTC is one.
    let zoneless = deliver("zoneless.png", Some("2020:01:01 10:00:00"));
    let zoned = deliver("zoned.png", Some("2020-01-01T10:00:00Z"));
    let r = scan(
        &env,
        &[
            s(&later),
            s(&earlier),
            s(&unclaimed),
            s(&zoneless),
            s(&zoned),
        ],
    );
    assert_eq!(r.code, 1, "every file matches the banked picture");
    let c = conflicts(entry(&r.report, "later.png"));
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["claim"]["value"], "2024-06-01T12:00:00Z");
    assert_eq!(c[0]["banked_since"], "2020-01-01T00:00:00Z");
    assert_eq!(c[0]["basis"], "file modified");
    assert!(c[0]["bank_path"]
        .as_str()
        .unwrap()
        .ends_with("bank/layout.png"));
    for name in ["earlier.png", "unclaimed.png", "zoneless.png"] {
        assert!(conflicts(entry(&r.report, name)).is_empty(), "{name}");
    }
    assert_eq!(conflicts(entry(&r.report, "zoned.png")).len(), 1);
}

#[test]
fn a_video_reencoded_with_a_later_creation_time_is_flagged() {
    let env = TestEnv::new();
    let banked = env.path("bank/shot.mp4");
    std::fs::create_dir_all(banked.parent().unwrap()).unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "3",
        "-pix_fmt",
        "yuv420p",
        s(&banked),
    ]);
    touch(&banked, "2021-03-01T00:00:00Z");
    index(&env, &[s(&banked)]);
    let delivered = env.path("delivered.mp4");
    ffmpeg(&[
        "-i",
        s(&banked),
        "-c",
        "copy",
        "-metadata",
        "creation_time=2025-01-01T00:00:00Z",
        s(&delivered),
    ]);
    let r = scan(&env, &[s(&delivered)]);
    assert_eq!(r.code, 1);
    let c = conflicts(entry(&r.report, "delivered.mp4"));
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0]["claim"]["value"]
        .as_str()
        .unwrap()
        .starts_with("2025-01-01T00:00:00"));
    assert_eq!(c[0]["banked_since"], "2021-03-01T00:00:00Z");
}
