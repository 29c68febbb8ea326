//! TGA, Photoshop (PSD, PSB) and OpenEXR stills written by real tools
//! (tests/fixtures/formats, see its README), PDF documents (the shared storyboard PDFs),
//! and hostile PDFs made here.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use celprint::media::frames::open_pictures;
use celprint::media::{DecodeLimits, MediaError};
use serde_json::Value;

use common::{expect_code, s, stdout, TestEnv};

fn fixture(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/formats").join(name)
}

fn index(env: &TestEnv, paths: &[&Path]) {
    let db = env.db();
    let mut args = vec!["index", "--db", s(&db)];
    args.extend(paths.iter().map(|p| s(p)));
    expect_code(&env.run(&args), 0);
}

fn scan(env: &TestEnv, target: &Path) -> (i32, Value) {
    let json = env.path("report.json");
    let o = env.run(&["scan", "--db", s(&env.db()), "--json", s(&json), s(target)]);
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (o.status.code().unwrap(), report)
}

/// The file name of a path in a report.
fn name(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
}

/// Each delivered file with a match, by name, with the banked file it matched.
fn matches(report: &Value) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        // Whole pictures and pages; the panels of the same boards also meet across the
        // two layouts, which tests/it/storyboards.rs checks.
        .filter(|m| m["query"].get("panel").is_none() && m["bank_asset"].get("panel").is_none())
        .map(|m| {
            let q = m["query"]["path"].as_str().unwrap();
            (name(q), name(m["bank_asset"]["path"].as_str().unwrap()))
        })
        .collect();
    m.sort();
    m.dedup();
    m
}

