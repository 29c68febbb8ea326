//! The pictures of an image file that holds more than one: the frames of an animated
//! GIF, APNG or WebP, with their delays, and the pages of a multi-page TIFF.
//!
//! A file with one picture is not opened here ([`open_pictures`] says `None`): it is
//! decoded by [`decode_still`](super::decode_still) exactly as before, so its
//! fingerprint does not change. Every picture is decoded under the same pixel limit as
//! a still, and the sequence under [`DecodeLimits::max_frames`] and
//! [`DecodeLimits::max_total_pixels`]: past either, the pictures stop with an error
//! and the ones before it stand (a decompression bomb of a thousand full-size frames,
//! or a chain of pages that never ends, costs no more than the limits allow).
//!
//! A PDF is a file of pages too, rendered by [`super::pdf`]; even a PDF of one page is
//! opened here, since the still decoder cannot read it.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::tiff::TiffDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat};

use super::{catch_decoder_panic, DecodeLimits, MediaError};

/// What the pictures of a file are to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// Frames shown one after another for their delays: a video.
    Animation,
    /// Pages, in order, with no time between them.
    Pages,
}

/// One picture of a file.
#[derive(Debug)]
pub struct Picture {
    pub image: DynamicImage,
    /// How long an animation's frame is shown, in seconds ([`shown_for`]); `None` for a
    /// page.
    pub duration_s: Option<f64>,
    /// The pictures a PDF page embeds, each with the box it is drawn in; empty for
    /// other formats.
    pub placed: Vec<Placed>,
    /// What went wrong on a picture that was still decoded (a PDF page the renderer
    /// reported damage on, or whose embedded pictures could not all be read): the file
    /// has not been fully checked.
    pub damage: Option<String>,
    /// The resolution a PDF page was rendered at: [`super::pdf::RENDER_DPI`], or lower
    /// for a page that would otherwise pass the pixel limit. `None` for other formats.
    pub dpi: Option<f64>,
}

impl Picture {
    fn plain(image: DynamicImage, duration_s: Option<f64>) -> Picture {
        Picture {
            image,
            duration_s,
            placed: Vec::new(),
            damage: None,
            dpi: None,
        }
    }
}

/// A picture embedded in a page, as stored in the file (its own pixels, at its own
/// size), and where the page draws it.
#[derive(Debug)]
pub struct Placed {
    pub rect: PlacedRect,
    pub image: DynamicImage,
}

/// A box in a rendered page's pixels (at [`Picture::dpi`]), origin top-left. It may
/// reach past the page's edges, where the document places a picture partly off it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedRect {
    pub x: i64,
    pub y: i64,
    pub width: u64,
    pub height: u64,
}

/// The pictures of one file, decoded one at a time as they are asked for.
pub struct Pictures<'a> {
    pub sequence: Sequence,
    source: Decoded<'a>,
    limits: DecodeLimits,
    count: u32,
    pixels: u64,
    stopped: bool,
}

impl Iterator for Pictures<'_> {
    type Item = Result<Picture, MediaError>;

    /// The next picture; after an error (a damaged frame, a limit reached), `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped {
            return None;
        }
        let picture = match catch_decoder_panic(|| self.source.next().transpose()) {
            Ok(Some(p)) => p,
            Ok(None) => return None,
            Err(e) => {
                self.stopped = true;
                return Some(Err(e));
            }
        };
        if self.count >= self.limits.max_frames {
            self.stopped = true;
            return Some(Err(MediaError::OverLimit {
                what: "frames or pages",
                limit: u64::from(self.limits.max_frames),
            }));
        }
        let (w, h) = (picture.image.width(), picture.image.height());
        let pixels = u64::from(w) * u64::from(h);
        if let Err(e) = check_size(w, h, self.limits) {
            self.stopped = true;
            return Some(Err(e));
        }
        self.pixels = self.pixels.saturating_add(pixels);
        if self.pixels > self.limits.max_total_pixels {
            self.stopped = true;
            return Some(Err(MediaError::OverLimit {
                what: "decoded pixels in all frames or pages",
                limit: self.limits.max_total_pixels,
            }));
        }
        self.count += 1;
        Some(Ok(picture))
    }
}

