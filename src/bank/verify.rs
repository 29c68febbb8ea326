//! `celprint verify`: reads every key of every column family with RocksDB's block
//! checksums checked, and checks that the families agree with each other: each asset's
//! records decode, its segments, search entries and keypoints belong to it and agree,
//! digests are unique and point back, and the index file holds the entries and the
//! tables they make. Nothing here stops at the first damage: each is a line of the result.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use rocksdb::{Options, ReadOptions, DB};

use super::{
    holds_bank, records, Bank, BankError, ALL_CFS, CF_ASSETS, CF_DIGESTS, CF_FEATURES, CF_FRAMES,
    CF_INDEX, CF_META, CF_PATHS, CF_SEARCH, FORMAT_VERSION, KEY_FORMAT, KEY_GENERATION,
    KEY_NEXT_ID, KEY_PARAMS,
};
use crate::fingerprint::{FingerprintParams, Hash256};
use crate::media::MediaKind;
use crate::model::{AssetId, SegmentRef};
use crate::search::index_file;
use crate::search::{HammingIndex, MultiIndex};

/// Damage lines kept; past it only the count grows, so a wrecked bank still gives a
/// readable answer.
const MAX_LINES: usize = 200;

/// What [`verify`] found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verification {
    pub assets: u64,
    pub segments: u64,
    /// Keys read, every block they sit in checked against its checksum.
    pub keys: u64,
    /// Damage found, one line each, naming what is damaged (the first [`MAX_LINES`]).
    pub damage: Vec<String>,
    /// How much damage was found, listed or not.
    pub damage_count: usize,
    /// What is not damage but worth knowing (saved tables older than the bank, which
    /// the next open rebuilds; path records naming bytes no longer banked).
    pub notes: Vec<String>,
}

impl Verification {
    pub fn clean(&self) -> bool {
        self.damage_count == 0
    }

    fn damaged(&mut self, what: String) {
        self.damage_count += 1;
        if self.damage.len() < MAX_LINES {
            self.damage.push(what);
        }
    }
}

/// What each asset record says, for the other families to be checked against.
struct Expect {
    digest: Option<[u8; 32]>,
    kind: MediaKind,
    /// Segments stored: the picture's, its crops', its panels'.
    stored: usize,
    /// BLAKE3 of the search entries its segments make, once the segments are read.
    entries: Option<blake3::Hash>,
    /// The end of its last segment, for keypoint times.
    span: f64,
    search_seen: bool,
    digest_seen: bool,
}

/// Opens the bank at `path` read-only, as a scan does, retrying for a second while a
/// writer's flush races the open.
pub(super) fn open_raw(path: &Path) -> Result<DB, rocksdb::Error> {
    let opts = Options::default();
    let mut attempt = 0;
    loop {
        let opened = DB::list_cf(&opts, path).and_then(|existing| {
            let names = ALL_CFS.iter().filter(|n| existing.iter().any(|e| e == *n));
            DB::open_cf_for_read_only(&opts, path, names, false)
        });
        match opened {
            Err(_) if attempt < 40 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            result => return result,
        }
    }
}

/// Verifies the bank at `path`. Only a path with no bank is an error; a bank RocksDB
/// cannot open is damage, reported as such.
pub fn verify(path: &Path) -> Result<Verification, BankError> {
    if !holds_bank(path)? {
        return Err(BankError::NotFound(path.to_path_buf()));
    }
    let mut v = Verification::default();
    let db = match open_raw(path) {
        Ok(db) => db,
        Err(e) => {
            v.damaged(format!("RocksDB cannot open the bank: {e}"));
            return Ok(v);
        }
    };
    let mut bank = Bank {
        db: Arc::new(db),
        path: path.to_path_buf(),
        params: FingerprintParams::default(),
        next_id: 0,
        generation: 0,
        index: MultiIndex::new(),
        index_origin: String::new(),
        writer: false,
    };
    for name in ALL_CFS {
        // A bank from before the keypoint buckets gets them at its next writable open.
        if bank.db.cf_handle(name).is_none() && name != super::CF_KEYPOINTS {
            v.damaged(format!("column family {name} is missing"));
        }
    }
    bank.verify_meta(&mut v)?;
    let mut expect = bank.verify_assets(&mut v);
    let entries = bank.verify_segments(&mut v, &mut expect);
    bank.verify_digests(&mut v, &mut expect);
    bank.verify_features(&mut v, &expect);
    bank.verify_keypoints(&mut v);
    bank.verify_paths(&mut v, &expect);
    bank.verify_tables(&mut v, entries);
    v.assets = expect.len() as u64;
    Ok(v)
}

