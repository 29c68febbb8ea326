#![no_main]
//! celprint's libjpeg-turbo glue (src/media/turbo.rs) called directly, at each scale
//! and in gray, with no panic boundary around it.
use celprint::media::turbo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let denominator = [1, 2, 4, 8][data.len() % 4];
    let luma_only = data.len() % 8 >= 4;
    let Ok(planned) = turbo::plan(data, denominator, luma_only) else {
        return;
    };
    if u64::from(planned.width) * u64::from(planned.height) > 1 << 22 {
        return;
    }
    if let Ok(d) = turbo::decode_jpeg(data, denominator, luma_only) {
        let channels = if d.gray { 1 } else { 3 };
        assert_eq!(
            d.pixels.len(),
            d.width as usize * d.height as usize * channels
        );
    }
});
