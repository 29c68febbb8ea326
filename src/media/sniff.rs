//! What a file holds, judged by its first bytes rather than its name: a delivery's
//! names are not evidence (an MP4 renamed `.dat`, a still with no extension, a video
//! named `.png`), and a file that cannot be identified must be named in the report,
//! never passed over.

use std::io::Read;
use std::path::Path;

use super::MediaKind;

/// Bytes read from the head of a file to identify it: enough for a tar header (the
/// magic sits at 257) and three MPEG transport-stream packets.
const HEAD: usize = 1024;

/// What a file's first bytes say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// A still or a video this build decodes (or tries: FFmpeg has the last word).
    Media(MediaKind),
    /// A zip or tar archive, possibly compressed.
    Archive,
    /// A picture format recognised but not decoded by this build.
    Unsupported(&'static str),
    /// Plain text (notes, an EDL, XML): it holds no pictures, so there is nothing in it
    /// to check. SVG, which can carry pictures, is [`Sniffed::Unsupported`].
    Text,
    /// Not media: what it looks like, for the report.
    Other(&'static str),
}

/// Identifies `path` by its content; the extension decides only when the content is
/// silent and the name says video (FFmpeg probes far more containers than the table
/// below, so a known video extension is worth a try).
pub fn sniff_file(path: &Path) -> std::io::Result<Sniffed> {
    let mut head = Vec::with_capacity(HEAD);
    std::fs::File::open(path)?
        .take(HEAD as u64)
        .read_to_end(&mut head)?;
    let sniffed = sniff(&head);
    if let Sniffed::Other(_) = sniffed {
        if super::kind_of(path) == Some(MediaKind::Video) {
            return Ok(Sniffed::Media(MediaKind::Video));
        }
        // TGA has no magic number: its name and a consistent header together say it.
        if has_tga_name(path) && super::formats::looks_like_tga(&head) {
            return Ok(Sniffed::Media(MediaKind::Still));
        }
    }
    Ok(sniffed)
}

fn has_tga_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tga"))
}

/// A PDF: `%PDF-` at the start, where every writer puts it.
pub fn is_pdf(head: &[u8]) -> bool {
    head.starts_with(b"%PDF-")
}

/// Identifies a file from its first bytes (up to [`HEAD`] of them).
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.is_empty() {
        return Sniffed::Other("empty file");
    }
    if let Some(found) = video(head) {
        return found;
    }
    if let Some(found) = unsupported_still(head) {
        return Sniffed::Unsupported(found);
    }
    // Photoshop documents: their flattened composite ([`super::psd`]).
    if super::psd::is_psd(head) {
        return Sniffed::Media(MediaKind::Still);
    }
    if let Ok(format) = image::guess_format(head) {
        use image::ImageFormat as F;
        return match format {
            F::Png | F::Jpeg | F::Gif | F::Bmp | F::Tiff | F::WebP | F::OpenExr => {
                Sniffed::Media(MediaKind::Still)
            }
            F::Avif => Sniffed::Unsupported("AVIF image"),
            F::Hdr => Sniffed::Unsupported("Radiance HDR image"),
            F::Ico => Sniffed::Unsupported("ICO icon"),
            F::Dds => Sniffed::Unsupported("DDS texture"),
            F::Qoi => Sniffed::Unsupported("QOI image"),
            _ => Sniffed::Unsupported("image in a format this build does not decode"),
        };
    }
    if super::archive::is_archive_head(head) {
        return Sniffed::Archive;
    }
    if is_pdf(head) {
        return Sniffed::Media(MediaKind::Still);
    }
    if !head.contains(&0) && std::str::from_utf8(trim_cut_char(head)).is_ok() {
        let lower = head.to_ascii_lowercase();
        if lower.windows(4).any(|w| w == b"<svg") {
            return Sniffed::Unsupported("SVG image");
        }
        return Sniffed::Text;
    }
    Sniffed::Other("unrecognised data")
}

/// The head without a UTF-8 character cut in two by the read's end.
fn trim_cut_char(head: &[u8]) -> &[u8] {
    let cut = head.len().saturating_sub(3);
    match std::str::from_utf8(head) {
        Err(e) if e.valid_up_to() >= cut && e.error_len().is_none() => &head[..e.valid_up_to()],
        _ => head,
    }
}

