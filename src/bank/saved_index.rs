//! The search index at open: entries read from the `search` column family, tables
//! loaded from the `index` column family when they were saved at the bank's current
//! generation, rebuilt otherwise; and saving them after an index run.

use rayon::prelude::*;
use rocksdb::WriteBatch;

use super::records;
use super::{Bank, BankError, CF_INDEX, CF_SEARCH};
use crate::model::{AssetId, SegmentRef};
use crate::search::{HammingIndex, Layout, MultiIndex};

pub(super) const KEY_INDEX_HEADER: &[u8] = b"header";
/// Saved tables are cut into values of this many 32-bit numbers (16 MiB).
const INDEX_PART: usize = 1 << 22;

/// What the `index` column family's header records about the saved tables.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct IndexHeader {
    pub(super) generation: u64,
    pub(super) entries: usize,
    pub(super) widths: Vec<u32>,
}

impl Bank {
    /// Rebuilds the search index from the `search` column family: one packed value per
    /// asset, then one table build over everything.
    pub(super) fn load_index(&mut self) -> Result<(), BankError> {
        let mut index = MultiIndex::new();
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_SEARCH)?);
        iter.seek_to_first();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let asset = AssetId::from_key(key).ok_or_else(|| self.corrupt("bad search key"))?;
            let packed = records::decode_search_entries(value)
                .ok_or_else(|| self.corrupt(format!("bad search entries for asset {}", asset.0)))?;
            index.reserve(value.len() / records::SEARCH_ENTRY_BYTES);
            for (i, (hash, quality)) in packed.enumerate() {
                let segment = SegmentRef {
                    asset,
                    index: i as u32,
                };
                index.push(segment, hash, quality);
            }
            iter.next();
        }
        iter.status().map_err(|e| self.rocks(e))?;
        drop(iter);
        self.index_origin = match self.load_saved_tables(&mut index) {
            Ok(()) => "loaded from saved tables".to_string(),
            Err(why) => {
                index.rebuild();
                format!("rebuilt at open ({why})")
            }
        };
        self.index = index;
        Ok(())
    }

    /// Installs the saved tables if they were built at this generation over these
    /// entries; otherwise says why not.
    pub(super) fn load_saved_tables(&self, index: &mut MultiIndex) -> Result<(), String> {
        let header = self
            .get(CF_INDEX, KEY_INDEX_HEADER)
            .map_err(|e| e.to_string())?
            .ok_or("no saved tables")?;
        let header: IndexHeader =
            serde_json::from_slice(&header).map_err(|e| format!("unreadable header: {e}"))?;
        if header.generation != self.generation || header.entries != index.len() {
            return Err("saved tables are older than the bank".to_string());
        }
        // One table per worker: each is 50-100 MB of values to read and convert.
        let tables = header
            .widths
            .par_iter()
            .enumerate()
            .map(|(k, width)| {
                let sizes = self.read_part_array(k, b's', (1usize << width) + 1)?;
                let starts = starts_from_sizes(sizes);
                let ids = self.read_part_array(k, b'i', header.entries)?;
                Ok((starts, ids))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let layout = Layout {
            widths: header.widths,
        };
        index.install_tables(layout, tables)
    }

    pub(super) fn index_part_key(table: usize, kind: u8, part: usize) -> Vec<u8> {
        let mut key = vec![b't', table as u8, kind];
        key.extend_from_slice(&(part as u32).to_be_bytes());
        key
    }

    fn read_part_array(&self, table: usize, kind: u8, len: usize) -> Result<Vec<u32>, String> {
        let mut out = Vec::with_capacity(len);
        for part in 0..len.div_ceil(INDEX_PART) {
            let key = Self::index_part_key(table, kind, part);
            let cf = self.cf(CF_INDEX).map_err(|e| e.to_string())?;
            let value = self
                .db
                .get_pinned_cf(cf, &key)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("table {table} is missing a part"))?;
            out.extend(part_values(table, &value)?);
        }
        if out.len() != len {
            return Err(format!("table {table} has {} values, not {len}", out.len()));
        }
        Ok(out)
    }

    /// Saves the index's tables, so the next open loads them instead of rebuilding
    /// (on 10M segments, a fraction of a second against several). Nothing is written
    /// when the saved tables are current, or when the bank is small enough to have none
    /// (any old ones are then removed). The header goes last, in its own write: a crash
    /// in between leaves a header-less set that the next open ignores and rebuilds.
    pub fn save_index(&mut self) -> Result<bool, BankError> {
        if self.index.tail_len() > 0 {
            self.index.rebuild();
        }
        let current = self
            .get(CF_INDEX, KEY_INDEX_HEADER)?
            .and_then(|h| serde_json::from_slice::<IndexHeader>(&h).ok())
            .is_some_and(|h| h.generation == self.generation && h.entries == self.index.len());
        if current {
            return Ok(false);
        }
        let cf = self.cf(CF_INDEX)?;
        let mut clear = WriteBatch::default();
        clear.delete_range_cf(cf, [0u8].as_slice(), [0xffu8; 16].as_slice());
        self.db.write(clear).map_err(|e| self.rocks(e))?;
        let Some((layout, tables)) = self.index.tables() else {
            return Ok(false);
        };
        for (k, (starts, ids)) in tables.iter().enumerate() {
            let sizes = sizes_from_starts(starts);
            for (kind, values) in [(b's', sizes.as_slice()), (b'i', *ids)] {
                for (part, slice) in values.chunks(INDEX_PART).enumerate() {
                    self.db
                        .put_cf(cf, Self::index_part_key(k, kind, part), part_bytes(slice))
                        .map_err(|e| self.rocks(e))?;
                }
            }
        }
        let header = IndexHeader {
            generation: self.generation,
            entries: self.index.len(),
            widths: layout.widths.clone(),
        };
        self.db
            .put_cf(
                cf,
                KEY_INDEX_HEADER,
                serde_json::to_vec(&header).expect("header serialises"),
            )
            .map_err(|e| self.rocks(e))?;
        // Flushed now, so that the next open reads tables from files instead of
        // replaying hundreds of megabytes of write-ahead log into memory.
        self.flush_all().map_err(|e| self.rocks(e))?;
        Ok(true)
    }
}

/// A table's offsets are stored as bucket sizes, which compress.
pub(crate) fn sizes_from_starts(starts: &[u32]) -> Vec<u32> {
    std::iter::once(0)
        .chain(starts.windows(2).map(|w| w[1].wrapping_sub(w[0])))
        .collect()
}

/// Bucket sizes summed back into offsets. Wrapping: a damaged value gives offsets that
/// [`MultiIndex::install_tables`] refuses, not a panic.
pub(crate) fn starts_from_sizes(mut sizes: Vec<u32>) -> Vec<u32> {
    for v in 1..sizes.len() {
        sizes[v] = sizes[v].wrapping_add(sizes[v - 1]);
    }
    sizes
}

/// One stored part: little-endian u32 values.
pub(crate) fn part_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// One stored part read back; an error when it is not a whole number of values.
pub(crate) fn part_values(table: usize, value: &[u8]) -> Result<Vec<u32>, String> {
    if value.len() % 4 != 0 {
        return Err(format!("table {table} has a torn part"));
    }
    Ok(value
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
