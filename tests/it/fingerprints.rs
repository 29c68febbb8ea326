//! PDQ against Meta's reference hashes (`../shared/conformance/pdq/expected.csv`).

use crate::common;

use common::convert;

use celprint::fingerprint::{pdq_of_image, Dihedral, Hash256};
use celprint::media::{decode_still, DecodeLimits, StillScale};

struct Expected {
    file: String,
    hash: Hash256,
    quality: u8,
}

fn expected(dir: &std::path::Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(dir.join("expected.csv")).expect("expected.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Expected {
                file: f[0].to_string(),
                hash: f[1].parse().expect("hex"),
                quality: f[2].parse().expect("quality"),
            }
        })
        .collect()
}

fn hash_file(path: &std::path::Path) -> celprint::fingerprint::PdqDct {
    let bytes = std::fs::read(path).expect("read");
    let img = decode_still(&bytes, DecodeLimits::default(), StillScale::Full).expect("decode");
    pdq_of_image(&img)
}

#[test]
fn pdq_matches_meta_reference_hashes() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("conformance/pdq");
    let mut distances = Vec::new();
    let mut failures = Vec::new();
    for e in expected(&dir) {
        let dct = hash_file(&dir.join(&e.file));
        let ours = dct.hash();
        let d = ours.hash.distance(&e.hash);
        println!(
            "{:<36} distance {:>3}  quality ours {:>3} ref {:>3}",
            e.file, d, ours.quality, e.quality
        );
        if e.quality < 50 {
            continue; // Unstable by design; Meta discards such hashes.
        }
        distances.push(d);
        let limit = if e.file.ends_with(".png") { 4 } else { 12 };
        if d > limit {
            failures.push(format!("{}: {d} bits > {limit}", e.file));
        }
    }
    let mean = distances.iter().sum::<u32>() as f64 / distances.len() as f64;
    println!(
        "mean distance over {} files of quality >= 50: {mean:.2}",
        distances.len()
    );
    assert!(failures.is_empty(), "over the limit: {failures:?}");
    assert!(mean <= 5.0, "mean distance {mean:.2} > 5");
    assert!(distances.len() >= 25, "too few reference files read");
}

#[test]
fn dihedral_hashes_from_one_dct_match_the_rotated_files() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("conformance/pdq");
    let refs = expected(&dir);
    let by_name = |name: &str| refs.iter().find(|e| e.file == name).expect(name).hash;
    let dct = hash_file(&dir.join("dih/bridge-1-original.jpg"));
    let files = [
        (Dihedral::Identity, "dih/bridge-1-original.jpg"),
        (Dihedral::Rot90, "dih/bridge-2-rotate-90.jpg"),
        (Dihedral::Rot180, "dih/bridge-3-rotate-180.jpg"),
        (Dihedral::Rot270, "dih/bridge-4-rotate-270.jpg"),
        // Meta's "flipx" mirrors across the x axis (top to bottom), "flipy" across the y
        // axis (left to right); the pixel-level unit test in pdq.rs pins our names.
        (Dihedral::FlipV, "dih/bridge-5-flipx.jpg"),
        (Dihedral::FlipH, "dih/bridge-6-flipy.jpg"),
        (Dihedral::Transpose, "dih/bridge-7-flip-plus-1.jpg"),
        (Dihedral::Transverse, "dih/bridge-8-flip-minus-1.jpg"),
    ];
    let mut worst = 0;
    for (t, file) in files {
        let d = dct.hash_of(t).hash.distance(&by_name(file));
        println!("{t:?} vs {file}: {d} bits");
        worst = worst.max(d);
    }
    assert!(
        worst <= 10,
        "a derived dihedral hash is {worst} bits from its reference"
    );
}

#[test]
fn exif_orientation_is_ignored_as_in_the_references() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("conformance/pdq");
    let refs = expected(&dir);
    let e = refs
        .iter()
        .find(|e| e.file == "misc/exif-rotn-6.jpg")
        .unwrap();
    let d = hash_file(&dir.join(&e.file)).hash().hash.distance(&e.hash);
    assert!(
        d <= 12,
        "exif-rotn-6.jpg is {d} bits away: was the EXIF rotation applied?"
    );
}

