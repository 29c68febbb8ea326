//! The flattened composite of a Photoshop document (PSD, and PSB, its large form): the
//! picture Photoshop stores after the layers for readers that do not composite them.
//!
//! Read here rather than by a crate because the composite is a small, fixed part of the
//! format (a header, three sections to skip, planar samples raw or PackBits-coded), and
//! because the size must be checked against the pixel limit before anything is
//! allocated: a PSB may declare 300,000 pixels a side. Layers are not read: the
//! composite is what the document shows. A document saved without a real composite
//! (Photoshop's "Maximize Compatibility" off, which stores a blank one) is an error,
//! never a white picture that would match nothing and pass.

use image::{DynamicImage, ImageBuffer, Luma, Rgb};

use super::MediaError;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PsdHeader {
    /// PSB: lengths of the layer section and of RLE rows are twice as wide.
    pub large: bool,
    pub channels: u16,
    pub width: u32,
    pub height: u32,
    /// Bits a sample: 1, 8, 16 or 32.
    pub depth: u16,
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bitmap,
    Gray,
    Indexed,
    Rgb,
    Cmyk,
}

impl Mode {
    /// Channels of the composite that hold colour; any after them (alpha, spot colours,
    /// saved selections) are not part of the picture shown.
    fn colour_channels(self) -> u16 {
        match self {
            Mode::Bitmap | Mode::Gray | Mode::Indexed => 1,
            Mode::Rgb => 3,
            Mode::Cmyk => 4,
        }
    }
}

pub fn is_psd(bytes: &[u8]) -> bool {
    bytes.starts_with(b"8BPS")
}

fn damaged(what: &str) -> MediaError {
    MediaError::Psd(format!("damaged Photoshop document: {what}"))
}

/// A cursor over the file that fails, never panics, past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], MediaError> {
        let n = usize::try_from(n).map_err(|_| damaged(what))?;
        let end = self.at.checked_add(n).ok_or_else(|| damaged(what))?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| damaged(&format!("{what} runs past the end of the file")))?;
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self, what: &str) -> Result<u16, MediaError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, MediaError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, MediaError> {
        let b = self.take(8, what)?;
        Ok(u64::from_be_bytes(b.try_into().unwrap_or_default()))
    }
}

/// The header, checked: the decode limit is applied to its size by the caller before
/// [`decode`] allocates anything.
pub fn header(bytes: &[u8]) -> Result<PsdHeader, MediaError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4, "header")? != b"8BPS" {
        return Err(damaged("no 8BPS signature"));
    }
    let large = match r.u16("version")? {
        1 => false,
        2 => true,
        v => return Err(damaged(&format!("version {v}"))),
    };
    r.take(6, "header")?;
    let channels = r.u16("channels")?;
    let height = r.u32("height")?;
    let width = r.u32("width")?;
    let depth = r.u16("depth")?;
    let mode = match r.u16("colour mode")? {
        0 => Mode::Bitmap,
        1 | 8 => Mode::Gray, // 8: duotone, whose composite is its grey ramp
        2 => Mode::Indexed,
        3 => Mode::Rgb,
        4 => Mode::Cmyk,
        7 => {
            return Err(MediaError::Unsupported(
                "Photoshop document in multichannel mode",
            ))
        }
        9 => return Err(MediaError::Unsupported("Photoshop document in Lab mode")),
        m => return Err(damaged(&format!("colour mode {m}"))),
    };
    let depth_fits = match mode {
        Mode::Bitmap => depth == 1,
        Mode::Indexed => depth == 8,
        _ => matches!(depth, 8 | 16 | 32),
    };
    if width == 0 || height == 0 {
        return Err(damaged(&format!("a picture of {width}×{height} pixels")));
    }
    if !depth_fits || channels < mode.colour_channels() {
        return Err(damaged(&format!(
            "{channels} channels of {depth} bits in {mode:?} mode"
        )));
    }
    Ok(PsdHeader {
        large,
        channels,
        width,
        height,
        depth,
        mode,
    })
}

impl PsdHeader {
    /// Bytes the decoded picture holds.
    pub fn decoded_bytes(&self) -> u64 {
        let samples = match self.mode {
            Mode::Gray | Mode::Bitmap => 1,
            _ => 3,
        };
        let per_sample = if self.depth == 16 { 2 } else { 1 };
        u64::from(self.width) * u64::from(self.height) * samples * per_sample
    }
}

/// Image resource 0x0421 (version info) says whether the composite is real.
const VERSION_INFO: u16 = 0x0421;

