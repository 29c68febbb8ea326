#![no_main]
//! The PSD reader (src/media/psd.rs) called directly, with no panic boundary.
use celprint::media::psd;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = psd::header(data) else {
        return;
    };
    if u64::from(header.width) * u64::from(header.height) > 1 << 22 {
        return;
    }
    if let Ok(image) = psd::decode(data, header) {
        assert_eq!(
            (image.width(), image.height()),
            (header.width, header.height)
        );
    }
});