/// Golden values for the img_hash family on fixed images: the bundled demo stills and a
/// generated pattern. A change here means banks built before it no longer compare.
#[test]
fn imghash_family_golden_values() {
    use celprint::fingerprint::imghash::{imghash64, ImgHashAlgo};
    let demo = common::repo().join("data/demo/bank");
    let pattern = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(320, 200, |x, y| {
        image::Rgb([
            (x * 255 / 319) as u8,
            (y * 255 / 199) as u8,
            ((x * y) % 256) as u8,
        ])
    }));
    let cases: Vec<(String, image::DynamicImage)> = vec![
        ("pattern".to_string(), pattern),
        ("bbb_t13s.jpg".to_string(), load(&demo.join("bbb_t13s.jpg"))),
        (
            "popeye_t20s.jpg".to_string(),
            load(&demo.join("popeye_t20s.jpg")),
        ),
    ];
    let golden: [(&str, [u64; 4]); 3] = GOLDEN;
    let mut report = String::new();
    let mut mismatches = 0;
    for ((name, img), (gname, want)) in cases.iter().zip(golden) {
        assert_eq!(name, gname);
        let got = [
            ImgHashAlgo::Phash,
            ImgHashAlgo::Dhash,
            ImgHashAlgo::Mean,
            ImgHashAlgo::Block,
        ]
        .map(|a| imghash64(img, a));
        report.push_str(&format!(
            "(\"{name}\", [{:#018x}, {:#018x}, {:#018x}, {:#018x}]),\n",
            got[0], got[1], got[2], got[3]
        ));
        mismatches += (got != want) as usize;
    }
    assert_eq!(mismatches, 0, "golden values changed; now:\n{report}");
}

const GOLDEN: [(&str, [u64; 4]); 3] = [
    (
        "pattern",
        [
            0x0000000000000001,
            0xffffffffffffffff,
            0xfffffffce0000000,
            0xfcf0e0e0fcf0e0c0,
        ],
    ),
    (
        "bbb_t13s.jpg",
        [
            0x0001014925242321,
            0xd3773f1d9f076763,
            0x804078783e1e4cef,
            0xc0e8f8783c1c0ccf,
        ],
    ),
    (
        "popeye_t20s.jpg",
        [
            0x000000080002000f,
            0x0711181838180109,
            0x1f7f73f1f3030f0f,
            0x0c377371f1130f0f,
        ],
    ),
];

fn load(path: &std::path::Path) -> image::DynamicImage {
    decode_still(
        &std::fs::read(path).expect("read"),
        DecodeLimits::default(),
        StillScale::Full,
    )
    .expect("decode")
    .clone()
}

/// PDQ golden values on the bundled demo stills, so the hash is pinned even where
/// `../shared` is absent.
#[test]
fn pdq_golden_values_on_demo_stills() {
    let demo = common::repo().join("data/demo/bank");
    let golden = PDQ_GOLDEN;
    let mut now = String::new();
    let mut bad = 0;
    for (name, want) in golden {
        let h = pdq_of_image(&load(&demo.join(name))).hash();
        now.push_str(&format!("(\"{name}\", \"{},{}\"),\n", h.hash, h.quality));
        bad += (format!("{},{}", h.hash, h.quality) != want) as usize;
    }
    assert_eq!(bad, 0, "PDQ golden values changed; now:\n{now}");
}

const PDQ_GOLDEN: [(&str, &str); 2] = [
    (
        "bbb_t13s.jpg",
        "35203bde1025ba2d191d4a8e2d1edd8b8ecdd7ddd9696865d4a72496f252ce11,100",
    ),
    (
        "sintel_t04s.jpg",
        "d16b6ab6e5d98d68c8736c66c43039fdfa5a6321673aa8e1074c138aa9c31aed,100",
    ),
];

fn pdq_of_file(path: &std::path::Path, scale: StillScale) -> celprint::fingerprint::PdqHash {
    let bytes = std::fs::read(path).expect("read");
    let img = decode_still(&bytes, DecodeLimits::default(), scale).expect("decode");
    pdq_of_image(&img).hash()
}

/// Issue 22, item 6: of the shared line art, these four keep their drawing in the alpha
/// channel over black RGB. They hashed flat (quality 0, all zeros), so a copy compared
/// CLEAN against itself.
const DRAWN_IN_ALPHA: [&str; 4] = ["carcassone.png", "frog.png", "rocket.png", "shipwreck.png"];