/// The pictures of `bytes` when it is an animated GIF, APNG or WebP, a TIFF with more
/// than one page, or a PDF; `None` for anything else, a file with a single picture
/// included (a PDF aside), and for a file whose first picture cannot be decoded here
/// (the still decoder then reports on it as it always has). A PDF that cannot be opened
/// is an error.
pub fn open_pictures(
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<Option<Pictures<'_>>, MediaError> {
    let opened = catch_decoder_panic(|| {
        if super::sniff::is_pdf(bytes) {
            return Ok(Some((
                Sequence::Pages,
                super::pdf::pages(bytes, limits)? as Decoded<'_>,
            )));
        }
        Ok(match image::guess_format(bytes).ok() {
            Some(ImageFormat::Gif) => animation(GifDecoder::new(Cursor::new(bytes)), limits),
            Some(ImageFormat::Png) => apng(bytes, limits),
            Some(ImageFormat::WebP) => match WebPDecoder::new(Cursor::new(bytes)) {
                Ok(d) if d.has_animation() => animation(Ok(d), limits),
                _ => None,
            },
            Some(ImageFormat::Tiff) => pages(bytes, limits),
            _ => None,
        })
    })?;
    Ok(opened.map(|(sequence, source)| Pictures {
        sequence,
        source,
        limits,
        count: 0,
        pixels: 0,
        stopped: false,
    }))
}

use super::still::check_size;

type Decoded<'a> = Box<dyn Iterator<Item = Result<Picture, MediaError>> + 'a>;

/// What one decode may allocate, as for a still: 16 bytes a pixel (RGBA at 32-bit
/// float, the widest layout) and room for the decoder's tables.
fn caps(width: u32, height: u32) -> image::Limits {
    let mut caps = image::Limits::default();
    let pixels = u64::from(width) * u64::from(height);
    caps.max_alloc = Some(pixels.saturating_mul(16).saturating_add(64 << 20));
    caps
}

/// How long a frame whose file asks for `ms` milliseconds is shown. Browsers show a
/// frame asking for under 20 ms (GIF's 0 and 1 hundredths, written by tools that meant
/// "no delay given") for 100 ms, and FFmpeg's GIF reader does the same, so a video made
/// from the file has the same times.
pub fn shown_for(ms: f64) -> f64 {
    if ms < 20.0 {
        0.1
    } else {
        ms / 1000.0
    }
}

/// The frames of an animation decoder, or `None` when it has fewer than two (or its
/// canvas is refused, or its first frame fails: the still decoder then says why).
fn animation<'a, D: AnimationDecoder<'a> + ImageDecoder>(
    decoder: image::ImageResult<D>,
    limits: DecodeLimits,
) -> Option<(Sequence, Decoded<'a>)> {
    let mut decoder = decoder.ok()?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, limits).ok()?;
    decoder.set_limits(caps(w, h)).ok()?;
    frames_of(decoder.into_frames(), 2)
}

/// An animation's frames, when it has at least `least` (1 or 2). The first frames are
/// decoded to know that: a one-frame file is left to the still decoder, which decodes
/// its picture again.
fn frames_of(mut frames: image::Frames<'_>, least: usize) -> Option<(Sequence, Decoded<'_>)> {
    let picture = |f: image::ImageResult<image::Frame>| {
        f.map_err(MediaError::Decode).map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            Picture::plain(
                DynamicImage::ImageRgba8(f.into_buffer()),
                Some(shown_for(f64::from(n) / f64::from(d.max(1)))),
            )
        })
    };
    let first = picture(Ok(frames.next()?.ok()?));
    let mut head = vec![first];
    if least > 1 {
        head.push(picture(frames.next()?));
    }
    Some((
        Sequence::Animation,
        Box::new(head.into_iter().chain(frames.map(picture))),
    ))
}

/// An APNG's frames. Its default image (what a viewer without APNG support shows) is
/// the first frame, unless the file leaves it out of the animation; then it is shown
/// first here, for [`shown_for`] no delay, so that what such a viewer shows is checked
/// too.
fn apng(bytes: &[u8], limits: DecodeLimits) -> Option<(Sequence, Decoded<'_>)> {
    let mut decoder = PngDecoder::new(Cursor::new(bytes)).ok()?;
    if !decoder.is_apng().ok()? {
        return None;
    }
    let (w, h) = decoder.dimensions();
    check_size(w, h, limits).ok()?;
    decoder.set_limits(caps(w, h)).ok()?;
    let outside = png_default_image_is_outside_animation(bytes);
    let (sequence, frames) = frames_of(decoder.apng().ok()?.into_frames(), 2 - outside as usize)?;
    if !outside {
        return Some((sequence, frames));
    }
    let default = move || -> Result<Picture, MediaError> {
        let image = super::decode_still(bytes, limits, super::StillScale::Full)?.into_image();
        Ok(Picture::plain(image, Some(shown_for(0.0))))
    };
    Some((
        sequence,
        Box::new(std::iter::once_with(default).chain(frames)),
    ))
}