/// The composite of a document whose `header` has passed the size limit.
pub fn decode(bytes: &[u8], header: PsdHeader) -> Result<DynamicImage, MediaError> {
    let mut r = Reader { bytes, at: 26 };
    let len = r.u32("colour mode data")?;
    let palette = r.take(u64::from(len), "colour mode data")?;
    let len = r.u32("image resources")?;
    let resources = r.take(u64::from(len), "image resources")?;
    if !has_real_composite(resources) {
        return Err(MediaError::Unsupported(
            "Photoshop document saved without its composite (Maximize Compatibility off)",
        ));
    }
    let len = if header.large {
        r.u64("layer section")?
    } else {
        u64::from(r.u32("layer section")?)
    };
    r.take(len, "layer section")?;
    let compression = r.u16("compression")?;
    let (w, h) = (header.width as usize, header.height as usize);
    let row = if header.depth == 1 {
        w.div_ceil(8)
    } else {
        w * usize::from(header.depth / 8)
    };
    let planes = usize::from(header.mode.colour_channels());
    let mut data = vec![0u8; row * h * planes];
    match compression {
        0 => {
            let raw = r.take((row * h * planes) as u64, "pixel data")?;
            data.copy_from_slice(raw);
        }
        1 => {
            // Every channel's row lengths come first, then every channel's rows.
            let rows = h * usize::from(header.channels);
            let width = if header.large { 4 } else { 2 };
            let table = r.take((rows * width) as u64, "row lengths")?;
            let lengths = table
                .chunks_exact(width)
                .map(|c| c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)));
            for (out, len) in data.chunks_exact_mut(row).zip(lengths) {
                unpack_bits(r.take(len, "compressed row")?, out)?;
            }
        }
        c => return Err(damaged(&format!("composite compression {c}"))),
    }
    Ok(to_picture(&data, header, row, palette))
}

/// Walks the resource blocks: the composite is real unless version info says not.
fn has_real_composite(mut resources: &[u8]) -> bool {
    while resources.len() >= 12 && &resources[..4] == b"8BIM" {
        let id = u16::from_be_bytes([resources[4], resources[5]]);
        // A Pascal name padded to an even length, then a size and data padded likewise.
        let name = (usize::from(resources[6]) + 2) & !1;
        let Some(size) = resources.get(6 + name..10 + name) else {
            return true;
        };
        let size = u32::from_be_bytes(size.try_into().unwrap_or_default()) as usize;
        let start = 10 + name;
        if id == VERSION_INFO {
            return resources.get(start + 4).is_none_or(|&real| real != 0);
        }
        let next = start.saturating_add((size + 1) & !1);
        resources = resources.get(next..).unwrap_or_default();
    }
    true
}

/// PackBits: a header byte n, then n + 1 literal bytes (n < 128) or one byte repeated
/// 257 − n times (n > 128); 128 is skipped. The row must come out exactly full.
fn unpack_bits(mut input: &[u8], out: &mut [u8]) -> Result<(), MediaError> {
    let mut at = 0;
    while let Some((&n, rest)) = input.split_first() {
        input = rest;
        if n < 128 {
            let len = usize::from(n) + 1;
            let (src, rest) = input
                .split_at_checked(len)
                .ok_or_else(|| damaged("a compressed row is cut short"))?;
            out.get_mut(at..at + len)
                .ok_or_else(|| damaged("a compressed row is too long"))?
                .copy_from_slice(src);
            input = rest;
            at += len;
        } else if n > 128 {
            let len = 257 - usize::from(n);
            let (&v, rest) = input
                .split_first()
                .ok_or_else(|| damaged("a compressed row is cut short"))?;
            out.get_mut(at..at + len)
                .ok_or_else(|| damaged("a compressed row is too long"))?
                .fill(v);
            input = rest;
            at += len;
        }
    }
    if at != out.len() {
        return Err(damaged("a compressed row is cut short"));
    }
    Ok(())
}

