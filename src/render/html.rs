//! The HTML review report: one self-contained file (styles inline, pictures embedded as
//! data URIs) that a reviewer opens in any browser, offline, and can attach to a ticket.
//!
//! It shows, per delivered file and most severe label first, each match with the
//! delivered frame beside the banked frame at the start, middle and end of the run, both
//! timecodes, and what the bank says about the asset. The pictures are gathered by the
//! engine (`engine::gather_evidence`); this module only lays them out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::fingerprint::inset::Rect;
use crate::media::thumbnail::Thumbnail;
use crate::model::Label;
use crate::model::PanelBox;
use crate::report::{FileStatus, Match, ScanReport, Verdict};

/// Pictures for a report's matches, in the report's order.
#[derive(Debug, Default)]
pub struct Evidence {
    pub matches: Vec<MatchEvidence>,
    /// How many matches were given pictures at most (the rest are listed without).
    pub pictures_limit: usize,
}

/// The moments shown for one match; empty when the match got no pictures.
#[derive(Debug, Default)]
pub struct MatchEvidence {
    pub moments: Vec<Moment>,
}

/// One moment of a match, on both sides.
#[derive(Debug)]
pub struct Moment {
    /// "start", "middle", "end", or "match" for a still.
    pub label: &'static str,
    pub query_s: Option<f64>,
    pub bank_s: Option<f64>,
    /// The picture, or why there is none.
    pub query: Result<Thumbnail, String>,
    pub bank: Result<Thumbnail, String>,
}

/// Writes the report as one HTML page.
pub fn write_html(report: &ScanReport, evidence: &Evidence, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(report, evidence).as_bytes())
}

