#![no_main]
//! The still decode path as a scan takes it: format sniffing, then libjpeg-turbo,
//! PSD, OpenEXR, TGA or image-rs, behind the decoder panic boundary.
use celprint::media::{decode_still, StillScale};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::quiet_caught_panics(), |data: &[u8]| {
    // Reduced-size JPEG decodes too, as a scan makes them.
    let scale = if data.len().is_multiple_of(2) {
        StillScale::Full
    } else {
        StillScale::ShorterSideAtLeast(64)
    };
    let _ = decode_still(data, common::limits(), scale);
});