/// Whether a PNG's IDAT comes before any frame control chunk: its default image is then
/// not a frame of its animation. Walks the chunks' headers only.
fn png_default_image_is_outside_animation(bytes: &[u8]) -> bool {
    let mut at = 8;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"fcTL" => return false,
            b"IDAT" => return true,
            _ => {}
        }
        at = at.saturating_add(12).saturating_add(len);
    }
    false
}

/// A TIFF's pages, when it has two or more. Each page is decoded by the same decoder as
/// a single-page TIFF, reading the file as if that page's directory were the first, so
/// a page fingerprints as it would saved alone.
fn pages(bytes: &[u8], limits: DecodeLimits) -> Option<(Sequence, Decoded<'_>)> {
    let mut chain = tiff::decoder::Decoder::new(Cursor::new(bytes)).ok()?;
    if !chain.more_images() {
        return None;
    }
    let header = TiffHeader::read(bytes)?;
    let mut first = chain.ifd_pointer().map(|p| p.0);
    let next_page = move || -> Option<Result<u64, MediaError>> {
        if let Some(offset) = first.take() {
            return Some(Ok(offset));
        }
        if !chain.more_images() {
            return None;
        }
        Some(match chain.next_image() {
            Ok(()) => chain
                .ifd_pointer()
                .map(|p| p.0)
                .ok_or_else(|| tiff_error("a page has no directory")),
            Err(e) => Err(tiff_error(e)),
        })
    };
    let decode = move |offset: Result<u64, MediaError>| -> Result<Picture, MediaError> {
        let reader = header.first_directory_at(bytes, offset?);
        let mut page = TiffDecoder::new(reader).map_err(MediaError::Decode)?;
        let (w, h) = page.dimensions();
        check_size(w, h, limits)?;
        page.set_limits(caps(w, h)).map_err(MediaError::Decode)?;
        let image = DynamicImage::from_decoder(page).map_err(MediaError::Decode)?;
        Ok(Picture::plain(image, None))
    };
    Some((
        Sequence::Pages,
        Box::new(std::iter::from_fn(next_page).map(decode)),
    ))
}

fn tiff_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> MediaError {
    MediaError::Decode(image::ImageError::Decoding(
        image::error::DecodingError::new(ImageFormat::Tiff.into(), e),
    ))
}

/// Where a TIFF header keeps the offset of the first directory, and in which order.
#[derive(Debug, Clone, Copy)]
struct TiffHeader {
    big_endian: bool,
    /// BigTIFF: an 8-byte offset at byte 8; else a 4-byte one at byte 4.
    big: bool,
}

impl TiffHeader {
    fn read(bytes: &[u8]) -> Option<TiffHeader> {
        let big_endian = match bytes.get(0..2)? {
            b"II" => false,
            b"MM" => true,
            _ => return None,
        };
        let magic = bytes.get(2..4)?;
        let magic = if big_endian {
            u16::from_be_bytes([magic[0], magic[1]])
        } else {
            u16::from_le_bytes([magic[0], magic[1]])
        };
        match magic {
            42 => Some(TiffHeader {
                big_endian,
                big: false,
            }),
            43 => Some(TiffHeader {
                big_endian,
                big: true,
            }),
            _ => None,
        }
    }

    /// `bytes` read with the header's first-directory offset replaced by `offset`.
    fn first_directory_at(self, bytes: &[u8], offset: u64) -> PatchedHeader<'_> {
        let mut head = [0u8; 16];
        let n = bytes.len().min(16);
        head[..n].copy_from_slice(&bytes[..n]);
        let len = if self.big {
            let b = if self.big_endian {
                offset.to_be_bytes()
            } else {
                offset.to_le_bytes()
            };
            head[8..16].copy_from_slice(&b);
            16
        } else {
            // The chain was read from this file, so the offset fits its 4 bytes.
            let o = u32::try_from(offset).unwrap_or(u32::MAX);
            let b = if self.big_endian {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            head[4..8].copy_from_slice(&b);
            8
        };
        PatchedHeader {
            bytes,
            head,
            head_len: len.min(bytes.len()),
            pos: 0,
        }
    }
}

