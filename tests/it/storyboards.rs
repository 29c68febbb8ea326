//! Storyboards matched by their panels, on the shared boards and pages
//! (`media/storyboards`, whose `layout.json` gives every panel's box and the animatic's
//! timings): a page laid out anew, a single panel, a mixed page, a scanned page, an
//! animatic against the PDF, and pages that share only the template, which are clean.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{convert, index, s, scan, scan_with, shared, Scanned, TestEnv};

struct Layout(Value);

/// One panel as `layout.json` places it.
struct PanelAt {
    board: String,
    page: u64,
    rect: [i64; 4],
}

impl Layout {
    fn load(shared: &Path) -> Layout {
        let text = std::fs::read_to_string(shared.join("media/storyboards/layout.json")).unwrap();
        Layout(serde_json::from_str(&text).unwrap())
    }

    /// Every panel of a layout (`stack3`, `grid6`), in page order.
    fn panels(&self, layout: &str) -> Vec<PanelAt> {
        let pages = self.0["layouts"][layout]["pages"].as_array().unwrap();
        pages
            .iter()
            .flat_map(|page| {
                let number = page["page"].as_u64().unwrap();
                page["panels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |p| PanelAt {
                        board: p["board"].as_str().unwrap().to_string(),
                        page: number,
                        rect: box_of(&p["box_px"]),
                    })
            })
            .collect()
    }
}

fn box_of(v: &Value) -> [i64; 4] {
    let a: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    [a[0], a[1], a[2], a[3]]
}

fn panel_of(side: &Value) -> Option<[i64; 4]> {
    let p = side.get("panel")?;
    Some(["x", "y", "w", "h"].map(|k| p[k].as_i64().unwrap()))
}

fn near(a: [i64; 4], b: [i64; 4], px: i64) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= px)
}

fn matches(r: &Scanned) -> Vec<Value> {
    r.report["matches"].as_array().unwrap().clone()
}

fn pages(shared: &Path, pattern: &str) -> Vec<String> {
    let dir = shared.join("media/storyboards/pages");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(pattern) && name.ends_with(".png")
        })
        .map(|p| p.display().to_string())
        .collect();
    out.sort();
    out
}

