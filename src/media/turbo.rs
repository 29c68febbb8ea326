//! JPEG decoding through the system's libjpeg-turbo (its TurboJPEG 2 API).
//!
//! Two reasons to use it rather than a pure-Rust decoder: it can scale in the DCT domain
//! (decoding a 1080p frame at half size skips most of the inverse transform and colour
//! work), and it is the decoder PIL uses, so full-size decodes give the very pixels that
//! Meta's Python reference hashes. Warnings (a truncated file, corrupt data) stop the
//! decode and become errors.
//!
//! CMYK and YCCK files (print artwork) cannot be converted to RGB by libjpeg; they are
//! decoded to CMYK and converted here.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uchar, c_ulong, c_void};

use super::MediaError;

type Handle = *mut c_void;

const TJPF_RGB: c_int = 0;
const TJPF_GRAY: c_int = 6;
const TJPF_CMYK: c_int = 11;
const TJCS_GRAY: c_int = 2;
const TJCS_CMYK: c_int = 3;
const TJCS_YCCK: c_int = 4;
const TJFLAG_ACCURATEDCT: c_int = 4096;
const TJFLAG_STOPONWARNING: c_int = 8192;

#[link(name = "turbojpeg")]
extern "C" {
    fn tjInitDecompress() -> Handle;
    fn tjDecompressHeader3(
        handle: Handle,
        jpeg: *const c_uchar,
        size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        subsamp: *mut c_int,
        colorspace: *mut c_int,
    ) -> c_int;
    fn tjDecompress2(
        handle: Handle,
        jpeg: *const c_uchar,
        size: c_ulong,
        dst: *mut c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjDestroy(handle: Handle) -> c_int;
    fn tjGetErrorStr2(handle: Handle) -> *mut c_char;
}

/// A TurboJPEG decompressor, destroyed on drop.
struct Decompressor(Handle);

impl Decompressor {
    fn new() -> Result<Decompressor, MediaError> {
        // SAFETY: no arguments; a null return is checked.
        let h = unsafe { tjInitDecompress() };
        if h.is_null() {
            return Err(MediaError::Jpeg("cannot start libjpeg-turbo".to_string()));
        }
        Ok(Decompressor(h))
    }

    fn error(&self) -> MediaError {
        // SAFETY: the handle is live; libjpeg-turbo returns a NUL-terminated string it owns.
        let text = unsafe { CStr::from_ptr(tjGetErrorStr2(self.0)) };
        MediaError::Jpeg(text.to_string_lossy().into_owned())
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInitDecompress and is destroyed once.
        unsafe {
            tjDestroy(self.0);
        }
    }
}

/// A decoded JPEG: packed RGB, or one gray channel for grayscale files.
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub gray: bool,
    pub pixels: Vec<u8>,
}

fn header(d: &Decompressor, bytes: &[u8]) -> Result<(c_int, c_int, c_int), MediaError> {
    let (mut w, mut h, mut sub, mut cs) = (0, 0, 0, 0);
    // SAFETY: the buffer and its length describe a live slice; outputs are locals.
    let rc = unsafe {
        tjDecompressHeader3(
            d.0,
            bytes.as_ptr(),
            bytes.len() as c_ulong,
            &mut w,
            &mut h,
            &mut sub,
            &mut cs,
        )
    };
    if rc != 0 {
        return Err(d.error());
    }
    Ok((w, h, cs))
}

/// What a decode of `bytes` will allocate, read from the header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub width: u32,
    pub height: u32,
    /// Bytes a pixel while decoding: 1 (gray), 3 (RGB) or 4 (CMYK, converted to RGB in
    /// place).
    pub channels: usize,
    cmyk: bool,
}

impl Planned {
    /// The size of the decoder's output buffer.
    pub fn bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * self.channels as u64
    }
}

/// The size and layout a decode of `bytes` at `1/denominator` would produce.
pub fn plan(bytes: &[u8], denominator: u32, luma_only: bool) -> Result<Planned, MediaError> {
    let d = Decompressor::new()?;
    plan_with(&d, bytes, denominator, luma_only)
}

fn plan_with(
    d: &Decompressor,
    bytes: &[u8],
    denominator: u32,
    luma_only: bool,
) -> Result<Planned, MediaError> {
    let (w, h, colorspace) = header(d, bytes)?;
    let denom = denominator.max(1) as c_int;
    let (sw, sh) = ((w + denom - 1) / denom, (h + denom - 1) / denom);
    let cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    // libjpeg converts neither CMYK nor YCCK to gray, so those are decoded in colour even
    // when only luma is wanted.
    let channels = if cmyk {
        4
    } else if luma_only || colorspace == TJCS_GRAY {
        1
    } else {
        3
    };
    Ok(Planned {
        width: sw as u32,
        height: sh as u32,
        channels,
        cmyk,
    })
}

