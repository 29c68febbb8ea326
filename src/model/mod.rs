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

/// An error and the causes it returns as `source`, as one line ("a: b: c"), for the
/// errors that keep their cause that way (the bank's, the audit trail's): what the
/// command line prints and what the service answers.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