/// `page` with each picture drawn into its box (flattened over white, stretched to the
/// box), written to `out`: a page with other drawings in some of its frames.
fn paste(page: &Path, pictures: &[(PathBuf, [i64; 4])], out: &Path) {
    let mut args = vec![s(page).to_string()];
    for (picture, [x, y, w, h]) in pictures {
        args.extend(
            [
                "(",
                s(picture),
                "-background",
                "white",
                "-flatten",
                "-resize",
                &format!("{w}x{h}!"),
                ")",
                "-geometry",
                &format!("+{x}+{y}"),
                "-composite",
            ]
            .map(String::from),
        );
    }
    args.push(s(out).to_string());
    convert(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The stack3 pages banked as PNGs: the bank every test here starts from.
fn bank_stack3(env: &TestEnv, shared: &Path) {
    let files = pages(shared, "stack3_p");
    index(env, &files.iter().map(String::as_str).collect::<Vec<_>>());
}

/// Each banked panel that `found` names on the bank side, by the board layout.json
/// puts there on a stack3 page.
fn bank_board(layout: &Layout, m: &Value) -> Option<String> {
    let path = m["bank_asset"]["path"].as_str()?;
    let page: u64 = path
        .rsplit("_p")
        .next()?
        .trim_end_matches(".png")
        .parse()
        .ok()?;
    let rect = panel_of(&m["bank_asset"])?;
    layout
        .panels("stack3")
        .into_iter()
        .find(|p| p.page == page && near(p.rect, rect, 3))
        .map(|p| p.board)
}

#[test]
fn a_page_laid_out_anew_is_found_panel_by_panel() {
    let Some(shared) = shared() else { return };
    let layout = Layout::load(&shared);
    let env = TestEnv::new();
    bank_stack3(&env, &shared);
    let grid = pages(&shared, "grid6_p");
    let r = scan(&env, &grid.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 1);
    let found = matches(&r);
    // Every grid6 panel meets the banked panel of the same board, with both boxes.
    for want in layout.panels("grid6") {
        let hit = found.iter().find(|m| {
            let path = m["query"]["path"].as_str().unwrap();
            path.ends_with(&format!("grid6_p{:02}.png", want.page))
                && panel_of(&m["query"]).is_some_and(|b| near(b, want.rect, 3))
        });
        let hit =
            hit.unwrap_or_else(|| panic!("{} on grid6 page {} not found", want.board, want.page));
        assert_eq!(
            bank_board(&layout, hit).as_deref(),
            Some(want.board.as_str())
        );
        assert_eq!(hit["query"]["page"], 1, "a PNG page is page 1");
    }
    // The pages themselves share no picture with the banked pages: nothing else.
    assert!(found.iter().all(|m| panel_of(&m["query"]).is_some()));
}

#[test]
fn a_single_board_and_a_mixed_page_meet_the_banked_panels_only() {
    let Some(shared) = shared() else { return };
    let layout = Layout::load(&shared);
    let env = TestEnv::new();
    bank_stack3(&env, &shared);
    let sb = shared.join("media/storyboards");
    // A board delivered alone, as a JPEG.
    let single = env.path("bbb_f0396.jpg");
    convert(&[
        s(&sb.join("boards/bbb_f0396.png")),
        "-quality",
        "85",
        s(&single),
    ]);
    // grid6 page 1 with two panels drawn anew: the other four are banked boards.
    let mixed = env.path("mixed.png");
    let lineart = shared.join("media/stills/lineart");
    paste(
        &sb.join("pages/grid6_p01.png"),
        &[
            (lineart.join("elephant.png"), [677, 186, 400, 300]),
            (lineart.join("frog.png"), [677, 688, 400, 300]),
        ],
        &mixed,
    );
    let r = scan(&env, &[s(&single), s(&mixed)]);
    let found = matches(&r);
    let of = |file: &str| -> Vec<&Value> {
        found
            .iter()
            .filter(|m| m["query"]["path"].as_str().unwrap().ends_with(file))
            .collect()
    };
    let single_hits = of("bbb_f0396.jpg");
    assert_eq!(single_hits.len(), 1, "{single_hits:?}");
    assert_eq!(
        bank_board(&layout, single_hits[0]).as_deref(),
        Some("bbb_f0396")
    );
    let mut boards: Vec<String> = of("mixed.png")
        .iter()
        .map(|m| bank_board(&layout, m).expect("a banked panel"))
        .collect();
    boards.sort();
    assert_eq!(
        boards,
        [
            "tux_bald_eagle",
            "tux_desert_tortoise",
            "tux_nagasaki",
            "tux_street"
        ],
        "the four banked boards, not the two new drawings"
    );
}

#[test]
fn a_scanned_page_is_found_and_pages_sharing_only_the_template_are_clean() {
    let Some(shared) = shared() else { return };
    let layout = Layout::load(&shared);
    let env = TestEnv::new();
    bank_stack3(&env, &shared);
    let sb = shared.join("media/storyboards/pages");
    // Scanned-like: turned 1.5°, on tinted paper, greyscale JPEG.
    let scanned = env.path("scan.jpg");
    convert(&[
        s(&sb.join("grid6_p03.png")),
        "-background",
        "white",
        "-rotate",
        "1.5",
        "-fill",
        "#f3ead8",
        "-colorize",
        "15",
        "-colorspace",
        "Gray",
        "-quality",
        "70",
        s(&scanned),
    ]);
    let r = scan(&env, &[s(&scanned)]);
    let mut boards: Vec<String> = matches(&r)
        .iter()
        .filter_map(|m| bank_board(&layout, m))
        .collect();
    boards.sort();
    boards.dedup();
    assert_eq!(boards, ["bbb_f0216", "bbb_f0396", "bbb_f0444", "bbb_f0570"]);

    // The template alone: a banked page with its pictures blanked out, and the same
    // page with other drawings in its frames.
    let blank = env.path("blank.png");
    let mut args = vec![
        s(&sb.join("stack3_p01.png")).to_string(),
        "-fill".into(),
        "white".into(),
    ];
    for p in layout.panels("stack3").iter().filter(|p| p.page == 1) {
        let [x, y, w, h] = p.rect;
        args.push("-draw".into());
        args.push(format!("rectangle {x},{y} {},{}", x + w - 1, y + h - 1));
    }
    args.push(s(&blank).to_string());
    convert(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let other = env.path("other.png");
    let lineart = shared.join("media/stills/lineart");
    let drawings: Vec<(PathBuf, [i64; 4])> = layout
        .panels("stack3")
        .iter()
        .filter(|p| p.page == 1)
        .zip(["elephant.png", "frog.png", "rocket.png"])
        .map(|(p, art)| (lineart.join(art), p.rect))
        .collect();
    paste(&blank, &drawings, &other);
    let r = scan(&env, &[s(&blank), s(&other)]);
    assert_eq!(r.code, 0, "{:#}", r.report["matches"]);
    assert_eq!(r.report["summary"]["verdict"], "clean");
}

#[test]
fn an_animatic_meets_the_banked_pdf_panel_by_panel_with_its_seconds() {
    let Some(shared) = shared() else { return };
    let layout = Layout::load(&shared);
    let env = TestEnv::new();
    let sb = shared.join("media/storyboards");
    index(&env, &[s(&sb.join("pages/stack3.pdf"))]);
    let r = scan(&env, &[s(&sb.join("animatic/animatic_1280x720_24fps.mp4"))]);
    let found = matches(&r);
    let timeline = layout.0["animatic"]["timeline"].as_array().unwrap();
    let stack3 = layout.panels("stack3");
    for shot in timeline.iter().filter(|t| t.get("board").is_some()) {
        let board = shot["board"].as_str().unwrap();
        let (start, end) = (
            shot["start_s"].as_f64().unwrap(),
            shot["end_s"].as_f64().unwrap(),
        );
        let want = stack3.iter().find(|p| p.board == board).unwrap();
        let hit = found.iter().find(|m| {
            m["bank_asset"]["page"].as_u64() == Some(want.page)
                && panel_of(&m["bank_asset"]).is_some_and(|b| near(b, want.rect, 3))
        });
        let hit = hit.unwrap_or_else(|| panic!("{board} not found in the animatic"));
        let q = &hit["query"];
        let (qs, qe) = (q["start_s"].as_f64().unwrap(), q["end_s"].as_f64().unwrap());
        assert!(
            (qs - start).abs() < 0.1 && (qe - end).abs() < 0.1,
            "{board}: {qs}-{qe}, held {start}-{end}"
        );
    }
}

/// The HTML review page shows a match on a banked PDF page with that page's picture,
/// and outlines the panel on both sides.
#[test]
fn the_review_page_shows_the_banked_pdf_page_with_both_panels_outlined() {
    let Some(shared) = shared() else { return };
    let env = TestEnv::new();
    let sb = shared.join("media/storyboards/pages");
    index(&env, &[s(&sb.join("stack3.pdf"))]);
    let html = env.path("r.html");
    let r = scan_with(&env, &["--html", s(&html)], &[s(&sb.join("grid6_p03.png"))]);
    let found = matches(&r).len();
    assert_eq!(found, 4, "the page's four boards");
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("data:image/jpeg").count(),
        2 * found,
        "a picture on each side"
    );
    assert_eq!(
        page.matches("class=\"inset\"").count(),
        2 * found,
        "each panel outlined"
    );
    assert!(
        page.contains("Banked page</dt><dd>page 4, panel"),
        "the PDF page named"
    );
}

/// A one-page PDF that draws `png`'s picture (grey) over a page `scale` times the size
/// the shared pages have at 150 dpi, with the picture's own pixels embedded: a poster
/// of a storyboard page.
fn poster_pdf(png: &Path, scale: f64) -> (Vec<u8>, [f64; 2]) {
    let img = image::open(png).unwrap().to_luma8();
    let (w, h) = (img.width(), img.height());
    let page = [
        f64::from(w) * 72.0 / 150.0 * scale,
        f64::from(h) * 72.0 / 150.0 * scale,
    ];
    let content = format!("q {} 0 0 {} 0 0 cm /Im1 Do Q", page[0], page[1]);
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, head: String, stream: Option<&[u8]>| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{head}\n", offsets.len()).as_bytes());
        if let Some(bytes) = stream {
            out.extend_from_slice(b"stream\n");
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\nendstream\n");
        }
        out.extend_from_slice(b"endobj\n");
    };
    object(&mut out, "<< /Type /Catalog /Pages 2 0 R >>".into(), None);
    object(
        &mut out,
        "<< /Type /Pages /Count 1 /Kids [3 0 R] >>".into(),
        None,
    );
    let page_object = format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
        page[0], page[1]
    );
    object(&mut out, page_object, None);
    let content_head = format!("<< /Length {} >>", content.len());
    object(&mut out, content_head, Some(content.as_bytes()));
    let image_head = format!(
        "<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {} >>",
        img.as_raw().len()
    );
    object(&mut out, image_head, Some(img.as_raw()));
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    let trailer = format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    );
    out.extend_from_slice(trailer.as_bytes());
    (out, page)
}