fn render(report: &ScanReport, evidence: &Evidence) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let (verdict, verdict_class) = match report.verdict() {
        Verdict::Clean => ("Clean: no match against the bank", "clean"),
        Verdict::Matches => (
            "Matches found: the delivery contains banked material",
            "matches",
        ),
        Verdict::NotChecked => (
            "Not checked: some of the delivery was not compared with the bank",
            "not-checked",
        ),
        Verdict::Error => ("Incomplete: not every file could be checked", "error"),
    };
    let s = &report.summary;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>celprint scan report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(verdict_class)
    );
    let _ = write!(
        h,
        "<header>\n<h1>celprint scan report</h1>\n<p class=\"verdict {verdict_class}\">{}</p>\n",
        esc(verdict)
    );
    let _ = writeln!(
        h,
        "<p class=\"counts\">{} files scanned · {} with matches · {} matches · {} errors · \
         {} partial · {} too low in quality to match · {} skipped (not media) · \
         {} hits on ignored material{}</p>",
        s.files,
        s.matched_files,
        s.matches,
        s.errors,
        s.partial,
        s.low_quality_files,
        s.skipped_not_media,
        s.ignored_hits,
        if s.cancelled {
            format!(" · cancelled, {} files not done", s.not_done)
        } else {
            String::new()
        }
    );
    h.push_str("<table class=\"facts\">\n");
    let params = serde_json::to_string(&report.bank.params).unwrap_or_default();
    let settings = serde_json::to_string(&report.settings).unwrap_or_default();
    let facts: [(&str, String); 8] = [
        ("Scanned", inputs_scanned(report)),
        (
            "When",
            format!("{} to {}", report.started_at, report.finished_at),
        ),
        (
            "Run",
            report
                .run_id
                .clone()
                .unwrap_or_else(|| "not recorded".into()),
        ),
        (
            "Bank",
            format!(
                "{} (format {}, generation {}, {} assets, {} segments)",
                report.bank.path,
                report.bank.format_version,
                report.bank.generation,
                report.bank.assets,
                report.bank.segments
            ),
        ),
        ("Bank parameters", params),
        ("Thresholds", settings),
        ("celprint", report.celprint_version.clone()),
        ("Verdict", verdict_class.to_string()),
    ];
    for (k, v) in facts {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    h.push_str("</table>\n");
    for why in &s.not_checked_because {
        let _ = writeln!(h, "<p class=\"verdict not-checked\">{}</p>", esc(why));
    }
    let problems: Vec<_> = report
        .scanned
        .iter()
        .filter(|f| !matches!(f.status, FileStatus::Ok | FileStatus::Text))
        .collect();
    if !problems.is_empty() {
        h.push_str("<h2>Files not fully checked</h2>\n<table class=\"errors\">\n<tr><th>File</th><th>Status</th><th>Error</th></tr>\n");
        for f in problems {
            let status = match f.status {
                FileStatus::Partial => "partial",
                FileStatus::NotChecked => "not checked",
                FileStatus::Skipped => "skipped",
                _ => "error",
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{status}</td><td>{}</td></tr>",
                esc(&f.path),
                esc(f.error.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>\n");
    }
    claims_table(&mut h, report);
    h.push_str("</header>\n<main>\n");

    // Group by delivered file; files ordered by their most severe match, then name.
    let mut files: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, m) in report.matches.iter().enumerate() {
        files.entry(m.query.path.as_str()).or_default().push(i);
    }
    let mut order: Vec<(&str, Vec<usize>)> = files.into_iter().collect();
    let worst = |idx: &[usize]| {
        idx.iter()
            .map(|&i| report.matches[i].bank_asset.label)
            .min()
    };
    order.sort_by(|a, b| worst(&a.1).cmp(&worst(&b.1)).then(a.0.cmp(b.0)));
    if order.is_empty() {
        h.push_str("<p class=\"none\">No matches.</p>\n");
    }
    for (path, mut idx) in order {
        idx.sort_by(|&a, &b| {
            let (ma, mb) = (&report.matches[a], &report.matches[b]);
            ma.bank_asset.label.cmp(&mb.bank_asset.label).then(
                ma.query
                    .start_s
                    .unwrap_or(0.0)
                    .total_cmp(&mb.query.start_s.unwrap_or(0.0)),
            )
        });
        let _ = write!(
            h,
            "<section class=\"file\">\n<h2><span class=\"label {}\">{}</span> {}</h2>\n",
            worst(&idx).map_or("", Label::name),
            worst(&idx).map_or("", Label::name),
            esc(path)
        );
        for i in idx {
            match_block(&mut h, &report.matches[i], evidence.matches.get(i));
        }
        h.push_str("</section>\n");
    }
    if report.matches.len() > evidence.pictures_limit && evidence.pictures_limit > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">Pictures are shown for the first {} matches only.</p>",
            evidence.pictures_limit
        );
    }
    h.push_str("</main>\n<footer>Written by celprint. Timecodes count frames from each file's first frame at its own frame rate (drop-frame, with <code>;</code>, for 29.97 and 59.94).</footer>\n</body>\n</html>\n");
    h
}

