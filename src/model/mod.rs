//! The identifiers and labels every layer shares: an asset's and a segment's number in
//! the bank, an asset's label and the statements of provenance behind it, and the place
//! of a panel on a page. This module sits at the bottom and imports nothing of the
//! crate, so that the search index, the bank, matching and the report can all name an
//! asset without naming each other.

mod ids;
mod label;
mod place;
mod shard;

pub use ids::{AssetId, SegmentRef};
pub use label::{Label, Provenance, ProvenanceAction};
pub use place::{page_dpi, PanelBox, PanelPlace};
pub use shard::{Shard, ShardParseError};
