//! celprint: content-provenance fingerprinting for animation assets.
//!
//! Layers, bottom to top, each importing only those below it: `model` (asset numbers,
//! labels, provenance) → `media` (find and decode files) → `fingerprint` (PDQ, segments,
//! keypoints) → `search` (the in-memory indexes) → `bank` (RocksDB store) → `matching`
//! → `report` (the scan report's data) → `render` (HTML, CSV) and `audit` (the trail of
//! runs) → `engine` (the `index`, `scan`, `hash` and `compare` jobs). See
//! ARCHITECTURE.md.

pub mod audit;
pub mod bank;
pub mod engine;
pub mod fingerprint;
#[doc(hidden)]
pub mod fuzzing;
pub mod heap;
pub mod matching;
pub mod media;
pub mod model;
pub mod render;
pub mod report;
pub mod search;
pub mod serve;
