//! The integration tests, as one binary (each area a module) so that RocksDB and FFmpeg
//! are linked once: the command line and reports (`cli`), archives, the nightly job,
//! fingerprints against Meta's references, the search index, video (a module per area:
//! `video::decode`, `ranges`, `bars`, `crops`, `insets`, `keypoints`), pictures of more
//! than one frame or page (`multiframe`), production formats (`formats`: PDF, TGA, PSD,
//! EXR), storyboard panels (`panels`), image sequences (`sequences`), stills by keypoints
//! (`stills`), and the layers' import rule (`layers`).
//! Run one area with `cargo test --release --test it -- video::` or `-- video::bars::`.

mod common;

mod archives;
mod claims;
mod cli;
mod evidence;
mod fingerprints;
mod formats;
mod fuzz_findings;
mod layers;
mod multiframe;
mod nightly;
mod panels;
mod search;
mod sequences;
mod serve;
mod shards;
mod stills;
mod storyboards;
mod video;