impl Bank {
    /// Every key of `cf` in order, each block read with its checksum checked; a read
    /// error (a checksum mismatch, a truncated file) is damage to that family.
    fn each_key(&self, cf: &str, v: &mut Verification, mut f: impl FnMut(&[u8], &[u8])) {
        let Some(handle) = self.db.cf_handle(cf) else {
            return;
        };
        let mut opts = ReadOptions::default();
        opts.set_verify_checksums(true);
        opts.fill_cache(false);
        let mut it = self.db.raw_iterator_cf_opt(handle, opts);
        it.seek_to_first();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            v.keys += 1;
            f(key, value);
            it.next();
        }
        if let Err(e) = it.status() {
            v.damaged(format!("{cf}: RocksDB cannot read it: {e}"));
        }
    }

    fn verify_meta(&mut self, v: &mut Verification) -> Result<(), BankError> {
        let mut meta = HashMap::new();
        self.each_key(CF_META, v, |k, val| {
            meta.insert(k.to_vec(), val.to_vec());
        });
        let u64_of = |key: &[u8]| {
            meta.get(key)
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map(u64::from_le_bytes)
        };
        match meta.get(KEY_FORMAT).map(Vec::as_slice) {
            Some(b) if b == FORMAT_VERSION.to_le_bytes() => {}
            Some(b) if b.len() == 4 => {
                let found = u32::from_le_bytes(b.try_into().unwrap_or_default());
                return Err(BankError::FormatVersion {
                    path: self.path.clone(),
                    found,
                    supported: FORMAT_VERSION,
                    hint: "verify reads only banks of its own version.",
                });
            }
            _ => v.damaged("meta: the format version is missing or unreadable".into()),
        }
        match meta.get(KEY_PARAMS).map(|b| serde_json::from_slice(b)) {
            Some(Ok(params)) => self.params = params,
            _ => v.damaged("meta: the fingerprint parameters are missing or unreadable".into()),
        }
        match u64_of(KEY_NEXT_ID) {
            Some(n) => self.next_id = n,
            None => v.damaged("meta: the asset counter is missing or unreadable".into()),
        }
        match u64_of(KEY_GENERATION) {
            Some(g) => self.generation = g,
            None => v.damaged("meta: the generation is missing or unreadable".into()),
        }
        let mut stored: Vec<(&[u8], &[u8])> = meta
            .iter()
            .map(|(k, val)| (k.as_slice(), val.as_slice()))
            .collect();
        stored.sort_unstable();
        let decisions = super::decisions::check_chain(stored);
        for problem in decisions.problems {
            v.damaged(format!("review decisions: {problem}"));
        }
        if decisions.unchained > 0 {
            v.notes.push(format!(
                "{} review decisions from before decisions were chained",
                decisions.unchained
            ));
        }
        Ok(())
    }

    fn verify_assets(&self, v: &mut Verification) -> BTreeMap<u64, Expect> {
        let mut expect = BTreeMap::new();
        let mut lines = Vec::new();
        self.each_key(CF_ASSETS, v, |key, value| {
            let Some(id) = AssetId::from_key(key) else {
                lines.push(format!(
                    "assets: a key of {} bytes, not an asset number",
                    key.len()
                ));
                return;
            };
            let record: records::AssetRecord = match serde_json::from_slice(value) {
                Ok(r) => r,
                Err(e) => {
                    lines.push(format!("asset {}: its record does not decode ({e})", id.0));
                    return;
                }
            };
            if record.id != id {
                lines.push(format!(
                    "asset {}: its record says asset {}",
                    id.0, record.id.0
                ));
            }
            let digest = crate::media::digest_from_hex(&record.digest);
            if digest.is_none() {
                lines.push(format!("asset {}: its digest is not BLAKE3 hex", id.0));
            }
            let crops: u32 = record.crops.iter().map(|&(_, n)| n).sum();
            let stored = (record.segments + crops) as usize + record.panels.len();
            expect.insert(
                id.0,
                Expect {
                    digest,
                    kind: record.kind,
                    stored,
                    entries: None,
                    span: 0.0,
                    search_seen: false,
                    digest_seen: false,
                },
            );
        });
        lines.into_iter().for_each(|l| v.damaged(l));
        if let Some(&last) = expect.keys().next_back() {
            if last >= self.next_id {
                v.damaged(format!(
                    "meta: the asset counter ({}) is not past the last asset ({last})",
                    self.next_id
                ));
            }
        }
        expect
    }

    /// Segments against their records, then search entries against the segments.
    /// Returns the search entries, for the saved tables to be checked against.
    fn verify_segments(
        &self,
        v: &mut Verification,
        expect: &mut BTreeMap<u64, Expect>,
    ) -> Vec<(SegmentRef, Hash256, u8)> {
        let mut lines = Vec::new();
        let mut segments = 0u64;
        self.each_key(CF_FRAMES, v, |key, value| {
            let Some(id) = AssetId::from_key(key) else {
                lines.push("frames: a key that is not an asset number".to_string());
                return;
            };
            let Some(e) = expect.get_mut(&id.0) else {
                lines.push(format!(
                    "frames: segments of asset {}, which has no record",
                    id.0
                ));
                return;
            };
            let Some(segs) = records::decode_segments(value) else {
                lines.push(format!("asset {}: its segments do not decode", id.0));
                return;
            };
            if segs.len() != e.stored {
                lines.push(format!(
                    "asset {}: {} segments stored, its record counts {}",
                    id.0,
                    segs.len(),
                    e.stored
                ));
            }
            segments += segs.len() as u64;
            e.span = segs.iter().filter_map(|s| s.end_s).fold(0.0, f64::max);
            e.entries = Some(blake3::hash(&records::encode_search_entries(&segs)));
        });
        let mut entries = Vec::new();
        self.each_key(CF_SEARCH, v, |key, value| {
            let Some(id) = AssetId::from_key(key) else {
                lines.push("search: a key that is not an asset number".to_string());
                return;
            };
            let Some(e) = expect.get_mut(&id.0) else {
                lines.push(format!(
                    "search: entries of asset {}, which has no record",
                    id.0
                ));
                return;
            };
            e.search_seen = true;
            let Some(decoded) = records::decode_search_entries(value) else {
                lines.push(format!("asset {}: its search entries do not decode", id.0));
                return;
            };
            if e.entries != Some(blake3::hash(value)) {
                lines.push(format!(
                    "asset {}: its search entries disagree with its segments",
                    id.0
                ));
            }
            for (i, (hash, quality)) in decoded.enumerate() {
                let segment = SegmentRef {
                    asset: id,
                    index: i as u32,
                };
                entries.push((segment, hash, quality));
            }
        });
        for (id, e) in expect.iter() {
            if e.entries.is_none() {
                lines.push(format!(
                    "asset {id}: its segments are missing or unreadable"
                ));
            }
            if !e.search_seen {
                lines.push(format!("asset {id}: its search entries are missing"));
            }
        }
        lines.into_iter().for_each(|l| v.damaged(l));
        v.segments = segments;
        entries
    }

    fn verify_digests(&self, v: &mut Verification, expect: &mut BTreeMap<u64, Expect>) {
        let mut lines = Vec::new();
        let mut owner: HashMap<[u8; 32], u64> = HashMap::new();
        for (&id, e) in expect.iter() {
            if let Some(d) = e.digest {
                if let Some(other) = owner.insert(d, id) {
                    lines.push(format!(
                        "assets {other} and {id} have the same digest: one asset banked twice"
                    ));
                }
            }
        }
        self.each_key(CF_DIGESTS, v, |key, value| {
            let hex = crate::media::digest_hex(&key.try_into().unwrap_or([0; 32]));
            let Some(id) = AssetId::from_key(value) else {
                lines.push(format!("digest {hex}: its asset number does not decode"));
                return;
            };
            match expect.get_mut(&id.0) {
                None => lines.push(format!(
                    "digest {hex}: points at asset {}, which has no record",
                    id.0
                )),
                Some(e) if e.digest.as_ref().map(<[u8; 32]>::as_slice) != Some(key) => {
                    lines.push(format!(
                        "digest {hex}: points at asset {}, whose record has another digest",
                        id.0
                    ))
                }
                Some(e) => e.digest_seen = true,
            }
        });
        for (id, e) in expect.iter().filter(|(_, e)| !e.digest_seen) {
            if e.digest.is_some() {
                lines.push(format!(
                    "asset {id}: its digest is not in the digests family"
                ));
            }
        }
        lines.into_iter().for_each(|l| v.damaged(l));
    }

    fn verify_features(&self, v: &mut Verification, expect: &BTreeMap<u64, Expect>) {
        let mut lines = Vec::new();
        self.each_key(CF_FEATURES, v, |key, value| {
            let Some(id) = AssetId::from_key(key) else {
                lines.push("features: a key that is not an asset number".to_string());
                return;
            };
            let Some(e) = expect.get(&id.0) else {
                lines.push(format!(
                    "features: keypoints of asset {}, which has no record",
                    id.0
                ));
                return;
            };
            let Some(samples) = records::decode_features(value) else {
                lines.push(format!("asset {}: its keypoints do not decode", id.0));
                return;
            };
            let times_ok = samples.windows(2).all(|w| w[0].time_s <= w[1].time_s)
                && samples
                    .iter()
                    .all(|s| s.time_s.is_finite() && s.time_s >= 0.0);
            // A video's samples lie on its time line (a sample every 0.5 s up to its
            // last frame: within a second of its last segment's end).
            let within =
                e.kind != MediaKind::Video || samples.iter().all(|s| s.time_s <= e.span + 1.0);
            if !times_ok || !within {
                lines.push(format!(
                    "asset {}: its keypoint samples are not on its time line",
                    id.0
                ));
            }
        });
        lines.into_iter().for_each(|l| v.damaged(l));
    }

    /// The keypoint buckets against the `features` records, once the bank has them (a
    /// bank from before gets them at its next writable open).
    fn verify_keypoints(&self, v: &mut Verification) {
        if !self.keypoints_on_disk().unwrap_or(false) {
            return;
        }
        // A features family RocksDB cannot read is reported by the features check.
        let Ok(want) = self.keypoints_wanted() else {
            return;
        };
        let mut found = super::keypoints::KeypointTally::default();
        self.each_key(super::CF_KEYPOINTS, v, |k, val| found.add(k, val));
        found.faults(&want).into_iter().for_each(|l| v.damaged(l));
    }

    fn verify_paths(&self, v: &mut Verification, expect: &BTreeMap<u64, Expect>) {
        let digests: std::collections::HashSet<[u8; 32]> =
            expect.values().filter_map(|e| e.digest).collect();
        let mut lines = Vec::new();
        let mut dangling = 0usize;
        self.each_key(CF_PATHS, v, |key, value| {
            let path = String::from_utf8_lossy(key);
            match serde_json::from_slice::<super::PathRecord>(value) {
                Err(e) => lines.push(format!("path record {path}: does not decode ({e})")),
                Ok(r) => {
                    let known = r.digest.as_deref().map(|d| {
                        crate::media::digest_from_hex(d).is_some_and(|d| digests.contains(&d))
                    });
                    if known == Some(false) {
                        dangling += 1;
                    }
                }
            }
        });
        lines.into_iter().for_each(|l| v.damaged(l));
        if dangling > 0 {
            v.notes.push(format!(
                "{dangling} path records name bytes no longer banked (the next index reads those files again)"
            ));
        }
    }

    /// The index file, when current, must hold exactly the entries of the `search`
    /// family and the tables they make (the build is a stable sort, so equal entries
    /// give equal tables): an open maps it after a sampled check only, and a wrong bucket
    /// would hide matches.
    fn verify_tables(&self, v: &mut Verification, entries: Vec<(SegmentRef, Hash256, u8)>) {
        let mut legacy_keys = 0u64;
        self.each_key(CF_INDEX, v, |_, _| legacy_keys += 1);
        if legacy_keys > 0 {
            v.notes.push(
                "the index family holds tables saved by an older celprint (unused; the next index run removes them)"
                    .into(),
            );
        }
        let stamp = match self.index_stamp() {
            Ok(s) => s,
            Err(e) => return v.damaged(format!("index: {e}")),
        };
        let dir = self.index_dir();
        if !index_file::is_current(&dir, &stamp) {
            if dir.is_dir() {
                v.notes.push(
                    "the index file is older than the bank (or absent); the next open rebuilds the index"
                        .into(),
                );
            }
            return;
        }
        let saved = match index_file::open(&dir, &stamp) {
            Ok(index) => index,
            Err(why) => return v.damaged(format!("index: the index file is unusable: {why}")),
        };
        if saved.len() != entries.len() {
            return v.damaged(format!(
                "index: the index file holds {} entries, the search family {}",
                saved.len(),
                entries.len()
            ));
        }
        let mismatched = saved
            .entries()
            .zip(&entries)
            .position(|(s, e)| s != (e.0, e.1, e.2));
        if let Some(i) = mismatched {
            return v.damaged(format!(
                "index: entry {i} of the index file disagrees with the search family (a scan would report the wrong segment)"
            ));
        }
        let Some(layout) = saved.layout().cloned() else {
            return;
        };
        let mut built = MultiIndex::new();
        built.reserve(entries.len());
        for &(segment, hash, quality) in &entries {
            built.push(segment, hash, quality);
        }
        let built = built.with_layout(layout);
        let (Some((_, saved)), Some((_, built))) = (saved.tables(), built.tables()) else {
            return v.damaged("index: the index file's tables could not be compared".into());
        };
        for (k, (s, b)) in saved.iter().zip(&built).enumerate() {
            if s != b {
                v.damaged(format!(
                    "index: table {k} of the index file disagrees with the search entries (a scan would miss matches)"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