/// Decodes `bytes`, shrinking by `1/denominator` (1, 2, 4 or 8) in the DCT domain.
/// With `luma_only`, colour files come out as their luma channel: libjpeg then skips the
/// chroma planes' inverse transform, upsampling and colour conversion altogether.
/// CMYK and YCCK files come out as RGB either way.
pub fn decode_jpeg(bytes: &[u8], denominator: u32, luma_only: bool) -> Result<Decoded, MediaError> {
    let d = Decompressor::new()?;
    let planned = plan_with(&d, bytes, denominator, luma_only)?;
    let (sw, sh) = (planned.width as c_int, planned.height as c_int);
    let channels = planned.channels;
    let format = match channels {
        4 => TJPF_CMYK,
        1 => TJPF_GRAY,
        _ => TJPF_RGB,
    };
    let mut pixels = vec![0u8; sw as usize * sh as usize * channels];
    // SAFETY: `pixels` holds exactly sw × sh × channels bytes, and the pitch says so;
    // libjpeg-turbo writes within the scaled size, which is at most (sw, sh).
    let rc = unsafe {
        tjDecompress2(
            d.0,
            bytes.as_ptr(),
            bytes.len() as c_ulong,
            pixels.as_mut_ptr(),
            sw,
            sw * channels as c_int,
            sh,
            format,
            TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING,
        )
    };
    if rc != 0 {
        return Err(d.error());
    }
    if planned.cmyk {
        cmyk_to_rgb_in_place(&mut pixels, has_adobe_marker(bytes));
    }
    Ok(Decoded {
        width: sw as u32,
        height: sh as u32,
        gray: channels == 1,
        pixels,
    })
}

/// Converts packed CMYK to packed RGB in the same buffer, which is then 3/4 as long.
///
/// No colour management, the conversion PIL and ImageMagick make without a profile:
/// each channel is `(1 − ink) × (1 − black)`. Files with Adobe's APP14 marker (what
/// Photoshop and ImageMagick write) store every ink inverted, 255 meaning none; the
/// marker is how readers tell, as PIL and libvips do.
fn cmyk_to_rgb_in_place(pixels: &mut Vec<u8>, inverted: bool) {
    let n = pixels.len() / 4;
    for i in 0..n {
        // Writing pixel i's three bytes never overtakes pixel i + 1's four, still unread.
        let [c, m, y, k] = [0, 1, 2, 3].map(|j| {
            let v = pixels[4 * i + j];
            if inverted {
                u32::from(v)
            } else {
                255 - u32::from(v)
            }
        });
        for (j, ink) in [c, m, y].into_iter().enumerate() {
            pixels[3 * i + j] = ((ink * k + 127) / 255) as u8;
        }
    }
    pixels.truncate(3 * n);
}

/// Whether the JPEG has an `Adobe` APP14 segment before its scan data.
fn has_adobe_marker(bytes: &[u8]) -> bool {
    let mut at = 2; // past SOI
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return false; // start of scan, end of image
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let body = &bytes[at + 4..(at + 2 + len).clamp(at + 4, bytes.len())];
        if marker == 0xEE && body.starts_with(b"Adobe") {
            return true;
        }
        if len < 2 {
            return false;
        }
        at += 2 + len;
    }
    false
}

/// The largest shrink (1, 2, 4 or 8) that keeps the shorter side at or above `min_side`.
pub fn shrink_for(width: u32, height: u32, min_side: u32) -> u32 {
    let shorter = width.min(height);
    [8, 4, 2]
        .into_iter()
        .find(|d| shorter.div_ceil(*d) >= min_side)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_keeps_the_short_side() {
        assert_eq!(shrink_for(1920, 1080, 512), 2);
        assert_eq!(shrink_for(3840, 2160, 512), 4);
        assert_eq!(shrink_for(640, 360, 512), 1);
        assert_eq!(shrink_for(8000, 8000, 512), 8);
    }

    #[test]
    fn cmyk_converts_to_rgb_with_and_without_adobe_inversion() {
        // Pure red is no cyan, full magenta and yellow, no black.
        let mut plain = vec![0, 255, 255, 0, 0, 0, 0, 255];
        cmyk_to_rgb_in_place(&mut plain, false);
        assert_eq!(plain, vec![255, 0, 0, 0, 0, 0]);
        let mut inverted = vec![255, 0, 0, 255, 128, 128, 128, 255];
        cmyk_to_rgb_in_place(&mut inverted, true);
        assert_eq!(inverted, vec![255, 0, 0, 128, 128, 128]);
    }

    #[test]
    fn adobe_marker_is_found_before_the_scan_only() {
        let app14 = [
            0xFF, 0xEE, 0x00, 0x0E, b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, 2,
        ];
        let app0 = [0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        let sos = [0xFF, 0xDA, 0x00, 0x02];
        let file = |parts: &[&[u8]]| -> Vec<u8> {
            let mut v = vec![0xFF, 0xD8];
            parts.iter().for_each(|p| v.extend_from_slice(p));
            v
        };
        assert!(has_adobe_marker(&file(&[&app0, &app14, &sos])));
        assert!(!has_adobe_marker(&file(&[&app0, &sos, &app14])));
        assert!(!has_adobe_marker(&file(&[&app0, &sos])));
        // Truncated inside a segment: no marker, no panic.
        assert!(!has_adobe_marker(&file(&[&app14[..7]])));
        assert!(!has_adobe_marker(&[0xFF, 0xD8, 0xFF, 0xEE, 0x00, 0x00]));
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        assert!(decode_jpeg(b"\xff\xd8\xff\xe0 not really", 1, false).is_err());
        assert!(decode_jpeg(b"", 1, true).is_err());
    }
}
