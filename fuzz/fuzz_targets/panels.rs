#![no_main]
//! The storyboard panel finder on arbitrary pixels: the input is a small gray picture
//! (its width in the first byte, its scale in the second), enlarged to page size.
use celprint::fingerprint::panels::find_panels;
use image::GrayImage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [w, k, pixels @ ..] = data else {
        return;
    };
    let w = usize::from(*w % 64) + 1;
    let h = pixels.len() / w;
    let k = usize::from(*k % 24) + 1;
    if h == 0 || w * k > 1024 || h * k > 1024 {
        return;
    }
    let page = GrayImage::from_fn((w * k) as u32, (h * k) as u32, |x, y| {
        image::Luma([pixels[(y as usize / k) * w + x as usize / k]])
    });
    for panel in find_panels(&page) {
        let _ = panel;
    }
});
