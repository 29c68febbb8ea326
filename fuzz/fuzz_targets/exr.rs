#![no_main]
//! OpenEXR and TGA: celprint's glue around the `exr` crate (size, decode, tone map)
//! and its TGA header check, with no panic boundary.
use celprint::media::formats;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = formats::looks_like_tga(data);
    let Ok((w, h)) = formats::exr_size(data) else {
        return;
    };
    if u64::from(w) * u64::from(h) > 1 << 22 {
        return;
    }
    if let Ok(image) = formats::decode_exr(data) {
        let _ = formats::tone_map(&image);
    }
});
