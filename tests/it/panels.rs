//! Panels of the shared storyboard pages (`media/storyboards`): the 11 PNG pages, the
//! same pages rasterised from the two PDFs with pdftoppm, and scanned-like copies made
//! with ImageMagick. Every panel of `layout.json` must be found at IoU >= 0.8 on at
//! least 98 % of each variant's panels, with no non-blank panel that is not one of them.
//! With `--nocapture` each variant prints a `panels-eval` line (scripts/eval measure panels
//! collects them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use celprint::fingerprint::panels::{find_panels, Panel};
use rayon::prelude::*;
use serde_json::Value;

use crate::common::{self, s, TestEnv};

const MIN_IOU: f64 = 0.8;
const MIN_RECALL: f64 = 0.98;

struct Page {
    png: PathBuf,
    /// Which PDF and which page of it.
    pdf: (String, usize),
    boxes: Vec<[f64; 4]>,
}

fn pages(sb: &Path) -> Vec<Page> {
    let layout: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.join("layout.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (name, l) in layout["layouts"].as_object().unwrap() {
        for p in l["pages"].as_array().unwrap() {
            let boxes = p["panels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| {
                    let b: Vec<f64> = q["box_px"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect();
                    [b[0], b[1], b[2], b[3]]
                })
                .collect();
            out.push(Page {
                png: sb.join(p["png"].as_str().unwrap()),
                pdf: (name.clone(), p["page"].as_u64().unwrap() as usize),
                boxes,
            });
        }
    }
    assert_eq!(out.len(), 11, "the shared set has 11 pages");
    out
}

/// How a variant moved the page's pixels: resized by `scale`, then turned `turn`
/// degrees clockwise about the centre of the resized page on the same canvas
/// (ImageMagick's `-distort SRT`, so a scan's skew without a bigger canvas). A box goes
/// where its centre goes and keeps its (scaled) size: the detector returns the upright
/// box of a skewed panel's size about its centre, and at 2° that box and the turned
/// picture area overlap at IoU 0.95 or more.
#[derive(Clone, Copy)]
struct Geo {
    scale: f64,
    turn: f64,
}

struct Variant {
    name: &'static str,
    args: &'static [&'static str],
    ext: &'static str,
    geo: Geo,
}

const SAME: Geo = Geo {
    scale: 1.0,
    turn: 0.0,
};

fn variants() -> Vec<Variant> {
    let turn = |t| Geo {
        scale: 1.0,
        turn: t,
    };
    let scale = |s| Geo {
        scale: s,
        turn: 0.0,
    };
    let v = |name, args: &'static [&'static str], ext, geo| Variant {
        name,
        args,
        ext,
        geo,
    };
    vec![
        v(
            "rotate+1.5",
            &["-virtual-pixel", "white", "-distort", "SRT", "1.5"],
            "png",
            turn(1.5),
        ),
        v(
            "rotate-1.5",
            &["-virtual-pixel", "white", "-distort", "SRT", "-1.5"],
            "png",
            turn(-1.5),
        ),
        v(
            "rotate+2",
            &["-virtual-pixel", "white", "-distort", "SRT", "2"],
            "png",
            turn(2.0),
        ),
        v(
            "rotate-2",
            &["-virtual-pixel", "white", "-distort", "SRT", "-2"],
            "png",
            turn(-2.0),
        ),
        v("scale0.8", &["-resize", "80%"], "png", scale(0.8)),
        v("scale1.25", &["-resize", "125%"], "png", scale(1.25)),
        v(
            "tint",
            &["-fill", "#f3ead8", "-colorize", "20"],
            "png",
            SAME,
        ),
        v("jpeg60", &["-quality", "60"], "jpg", SAME),
        v("grey", &["-colorspace", "Gray"], "png", SAME),
        v(
            "combined",
            &[
                "-resize",
                "90%",
                "-virtual-pixel",
                "white",
                "-distort",
                "SRT",
                "-1.2",
                "-fill",
                "#f3ead8",
                "-colorize",
                "20",
                "-colorspace",
                "Gray",
                "-quality",
                "60",
            ],
            "jpg",
            Geo {
                scale: 0.9,
                turn: -1.2,
            },
        ),
    ]
}

