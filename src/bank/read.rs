//! What matching reads from a bank, as a trait, so that matching does not depend on
//! RocksDB: [`Bank`] reads its column families, [`MemoryBank`] (its in-memory twin)
//! plain maps. Matching's unit tests run on the twin.

use std::collections::BTreeMap;

use super::{now_rfc3339, AssetRecord, Bank, BankError, NewAsset};
use crate::fingerprint::{Hash256, Segment};
use crate::model::{AssetId, SegmentRef};
use crate::search::{HammingIndex, Hit, LinearIndex};

/// The reads matching needs: an asset's record, its segments, and a radius search over
/// every banked hash.
pub trait BankRead: Sync {
    fn asset(&self, id: AssetId) -> Result<Option<AssetRecord>, BankError>;

    /// The asset banked with these bytes (BLAKE3), if any.
    fn asset_by_digest(&self, digest: &[u8; 32]) -> Result<Option<AssetId>, BankError>;

    /// All segments of an asset, in order, then those of its centre crops (see
    /// [`AssetRecord::parts`]); empty for an unknown asset.
    fn segments(&self, id: AssetId) -> Result<Vec<Segment>, BankError>;

    fn segment(&self, seg: SegmentRef) -> Result<Option<Segment>, BankError> {
        Ok(self.segments(seg.asset)?.get(seg.index as usize).copied())
    }

    /// Banked segments within `radius` of any of `queries`.
    fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit>;
}

impl BankRead for Bank {
    fn asset(&self, id: AssetId) -> Result<Option<AssetRecord>, BankError> {
        Bank::asset(self, id)
    }

    fn asset_by_digest(&self, digest: &[u8; 32]) -> Result<Option<AssetId>, BankError> {
        Bank::asset_by_digest(self, digest)
    }

    fn segments(&self, id: AssetId) -> Result<Vec<Segment>, BankError> {
        Bank::segments(self, id)
    }

    fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        Bank::search(self, queries, radius)
    }
}

/// A bank held in memory, searched by the linear reference index: for tests, and for
/// anything that needs a few assets to match against and no store.
#[derive(Default)]
pub struct MemoryBank {
    assets: BTreeMap<AssetId, (AssetRecord, Vec<Segment>)>,
    index: LinearIndex,
}

impl MemoryBank {
    pub fn new() -> MemoryBank {
        MemoryBank::default()
    }

    /// Banks `new` as [`Bank::add_asset`] does, keypoints and path stamp aside.
    pub fn add_asset(&mut self, mut new: NewAsset) -> AssetId {
        let id = AssetId(self.assets.len() as u64 + 1);
        let record = new.record(id, now_rfc3339());
        let all = new.take_stored_segments();
        for (i, seg) in all.iter().enumerate() {
            let at = SegmentRef {
                asset: id,
                index: i as u32,
            };
            self.index.insert(at, seg.pdq, seg.quality);
        }
        self.assets.insert(id, (record, all));
        id
    }
}

impl BankRead for MemoryBank {
    fn asset(&self, id: AssetId) -> Result<Option<AssetRecord>, BankError> {
        Ok(self.assets.get(&id).map(|(record, _)| record.clone()))
    }

    fn asset_by_digest(&self, digest: &[u8; 32]) -> Result<Option<AssetId>, BankError> {
        let hex = crate::media::digest_hex(digest);
        Ok(self
            .assets
            .iter()
            .find(|(_, (record, _))| record.digest == hex)
            .map(|(id, _)| *id))
    }

    fn segments(&self, id: AssetId) -> Result<Vec<Segment>, BankError> {
        Ok(self
            .assets
            .get(&id)
            .map(|(_, segs)| segs.clone())
            .unwrap_or_default())
    }

    fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        self.index.search(queries, radius)
    }
}