/// A storyboard page printed as a poster 4 times its size: at 150 dpi it would be 34
/// megapixels, so under `--max-megapixels 10` it is rendered coarser. Each side of a
/// match on it gives the `dpi` it was rendered at, with which its panel's box in pixels
/// lands on the panel's place in the PDF's points (4 × the shared page's `box_pt`); a
/// PNG's side has none.
#[test]
fn a_pdf_page_rendered_under_the_pixel_limit_gives_its_dpi_on_each_side() {
    let Some(shared) = shared() else { return };
    let layout = Layout::load(&shared);
    let env = TestEnv::new();
    let png = shared.join("media/storyboards/pages/stack3_p01.png");
    let (bytes, page_pt) = poster_pdf(&png, 4.0);
    let poster = env.write("poster.pdf", &bytes);
    let limit = ["--max-megapixels", "10"];
    let db = env.db();
    let mut args = vec!["index", "--db", s(&db)];
    args.extend_from_slice(&limit);
    args.push(s(&poster));
    crate::common::expect_code(&env.run(&args), 0);
    // Where the PDF draws panel 1, in points from the top left, and what 150 dpi would
    // have made of the page.
    let first = &layout.0["layouts"]["stack3"]["pages"][0]["panels"][0];
    let want_pt: Vec<f64> = first["box_pt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() * 4.0)
        .collect();
    assert!(page_pt[0] * page_pt[1] * (150.0f64 / 72.0).powi(2) > 30e6);
    // The side of a match (`query` or `bank_asset`) whose panel lies nearest panel 1 in
    // the PDF's points, read through its own dpi: it must lie on it.
    let check = |found: &[Value], side: &str| {
        let (error, dpi) = found
            .iter()
            .filter_map(|m| {
                let dpi = m[side]["dpi"].as_f64()?;
                let in_pt = panel_of(&m[side])?.map(|v| v as f64 * 72.0 / dpi);
                let error = in_pt
                    .iter()
                    .zip(&want_pt)
                    .map(|(g, w)| (g - w).abs())
                    .fold(0.0, f64::max);
                Some((error, dpi))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or_else(|| panic!("{side}: no panel with a dpi in {found:#?}"));
        assert!(
            error <= 4.0,
            "{side}: panel 1 off by {error} pt at {dpi} dpi"
        );
        assert!(dpi < 150.0 && dpi > 40.0, "{side}: {dpi}");
        let rendered = (page_pt[0] * dpi / 72.0).ceil() * (page_pt[1] * dpi / 72.0).ceil();
        assert!(
            rendered <= 10e6 && rendered > 9e6,
            "{side}: {dpi} dpi, {rendered} px"
        );
    };

    let r = scan_with(&env, &limit, &[s(&png)]);
    let found = matches(&r);
    check(&found, "bank_asset");
    assert!(
        found.iter().all(|m| m["query"].get("dpi").is_none()),
        "a PNG has no dpi: {found:#?}"
    );

    let r = scan_with(&env, &limit, &[s(&poster)]);
    check(&matches(&r), "query");
}

/// The board the keypoint test cuts and collages.
const BOARD: &str = "tux_woodpecker";

/// Keypoints per panel: a board cut 5 % off the left and the top and resized back (its
/// hash moves past the radius), and a board pasted 480 pixels wide onto a frame of Sintel,
/// each meet the banked page's panel that holds it, with page and panel; line art the
/// boards do not use, and a banked page with its pictures blanked (the template), stay
/// clean.
#[test]
fn a_cut_or_collaged_board_meets_its_banked_panel_by_keypoints() {
    let Some(shared) = shared() else { return };
    let layout = Layout::load(&shared);
    let env = TestEnv::new();
    let sb = shared.join("media/storyboards");
    let pages = pages(&shared, "stack3_p");
    index(&env, &pages.iter().map(String::as_str).collect::<Vec<_>>());
    let want = layout
        .panels("stack3")
        .into_iter()
        .find(|p| p.board == BOARD)
        .unwrap();
    let board = sb.join(format!("boards/{BOARD}.png"));
    let (w, h) = image::image_dimensions(&board).unwrap();
    let cut = env.path("cut.jpg");
    let (x0, y0) = (w * 5 / 100, h * 5 / 100);
    convert(&[
        s(&board),
        "-crop",
        &format!("{}x{}+{x0}+{y0}", w - x0, h - y0),
        "+repage",
        "-resize",
        &format!("{w}x{h}!"),
        "-quality",
        "85",
        s(&cut),
    ]);
    let frame = env.path("sintel.png");
    crate::common::ffmpeg(&[
        "-ss",
        "15",
        "-i",
        &crate::common::media(&shared, "sintel/mangomm_sintel_848x480_26s.mp4"),
        "-frames:v",
        "1",
        s(&frame),
    ]);
    let collage = env.path("collage.jpg");
    convert(&[
        s(&frame),
        "(",
        s(&board),
        "-resize",
        "480x360",
        ")",
        "-geometry",
        "+328+60",
        "-composite",
        "-quality",
        "85",
        s(&collage),
    ]);
    for (delivered, inset) in [(&cut, false), (&collage, true)] {
        let r = scan(&env, &[s(delivered)]);
        let found = matches(&r);
        let hit = found
            .iter()
            .find(|m| {
                m["bank_asset"]["path"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("stack3_p{:02}.png", want.page))
                    && panel_of(&m["bank_asset"]).is_some_and(|b| near(b, want.rect, 3))
            })
            .unwrap_or_else(|| panic!("{}: {found:#?}", delivered.display()));
        assert!(hit["local"]["keypoints"].as_u64().unwrap() >= 47, "{hit:#}");
        assert_eq!(hit["query_inset"].is_object(), inset, "{hit:#}");
        assert_eq!(found.len(), 1, "{found:#?}");
    }

    let blank_page = env.path("template.png");
    let mut cmd = vec![pages[0].clone(), "-fill".into(), "white".into()];
    for p in layout.panels("stack3").iter().filter(|p| p.page == 1) {
        let [x, y, w, h] = p.rect;
        cmd.push("-draw".into());
        cmd.push(format!("rectangle {x},{y} {},{}", x + w - 1, y + h - 1));
    }
    cmd.push(s(&blank_page).to_string());
    convert(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
    let lineart = shared.join("media/stills/lineart");
    let r = scan(
        &env,
        &[
            s(&blank_page),
            s(&lineart.join("elephant.png")),
            s(&lineart.join("rocket.png")),
        ],
    );
    assert_eq!(r.code, 0, "{:#}", r.report["matches"]);
}