/// Each file's status and error, by name.
fn statuses(report: &Value) -> Vec<(String, String, String)> {
    report["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                name(f["path"].as_str().unwrap()),
                f["status"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn status_of(report: &Value, file: &str) -> (String, String) {
    let found = statuses(report).into_iter().find(|(n, _, _)| n == file);
    let (_, status, error) = found.unwrap_or_else(|| panic!("{file} not in {report:#}"));
    (status, error)
}

/// PDQ hashes `celprint hash` prints for a file, each with what follows `#` (`page=N`).
fn hashes(env: &TestEnv, path: &Path) -> Vec<(String, String)> {
    let o = env.run(&["hash", s(path)]);
    expect_code(&o, 0);
    stdout(&o)
        .lines()
        .map(|l| {
            let pdq = l.split(',').next().unwrap().to_string();
            let page = l.rsplit_once('#').map(|(_, t)| t).unwrap_or("");
            (pdq, page.to_string())
        })
        .collect()
}

const FROM_THE_PNG: [&str; 6] = [
    "strip_rle.tga",
    "strip_layered.psd",
    "strip16.psd",
    "strip.psb",
    "strip.exr",
    "strip_hdr.exr",
];

/// Each file ImageMagick or oiiotool wrote from strip.png decodes to its pixels: the
/// layered PSD to its composite, not a layer; the 16-bit PSD and the PSB likewise; the
/// EXRs, linear light (one up to 6.0, over display white), back to the PNG's sRGB.
/// ImageMagick 6's default TGA stores its rows top first under a header that says
/// bottom first; read as its header says (as GIMP reads it), it is the PNG upside down.
#[test]
fn stills_from_real_tools_hash_as_the_png_they_were_made_from() {
    let env = TestEnv::new();
    let png = hashes(&env, &fixture("strip.png"));
    for file in FROM_THE_PNG {
        assert_eq!(hashes(&env, &fixture(file)), png, "{file}");
    }
    let flipped = env.path("flipped.png");
    image::open(fixture("strip.png"))
        .unwrap()
        .flipv()
        .save(&flipped)
        .unwrap();
    assert_eq!(hashes(&env, &fixture("strip.tga")), hashes(&env, &flipped));
}

/// A still banked as PNG is found delivered as TGA, PSD, PSB or EXR (the upside-down
/// TGA through the flipped hash); a damaged PSD, a PSB whose header asks for 90
/// gigapixels and text named `.tga` are errors for their file, and the rest is checked.
#[test]
fn a_png_banked_is_found_as_tga_psd_and_exr_and_bad_files_are_errors() {
    let env = TestEnv::new();
    index(&env, &[&fixture("strip.png")]);
    let delivery = env.path("delivery");
    std::fs::create_dir_all(&delivery).unwrap();
    for file in FROM_THE_PNG.iter().chain(&["strip.tga"]) {
        std::fs::copy(fixture(file), delivery.join(file)).unwrap();
    }
    let psd = std::fs::read(fixture("strip_layered.psd")).unwrap();
    env.write("delivery/cut.psd", &psd[..psd.len() / 2]);
    let mut huge = b"8BPS\0\x02\0\0\0\0\0\0\0\x03".to_vec();
    huge.extend_from_slice(&300_000u32.to_be_bytes());
    huge.extend_from_slice(&300_000u32.to_be_bytes());
    huge.extend_from_slice(&[0, 8, 0, 3, 0, 0, 0, 0]);
    env.write("delivery/huge.psb", &huge);
    env.write("delivery/notes.tga", b"this is not a picture\n");

    let (code, report) = scan(&env, &delivery);
    assert_eq!(code, 2, "errors: not fully checked");
    let mut want: Vec<(String, String)> = FROM_THE_PNG
        .iter()
        .chain(&["strip.tga"])
        .map(|f| (f.to_string(), "strip.png".to_string()))
        .collect();
    want.sort();
    assert_eq!(matches(&report), want);
    let (status, error) = status_of(&report, "cut.psd");
    assert_eq!(status, "error");
    assert!(error.contains("damaged Photoshop document"), "{error}");
    let (status, error) = status_of(&report, "huge.psb");
    assert_eq!(status, "error");
    assert!(error.contains("over the decode limit"), "{error}");
    let (status, _) = status_of(&report, "notes.tga");
    assert_eq!(status, "error");
}

fn storyboards() -> Option<PathBuf> {
    Some(common::shared()?.join("media/storyboards"))
}

fn layout(boards: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(boards.join("layout.json")).unwrap()).unwrap()
}

/// Each page of a banked PDF is a segment of its asset (`hash` names them `#page=N`, as
/// a TIFF's pages); each PNG page delivered is found against the banked PDF, and a PDF
/// delivered is found against the banked PNG pages, each of its pages.
#[test]
fn pdf_pages_are_banked_and_meet_their_png_pages_both_ways() {
    let Some(boards) = storyboards() else { return };
    let pages = boards.join("pages");
    let layout = layout(&boards);
    let env = TestEnv::new();
    let stack3 = hashes(&env, &pages.join("stack3.pdf"));
    let numbers: Vec<&str> = stack3.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        numbers,
        (1..=7).map(|n| format!("page={n}")).collect::<Vec<_>>()
    );

    let pdfs = [pages.join("stack3.pdf"), pages.join("grid6.pdf")];
    index(&env, &[&pdfs[0], &pdfs[1]]);
    let delivery = env.path("pngs");
    std::fs::create_dir_all(&delivery).unwrap();
    let mut want = Vec::new();
    for (style, l) in layout["layouts"].as_object().unwrap() {
        for page in l["pages"].as_array().unwrap() {
            let png = page["png"].as_str().unwrap();
            std::fs::copy(boards.join(png), delivery.join(name(png))).unwrap();
            want.push((name(png), format!("{style}.pdf")));
        }
    }
    want.sort();
    let (_, report) = scan(&env, &delivery);
    assert_eq!(matches(&report), want);

    let other = TestEnv::new();
    let pngs: Vec<PathBuf> = want.iter().map(|(png, _)| delivery.join(png)).collect();
    index(
        &other,
        &pngs.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    let delivered = other.path("pdfs");
    std::fs::create_dir_all(&delivered).unwrap();
    for pdf in &pdfs {
        std::fs::copy(pdf, delivered.join(pdf.file_name().unwrap())).unwrap();
    }
    let (_, report) = scan(&other, &delivered);
    let mut got: Vec<(String, String)> = matches(&report)
        .into_iter()
        .map(|(pdf, png)| (png, pdf))
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert!(statuses(&report).iter().all(|(_, st, _)| st == "ok"));
}

/// The pictures each PDF page embeds come back with the boxes layout.json gives its
/// panels (within 2 px at 150 dpi), at their stored size (1.5 × the box); and past the
/// page cap the pages stop with an error after the ones before it.
#[test]
fn embedded_panels_come_back_where_the_layout_puts_them() {
    let Some(boards) = storyboards() else { return };
    let layout = layout(&boards);
    for l in layout["layouts"].as_object().unwrap().values() {
        let bytes = std::fs::read(boards.join(l["pdf"].as_str().unwrap())).unwrap();
        let pictures = open_pictures(&bytes, DecodeLimits::default())
            .unwrap()
            .expect("a PDF is a file of pages");
        let pages: Vec<_> = pictures.map(Result::unwrap).collect();
        let want_pages = l["pages"].as_array().unwrap();
        assert_eq!(pages.len(), want_pages.len());
        for (page, want) in pages.iter().zip(want_pages) {
            let size: Vec<u64> = serde_json::from_value(want["png_size_px"].clone()).unwrap();
            let got_size = [page.image.width(), page.image.height()];
            assert!(
                size.iter()
                    .zip(got_size)
                    .all(|(a, b)| a.abs_diff(u64::from(b)) <= 1),
                "{size:?} {got_size:?}"
            );
            assert_eq!(page.dpi, Some(150.0));
            assert_eq!(page.damage, None);
            let panels = want["panels"].as_array().unwrap();
            assert_eq!(page.placed.len(), panels.len(), "page {}", want["page"]);
            for (placed, panel) in page.placed.iter().zip(panels) {
                let b: Vec<i64> = serde_json::from_value(panel["box_px"].clone()).unwrap();
                let r = placed.rect;
                let got = [r.x, r.y, r.width as i64, r.height as i64];
                assert!(
                    b.iter().zip(got).all(|(a, g)| (a - g).abs() <= 2),
                    "page {} panel {}: {b:?} vs {got:?}",
                    want["page"],
                    panel["panel"]
                );
                let (w, h) = (placed.image.width(), placed.image.height());
                assert!(
                    (w * 2).abs_diff(b[2] as u32 * 3) <= 2
                        && (h * 2).abs_diff(b[3] as u32 * 3) <= 2,
                    "{w}x{h} for {b:?}"
                );
            }
        }
    }
    let bytes = std::fs::read(boards.join("pages/stack3.pdf")).unwrap();
    let limits = DecodeLimits {
        max_frames: 3,
        ..DecodeLimits::default()
    };
    let pages: Vec<_> = open_pictures(&bytes, limits).unwrap().unwrap().collect();
    assert_eq!(pages.len(), 4);
    assert!(pages[..3].iter().all(Result::is_ok));
    assert!(matches!(
        pages[3],
        Err(MediaError::OverLimit {
            what: "pages",
            limit: 3
        })
    ));
}

/// A PDF of the given page objects (the catalog is object 1, the page tree object 2),
/// with a correct cross-reference table.
fn pdf(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Pages (each its own content) under one page tree that declares `count` pages.
fn pdf_of_pages(contents: &[&str], count: usize, media_box: &str) -> Vec<u8> {
    let n = contents.len();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Count {count} /Kids [{}] >>",
            kids.join(" ")
        ),
    ];
    for (i, c) in contents.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [{media_box}] /Contents {} 0 R >>",
            4 + 2 * i
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{c}\nendstream", c.len()));
    }
    pdf(&objects)
}

