//! What a file says about itself: when it was made, with what software or encoder, by
//! whom, with which camera. Read from a video's container and stream tags (FFmpeg), and
//! from a still's EXIF, XMP packet and PNG text chunks, by the small readers below.
//! These are claims, never evidence: anyone can write any of them. A report shows them
//! beside the fingerprints, and a scan flags one that the bank contradicts
//! (docs/claims.md). C2PA manifests are not read (docs/claims.md says why).

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::MediaKind;

/// What a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    Created,
    Software,
    Encoder,
    Creator,
    Camera,
}

impl ClaimKind {
    /// As in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            ClaimKind::Created => "created",
            ClaimKind::Software => "software",
            ClaimKind::Encoder => "encoder",
            ClaimKind::Creator => "creator",
            ClaimKind::Camera => "camera",
        }
    }
}

/// One statement a file makes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub what: ClaimKind,
    /// As written in the file (trimmed, at most [`MAX_VALUE`] characters).
    pub value: String,
    /// Where it was read: `container`, `stream N`, `exif`, `xmp`, `png`.
    pub from: String,
}

/// Longest value kept: claims are for people to read, not payloads to carry.
pub const MAX_VALUE: usize = 200;
/// Bytes of a still read for its claims: EXIF and XMP sit near the start of a file
/// written by any ordinary tool; a PNG's text chunks may follow its pixels.
const MAX_STILL_BYTES: u64 = 64 << 20;

/// The claims of the file at `path`; none when it cannot be read (its decode reports
/// that, not this).
pub fn read(path: &Path, kind: MediaKind) -> Vec<Claim> {
    match kind {
        MediaKind::Video => super::video::metadata_tags(path)
            .map(|tags| {
                tags.iter()
                    .filter_map(|(from, k, v)| tag_claim(from, k, v))
                    .collect()
            })
            .unwrap_or_default(),
        MediaKind::Still => {
            let mut bytes = Vec::new();
            let read = std::fs::File::open(path)
                .and_then(|f| f.take(MAX_STILL_BYTES).read_to_end(&mut bytes));
            if read.is_err() {
                return Vec::new();
            }
            from_bytes(&bytes)
        }
    }
}

/// A container or stream tag as a claim, for the keys that make one.
fn tag_claim(from: &str, key: &str, value: &str) -> Option<Claim> {
    let key = key.to_ascii_lowercase();
    let key = key.strip_prefix("com.apple.quicktime.").unwrap_or(&key);
    let what = match key {
        "creation_time" | "creationdate" | "date" => ClaimKind::Created,
        "encoder" | "encoded_by" => ClaimKind::Encoder,
        "software" | "encoding_tool" => ClaimKind::Software,
        "artist" | "author" | "composer" => ClaimKind::Creator,
        "make" | "model" => ClaimKind::Camera,
        _ => return None,
    };
    claim(what, value, from)
}

fn claim(what: ClaimKind, value: &str, from: &str) -> Option<Claim> {
    let value: String = value
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_VALUE)
        .collect();
    (!value.is_empty()).then(|| Claim {
        what,
        value,
        from: from.to_string(),
    })
}

/// The claims in a still's bytes: JPEG APP1 (EXIF, XMP), PNG chunks (text, eXIf), a
/// TIFF's own tags, and an XMP packet anywhere in any other format.
pub fn from_bytes(bytes: &[u8]) -> Vec<Claim> {
    let mut out = Vec::new();
    if bytes.starts_with(&[0xff, 0xd8]) {
        jpeg(bytes, &mut out);
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes, &mut out);
    } else {
        exif(bytes, &mut out);
    }
    if !out.iter().any(|c| c.from == "xmp") {
        if let Some(packet) = xmp_packet(bytes) {
            xmp(packet, &mut out);
        }
    }
    out
}

fn jpeg(bytes: &[u8], out: &mut Vec<Claim>) {
    let mut at = 2;
    while let Some(&[0xff, marker, hi, lo]) = bytes.get(at..at + 4) {
        // Start of scan: the metadata segments all come before it.
        if marker == 0xda {
            break;
        }
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(body) = bytes.get(at + 4..(at + 2 + len).max(at + 4)) else {
            break;
        };
        if marker == 0xe1 {
            if let Some(tiff) = body.strip_prefix(b"Exif\0\0") {
                exif(tiff, out);
            } else if let Some(text) = body.strip_prefix(b"http://ns.adobe.com/xap/1.0/\0") {
                xmp(&String::from_utf8_lossy(text), out);
            }
        }
        at += 2 + len.max(2);
    }
}

