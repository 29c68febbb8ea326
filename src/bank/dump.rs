//! A bank's content written so that two banks can be compared: what `index` banked,
//! without what differs between two runs over the same files (asset numbers, times,
//! who ran them). A bank merged from shards and the bank one machine makes from the
//! same inputs dump alike (`celprint merge --dump`).

use std::collections::HashMap;

use rocksdb::IteratorMode;
use serde_json::{json, Value};

use super::{Bank, BankError, CF_FEATURES, CF_FRAMES, CF_PATHS, CF_SEARCH};
use crate::model::AssetId;

/// The radius the search answers in a dump are asked at: the scan's default.
const DUMP_RADIUS: u32 = 31;

impl Bank {
    /// One JSON line for the parameters, then one per asset in digest order, then one
    /// per path record in path order. An asset's segments, search entries and keypoints
    /// are given by the BLAKE3 of their bytes, and so are the search's answers for each
    /// of its segments (each hit by digest and segment, not by asset number).
    pub fn canonical_dump(&self) -> Result<Vec<String>, BankError> {
        let mut lines = vec![json!({ "params": self.params() }).to_string()];
        let mut assets = self.assets()?;
        assets.sort_by(|a, b| a.digest.cmp(&b.digest));
        let digest_of: HashMap<AssetId, &str> =
            assets.iter().map(|a| (a.id, a.digest.as_str())).collect();
        let blob = |cf: &str, id: AssetId| -> Result<Value, BankError> {
            Ok(match self.get(cf, &id.key())? {
                Some(bytes) => Value::String(blake3::hash(&bytes).to_hex().to_string()),
                None => Value::Null,
            })
        };
        for a in &assets {
            let statements: Vec<Value> = a
                .history()
                .iter()
                .map(|p| {
                    let mut v = serde_json::to_value(p).expect("statement serialises");
                    // Which path came first depends on the order files were met in;
                    // the asset's paths are all listed below.
                    if let Some(o) = v.as_object_mut() {
                        o.remove("at");
                        o.remove("by");
                        o.remove("path");
                    }
                    v
                })
                .collect();
            let mut paths = a.paths.clone();
            paths.sort();
            let queries: Vec<_> = self.segments(a.id)?.iter().map(|s| s.pdq).collect();
            let mut hits: Vec<(usize, &str, u32, u32)> = self
                .search(&queries, DUMP_RADIUS)
                .iter()
                .map(|h| {
                    let digest = digest_of.get(&h.segment.asset).copied().unwrap_or("?");
                    (h.query, digest, h.segment.index, h.distance)
                })
                .collect();
            hits.sort_unstable();
            let answers = blake3::hash(format!("{hits:?}").as_bytes())
                .to_hex()
                .to_string();
            lines.push(
                json!({
                    "digest": a.digest,
                    "kind": a.kind,
                    "label": a.label,
                    "source": a.source,
                    "note": a.note,
                    "paths": paths,
                    "bytes": a.bytes,
                    "width": a.width,
                    "height": a.height,
                    "segments": a.segments,
                    "frame_rate": a.frame_rate,
                    "crops": a.crops,
                    "panels": a.panels,
                    "panel_pages": a.panel_pages,
                    "statements": statements,
                    "frames": blob(CF_FRAMES, a.id)?,
                    "search": blob(CF_SEARCH, a.id)?,
                    "features": blob(CF_FEATURES, a.id)?,
                    "hits": hits.len(),
                    "answers": answers,
                })
                .to_string(),
            );
        }
        for item in self.db.iterator_cf(self.cf(CF_PATHS)?, IteratorMode::Start) {
            let (key, value) = item.map_err(|e| self.rocks(e))?;
            let mut record: Value = serde_json::from_slice(&value)
                .map_err(|e| self.corrupt(format!("path record unreadable: {e}")))?;
            if let Some(o) = record.as_object_mut() {
                o.remove("seen_at");
            }
            lines.push(
                json!({ "path": String::from_utf8_lossy(&key), "record": record }).to_string(),
            );
        }
        Ok(lines)
    }
}