#[test]
fn line_art_drawn_in_alpha_is_hashed_over_a_background_and_matches_itself() {
    use celprint::fingerprint::pdq::DEFAULT_MIN_QUALITY;
    let Some(shared) = common::shared() else {
        return;
    };
    let env = common::TestEnv::new();
    for name in DRAWN_IN_ALPHA {
        let path = shared.join("media/stills/lineart").join(name);
        let bytes = std::fs::read(&path).unwrap();
        let img = decode_still(&bytes, DecodeLimits::default(), StillScale::Full).unwrap();
        assert!(img.color().has_alpha(), "{name}");
        // Its colour alone, as the references read it, is flat: that is the bug's cause.
        let rgb = image::DynamicImage::ImageRgb8(img.to_rgb8());
        assert_eq!(
            rgb.to_luma8().iter().max(),
            Some(&0),
            "{name}: RGB all black"
        );
        let h = pdq_of_image(&img).hash();
        assert!(
            h.quality >= DEFAULT_MIN_QUALITY,
            "{name}: quality {} (hash {})",
            h.quality,
            h.hash
        );
        // Over white, where the black strokes show: the same picture flattened by
        // ImageMagick hashes within a few bits.
        let flat = env.path(&format!("{name}.flat.png"));
        convert(&[
            common::s(&path),
            "-background",
            "white",
            "-alpha",
            "remove",
            "-alpha",
            "off",
            common::s(&flat),
        ]);
        let d = h.hash.distance(&pdq_of_file(&flat, StillScale::Full).hash);
        assert!(d <= 8, "{name}: {d} bits from the picture over white");
        // The whole job: compared with itself it is a match, not CLEAN.
        let o = env.run(&["compare", common::s(&path), common::s(&path)]);
        common::expect_code(&o, 1);
    }
}

/// Flattening must not touch opaque pictures: an RGBA file whose alpha is opaque
/// everywhere hashes exactly as the same picture in RGB (Meta's conformance files above
/// pin the rest, pen-and-coaster.png among them, an opaque RGBA PNG).
#[test]
fn opaque_alpha_hashes_exactly_as_rgb() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = common::TestEnv::new();
    let rgb = shared.join("media/stills/lineart/bald_eagle.png");
    let rgba = env.path("bald_eagle_rgba.png");
    convert(&[
        common::s(&rgb),
        "-alpha",
        "opaque",
        "-define",
        "png:color-type=6",
        common::s(&rgba),
    ]);
    let bytes = std::fs::read(&rgba).unwrap();
    let img = decode_still(&bytes, DecodeLimits::default(), StillScale::Full).unwrap();
    assert!(matches!(*img, image::DynamicImage::ImageRgba8(_)));
    assert_eq!(
        pdq_of_file(&rgba, StillScale::Full),
        pdq_of_file(&rgb, StillScale::Full)
    );
    let line = |p: &std::path::Path| {
        let o = env.run(&["hash", common::s(p)]);
        common::expect_code(&o, 0);
        common::stdout(&o)
            .split(',')
            .take(2)
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(line(&rgba), line(&rgb));
}

