//! PDF documents: each page rendered to pixels, with the pictures the page embeds and
//! where they are placed on it.
//!
//! Rendering runs poppler's command-line tools (Debian's `poppler-utils`) as separate
//! processes, one page a call, never a library linked in: poppler is GPL, which a
//! separate process keeps away from this crate's licence; a renderer that crashes or
//! hangs on a hostile file takes down one process, which is killed at its time limit,
//! not the job; and nothing about poppler's thread safety matters.
//! - `pdfinfo -box`: the page count and each page's media box, read before any page is
//!   rendered, so that the page cap and the pixel cap are applied first.
//! - `pdftoppm`: one page at [`RENDER_DPI`] (lower for a page that would pass the pixel
//!   limit), as PPM.
//! - `pdftohtml -xml`: the same page's embedded pictures, written out as stored (a JPEG
//!   as its own bytes), with the box each is drawn in, at the same resolution. Its boxes
//!   come from the content stream's transformation as poppler interprets it (forms,
//!   nested `q`/`cm`), which a parser of our own would have to redo; `pdfimages -list`
//!   gives sizes but no places.
//!
//! Damage that the tools report while rendering ("Syntax Error", "Internal Error") or a
//! placed picture that cannot be decoded does not stop the document: the page is kept
//! and its [`Picture::damage`] says what was wrong, so the file is reported as checked
//! in part, never clean.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::DynamicImage;

use super::frames::{Picture, Placed, PlacedRect};
use super::{DecodeLimits, MediaError, StillScale};

/// Pages are rendered at 150 dpi: storyboard tools export their PNG pages at 150 dpi,
/// so a page delivered as PNG meets the PDF page at the same geometry; PDQ looks at the
/// page through a 64×64 grid, so more pixels cost time and add nothing to the hash.
pub const RENDER_DPI: f64 = 150.0;