fn png(bytes: &[u8], out: &mut Vec<Claim>) {
    let mut at = 8;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(data) = bytes.get(at + 8..(at + 8).saturating_add(len)) else {
            break;
        };
        match &head[4..8] {
            b"tEXt" => {
                if let Some((key, text)) = split_nul(data) {
                    png_text(
                        key,
                        &text.iter().map(|&b| char::from(b)).collect::<String>(),
                        out,
                    );
                }
            }
            b"iTXt" => {
                // keyword, 0, compressed, method, language, 0, translated keyword, 0, text
                let text = split_nul(data).and_then(|(key, rest)| {
                    let ([compressed, _], rest) = rest.split_first_chunk::<2>()?;
                    let (_, rest) = split_nul(rest)?;
                    let (_, text) = split_nul(rest)?;
                    let text = if *compressed == 1 {
                        inflate(text)?
                    } else {
                        text.to_vec()
                    };
                    Some((key, String::from_utf8_lossy(&text).into_owned()))
                });
                if let Some((key, text)) = text {
                    png_text(key, &text, out);
                }
            }
            b"zTXt" => {
                let text = split_nul(data).and_then(|(key, rest)| {
                    let text = inflate(rest.get(1..)?)?;
                    Some((key, text.iter().map(|&b| char::from(b)).collect::<String>()))
                });
                if let Some((key, text)) = text {
                    png_text(key, &text, out);
                }
            }
            b"eXIf" => exif(data, out),
            b"IEND" => break,
            _ => {}
        }
        at = at.saturating_add(12).saturating_add(len);
    }
}

fn png_text(key: &[u8], text: &str, out: &mut Vec<Claim>) {
    let what = match key {
        b"Creation Time" => ClaimKind::Created,
        b"Software" => ClaimKind::Software,
        b"Author" => ClaimKind::Creator,
        b"XML:com.adobe.xmp" => return xmp(text, out),
        _ => return,
    };
    out.extend(claim(what, text, "png"));
}

fn split_nul(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == 0)?;
    Some((&b[..i], &b[i + 1..]))
}

/// A compressed PNG text, up to 64 KiB of it.
fn inflate(b: &[u8]) -> Option<Vec<u8>> {
    let mut text = Vec::new();
    flate2::read::ZlibDecoder::new(b)
        .take(64 << 10)
        .read_to_end(&mut text)
        .ok()?;
    Some(text)
}

/// EXIF tags that are claims: in IFD0 and in the EXIF IFD it points to.
fn exif(tiff: &[u8], out: &mut Vec<Claim>) {
    let little = match tiff.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b = tiff.get(i..i + 2)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |i: usize| -> Option<usize> {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        } as usize)
    };
    let Some(ifd0) = u32_at(4) else {
        return;
    };
    let mut ifds = vec![ifd0];
    let mut seen = 0;
    while let Some(ifd) = ifds.pop() {
        seen += 1;
        // IFD0 and the EXIF IFD; a loop of pointers ends here.
        if seen > 2 {
            break;
        }
        let Some(count) = u16_at(ifd) else {
            continue;
        };
        for e in 0..usize::from(count) {
            let entry = ifd + 2 + e * 12;
            let (Some(tag), Some(kind), Some(n)) =
                (u16_at(entry), u16_at(entry + 2), u32_at(entry + 4))
            else {
                break;
            };
            if tag == 0x8769 {
                ifds.extend(u32_at(entry + 8));
                continue;
            }
            let what = match tag {
                0x010f | 0x0110 => ClaimKind::Camera,
                0x0131 => ClaimKind::Software,
                0x013b => ClaimKind::Creator,
                0x0132 | 0x9003 | 0x9004 => ClaimKind::Created,
                _ => continue,
            };
            // ASCII only; four bytes or fewer sit in the entry itself.
            if kind != 2 || n > 4096 {
                continue;
            }
            let start = if n <= 4 {
                Some(entry + 8)
            } else {
                u32_at(entry + 8)
            };
            if let Some(text) = start.and_then(|s| tiff.get(s..s.checked_add(n)?)) {
                out.extend(claim(what, &String::from_utf8_lossy(text), "exif"));
            }
        }
    }
}