/// Planar samples (`row` bytes a row, one plane a colour channel) to a picture.
fn to_picture(data: &[u8], header: PsdHeader, row: usize, palette: &[u8]) -> DynamicImage {
    let (w, h) = (header.width, header.height);
    let plane = row * h as usize;
    let at = |c: usize, y: u32| c * plane + y as usize * row;
    match (header.mode, header.depth) {
        (Mode::Bitmap, _) => DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
            let byte = data[at(0, y) + x as usize / 8];
            // A set bit is black.
            Luma([if byte & (0x80 >> (x % 8)) != 0 {
                0
            } else {
                255
            }])
        })),
        (Mode::Indexed, _) => DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
            let i = usize::from(data[at(0, y) + x as usize]);
            let entry = |c: usize| palette.get(c * 256 + i).copied().unwrap_or(0);
            Rgb([entry(0), entry(1), entry(2)])
        })),
        (mode, 8) => {
            let s = |c: usize, x: u32, y: u32| data[at(c, y) + x as usize];
            match mode {
                Mode::Gray => {
                    DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([s(0, x, y)])))
                }
                Mode::Cmyk => DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
                    // Stored inverted: 255 is no ink.
                    let k = u16::from(s(3, x, y));
                    let ch = |c| (u16::from(s(c, x, y)) * k / 255) as u8;
                    Rgb([ch(0), ch(1), ch(2)])
                })),
                _ => DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
                    Rgb([s(0, x, y), s(1, x, y), s(2, x, y)])
                })),
            }
        }
        (mode, 16) => {
            let s = |c: usize, x: u32, y: u32| {
                let i = at(c, y) + 2 * x as usize;
                u16::from_be_bytes([data[i], data[i + 1]])
            };
            match mode {
                Mode::Gray => {
                    DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| Luma([s(0, x, y)])))
                }
                Mode::Cmyk => DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
                    let k = u32::from(s(3, x, y));
                    let ch = |c| (u32::from(s(c, x, y)) * k / 65535) as u16;
                    Rgb([ch(0), ch(1), ch(2)])
                })),
                _ => DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
                    Rgb([s(0, x, y), s(1, x, y), s(2, x, y)])
                })),
            }
        }
        // 32 bits: linear-light floats, tone-mapped as OpenEXR is.
        (mode, _) => {
            let s = |c: usize, x: u32, y: u32| {
                let i = at(c, y) + 4 * x as usize;
                f32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
            };
            let linear = image::Rgb32FImage::from_fn(w, h, |x, y| match mode {
                Mode::Gray => Rgb([s(0, x, y); 3]),
                _ => Rgb([s(0, x, y), s(1, x, y), s(2, x, y)]),
            });
            super::formats::tone_map(&DynamicImage::ImageRgb32F(linear))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_rows_are_unpacked_and_bad_rows_refused() {
        let mut out = [0u8; 6];
        unpack_bits(&[1, 7, 8, 128, 0xfd, 9], &mut out).unwrap();
        assert_eq!(out, [7, 8, 9, 9, 9, 9]);
        assert!(unpack_bits(&[1, 7], &mut out).is_err(), "cut short");
        assert!(unpack_bits(&[0xf0, 1], &mut out).is_err(), "too long");
        assert!(unpack_bits(&[0, 1], &mut out).is_err(), "row not full");
    }

    #[test]
    fn a_header_declaring_a_huge_psb_is_read_without_allocating() {
        let mut h = b"8BPS\0\x02\0\0\0\0\0\0\0\x03".to_vec();
        h.extend_from_slice(&300_000u32.to_be_bytes());
        h.extend_from_slice(&300_000u32.to_be_bytes());
        h.extend_from_slice(&[0, 8, 0, 3]);
        let header = header(&h).unwrap();
        assert!(header.large);
        assert_eq!((header.width, header.height), (300_000, 300_000));
        // Past the header, the sections are missing: an error, not a panic.
        assert!(matches!(decode(&h, header), Err(MediaError::Psd(_))));
        assert!(matches!(header_of(b"8BPS\0\x07"), Err(MediaError::Psd(_))));
    }

    fn header_of(b: &[u8]) -> Result<PsdHeader, MediaError> {
        header(b)
    }

    #[test]
    fn version_info_says_whether_the_composite_is_real() {
        let block = |id: u16, data: &[u8]| {
            let mut b = b"8BIM".to_vec();
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&(data.len() as u32).to_be_bytes());
            b.extend_from_slice(data);
            if data.len() % 2 == 1 {
                b.push(0);
            }
            b
        };
        let mut resources = block(0x03ed, &[1, 2, 3]);
        assert!(has_real_composite(&resources));
        resources.extend(block(VERSION_INFO, &[0, 0, 0, 1, 0, 0, 0]));
        assert!(!has_real_composite(&resources));
        let real = [block(0x03ed, &[1]), block(VERSION_INFO, &[0, 0, 0, 1, 1])].concat();
        assert!(has_real_composite(&real));
    }
}
