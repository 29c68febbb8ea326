//! celprint: content-provenance fingerprinting for animation assets.
//!
//! Data flows `media` (find and decode files) → `fingerprint` (PDQ and the img_hash
//! family) → `bank` (RocksDB store, with the `search` index inside) → `matching` →
//! `report`. The `engine` module wires those into the `index`, `scan` and `hash` jobs.
//! See ARCHITECTURE.md.

pub mod audit;
pub mod bank;
pub mod engine;
pub mod fingerprint;
pub mod heap;
pub mod matching;
pub mod media;
pub mod model;
pub mod render;
pub mod report;
pub mod search;