/// The longest one tool may take on one page before it is killed.
pub const PAGE_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The longest one document's pages may take in all; past it the pages not yet
/// rendered are not checked and the file is reported as checked in part.
pub const FILE_TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Most pictures taken from one page; past it the page is marked damaged (a page of
/// 100,000 tiny images is not a storyboard).
const MAX_PLACED: usize = 500;

/// Why a PDF, or one of its pages, could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("PDF: `{tool}` was not found: install Debian's poppler-utils package")]
    ToolMissing { tool: &'static str },
    #[error("PDF: cannot run `{tool}`: {message}")]
    Run { tool: &'static str, message: String },
    #[error("PDF is encrypted and needs a password to open: its pages were not checked")]
    Encrypted,
    #[error("PDF cannot be opened: {0}")]
    Unreadable(String),
    #[error("PDF has no pages")]
    NoPages,
    #[error("`{tool}` took over {} s on this page and was stopped", .limit.as_secs())]
    TimedOut { tool: &'static str, limit: Duration },
    #[error("`{tool}` could not render this page: {message}")]
    Failed { tool: &'static str, message: String },
}

/// What one run of a tool left.
struct Ran {
    success: bool,
    stdout: Vec<u8>,
    /// Its messages, at most 64 kB of them.
    stderr: String,
}

/// Runs `tool` with `args` in `dir`, killing it at `limit`. Its output goes to files,
/// not pipes, so that a tool writing much cannot block on a pipe nobody reads.
fn run(
    tool: &'static str,
    args: &[OsString],
    dir: &Path,
    limit: Duration,
) -> Result<Ran, PdfError> {
    let failed = |e: std::io::Error| PdfError::Run {
        tool,
        message: e.to_string(),
    };
    let out_path = dir.join(format!("{tool}.out"));
    let err_path = dir.join(format!("{tool}.err"));
    let out = std::fs::File::create(&out_path).map_err(failed)?;
    let err = std::fs::File::create(&err_path).map_err(failed)?;
    let mut child = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PdfError::ToolMissing { tool },
            _ => failed(e),
        })?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(failed)? {
            break status;
        }
        if started.elapsed() > limit {
            // Killed and reaped, so no zombie is left behind.
            let _ = child.kill();
            let _ = child.wait();
            return Err(PdfError::TimedOut { tool, limit });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |p: &Path, cap: u64| -> Result<Vec<u8>, PdfError> {
        let mut bytes = Vec::new();
        std::fs::File::open(p)
            .and_then(|f| f.take(cap).read_to_end(&mut bytes))
            .map_err(failed)?;
        Ok(bytes)
    };
    Ok(Ran {
        success: status.success(),
        stdout: read(&out_path, 64 << 20)?,
        stderr: String::from_utf8_lossy(&read(&err_path, 64 << 10)?).into_owned(),
    })
}

/// The first line of a tool's messages that reports damage.
fn first_error(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .find(|l| l.contains("Error"))
        .map(|l| l.trim())
}

/// One page's size from `pdfinfo -box`: its media box, in points.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PageBox {
    width_pt: f64,
    height_pt: f64,
}

/// What `pdfinfo -box` says of a document: its page count and each page's media box.
#[derive(Debug, PartialEq)]
struct Info {
    pages: u32,
    boxes: Vec<PageBox>,
}

/// Reads `pdfinfo -box` output. The count is the last `Pages:` line: the document's own
/// text (a title) is printed before it and could hold a line that looks like one.
fn parse_info(text: &str) -> Option<Info> {
    let mut pages = None;
    let mut boxes = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Pages:") {
            pages = Some(n.trim().parse().ok()?);
            boxes.clear();
        } else if let Some(rest) = line.strip_prefix("Page ") {
            let mut words = rest.split_whitespace();
            let (Some(n), Some("MediaBox:")) = (words.next(), words.next()) else {
                continue;
            };
            let n: usize = n.parse().ok()?;
            let v: Vec<f64> = words.filter_map(|w| w.parse().ok()).collect();
            if v.len() != 4 || n != boxes.len() + 1 {
                return None;
            }
            boxes.push(PageBox {
                width_pt: (v[2] - v[0]).abs(),
                height_pt: (v[3] - v[1]).abs(),
            });
        }
    }
    Some(Info {
        pages: pages?,
        boxes,
    })
}

/// The resolution a page is rendered at: [`RENDER_DPI`], or lower where that would pass
/// the pixel limit, so that the page stays under it (a 200-inch poster page is rendered
/// whole, coarser, rather than refused).
fn dpi_for(page: PageBox, max_pixels: u64) -> f64 {
    let pixels =
        |dpi: f64| (page.width_pt * dpi / 72.0).ceil() * (page.height_pt * dpi / 72.0).ceil();
    if pixels(RENDER_DPI) <= max_pixels as f64 {
        return RENDER_DPI;
    }
    // 1 % under, for the renderer's rounding up of each side.
    let area = page.width_pt * page.height_pt / (72.0 * 72.0);
    (max_pixels as f64 / area).sqrt() * 0.99
}

/// A document being rendered, page by page, from a private copy of its bytes.
struct Document {
    dir: tempfile::TempDir,
    info: Info,
    limits: DecodeLimits,
    next: u32,
    started: Instant,
    /// Damage found before any page (poppler rebuilt a broken cross-reference table),
    /// reported on the first page.
    opened_damaged: Option<String>,
}

