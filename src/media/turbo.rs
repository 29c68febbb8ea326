//! JPEG decoding through the system's libjpeg-turbo (its TurboJPEG 2 API).
//!
//! Two reasons to use it rather than a pure-Rust decoder: it can scale in the DCT domain
//! (decoding a 1080p frame at half size skips most of the inverse transform and colour
//! work), and it is the decoder PIL uses, so full-size decodes give the very pixels that
//! Meta's Python reference hashes. Warnings (a truncated file, corrupt data) stop the
//! decode and become errors.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uchar, c_ulong, c_void};

use super::MediaError;

type Handle = *mut c_void;

const TJPF_RGB: c_int = 0;
const TJPF_GRAY: c_int = 6;
const TJCS_GRAY: c_int = 2;
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

/// Decodes `bytes`, shrinking by `1/denominator` (1, 2, 4 or 8) in the DCT domain.
/// With `luma_only`, colour files come out as their luma channel: libjpeg then skips the
/// chroma planes' inverse transform, upsampling and colour conversion altogether.
pub fn decode_jpeg(bytes: &[u8], denominator: u32, luma_only: bool) -> Result<Decoded, MediaError> {
    let d = Decompressor::new()?;
    let (w, h, colorspace) = header(&d, bytes)?;
    let denom = denominator.max(1) as c_int;
    let (sw, sh) = ((w + denom - 1) / denom, (h + denom - 1) / denom);
    let gray = luma_only || colorspace == TJCS_GRAY;
    let (format, channels) = if gray { (TJPF_GRAY, 1) } else { (TJPF_RGB, 3) };
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
    Ok(Decoded {
        width: sw as u32,
        height: sh as u32,
        gray,
        pixels,
    })
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
    fn garbage_is_an_error_not_a_crash() {
        assert!(decode_jpeg(b"\xff\xd8\xff\xe0 not really", 1, false).is_err());
        assert!(decode_jpeg(b"", 1, true).is_err());
    }
}
