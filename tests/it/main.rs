//! The integration tests, as one binary (each area a module) so that RocksDB and FFmpeg
//! are linked once: the command line and reports (`cli`), archives, the nightly job,
//! fingerprints against Meta's references, the search index, stills by keypoints,
//! and video.
//! Run one area with `cargo test --release --test it -- video::`.

mod common;

mod archives;
mod cli;
mod fingerprints;
mod layers;
mod nightly;
mod search;
mod stills;
mod video;