/// Issue 22, item 15a: a CMYK JPEG (as print artwork is delivered) failed with
/// "Unsupported color conversion request". ImageMagick writes Adobe-style inverted
/// CMYK (YCCK); it must decode to the picture it was made from, in full and through
/// the shrunk luma path.
#[test]
fn cmyk_jpeg_decodes_to_its_rgb_picture() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = common::TestEnv::new();
    let original = shared.join(
        "media/stills/peppercarrot/pycasso_en_Pepper-and-Carrot_by-David-Revoy_E05P01_p2.png",
    );
    let rgb_jpeg = env.path("rgb.jpg");
    let cmyk_jpeg = env.path("cmyk.jpg");
    convert(&[common::s(&original), "-quality", "92", common::s(&rgb_jpeg)]);
    convert(&[
        common::s(&original),
        "-colorspace",
        "CMYK",
        "-quality",
        "92",
        common::s(&cmyk_jpeg),
    ]);
    let reference = pdq_of_file(&original, StillScale::Full);
    for scale in [StillScale::Full, StillScale::ShorterSideAtLeast(256)] {
        let cmyk = pdq_of_file(&cmyk_jpeg, scale);
        let rgb = pdq_of_file(&rgb_jpeg, scale);
        let d = cmyk.hash.distance(&reference.hash);
        println!(
            "{scale:?}: CMYK {d} bits from the original, RGB JPEG {}",
            rgb.hash.distance(&reference.hash)
        );
        assert!(cmyk.quality >= 50, "{scale:?}: quality {}", cmyk.quality);
        assert!(d <= 12, "{scale:?}: CMYK JPEG {d} bits from the original");
        assert!(cmyk.hash.distance(&rgb.hash) <= 12, "{scale:?}");
    }
    // The pixels themselves: an inverted reading would come out as the negative.
    let bytes = std::fs::read(&cmyk_jpeg).unwrap();
    let ours = decode_still(&bytes, DecodeLimits::default(), StillScale::Full).unwrap();
    let theirs = image::open(&original).unwrap().to_rgb8();
    let mean_error = ours
        .to_rgb8()
        .as_raw()
        .iter()
        .zip(theirs.as_raw())
        .map(|(a, b)| (i32::from(*a) - i32::from(*b)).unsigned_abs() as u64)
        .sum::<u64>() as f64
        / theirs.as_raw().len() as f64;
    assert!(
        mean_error < 12.0,
        "mean error {mean_error:.1} levels a channel"
    );
    let o = env.run(&["hash", common::s(&cmyk_jpeg)]);
    common::expect_code(&o, 0);
}

/// What [`run_measuring_memory`] saw of one run of `celprint`.
struct Measured {
    code: i32,
    stdout: String,
    /// Peak resident memory in bytes, this child's own (from `wait4`).
    peak_bytes: u64,
}

/// Runs `celprint` with `args` in `env`'s folder and measures its peak memory.
// The child is reaped by `wait4`, which std's `wait` cannot stand in for: it gives no
// resource usage.
#[allow(clippy::zombie_processes)]
fn run_measuring_memory(env: &common::TestEnv, args: &[&str]) -> Measured {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_celprint"))
        .args(args)
        .env_remove("CELPRINT_DB")
        .current_dir(env.dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run celprint");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is this process's own child, not yet waited for; the out-pointers
    // are live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    // ru_maxrss is in KiB on Linux.
    Measured {
        code: libc::WEXITSTATUS(status),
        stdout: out,
        peak_bytes: usage.ru_maxrss as u64 * 1024,
    }
}

/// A large PNG made by FFmpeg (ImageMagick's default policy refuses pictures over 128
/// megapixels): its test pattern, `width × height`, 8-bit RGB.
fn large_png(path: &std::path::Path, width: u32, height: u32) {
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={width}x{height}:rate=1"))
        .args([
            "-frames:v",
            "1",
            "-pix_fmt",
            "rgb24",
            "-compression_level",
            "1",
        ])
        .arg(path)
        .output()
        .expect("ffmpeg");
    assert!(
        o.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Issue 22, item 16: decodes share one memory budget. Two large stills hashed on two
/// workers are in memory together by default; under a budget smaller than either they
/// run one at a time, each alone (a still over the whole budget is not refused), and
/// the peak is about one still's, not two.
#[test]
fn decode_memory_budget_bounds_the_stills_in_flight() {
    let env = common::TestEnv::new();
    let (a, b) = (env.path("a.png"), env.path("b.png"));
    large_png(&a, 12000, 12000);
    std::fs::copy(&a, &b).unwrap();
    let small = env.path("small.png");
    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 0]))
        .save(&small)
        .unwrap();
    let run = |args: &[&str]| {
        let Measured {
            code,
            stdout: out,
            peak_bytes: peak,
        } = run_measuring_memory(&env, args);
        assert_eq!(code, 0, "celprint {args:?}: {out}");
        (out, peak)
    };
    let mib = |b: u64| b >> 20;
    let (_, base) = run(&["hash", "-j", "2", common::s(&small)]);
    let (one_line, one) = run(&["hash", "-j", "2", "--decode-memory", "1", common::s(&a)]);
    let (two_lines, bounded) = run(&[
        "hash",
        "-j",
        "2",
        "--decode-memory",
        "1",
        common::s(&a),
        common::s(&b),
    ]);
    let (_, unbounded) = run(&[
        "hash",
        "-j",
        "2",
        "--decode-memory",
        "1000000",
        common::s(&a),
        common::s(&b),
    ]);
    println!(
        "peak RSS: base {} MiB, one still {} MiB, two under a 1 MB budget {} MiB, two \
         unbounded {} MiB",
        mib(base),
        mib(one),
        mib(bounded),
        mib(unbounded)
    );
    // Fingerprinted, and the same under any budget.
    let hash_of = |line: &str| line.split(',').next().unwrap().to_string();
    assert_eq!(two_lines.lines().count(), 2, "{two_lines}");
    for line in two_lines.lines() {
        assert_eq!(hash_of(line), hash_of(&one_line));
    }
    let per_still = one.saturating_sub(base);
    assert!(
        per_still > 1 << 30,
        "one 144-megapixel still: {} MiB",
        mib(per_still)
    );
    // Without a budget both are in flight together (what makes this test able to fail)...
    assert!(
        unbounded - base > per_still * 3 / 2,
        "two stills unbounded: {} MiB over the base, one: {} MiB",
        mib(unbounded - base),
        mib(per_still)
    );
    // ...and under one, never.
    assert!(
        bounded - base < per_still * 5 / 4,
        "two stills under a budget: {} MiB over the base, one: {} MiB",
        mib(bounded - base),
        mib(per_still)
    );
}