fn run(cmd: &mut Command) {
    let o = cmd.output().expect("run tool");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn convert(src: &Path, args: &[&str], dst: &Path) {
    run(Command::new("convert").arg(src).args(args).arg(dst));
}

fn luma(path: &Path) -> (image::GrayImage, (f64, f64)) {
    let img = image::open(path).expect("decode page").to_luma8();
    let size = (f64::from(img.width()), f64::from(img.height()));
    (img, size)
}

fn mapped(b: &[f64; 4], geo: Geo, orig: (f64, f64), now: (f64, f64)) -> [f64; 4] {
    // ImageMagick rounds the resized page to whole pixels: the sizes give the exact scale.
    let (sx, sy) = (now.0 / orig.0, now.1 / orig.1);
    assert!((sx - geo.scale).abs() < 0.01 && (sy - geo.scale).abs() < 0.01);
    let (w, h) = (b[2] * sx, b[3] * sy);
    let (cx, cy) = ((b[0] + b[2] / 2.0) * sx, (b[1] + b[3] / 2.0) * sy);
    let (s, c) = geo.turn.to_radians().sin_cos();
    let (dx, dy) = (cx - now.0 / 2.0, cy - now.1 / 2.0);
    let (cx, cy) = (now.0 / 2.0 + c * dx - s * dy, now.1 / 2.0 + s * dx + c * dy);
    [cx - w / 2.0, cy - h / 2.0, w, h]
}

fn iou(a: &[f64; 4], p: &Panel) -> f64 {
    let r = p.rect;
    let b = [r.x as f64, r.y as f64, r.width as f64, r.height as f64];
    let ix = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let iy = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// CPU seconds this thread has used: on a shared machine the wall clock also counts the
/// time spent waiting for a core.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[derive(Default)]
struct Score {
    panels: usize,
    found: usize,
    extra: usize,
    pages: usize,
    ms: f64,
    cpu_ms: f64,
    misses: Vec<String>,
}

/// Finds the panels of `file` and scores them against `page`'s boxes moved by `geo`.
fn score(file: &Path, page: &Page, geo: Geo, orig: (f64, f64), sc: &mut Score) {
    let (img, now) = luma(file);
    let (t, cpu) = (Instant::now(), thread_cpu_s());
    let got = find_panels(&img);
    sc.ms += t.elapsed().as_secs_f64() * 1000.0;
    sc.cpu_ms += (thread_cpu_s() - cpu) * 1000.0;
    sc.pages += 1;
    let want: Vec<[f64; 4]> = page
        .boxes
        .iter()
        .map(|b| mapped(b, geo, orig, now))
        .collect();
    for w in &want {
        sc.panels += 1;
        if got.iter().any(|g| !g.blank && iou(w, g) >= MIN_IOU) {
            sc.found += 1;
        } else {
            sc.misses
                .push(format!("{}: missed {w:?}; got {got:?}", s(file)));
        }
    }
    for g in got.iter().filter(|g| !g.blank) {
        if !want.iter().any(|w| iou(w, g) >= MIN_IOU) {
            sc.extra += 1;
            sc.misses.push(format!("{}: extra {:?}", s(file), g.rect));
        }
    }
}

fn report(name: &str, sc: &Score) -> bool {
    let recall = sc.found as f64 / sc.panels as f64;
    eprintln!(
        "panels-eval variant={name} pages={} panels={} found={} recall={:.3} extra={} ms_per_page={:.1} cpu_ms_per_page={:.1}",
        sc.pages,
        sc.panels,
        sc.found,
        recall,
        sc.extra,
        sc.ms / sc.pages as f64,
        sc.cpu_ms / sc.pages as f64
    );
    for m in &sc.misses {
        eprintln!("  {m}");
    }
    recall >= MIN_RECALL && sc.extra == 0
}

#[test]
fn storyboard_pages_and_scanned_copies() {
    let Some(shared) = common::shared() else {
        return;
    };
    let sb = shared.join("media/storyboards");
    let pages = pages(&sb);
    let env = TestEnv::new();
    for pdf in ["stack3", "grid6"] {
        run(Command::new("pdftoppm")
            .args(["-r", "150", "-png"])
            .arg(sb.join("pages").join(format!("{pdf}.pdf")))
            .arg(env.path(pdf)));
    }
    let variants = variants();
    // Every scanned-like copy is made first (ImageMagick, in parallel), then judged.
    let jobs: Vec<(usize, usize)> = (0..variants.len())
        .flat_map(|v| (0..pages.len()).map(move |p| (v, p)))
        .collect();
    let copy = |v: usize, p: usize| env.path(&format!("v{v}_p{p}.{}", variants[v].ext));
    jobs.par_iter()
        .for_each(|&(v, p)| convert(&pages[p].png, variants[v].args, &copy(v, p)));

    let mut ok = true;
    let mut png = Score::default();
    let mut pdf = Score::default();
    for page in &pages {
        let (_, orig) = luma(&page.png);
        score(&page.png, page, SAME, orig, &mut png);
        let raster = env.path(&format!("{}-{}.png", page.pdf.0, page.pdf.1));
        score(&raster, page, SAME, orig, &mut pdf);
    }
    ok &= report("png", &png);
    ok &= report("pdf", &pdf);
    for (v, variant) in variants.iter().enumerate() {
        let mut sc = Score::default();
        for (p, page) in pages.iter().enumerate() {
            let (_, orig) = luma(&page.png);
            score(&copy(v, p), page, variant.geo, orig, &mut sc);
        }
        ok &= report(variant.name, &sc);
    }
    assert!(
        ok,
        "a variant is under {MIN_RECALL} recall or has extra panels (see above)"
    );
}

/// The same template with the pictures painted out: frames, header and text fields
/// stay. Nothing there is evidence, so every panel found is blank.
#[test]
fn pages_with_their_pictures_painted_out_give_only_blank_panels() {
    let Some(shared) = common::shared() else {
        return;
    };
    let sb = shared.join("media/storyboards");
    let env = TestEnv::new();
    for (i, page) in pages(&sb).iter().enumerate() {
        let mut args = vec!["-fill".to_string(), "white".to_string()];
        for b in &page.boxes {
            args.push("-draw".into());
            args.push(format!(
                "rectangle {},{} {},{}",
                b[0],
                b[1],
                b[0] + b[2] - 1.0,
                b[1] + b[3] - 1.0
            ));
        }
        let out = env.path(&format!("blank{i}.png"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        convert(&page.png, &args, &out);
        let got = find_panels(&luma(&out).0);
        assert!(got.iter().all(|p| p.blank), "{}: {got:?}", s(&page.png));
        // The frames are still there, so the empty template is still seen as panels.
        assert_eq!(got.len(), page.boxes.len(), "{}: {got:?}", s(&page.png));
    }
}