/// The first XMP packet in `bytes`, as text.
fn xmp_packet(bytes: &[u8]) -> Option<&str> {
    let start = find(bytes, b"<x:xmpmeta")?;
    let len = find(&bytes[start..], b"</x:xmpmeta>")?;
    std::str::from_utf8(&bytes[start..start + len]).ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// XMP properties that are claims, written as attributes or as elements.
fn xmp(xml: &str, out: &mut Vec<Claim>) {
    const NAMES: [(&str, ClaimKind); 8] = [
        ("xmp:CreateDate", ClaimKind::Created),
        ("photoshop:DateCreated", ClaimKind::Created),
        ("exif:DateTimeOriginal", ClaimKind::Created),
        ("xmp:CreatorTool", ClaimKind::Software),
        ("dc:creator", ClaimKind::Creator),
        ("tiff:Make", ClaimKind::Camera),
        ("tiff:Model", ClaimKind::Camera),
        ("stEvt:softwareAgent", ClaimKind::Software),
    ];
    for (name, what) in NAMES {
        if let Some(value) = xmp_value(xml, name) {
            out.extend(claim(what, &unescape(&value), "xmp"));
        }
    }
}

/// `name="value"`, or `<name>value</name>` with any `rdf:Seq`/`rdf:li` wrapping
/// removed (the first item of a list).
fn xmp_value(xml: &str, name: &str) -> Option<String> {
    let attr = format!("{name}=\"");
    if let Some(i) = xml.find(&attr) {
        let rest = &xml[i + attr.len()..];
        return Some(rest[..rest.find('"')?].to_string());
    }
    let open = format!("<{name}>");
    let i = xml.find(&open)? + open.len();
    let rest = &xml[i..];
    let inner = &rest[..rest.find(&format!("</{name}>"))?];
    let inner = match inner.find("<rdf:li") {
        Some(li) => {
            let after = &inner[li..];
            let text = &after[after.find('>')? + 1..];
            &text[..text.find("</rdf:li>")?]
        }
        None => inner,
    };
    Some(inner.to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A claimed time, as seconds since the Unix epoch. A time written without a zone
/// (EXIF's, most PNG text) is read as UTC and marked `zoned: false`: it may be off by
/// as much as a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedTime {
    pub unix_s: i64,
    pub zoned: bool,
}

/// Reads `YYYY-MM-DD`, `YYYY:MM:DD HH:MM:SS` (EXIF) and RFC 3339 with or without a
/// fraction and zone (`Z`, `+HH:MM`, `+HHMM`). `None` for anything else, and for
/// EXIF's all-zero "unknown".
pub fn parse_time(text: &str) -> Option<ClaimedTime> {
    let t = text.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = t.get(r)?;
        d.iter().all(u8::is_ascii_digit).then(|| {
            d.iter()
                .fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |i: usize, allowed: &[u8]| t.get(i).is_some_and(|c| allowed.contains(c));
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !sep(4, b"-:")
        || !sep(7, b"-:")
        || year == 0
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if t.len() == 10 {
        return Some(ClaimedTime {
            unix_s: days * 86_400,
            zoned: false,
        });
    }
    if !sep(10, b"T ") || !sep(13, b":") || !sep(16, b":") {
        return None;
    }
    let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        [] => None,
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let zone: Vec<u8> = zone.iter().copied().filter(|&c| c != b':').collect();
            if zone.len() != 4 || !zone.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let z = |i: usize| i64::from(zone[i] - b'0');
            let secs = (z(0) * 10 + z(1)) * 3600 + (z(2) * 10 + z(3)) * 60;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => return None,
    };
    Some(ClaimedTime {
        unix_s: days * 86_400 + h * 3600 + m * 60 + s - offset.unwrap_or(0),
        zoned: offset.is_some(),
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The earliest creation time the claims give, with the claim that gives it.
pub fn earliest_created(claims: &[Claim]) -> Option<(ClaimedTime, &Claim)> {
    claims
        .iter()
        .filter(|c| c.what == ClaimKind::Created)
        .filter_map(|c| Some((parse_time(&c.value)?, c)))
        .min_by_key(|(t, _)| t.unix_s)
}

#[cfg(test)]
mod tests;