/// What the files say about themselves, as claims beside the evidence, and the claims
/// the bank contradicts (docs/claims.md).
fn claims_table(h: &mut String, report: &ScanReport) {
    let files: Vec<_> = report
        .scanned
        .iter()
        .filter(|f| !f.claims.is_empty())
        .collect();
    if files.is_empty() {
        return;
    }
    h.push_str("<h2>What the files claim about themselves</h2>\n<p class=\"note\">Metadata the files carry (container tags, EXIF, XMP, PNG text). Anyone can write these: they are claims, not evidence.</p>\n<table class=\"errors claims\">\n<tr><th>File</th><th>Claims</th><th>Contradicted by the bank</th></tr>\n");
    for f in files {
        let claims: Vec<String> = f
            .claims
            .iter()
            .map(|c| format!("{}: {} ({})", c.what.name(), esc(&c.value), esc(&c.from)))
            .collect();
        let conflicts: Vec<String> = f
            .claim_conflicts
            .iter()
            .map(|c| {
                format!(
                    "<span class=\"conflict\">says it was made {} ({}), but the bank has held {} since {} ({})</span>",
                    esc(&c.claim.value),
                    esc(&c.claim.from),
                    esc(&c.bank_path),
                    esc(&c.banked_since),
                    esc(&c.basis)
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.path),
            claims.join("<br>"),
            conflicts.join("<br>")
        );
    }
    h.push_str("</table>\n");
}

fn inputs_scanned(report: &ScanReport) -> String {
    let mut roots: Vec<&str> = report
        .scanned
        .iter()
        .map(|f| f.path.split("!/").next().unwrap_or(&f.path))
        .collect();
    roots.sort_unstable();
    roots.dedup();
    let shown: Vec<&str> = roots.iter().take(5).copied().collect();
    let more = roots.len().saturating_sub(shown.len());
    format!(
        "{} files: {}{}",
        report.summary.files,
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

fn match_block(h: &mut String, m: &Match, evidence: Option<&MatchEvidence>) {
    let label = m.bank_asset.label.name();
    let _ = write!(
        h,
        "<article class=\"match\">\n<h3><span class=\"label {label}\">{label}</span> {}</h3>\n<dl>\n",
        esc(&m.bank_asset.path)
    );
    let range = |start: Option<f64>, end: Option<f64>, fps: Option<f64>| match (start, end) {
        (Some(s), Some(e)) => format!(
            "{} – {} ({s:.2} s – {e:.2} s)",
            timecode(s, fps),
            timecode(e, fps)
        ),
        (Some(s), None) => format!("{} ({s:.2} s)", timecode(s, fps)),
        _ => "still".to_string(),
    };
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    };
    row(
        "Delivered",
        range(m.query.start_s, m.query.end_s, m.query.frame_rate),
    );
    row(
        "Banked",
        range(
            m.bank_asset.start_s,
            m.bank_asset.end_s,
            m.bank_asset.frame_rate,
        ),
    );
    row(
        "Score",
        format!(
            "{:.3} (median distance {} bits of 256)",
            m.score, m.median_distance
        ),
    );
    row(
        "Transform",
        match m.bank_crop {
            None => m.transform.name().to_string(),
            Some(keep) => format!(
                "{}, of the banked picture's centre {keep} % (a safe-area crop)",
                m.transform.name()
            ),
        },
    );
    if let Some(r) = m.query_inset {
        row(
            "Picture-in-picture",
            format!(
                "the banked picture is shown in an inset of the delivered frame: {}×{} pixels at ({}, {})",
                r.width, r.height, r.x, r.y
            ),
        );
    }
    for (side, page, panel) in [
        ("Delivered", m.query.page, m.query.panel),
        ("Banked", m.bank_asset.page, m.bank_asset.panel),
    ] {
        let place = match (page, panel) {
            (Some(p), Some(b)) => format!(
                "page {p}, panel {}×{} pixels at ({}, {})",
                b.w, b.h, b.x, b.y
            ),
            (None, Some(b)) => format!("panel {}×{} pixels at ({}, {})", b.w, b.h, b.x, b.y),
            (Some(p), None) => format!("page {p}"),
            (None, None) => continue,
        };
        row(&format!("{side} page"), place);
    }
    if let Some(l) = &m.local {
        let [left, top, right, bottom] = l.bank_area.map(|f| (f * 100.0).round());
        row(
            "Keypoints",
            format!(
                "matched by keypoints, not by the whole-frame hash: {} corners agree in each of {} delivered samples (median), the banked picture's content shown {:.2}× across and {:.2}× down; the delivered picture shows {left}–{right} % across and {top}–{bottom} % down of the banked one",
                l.keypoints, l.samples, l.scale_x, l.scale_y
            ),
        );
    }
    if m.specificity < 1.0 {
        row(
            "Common material",
            format!(
                "specificity {:.2}: these frames also match other banked assets (score scaled down)",
                m.specificity
            ),
        );
    }
    if let Some(d) = m.matched_duration_s {
        row(
            "Evidence",
            format!(
                "{} segments covering {d:.2} s{}",
                m.segments,
                if m.faint_only {
                    ", all faint (under the quality threshold: a fade or a dim shot, vouched for by the time line alone)"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(rate) = m.rate {
        row(
            "Speed",
            format!("{rate:.3} bank seconds per delivered second"),
        );
    }
    row(
        "Source",
        m.bank_asset.source.clone().unwrap_or_else(|| "–".into()),
    );
    row(
        "Note",
        m.bank_asset.note.clone().unwrap_or_else(|| "–".into()),
    );
    row("Bank digest", m.bank_asset.digest.clone());
    h.push_str("</dl>\n");
    let Some(ev) = evidence.filter(|e| !e.moments.is_empty()) else {
        h.push_str("</article>\n");
        return;
    };
    h.push_str("<table class=\"frames\">\n<tr><th></th><th>Delivered</th><th>Banked</th></tr>\n");
    for moment in &ev.moments {
        let _ = write!(h, "<tr><th>{}</th>", moment.label);
        picture(
            h,
            &moment.query,
            moment.query_s,
            m.query.frame_rate,
            m.query_inset.or(m.query.panel.map(rect)),
        );
        picture(
            h,
            &moment.bank,
            moment.bank_s,
            m.bank_asset.frame_rate,
            m.bank_asset.panel.map(rect),
        );
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</article>\n");
}

/// A storyboard panel's box as the outline a picture takes.
fn rect(b: PanelBox) -> Rect {
    Rect {
        x: b.x as usize,
        y: b.y as usize,
        width: b.w as usize,
        height: b.h as usize,
    }
}

/// One picture with its timecode; `mark` outlines a picture-in-picture inset or a
/// storyboard panel on it.
fn picture(
    h: &mut String,
    pic: &Result<Thumbnail, String>,
    time_s: Option<f64>,
    fps: Option<f64>,
    mark: Option<Rect>,
) {
    let caption = time_s
        .map(|t| format!("{} · {t:.3} s", timecode(t, fps)))
        .unwrap_or_default();
    match pic {
        Ok(t) => {
            let caption = match t.brightened {
                Some(gain) => format!("{caption} · dim: levels ×{gain:.1} for viewing"),
                None => caption,
            };
            // Placed in per cent of the picture, so it stays on the inset at any size.
            let outline = mark
                .map(|r| {
                    let (sw, sh) = (f64::from(t.source_width), f64::from(t.source_height));
                    let pc = |v: usize, of: f64| 100.0 * v as f64 / of;
                    format!(
                        "<div class=\"inset\" style=\"left:{:.2}%;top:{:.2}%;width:{:.2}%;height:{:.2}%\"></div>",
                        pc(r.x, sw),
                        pc(r.y, sh),
                        pc(r.width, sw),
                        pc(r.height, sh)
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                h,
                "<td><figure><div class=\"frame\"><img src=\"data:image/jpeg;base64,{}\" width=\"{}\" height=\"{}\" alt=\"frame at {}\">{outline}</div><figcaption>{}</figcaption></figure></td>",
                base64(&t.jpeg),
                t.width,
                t.height,
                esc(&caption),
                esc(&caption)
            );
        }
        Err(why) => {
            let _ = write!(
                h,
                "<td><figure><div class=\"missing\">no picture: {}</div><figcaption>{}</figcaption></figure></td>",
                esc(why),
                esc(&caption)
            );
        }
    }
}

/// SMPTE timecode of `time_s` counted in frames at `fps`: `HH:MM:SS:FF`, or drop-frame
/// `HH:MM:SS;FF` at 29.97 and 59.94 (frame numbers 0 and 1, or 0–3, skipped each minute
/// except every tenth, so the timecode keeps to the clock). Without a frame rate, the
/// time in seconds to the millisecond.
pub fn timecode(time_s: f64, fps: Option<f64>) -> String {
    let Some(fps) = fps.filter(|f| f.is_finite() && *f > 0.0) else {
        let ms = (time_s.max(0.0) * 1000.0).round() as u64;
        return format!(
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
    };
    let nominal = fps.round().max(1.0) as u64;
    let mut frame = (time_s.max(0.0) * fps + 1e-6).floor() as u64;
    let drop_frame = (fps - nominal as f64).abs() > 0.005 && (nominal == 30 || nominal == 60);
    if drop_frame {
        let dropped = nominal / 15; // 2 at 29.97, 4 at 59.94
        let per_minute = nominal * 60 - dropped;
        let per_ten = per_minute * 10 + dropped;
        let (tens, rest) = (frame / per_ten, frame % per_ten);
        frame += 9 * dropped * tens;
        if rest > dropped {
            frame += dropped * ((rest - dropped) / per_minute);
        }
    }
    let ff = frame % nominal;
    let secs = frame / nominal;
    format!(
        "{:02}:{:02}:{:02}{}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        if drop_frame { ';' } else { ':' },
        ff
    )
}

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), for data URIs.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1f24;background:#f4f5f7}
header,main,footer{max-width:1100px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0}
h2{font-size:17px;margin:24px 0 8px;word-break:break-all}
h3{font-size:15px;margin:0 0 8px;word-break:break-all}
.verdict{font-weight:600;padding:8px 12px;border-radius:6px;display:inline-block}
.verdict.clean{background:#dcf5e3;color:#14532d}
.verdict.matches{background:#fde2e1;color:#7f1d1d}
.verdict.error{background:#fff1c2;color:#713f12}
.verdict.not-checked{background:#fff1c2;color:#713f12}
table.facts,table.errors{border-collapse:collapse;background:#fff;width:100%}
.conflict{color:#991b1b;font-weight:600}
.facts th,.facts td,.errors th,.errors td{border:1px solid #d8dce1;padding:4px 8px;text-align:left;vertical-align:top;word-break:break-word}
.facts th{width:150px;background:#eef0f3}
.match{background:#fff;border:1px solid #d8dce1;border-radius:8px;padding:12px 16px;margin:12px 0}
dl{display:grid;grid-template-columns:140px 1fr;gap:2px 12px;margin:0 0 10px}
dt{color:#57606a}dd{margin:0;word-break:break-all}
.label{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;padding:1px 8px;border-radius:10px;color:#fff;background:#57606a}
.label.leaked{background:#b91c1c}.label.suspicious{background:#c2410c}.label.own{background:#1d4ed8}.label.licensed{background:#047857}
table.frames{border-collapse:collapse}
.frames th{font-weight:600;padding:4px 8px;text-align:left;vertical-align:top;color:#57606a}
.frames td{padding:4px 8px;vertical-align:top}
figure{margin:0}
figure img{display:block;max-width:320px;height:auto;border:1px solid #d8dce1;background:#000}
.frame{position:relative;display:inline-block}
.inset{position:absolute;box-sizing:border-box;border:2px solid #ff2d95;pointer-events:none}
figcaption{font:12px ui-monospace,'DejaVu Sans Mono',monospace;color:#1b1f24;margin-top:2px}
.missing{width:320px;height:120px;display:flex;align-items:center;justify-content:center;text-align:center;background:#eef0f3;color:#57606a;border:1px dashed #aab2bd;font-size:12px;padding:4px;box-sizing:border-box}
footer{color:#57606a;font-size:12px}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecodes_count_frames_at_the_files_own_rate() {
        assert_eq!(timecode(0.0, Some(24.0)), "00:00:00:00");
        assert_eq!(timecode(10.5, Some(24.0)), "00:00:10:12");
        assert_eq!(timecode(3725.0 + 2.0 / 25.0, Some(25.0)), "01:02:05:02");
        assert_eq!(timecode(1.5, None), "00:00:01.500");
        // 23.976 is counted non-drop at 24 frame numbers a second.
        assert_eq!(
            timecode(1001.0 / 24000.0 * 48.0, Some(24000.0 / 1001.0)),
            "00:00:02:00"
        );
    }

    #[test]
    fn drop_frame_timecode_skips_two_numbers_a_minute_except_every_tenth() {
        let ntsc = Some(30000.0 / 1001.0);
        let at = |frame: u64| timecode(frame as f64 * 1001.0 / 30000.0, ntsc);
        assert_eq!(at(0), "00:00:00;00");
        assert_eq!(at(1799), "00:00:59;29");
        assert_eq!(at(1800), "00:01:00;02");
        assert_eq!(at(17981), "00:09:59;29");
        assert_eq!(at(17982), "00:10:00;00");
        assert_eq!(at(17982 + 1800), "00:11:00;02");
        // One hour of 29.97 video is 107,892 frames, and its timecode is one hour.
        assert_eq!(at(107_892), "01:00:00;00");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn text_from_files_cannot_inject_markup() {
        assert_eq!(
            esc("<img src=x onerror=\"alert('x')\">&"),
            "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;"
        );
    }
}