/// A file's bytes with its first `head_len` bytes read from `head` instead.
struct PatchedHeader<'a> {
    bytes: &'a [u8],
    head: [u8; 16],
    head_len: usize,
    pos: usize,
}

impl BufRead for PatchedHeader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(if self.pos < self.head_len {
            &self.head[self.pos..self.head_len]
        } else {
            &self.bytes[self.pos.min(self.bytes.len())..]
        })
    }

    fn consume(&mut self, amount: usize) {
        self.pos = self.pos.saturating_add(amount);
    }
}

impl Read for PatchedHeader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Seek for PatchedHeader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::End(d) => self.bytes.len() as i128 + i128::from(d),
            SeekFrom::Current(d) => self.pos as i128 + i128::from(d),
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = usize::try_from(target).unwrap_or(usize::MAX);
        Ok(self.pos as u64)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn short_delays_are_shown_as_browsers_show_them() {
        assert_eq!(shown_for(0.0), 0.1);
        assert_eq!(shown_for(10.0), 0.1);
        assert_eq!(shown_for(20.0), 0.02);
        assert_eq!(shown_for(500.0), 0.5);
    }

    #[test]
    fn a_patched_header_reads_as_the_file_with_another_first_directory() {
        let file: Vec<u8> = b"II*\0\x08\0\0\0rest of the file".to_vec();
        let header = TiffHeader::read(&file).unwrap();
        let mut r = header.first_directory_at(&file, 0x0102_0304);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(&all[..8], b"II*\0\x04\x03\x02\x01");
        assert_eq!(&all[8..], &file[8..]);
        r.seek(SeekFrom::Start(2)).unwrap();
        let mut two = [0u8; 4];
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"*\0\x04\x03");
        r.seek(SeekFrom::End(-4)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, b"file");
    }

    #[test]
    fn png_chunks_tell_whether_the_default_image_is_a_frame() {
        let chunk = |kind: &[u8; 4], len: u32| {
            let mut c = len.to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend(std::iter::repeat_n(0u8, len as usize + 4));
            c
        };
        let png = |chunks: &[Vec<u8>]| {
            let mut f = b"\x89PNG\r\n\x1a\n".to_vec();
            chunks.iter().for_each(|c| f.extend_from_slice(c));
            f
        };
        let framed = png(&[chunk(b"IHDR", 13), chunk(b"fcTL", 26), chunk(b"IDAT", 5)]);
        let apart = png(&[chunk(b"IHDR", 13), chunk(b"acTL", 8), chunk(b"IDAT", 5)]);
        assert!(!png_default_image_is_outside_animation(&framed));
        assert!(png_default_image_is_outside_animation(&apart));
        assert!(!png_default_image_is_outside_animation(&framed[..20]));
    }

    /// A 64×64 picture of 8×8 black and white blocks, a different one for each seed.
    pub(crate) fn blocks(seed: u32) -> image::RgbaImage {
        image::RgbaImage::from_fn(64, 64, |x, y| {
            let cell =
                (x / 8 + 8 * (y / 8)).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503);
            let v = if cell.wrapping_mul(2_246_822_519) >> 31 == 1 {
                255
            } else {
                0
            };
            image::Rgba([v, v, v, 255])
        })
    }

    /// An animated GIF of `frames`, each shown for its delay in milliseconds.
    pub(crate) fn gif(frames: &[(image::RgbaImage, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
            enc.set_repeat(image::codecs::gif::Repeat::Infinite)
                .unwrap();
            for (img, ms) in frames {
                let delay = image::Delay::from_numer_denom_ms(*ms, 1);
                enc.encode_frame(image::Frame::from_parts(img.clone(), 0, 0, delay))
                    .unwrap();
            }
        }
        out
    }

    /// A TIFF with one RGB page per picture.
    pub(crate) fn tiff_pages(pages: &[image::RgbaImage]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut enc = tiff::encoder::TiffEncoder::new(&mut out).unwrap();
            for p in pages {
                let rgb = DynamicImage::ImageRgba8(p.clone()).to_rgb8();
                enc.write_image::<tiff::encoder::colortype::RGB8>(
                    p.width(),
                    p.height(),
                    rgb.as_raw(),
                )
                .unwrap();
            }
        }
        out.into_inner()
    }

    fn all(bytes: &[u8], limits: DecodeLimits) -> (Sequence, Vec<Result<Picture, MediaError>>) {
        let pictures = open_pictures(bytes, limits)
            .unwrap()
            .expect("several pictures");
        (pictures.sequence, pictures.collect())
    }

    #[test]
    fn an_animated_gif_gives_every_frame_with_its_delay() {
        let frames = [(blocks(1), 500), (blocks(2), 250), (blocks(3), 0)];
        let (sequence, pictures) = all(&gif(&frames), DecodeLimits::default());
        assert_eq!(sequence, Sequence::Animation);
        let got: Vec<(Option<f64>, Vec<u8>)> = pictures
            .into_iter()
            .map(|p| {
                let p = p.unwrap();
                (p.duration_s, p.image.to_luma8().into_raw())
            })
            .collect();
        let want: Vec<(Option<f64>, Vec<u8>)> = frames
            .iter()
            .zip([0.5, 0.25, 0.1])
            .map(|((img, _), d)| {
                (
                    Some(d),
                    DynamicImage::ImageRgba8(img.clone()).to_luma8().into_raw(),
                )
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_multi_page_tiff_gives_every_page_as_saved_alone() {
        let pages = [blocks(4), blocks(5), blocks(6)];
        let (sequence, pictures) = all(&tiff_pages(&pages), DecodeLimits::default());
        assert_eq!(sequence, Sequence::Pages);
        assert_eq!(pictures.len(), 3);
        for (picture, page) in pictures.into_iter().zip(&pages) {
            let picture = picture.unwrap();
            assert_eq!(picture.duration_s, None);
            let alone = tiff_pages(std::slice::from_ref(page));
            let alone = super::super::decode_still(
                &alone,
                DecodeLimits::default(),
                super::super::StillScale::Full,
            )
            .unwrap()
            .into_image();
            assert_eq!(picture.image, alone);
        }
    }

    /// Files of one picture are left to the still decoder, so they hash as before.
    #[test]
    fn files_of_one_picture_are_not_opened_here() {
        let one = |bytes: Vec<u8>| {
            open_pictures(&bytes, DecodeLimits::default())
                .unwrap()
                .is_none()
        };
        assert!(one(gif(&[(blocks(1), 100)])));
        assert!(one(tiff_pages(&[blocks(1)])));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(blocks(1))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(one(png));
        let mut webp = Vec::new();
        DynamicImage::ImageRgba8(blocks(1))
            .write_to(&mut Cursor::new(&mut webp), ImageFormat::WebP)
            .unwrap();
        assert!(one(webp));
        assert!(one(b"not an image at all".to_vec()));
    }

    /// Past a limit the pictures stop with an error; those before it stand.
    #[test]
    fn frames_stop_at_the_decode_limits() {
        let file = gif(&[(blocks(1), 100), (blocks(2), 100), (blocks(3), 100)]);
        let limits = DecodeLimits {
            max_frames: 2,
            ..DecodeLimits::default()
        };
        let (_, pictures) = all(&file, limits);
        assert_eq!(pictures.len(), 3);
        assert!(pictures[..2].iter().all(Result::is_ok));
        assert!(matches!(
            pictures[2],
            Err(MediaError::OverLimit { limit: 2, .. })
        ));
        // A file with just as many frames as the limit is whole.
        let limits = DecodeLimits {
            max_frames: 3,
            ..DecodeLimits::default()
        };
        let (_, pictures) = all(&file, limits);
        assert_eq!(pictures.len(), 3);
        assert!(pictures.iter().all(Result::is_ok));

        let limits = DecodeLimits {
            max_total_pixels: 64 * 64 * 2 + 1,
            ..DecodeLimits::default()
        };
        let (_, pictures) = all(&file, limits);
        assert_eq!(pictures.len(), 3);
        assert!(matches!(pictures[2], Err(MediaError::OverLimit { .. })));

        let pages = tiff_pages(&[blocks(1), blocks(2)]);
        let limits = DecodeLimits {
            max_pixels: 64 * 64 - 1,
            ..DecodeLimits::default()
        };
        // The first page's size is refused as a single page's would be.
        assert!(open_pictures(&pages, limits)
            .unwrap()
            .is_some_and(|mut p| { matches!(p.next(), Some(Err(MediaError::TooLarge { .. }))) }));
    }

    /// A GIF cut off in its third frame gives the first two, then an error.
    #[test]
    fn a_truncated_animation_gives_its_whole_frames_then_an_error() {
        let file = gif(&[(blocks(1), 100), (blocks(2), 100), (blocks(3), 100)]);
        let one = gif(&[(blocks(1), 100)]).len();
        let two = gif(&[(blocks(1), 100), (blocks(2), 100)]).len();
        let cut = &file[..two + (two - one) / 2];
        let (_, pictures) = all(cut, DecodeLimits::default());
        assert!(pictures[..2].iter().all(Result::is_ok), "{pictures:?}");
        assert!(pictures.last().is_some_and(Result::is_err), "{pictures:?}");
    }

    /// An APNG of `frames` (RGBA, 500 ms each), with `default` as a separate default
    /// image outside the animation when given.
    fn apng(default: Option<&image::RgbaImage>, frames: &[image::RgbaImage]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 64, 64);
            enc.set_color(png::ColorType::Rgba);
            enc.set_animated(frames.len() as u32, 0).unwrap();
            enc.set_sep_def_img(default.is_some()).unwrap();
            enc.set_frame_delay(1, 2).unwrap();
            let mut w = enc.write_header().unwrap();
            for img in default.into_iter().chain(frames) {
                w.write_image_data(img.as_raw()).unwrap();
            }
            w.finish().unwrap();
        }
        out
    }

    /// An APNG's default image outside its animation (what viewers without APNG show)
    /// is checked too, first; one that is the first frame is not repeated.
    #[test]
    fn an_apng_default_image_outside_the_animation_is_a_picture_too() {
        let luma = |i: &image::RgbaImage| DynamicImage::ImageRgba8(i.clone()).to_luma8();
        let shown = |bytes: Vec<u8>| {
            let (sequence, pictures) = all(&bytes, DecodeLimits::default());
            assert_eq!(sequence, Sequence::Animation);
            pictures
                .into_iter()
                .map(|p| {
                    let p = p.unwrap();
                    (p.duration_s, p.image.to_luma8())
                })
                .collect::<Vec<_>>()
        };
        let (d, a, b) = (blocks(9), blocks(1), blocks(2));
        assert_eq!(
            shown(apng(Some(&d), &[a.clone(), b.clone()])),
            [
                (Some(0.1), luma(&d)),
                (Some(0.5), luma(&a)),
                (Some(0.5), luma(&b))
            ]
        );
        assert_eq!(
            shown(apng(Some(&d), std::slice::from_ref(&a))),
            [(Some(0.1), luma(&d)), (Some(0.5), luma(&a))]
        );
        assert_eq!(
            shown(apng(None, &[a.clone(), b.clone()])),
            [(Some(0.5), luma(&a)), (Some(0.5), luma(&b))]
        );
        assert!(open_pictures(&apng(None, &[a]), DecodeLimits::default())
            .unwrap()
            .is_none());
    }

    /// A TIFF whose last page points back to its first stops with an error where the
    /// chain turns back (the `tiff` crate refuses the directory that closes the loop):
    /// a chain of pages that never ends is not followed for ever.
    #[test]
    fn a_tiff_whose_pages_loop_stops_with_an_error() {
        let mut file = tiff_pages(&[blocks(1), blocks(2)]);
        let u32_at = |f: &[u8], at: usize| u32::from_le_bytes(f[at..at + 4].try_into().unwrap());
        let u16_at = |f: &[u8], at: usize| u16::from_le_bytes(f[at..at + 2].try_into().unwrap());
        let first = u32_at(&file, 4) as usize;
        let next_of = |f: &[u8], ifd: usize| ifd + 2 + 12 * usize::from(u16_at(f, ifd));
        let second = u32_at(&file, next_of(&file, first)) as usize;
        let tail = next_of(&file, second);
        assert_eq!(u32_at(&file, tail), 0, "the second page is the last");
        file[tail..tail + 4].copy_from_slice(&(first as u32).to_le_bytes());
        let (_, pictures) = all(&file, DecodeLimits::default());
        assert!(pictures.len() <= 3, "{pictures:?}");
        assert!(pictures[0].is_ok(), "{pictures:?}");
        assert!(pictures.last().is_some_and(Result::is_err), "{pictures:?}");
    }
}