const SQUARES: &str = "0 0 1 rg 20 20 80 80 re f 1 0 0 rg 120 60 60 120 re f";

/// Hostile and broken PDFs each give their file's error (or a partial result that says
/// which page), in the same scan as a PNG that is still found; a page the renderer
/// reports damage on is hashed but leaves the file partial; a page whose box is empty
/// (poppler lays it out as a blank Letter page) is not checked. Nothing is clean.
#[test]
fn bad_pdfs_are_per_file_errors_and_the_scan_goes_on() {
    let env = TestEnv::new();
    index(&env, &[&fixture("strip.png")]);
    let d = env.path("delivery");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(fixture("strip.png"), d.join("strip.png")).unwrap();
    let good = pdf_of_pages(&[SQUARES, SQUARES], 2, "0 0 200 200");
    env.write("plain.pdf", &good);
    let o = Command::new("qpdf")
        .args(["--encrypt", "user", "owner", "256", "--"])
        .args([env.path("plain.pdf"), d.join("encrypted.pdf")])
        .output()
        .expect("qpdf (scripts/setup.sh installs it)");
    assert!(o.status.success(), "{o:?}");
    env.write("delivery/truncated.pdf", &good[..good.len() * 2 / 3]);
    env.write(
        "delivery/garbage.pdf",
        b"%PDF-1.7\n\x00\x01\x02garbage, then nothing\n",
    );
    env.write(
        "delivery/bomb.pdf",
        &pdf_of_pages(&[SQUARES], 1_000_000, "0 0 200 200"),
    );
    env.write("delivery/zero.pdf", &pdf_of_pages(&[""], 1, "0 0 0 0"));
    // Page 2 draws a picture the document does not have.
    let damaged = pdf_of_pages(
        &[SQUARES, "q 100 0 0 100 0 0 cm /Im9 Do Q"],
        2,
        "0 0 200 200",
    );
    env.write("delivery/damaged.pdf", &damaged);

    let (code, report) = scan(&env, &d);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(
        matches(&report),
        [("strip.png".to_string(), "strip.png".to_string())]
    );
    let expect = |file: &str, status: &str, says: &str| {
        let (got, error) = status_of(&report, file);
        assert_eq!(got, status, "{file}: {error}");
        assert!(error.contains(says), "{file}: {error}");
    };
    expect("encrypted.pdf", "error", "encrypted");
    expect("truncated.pdf", "error", "cannot be opened");
    expect("garbage.pdf", "error", "cannot be opened");
    expect("bomb.pdf", "error", "Page count (1000000)");
    expect("damaged.pdf", "partial", "page 2: renderer reported");
    let (zero, _) = status_of(&report, "zero.pdf");
    assert_ne!(zero, "ok", "a blank page is not evidence of anything");
    assert_eq!(report["summary"]["verdict"], "error");
}

/// Without poppler's tools a PDF is an error that names the package to install.
#[test]
fn a_pdf_without_poppler_installed_names_the_package() {
    let env = TestEnv::new();
    let file = env.write("one.pdf", &pdf_of_pages(&[SQUARES], 1, "0 0 200 200"));
    let o = Command::new(env!("CARGO_BIN_EXE_celprint"))
        .args(["hash", s(&file)])
        .env("PATH", env.path("no-tools"))
        .output()
        .unwrap();
    let err = common::stderr(&o);
    assert!(err.contains("poppler-utils"), "{err}");
    assert_ne!(o.status.code(), Some(0));
}