/// The pages of a PDF, each with its placed pictures; an error when it cannot be opened
/// at all (encrypted, not a PDF poppler can read, no pages).
pub(super) fn pages(
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<Box<dyn Iterator<Item = Result<Picture, MediaError>>>, MediaError> {
    let dir = tempfile::Builder::new()
        .prefix("celprint-pdf-")
        .tempdir()
        .map_err(MediaError::Io)?;
    // The bytes already read and digested are the bytes rendered.
    std::fs::write(dir.path().join("in.pdf"), bytes).map_err(MediaError::Io)?;
    let last = limits.max_frames.max(1);
    let ran = run(
        "pdfinfo",
        &args(&["-box", "-f", "1", "-l", &last.to_string(), "in.pdf"]),
        dir.path(),
        PAGE_TIME_LIMIT,
    )?;
    let stdout = String::from_utf8_lossy(&ran.stdout);
    if !ran.success {
        if ran.stderr.contains("Incorrect password") {
            return Err(PdfError::Encrypted.into());
        }
        // A document poppler cannot make sense of (no trailer, a page count larger than
        // its objects) is refused with a page range past its end: its own error says why.
        let why = first_error(&ran.stderr).unwrap_or("pdfinfo failed");
        return Err(PdfError::Unreadable(why.to_string()).into());
    }
    let info = parse_info(&stdout)
        .ok_or_else(|| PdfError::Unreadable("pdfinfo's answer could not be read".into()))?;
    if info.pages == 0 {
        return Err(PdfError::NoPages.into());
    }
    let expected = info.pages.min(last) as usize;
    if info.boxes.len() != expected {
        return Err(PdfError::Unreadable(format!(
            "{} pages declared, {} described",
            info.pages,
            info.boxes.len()
        ))
        .into());
    }
    let opened_damaged = first_error(&ran.stderr).map(|e| format!("the file is damaged ({e})"));
    let mut doc = Document {
        dir,
        info,
        limits,
        next: 0,
        started: Instant::now(),
        opened_damaged,
    };
    Ok(Box::new(std::iter::from_fn(move || doc.next_page())))
}

/// For the fuzz target: `pdfinfo` output read, and each page's resolution chosen at
/// the default pixel limit; the number of pages described.
#[doc(hidden)]
pub fn fuzz_info(text: &str) -> usize {
    let Some(info) = parse_info(text) else {
        return 0;
    };
    let limit = DecodeLimits::default().max_pixels;
    let dpi: f64 = info.boxes.iter().map(|&b| dpi_for(b, limit)).sum();
    info.boxes.len() + usize::from(dpi.is_nan()) + usize::from(first_error(text).is_some())
}

/// For the fuzz target: the picture tags of `pdftohtml -xml` output.
#[doc(hidden)]
pub fn fuzz_image_tags(xml: &str) -> usize {
    image_tags(xml).len()
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

impl Document {
    fn next_page(&mut self) -> Option<Result<Picture, MediaError>> {
        let n = self.next;
        if n >= self.info.pages {
            return None;
        }
        self.next += 1;
        if n >= self.limits.max_frames {
            self.next = self.info.pages;
            return Some(Err(MediaError::OverLimit {
                what: "pages",
                limit: u64::from(self.limits.max_frames),
            }));
        }
        if self.started.elapsed() > FILE_TIME_LIMIT {
            self.next = self.info.pages;
            return Some(Err(MediaError::OverLimit {
                what: "seconds rendering one PDF",
                limit: FILE_TIME_LIMIT.as_secs(),
            }));
        }
        let page = self.info.boxes[n as usize];
        Some(self.render(n + 1, page).map(|mut picture| {
            if n == 0 {
                picture.damage = self.opened_damaged.take().or(picture.damage);
            }
            picture
        }))
    }

    /// Page `number` (from 1), and what it embeds.
    fn render(&self, number: u32, page: PageBox) -> Result<Picture, MediaError> {
        if page.width_pt < 1.0 || page.height_pt < 1.0 {
            return Err(MediaError::NoPixels {
                width: page.width_pt as u32,
                height: page.height_pt as u32,
            });
        }
        let dpi = dpi_for(page, self.limits.max_pixels);
        let dir = self.dir.path();
        let n = number.to_string();
        let ran = run(
            "pdftoppm",
            &args(&[
                "-r",
                &format!("{dpi:.4}"),
                "-f",
                &n,
                "-l",
                &n,
                "-singlefile",
                "in.pdf",
                "page",
            ]),
            dir,
            PAGE_TIME_LIMIT,
        )?;
        let ppm_path = dir.join("page.ppm");
        if !ran.success {
            let _ = std::fs::remove_file(&ppm_path);
            return Err(PdfError::Failed {
                tool: "pdftoppm",
                message: first_error(&ran.stderr).unwrap_or("no message").to_string(),
            }
            .into());
        }
        let mut damage = first_error(&ran.stderr).map(|e| format!("renderer reported: {e}"));
        let ppm = std::fs::read(&ppm_path).map_err(MediaError::Io)?;
        let _ = std::fs::remove_file(&ppm_path);
        // Checked against the pixel limit from its header, as any still.
        let image = super::decode_still(&ppm, self.limits, StillScale::Full)?.into_image();
        drop(ppm);
        let placed = match self.placed(number, dpi) {
            Ok(placed) => placed,
            Err(e) => {
                damage.get_or_insert(format!("its embedded pictures: {e}"));
                Vec::new()
            }
        };
        let (placed, bad): (Vec<_>, Vec<_>) = placed.into_iter().partition(Result::is_ok);
        if let Some(Err(e)) = bad.into_iter().next() {
            damage.get_or_insert(format!("an embedded picture: {e}"));
        }
        Ok(Picture {
            image,
            duration_s: None,
            placed: placed.into_iter().filter_map(Result::ok).collect(),
            damage,
            dpi: Some(dpi),
        })
    }

    /// The pictures page `number` draws, each with its box in the page's pixels at
    /// `dpi`, in drawing order.
    fn placed(&self, number: u32, dpi: f64) -> Result<Vec<Result<Placed, MediaError>>, MediaError> {
        let out = self.dir.path().join(format!("placed-{number}"));
        std::fs::create_dir(&out).map_err(MediaError::Io)?;
        let n = number.to_string();
        // -nodrm: the document's "no copying" flag is about its text; we read the page
        // to check it, as the renderer (which ignores the flag) does.
        let pdf = self.dir.path().join("in.pdf");
        let mut a = args(&[
            "-xml",
            "-q",
            "-nodrm",
            "-f",
            &n,
            "-l",
            &n,
            "-zoom",
            &format!("{:.6}", dpi / 72.0),
        ]);
        a.push(pdf.into_os_string());
        a.push("p".into());
        let result = run("pdftohtml", &a, &out, PAGE_TIME_LIMIT).and_then(|ran| {
            if ran.success {
                Ok(())
            } else {
                Err(PdfError::Failed {
                    tool: "pdftohtml",
                    message: first_error(&ran.stderr).unwrap_or("no message").to_string(),
                })
            }
        });
        let placed = result.map_err(MediaError::from).and_then(|()| {
            let xml = std::fs::read(out.join("p.xml")).map_err(MediaError::Io)?;
            let tags = image_tags(&String::from_utf8_lossy(&xml));
            if tags.len() > MAX_PLACED {
                return Err(MediaError::OverLimit {
                    what: "pictures on one page",
                    limit: MAX_PLACED as u64,
                });
            }
            Ok(tags
                .into_iter()
                .map(|(rect, src)| self.placed_picture(&out, rect, &src))
                .collect())
        });
        let _ = std::fs::remove_dir_all(&out);
        placed
    }

    fn placed_picture(
        &self,
        dir: &Path,
        rect: PlacedRect,
        src: &str,
    ) -> Result<Placed, MediaError> {
        // Only a file the tool wrote in its own folder: never a path the document named.
        let name = Path::new(src).file_name().map(PathBuf::from);
        let path = name
            .filter(|n| n.to_str().is_some_and(|s| s.starts_with("p-")))
            .map(|n| dir.join(n))
            .ok_or(MediaError::NotMedia("a picture the renderer did not write"))?;
        let bytes = std::fs::read(path).map_err(MediaError::Io)?;
        let image: DynamicImage =
            super::decode_still(&bytes, self.limits, StillScale::Full)?.into_image();
        Ok(Placed { rect, image })
    }
}

/// The `<image top left width height src>` tags of `pdftohtml -xml` output. Text in the
/// document is escaped there, so a tag is never the document's own words.
fn image_tags(xml: &str) -> Vec<(PlacedRect, String)> {
    xml.split("<image ")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            let attr = |name: &str| -> Option<&str> {
                let start = tag
                    .find(&format!(" {name}=\""))
                    .map(|i| i + name.len() + 3)
                    .or_else(|| {
                        tag.starts_with(&format!("{name}=\""))
                            .then_some(name.len() + 2)
                    })?;
                let len = tag[start..].find('"')?;
                Some(&tag[start..start + len])
            };
            let num = |name: &str| attr(name)?.parse::<f64>().ok();
            let rect = PlacedRect {
                x: num("left")?.round() as i64,
                y: num("top")?.round() as i64,
                width: num("width")?.round().max(0.0) as u64,
                height: num("height")?.round().max(0.0) as u64,
            };
            Some((rect, attr("src")?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfinfo_answers_are_read_and_a_title_cannot_fake_the_count() {
        let text = "Title:           x\nPages:          1\nAuthor: y\nPages:          2\n\
                    Encrypted:       no\n\
                    Page    1 MediaBox:     0.00     0.00   792.00   612.00\n\
                    Page    1 CropBox:      0.00     0.00   792.00   612.00\n\
                    Page    2 MediaBox:     0.00     0.00   841.92   595.20\n";
        let info = parse_info(text).unwrap();
        assert_eq!(info.pages, 2);
        assert_eq!(
            info.boxes,
            [
                PageBox {
                    width_pt: 792.0,
                    height_pt: 612.0
                },
                PageBox {
                    width_pt: 841.92,
                    height_pt: 595.2
                }
            ]
        );
        assert!(parse_info("Title: nothing").is_none());
    }

    #[test]
    fn a_huge_page_is_rendered_coarser_to_stay_under_the_pixel_limit() {
        let letter = PageBox {
            width_pt: 792.0,
            height_pt: 612.0,
        };
        assert_eq!(dpi_for(letter, 200_000_000), RENDER_DPI);
        let poster = PageBox {
            width_pt: 14_400.0,
            height_pt: 14_400.0,
        };
        let dpi = dpi_for(poster, 1_000_000);
        let side = (14_400.0 * dpi / 72.0_f64).ceil();
        assert!(side * side <= 1_000_000.0, "{dpi} dpi: {side} px a side");
        assert!(side * side > 900_000.0, "{dpi} dpi: {side} px a side");
    }

    #[test]
    fn image_tags_give_boxes_and_files() {
        let xml = "<page number=\"1\">\n<text top=\"1\">&lt;image top=\"9\"</text>\n\
                   <image top=\"186\" left=\"61\" width=\"524\" height=\"219\" src=\"p-4_1.jpg\"/>\n";
        assert_eq!(
            image_tags(xml),
            [(
                PlacedRect {
                    x: 61,
                    y: 186,
                    width: 524,
                    height: 219
                },
                "p-4_1.jpg".to_string()
            )]
        );
    }

    /// A tool past its time is killed, and says which tool and how long.
    #[test]
    fn a_tool_that_hangs_is_killed_at_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let r = run(
            "sleep",
            &args(&["20"]),
            dir.path(),
            Duration::from_millis(200),
        );
        assert!(matches!(r, Err(PdfError::TimedOut { tool: "sleep", .. })));
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = run("celprint-no-such-tool", &[], dir.path(), PAGE_TIME_LIMIT);
        assert!(matches!(missing, Err(PdfError::ToolMissing { .. })));
    }
}
