//! The bank's two in-memory indexes: Hamming-radius search over banked PDQ hashes, and
//! the keypoint index ([`FeatureIndex`]) that finds reframed and inset pictures.
//!
//! [`HammingIndex`] is the interface the bank and the matcher use. [`MultiIndex`]
//! (multi-index hashing) is what the bank searches with. [`LinearIndex`] compares every
//! query with every banked hash; it stays as the reference the multi-index is tested
//! against, and is not on any search path.

pub(crate) mod features;
pub mod index_file;
mod layout;
mod linear;
mod mapped;
mod mih;
mod runs;
mod table;

pub use features::{Candidate, FeatureIndex, IndexedSample, KeypointPair, MIN_MATCHES};
pub use layout::{Layout, DESIGN_RADIUS};
pub use linear::LinearIndex;
pub use mih::MultiIndex;
pub use table::TableArrays;

use crate::fingerprint::Hash256;
use crate::model::SegmentRef;

/// One banked segment within the radius of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// Position of the query in the slice passed to [`HammingIndex::search`].
    pub query: usize,
    pub segment: SegmentRef,
    pub distance: u32,
    /// PDQ quality of the banked segment, so callers can drop weak evidence without a
    /// lookup.
    pub quality: u8,
}

/// An in-memory index of (segment, hash) pairs.
pub trait HammingIndex: Send + Sync {
    fn insert(&mut self, segment: SegmentRef, hash: Hash256, quality: u8);

    /// Removes every segment of `asset`.
    fn remove_asset(&mut self, asset: crate::model::AssetId);

    /// Every indexed segment within `radius` bits (inclusive) of each query, in no
    /// particular order. Several queries may come at once (the eight rotations and flips
    /// of one frame, say): the linear scan shares one pass over the data among them, the
    /// multi-index probes for each.
    fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit>;

    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the index holds, for `celprint info`.
    fn memory_bytes(&self) -> usize;
}
