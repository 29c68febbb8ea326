#![no_main]
//! The claim readers (src/media/claims.rs): EXIF, XMP and PNG text in a still's bytes,
//! and the claimed times they give.
use celprint::media::claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let found = claims::from_bytes(data);
    for c in &found {
        assert!(!c.value.is_empty() && c.value.chars().count() <= claims::MAX_VALUE);
        let _ = claims::parse_time(&c.value);
    }
    let _ = claims::earliest_created(&found);
    let _ = claims::parse_time(&String::from_utf8_lossy(data));
});
