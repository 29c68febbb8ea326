//! The bank's numbers for assets and their segments, and their byte keys.

use serde::{Deserialize, Serialize};

/// Bank-local number of an asset; the asset's identity is its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AssetId(pub u64);

impl AssetId {
    /// Big-endian, so that assets sort by number.
    pub fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub fn from_key(k: &[u8]) -> Option<AssetId> {
        Some(AssetId(u64::from_be_bytes(k.try_into().ok()?)))
    }
}

/// Where a segment lives: its asset and its position within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentRef {
    pub asset: AssetId,
    pub index: u32,
}

impl SegmentRef {
    /// Big-endian, so that one asset's segments sort together and in order.
    pub fn key(self) -> [u8; 12] {
        let mut k = [0u8; 12];
        k[..8].copy_from_slice(&self.asset.0.to_be_bytes());
        k[8..].copy_from_slice(&self.index.to_be_bytes());
        k
    }

    pub fn from_key(k: &[u8]) -> Option<SegmentRef> {
        if k.len() != 12 {
            return None;
        }
        Some(SegmentRef {
            asset: AssetId(u64::from_be_bytes(k[..8].try_into().ok()?)),
            index: u32::from_be_bytes(k[8..].try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_keys_sort_by_asset_then_index() {
        let a = SegmentRef {
            asset: AssetId(1),
            index: 300,
        };
        let b = SegmentRef {
            asset: AssetId(2),
            index: 0,
        };
        assert!(a.key() < b.key());
        assert_eq!(SegmentRef::from_key(&a.key()), Some(a));
    }
}
