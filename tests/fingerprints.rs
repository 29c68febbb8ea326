//! PDQ against Meta's reference hashes (`../shared/conformance/pdq/expected.csv`).

mod common;

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
