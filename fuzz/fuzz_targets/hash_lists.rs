#![no_main]
//! vPDQ lists, PDQ hashes in hex, BLAKE3 digests in hex and labels, as read from
//! files and arguments.
use celprint::fingerprint::segments::SegmentOptions;
use celprint::fingerprint::{vpdq, Hash256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(frames) = vpdq::parse(&text) {
        let segments = vpdq::segments(&frames, SegmentOptions::default());
        assert!(!segments.is_empty());
    }
    for line in text.lines() {
        if let Ok(h) = line.trim().parse::<Hash256>() {
            // What was read prints back to the same hash.
            assert_eq!(h.to_string().parse::<Hash256>().ok(), Some(h));
        }
        let _ = celprint::media::digest_from_hex(line);
        let _ = line.parse::<celprint::model::Label>();
    }
});
