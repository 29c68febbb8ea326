//! PDQ kernels: the hash of a decoded 1080p frame, and the whole file-to-hash path of a
//! 1080p JPEG (read, decode, hash). Also the picture-in-picture finder's vote on one
//! frame, against the luma-plane hash every video frame gets (the baseline it is read
//! against: it votes on two frames a second, the hash runs on every frame), and the
//! keypoints of one frame, read against the same baseline.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use celprint::engine::{fingerprint_file, Sampling};
use celprint::fingerprint::inset::{self, InsetSearch};
use celprint::fingerprint::{keypoints, pdq, pdq_of_image, FingerprintParams};
use celprint::media::{decode_still, DecodeLimits, InputFile, MediaKind, StillScale};

fn frame_1080p() -> image::RgbImage {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo/bank/bbb_t13s.jpg");
    let img = image::open(path).expect("demo still").to_rgb8();
    image::imageops::resize(&img, 1920, 1080, image::imageops::FilterType::Triangle)
}

fn benches(c: &mut Criterion) {
    // As the binary does: without it every iteration pays for fresh pages (src/heap.rs).
    celprint::heap::reuse_freed_blocks();
    let frame = frame_1080p();
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    c.bench_function("pdq_1080p_rgb_pixels", |b| {
        b.iter(|| pdq::pdq_from_rgb8(black_box(frame.as_raw()), w, h).hash())
    });
    let luma = inset::luma_plane_of_rgb(frame.as_raw());
    c.bench_function("pdq_1080p_luma_plane", |b| {
        b.iter(|| {
            pdq::pdq_dct_from_plane(&pdq::LumaPlane {
                data: black_box(&luma),
                stride: w,
                width: w,
                height: h,
                gain: 1.0,
            })
            .hash()
        })
    });
    // One vote as a scan makes it: counted in the two windows that hold it, with each
    // window judged as it closes (every tenth vote), so that cost is spread over votes.
    c.bench_function("inset_vote_1080p_luma", |b| {
        let mut search = InsetSearch::new(w, h, f64::NEG_INFINITY, f64::INFINITY);
        let mut t = 0.0;
        b.iter(|| {
            t += inset::SAMPLE_EVERY_S;
            search.offer(t, w, h, black_box(&luma), w);
        })
    });
    // Keypoints of one frame, as a scan finds them four times a second (a bank twice).
    c.bench_function("keypoints_1080p_luma", |b| {
        b.iter(|| {
            keypoints::keypoints(&pdq::LumaPlane {
                data: black_box(&luma),
                stride: w,
                width: w,
                height: h,
                gain: 1.0,
            })
        })
    });
    c.bench_function("dihedral_8_from_one_dct", |b| {
        let dct = pdq::pdq_from_rgb8(frame.as_raw(), w, h);
        b.iter(|| black_box(&dct).dihedral_hashes())
    });

    let dir = tempfile::tempdir().unwrap();
    let jpeg = dir.path().join("frame.jpg");
    image::DynamicImage::ImageRgb8(frame.clone())
        .save(&jpeg)
        .unwrap();
    let file = InputFile {
        display: jpeg.display().to_string(),
        path: jpeg.clone(),
        kind: MediaKind::Still,
        size: std::fs::metadata(&jpeg).unwrap().len(),
        modified_ns: None,
        kind_from_name: false,
        sequence: None,
    };
    for (name, scale) in [
        ("full", StillScale::Full),
        ("shorter_side_512", StillScale::ShorterSideAtLeast(512)),
    ] {
        c.bench_function(&format!("jpeg_1080p_decode_{name}"), |b| {
            let bytes = std::fs::read(&file.path).unwrap();
            b.iter(|| decode_still(black_box(&bytes), DecodeLimits::default(), scale).unwrap())
        });
        c.bench_function(&format!("jpeg_1080p_file_to_pdq_{name}"), |b| {
            b.iter(|| {
                let bytes = std::fs::read(&file.path).unwrap();
                let img = decode_still(&bytes, DecodeLimits::default(), scale).unwrap();
                pdq_of_image(&img).hash()
            })
        });
    }
    c.bench_function("jpeg_1080p_file_to_full_fingerprint", |b| {
        let params = FingerprintParams::default();
        b.iter(|| {
            fingerprint_file(
                black_box(&file),
                &params,
                DecodeLimits::default(),
                Sampling::default(),
            )
            .unwrap()
        })
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(30);
    targets = benches
}
criterion_main!(group);
