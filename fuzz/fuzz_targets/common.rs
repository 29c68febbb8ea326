//! Shared by the targets (each includes it with `#[path]`).

/// Panics that celprint's decoder boundary catches are its design, not findings (the
/// file becomes a per-file error); any other panic still reaches libfuzzer-sys's
/// handler, which aborts and reports it. The default hook would print every caught
/// one, which slows the run to a crawl.
#[allow(dead_code)]
pub fn quiet_caught_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// Caps that keep one input's decode small: a header may claim any size.
#[allow(dead_code)]
pub fn limits() -> celprint::media::DecodeLimits {
    celprint::media::DecodeLimits {
        max_pixels: 1 << 22,
        memory_bytes: 1 << 30,
        max_frames: 16,
        max_total_pixels: 1 << 24,
    }
}
