//! The search index at open: mapped from the bank's index file when it describes the
//! bank's current state (see [`crate::search::index_file`]), rebuilt from the `search`
//! column family otherwise; and saving that file after an index run.
//!
//! The column families stay the source of truth: the file is a cache the bank owns,
//! under [`INDEX_DIR`], that any open can do without. Banks from before it kept their
//! tables in the `index` column family; those are no longer read (such a bank rebuilds
//! at open until its next `index` run saves the file) and the save removes them.

use std::path::PathBuf;

use rocksdb::WriteBatch;

use super::records;
use super::{Bank, BankError, CF_ASSETS, CF_INDEX, CF_SEARCH};
use crate::model::{AssetId, SegmentRef};
use crate::search::index_file::{self, FileStamp};
use crate::search::MultiIndex;

/// The folder under the bank that holds the index file.
pub const INDEX_DIR: &str = "search-index";

/// The key the `index` column family's tables were saved under, before the index file.
pub(super) const KEY_INDEX_HEADER: &[u8] = b"header";

impl Bank {
    pub(super) fn index_dir(&self) -> PathBuf {
        self.path.join(INDEX_DIR)
    }

    /// The bank state an index file must have been built from to be used now.
    pub(super) fn index_stamp(&self) -> Result<FileStamp, BankError> {
        let last_asset = self
            .last_key(CF_ASSETS)?
            .map(|k| AssetId::from_key(&k).ok_or_else(|| self.corrupt("bad asset key")))
            .transpose()?;
        Ok(FileStamp {
            generation: self.generation,
            next_asset: self.next_id,
            last_asset: last_asset.map(|a| a.0),
        })
    }

    /// Maps the index file if it is current; otherwise reads the `search` column family
    /// (one packed value per asset) and builds the tables over everything.
    pub(super) fn load_index(&mut self) -> Result<(), BankError> {
        let stamp = self.index_stamp()?;
        let why = match index_file::open(&self.index_dir(), &stamp) {
            Ok(index) => {
                self.index = index;
                self.index_origin = "mapped from the index file".to_string();
                return Ok(());
            }
            Err(why) => why,
        };
        let mut index = self.unbuilt_index()?;
        index.rebuild();
        self.index = index;
        self.index_origin = format!("rebuilt at open ({why})");
        Ok(())
    }

    /// Every entry of the `search` column family in an index without tables.
    pub(super) fn unbuilt_index(&self) -> Result<MultiIndex, BankError> {
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
        Ok(index)
    }

    /// Saves the index as the bank's index file, so that the next open maps it instead
    /// of reading every entry and rebuilding (on 10M segments, seconds). Nothing is
    /// written when the file is current. The bank is flushed first, so the file never
    /// describes a state that a power cut could take back. Tables saved in the `index`
    /// column family by older versions are removed.
    pub fn save_index(&mut self) -> Result<bool, BankError> {
        let stamp = self.index_stamp()?;
        let dir = self.index_dir();
        if self.get(CF_INDEX, KEY_INDEX_HEADER)?.is_some() {
            let mut clear = WriteBatch::default();
            clear.delete_range_cf(
                self.cf(CF_INDEX)?,
                [0u8].as_slice(),
                [0xffu8; 16].as_slice(),
            );
            self.db.write(clear).map_err(|e| self.rocks(e))?;
        }
        if index_file::is_current(&dir, &stamp) {
            return Ok(false);
        }
        self.flush_all().map_err(|e| self.rocks(e))?;
        // Tables that miss the last entries are dropped, and the writer builds the
        // tables as it writes them, so that it never holds every table in memory.
        let stale_tables = self.index.tail_len() > 0;
        if stale_tables {
            self.index.drop_tables();
        }
        let file_error = |source| BankError::IndexFile {
            path: dir.clone(),
            source,
        };
        index_file::write(&dir, &self.index, &stamp).map_err(file_error)?;
        if stale_tables {
            // The file has the tables now; the index is the file, mapped. Should the
            // mapping fail, the tables are built in memory again before saying so, so
            // that the bank still searches at speed.
            match index_file::open(&dir, &stamp) {
                Ok(mapped) => {
                    self.index = mapped;
                    self.index_origin = "mapped from the index file".to_string();
                }
                Err(why) => {
                    self.index.rebuild();
                    return Err(file_error(std::io::Error::other(why)));
                }
            }
        }
        Ok(true)
    }
}