/// Issue 22, item 15c: a film that opens on black. Its run starts in the fade from black
/// (the faint frames there align too), so the HTML's first pair of pictures was black
/// even with its levels stretched ×16. The first pair is now the first delivered frame
/// in the run with a clear picture, beside the banked frame it aligns with.
#[test]
fn html_first_pictures_of_a_film_opening_on_black_show_a_picture() {
    let Some(shared) = common::shared() else {
        return;
    };
    let env = common::TestEnv::new();
    let clip = shared.join("media/video/bbb/smelter_big_buck_bunny_10s.mp4");
    let film = env.path("opens_on_black.mp4");
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("color=black:s=1280x720:r=24:d=1")
        .arg("-i")
        .arg(&clip)
        .args([
            "-filter_complex",
            "[0:v]format=yuv420p[b];[1:v]format=yuv420p,setsar=1[c];[b][c]concat=n=2:v=1:a=0[v]",
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "20",
        ])
        .arg(&film)
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let db = env.db();
    common::expect_code(
        &env.run(&["index", "--db", common::s(&db), common::s(&clip)]),
        0,
    );
    let (html, json) = (env.path("report.html"), env.path("report.json"));
    let o = env.run(&[
        "scan",
        "--db",
        common::s(&db),
        "--html",
        common::s(&html),
        "--json",
        common::s(&json),
        common::s(&film),
    ]);
    common::expect_code(&o, 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let run = &report["matches"][0];
    let (query_start, bank_start) = (
        run["query"]["start_s"].as_f64().unwrap(),
        run["bank_asset"]["start_s"].as_f64().unwrap(),
    );
    let html = std::fs::read_to_string(&html).unwrap();
    let first_row = html
        .split("<table class=\"frames\">")
        .nth(1)
        .and_then(|table| table.split("<tr><th>").nth(2)) // past the header row
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    // The row's label and the pictures' captions (not their bytes), for messages.
    let label = first_row.split("</th>").next().unwrap();
    let captions: Vec<&str> = first_row
        .split("<figcaption>")
        .skip(1)
        .map(|c| c.split("</figcaption>").next().unwrap())
        .collect();
    assert_eq!(label, "first picture", "{captions:?}");
    assert_eq!(first_row.matches("data:image/jpeg;base64,").count(), 2);
    // Both pictures are shown as they are: neither is dim enough to need brightening.
    assert!(!first_row.contains("levels ×"), "{captions:?}");
    // Captioned with their own times, later in the run and aligned with each other.
    let times: Vec<f64> = captions
        .iter()
        .map(|c| {
            c.split(" · ")
                .nth(1)
                .unwrap()
                .trim_end_matches(" s")
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(times.len(), 2, "{captions:?}");
    assert!(
        times[0] > query_start + 0.2,
        "{captions:?}, run from {query_start}"
    );
    let aligned = bank_start + (times[0] - query_start);
    assert!(
        (times[1] - aligned).abs() < 0.05,
        "{times:?}, bank run from {bank_start}"
    );
}