fn video(h: &[u8]) -> Option<Sniffed> {
    let at = |offset: usize, magic: &[u8]| h.get(offset..offset + magic.len()) == Some(magic);
    let video = Some(Sniffed::Media(MediaKind::Video));
    // ISO base media (MP4, MOV, 3GP): a box type at offset 4. HEIF and AVIF stills use
    // the same boxes, told apart by their brand.
    if at(4, b"ftyp") {
        let brand = h.get(8..12).unwrap_or_default();
        return match brand {
            b"avif" | b"avis" => Some(Sniffed::Unsupported("AVIF image")),
            b"heic" | b"heix" | b"mif1" | b"msf1" => Some(Sniffed::Unsupported("HEIF image")),
            _ => video,
        };
    }
    if [b"moov", b"mdat", b"wide", b"free", b"skip"]
        .iter()
        .any(|b| at(4, *b))
    {
        return video;
    }
    let riff = |kind: &[u8]| at(0, b"RIFF") && at(8, kind);
    if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) // Matroska, WebM
        || riff(b"AVI ")
        || at(0, &[0x00, 0x00, 0x01, 0xba]) // MPEG program stream (VOB)
        || at(0, &[0x00, 0x00, 0x01, 0xb3]) // MPEG video elementary stream
        || at(0, b"FLV\x01")
        || at(0, &[0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]) // ASF (WMV)
        || at(0, &[0x06, 0x0e, 0x2b, 0x34, 0x02, 0x05, 0x01, 0x01]) // MXF
        || at(0, b"OggS")
        || transport_stream(h, 188, 0)
        || transport_stream(h, 192, 4)
    {
        return video;
    }
    None
}

/// MPEG transport streams have no magic, only a sync byte at every packet's start.
fn transport_stream(h: &[u8], packet: usize, first: usize) -> bool {
    (0..3).all(|i| h.get(first + i * packet) == Some(&0x47))
}

fn unsupported_still(h: &[u8]) -> Option<&'static str> {
    if h.starts_with(b"SDPX") || h.starts_with(b"XPDS") {
        Some("DPX image")
    } else if h.starts_with(b"gimp xcf") {
        Some("GIMP document")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_head() -> Vec<u8> {
        let mut h = vec![0, 0, 0, 0x20];
        h.extend_from_slice(b"ftypisom");
        h.resize(64, 0);
        h
    }

    #[test]
    fn containers_are_known_by_their_bytes() {
        assert_eq!(sniff(&mp4_head()), Sniffed::Media(MediaKind::Video));
        assert_eq!(
            sniff(&[0x1a, 0x45, 0xdf, 0xa3, 1, 2]),
            Sniffed::Media(MediaKind::Video)
        );
        let mut ts = vec![0u8; 600];
        for i in 0..3 {
            ts[i * 188] = 0x47;
        }
        assert_eq!(sniff(&ts), Sniffed::Media(MediaKind::Video));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n...."),
            Sniffed::Media(MediaKind::Still)
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Media(MediaKind::Still));
        assert_eq!(sniff(b"8BPS\0\x01"), Sniffed::Media(MediaKind::Still));
        assert_eq!(
            sniff(&[0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0]),
            Sniffed::Media(MediaKind::Still)
        );
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Archive);
    }

    #[test]
    fn a_heif_still_is_not_taken_for_a_video() {
        let mut h = mp4_head();
        h[8..12].copy_from_slice(b"heic");
        assert_eq!(sniff(&h), Sniffed::Unsupported("HEIF image"));
    }

    #[test]
    fn text_and_noise_are_named_for_what_they_are() {
        assert_eq!(sniff("notes: épisode 3\n".as_bytes()), Sniffed::Text);
        // A two-byte character cut by the end of the head is still text.
        let mut cut = "é".repeat(10).into_bytes();
        cut.pop();
        assert_eq!(sniff(&cut), Sniffed::Text);
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"...\">"),
            Sniffed::Unsupported("SVG image")
        );
        assert_eq!(
            sniff(&[0x00, 0xff, 0x13, 0x37]),
            Sniffed::Other("unrecognised data")
        );
        assert_eq!(sniff(&[]), Sniffed::Other("empty file"));
    }
}
