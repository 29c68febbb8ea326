//! Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with
//! multi-index hashing", CVPR 2012) over 256-bit PDQ hashes.
//!
//! The hash is cut into `m` chunks. If two hashes are within `r` bits, then writing
//! `r = m·s + a` (0 ≤ a < m), one of the first `a + 1` chunks is within `s` bits, or one
//! of the others is within `s − 1` (otherwise the distance would be at least
//! `(a + 1)(s + 1) + (m − a − 1)s = r + 1`). So each chunk gets a table from chunk value
//! to the hashes that have it, and a query probes, in each table, every value within that
//! chunk's radius of its own chunk. Candidates are checked on the full 256 bits.
//!
//! A table is a counting-sorted array of entry numbers with an offset array indexed by
//! chunk value (compressed sparse rows): a probe is two adjacent loads and a slice. The
//! chunk width follows the number of entries (about log2(n) bits, so a bucket holds about
//! one entry on uniform data), chosen by a cost model over probes and candidates
//! ([`super::layout`]; `benches/search_scale.rs` sweeps it). Entries added after the last build sit in a
//! tail that is scanned linearly; the tables are rebuilt when the tail outgrows them, so
//! rebuilding costs about twice one final build over a bulk load.
//!
//! When a radius is so wide that probing would touch more than a linear scan costs (the
//! loose radius the matcher extends with, say), the search scans linearly instead; both
//! give the same set.

use rayon::prelude::*;

use super::layout::{
    chunk, for_each_mask, masks_up_to, near_masks, offsets, Layout, LINEAR_HASHES_PER_MISS,
    NEAR_WEIGHT,
};
use super::mapped::Slab;
use super::runs::{Run, RunDirectory};
use super::table::{Table, TableArrays, View};
use super::{HammingIndex, Hit};
use crate::fingerprint::Hash256;
use crate::model::{AssetId, SegmentRef};

/// Below this many entries no tables are built: a linear scan of 8192 hashes takes
/// tens of microseconds.
const MIN_TABLE_ENTRIES: usize = 1 << 13;

#[inline(always)]
fn distance(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// The sublinear index: exact results, the same set as [`super::LinearIndex`].
#[derive(Debug, Clone, Default)]
pub struct MultiIndex {
    pub(super) hashes: Slab<[u64; 4]>,
    pub(super) qualities: Slab<u8>,
    pub(super) runs: Slab<Run>,
    /// Layout and tables over `hashes[..built]`; empty below [`MIN_TABLE_ENTRIES`].
    pub(super) layout: Option<Layout>,
    pub(super) offsets: Vec<u32>,
    pub(super) tables: Vec<Table>,
    pub(super) built: usize,
    /// Made on the first lookup of a segment after the tables are built.
    pub(super) run_directory: std::sync::OnceLock<RunDirectory>,
    /// [`MultiIndex::table_cost`] by radius, 0 to 256.
    pub(super) table_costs: std::sync::OnceLock<Vec<f64>>,
    /// Probe even where a linear scan would be cheaper (tests and benchmarks).
    pub(super) always_probe: bool,
}

impl MultiIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// An index over `entries`, built once.
    pub fn from_entries(entries: impl IntoIterator<Item = (SegmentRef, Hash256, u8)>) -> Self {
        let mut index = MultiIndex::new();
        for (segment, hash, quality) in entries {
            index.push(segment, hash, quality);
        }
        index.rebuild();
        index
    }

    /// Reserves room for `n` more entries (a bulk load that knows its size).
    pub fn reserve(&mut self, n: usize) {
        self.hashes.to_mut().reserve(n);
        self.qualities.to_mut().reserve(n);
    }

    /// Appends an entry without touching the tables.
    pub fn push(&mut self, segment: SegmentRef, hash: Hash256, quality: u8) {
        let entry = self.hashes.len() as u64;
        let continues = self.runs.last().is_some_and(|r| {
            r.asset == segment.asset.0
                && u64::from(r.first_index) + (entry - r.first_entry) == u64::from(segment.index)
        });
        if !continues {
            self.runs.to_mut().push(Run {
                first_entry: entry,
                asset: segment.asset.0,
                first_index: segment.index,
                unused: 0,
            });
        }
        self.hashes.to_mut().push(hash.words);
        self.qualities.to_mut().push(quality);
    }

    /// The segment entry `entry` stands for.
    #[inline(always)]
    fn segment_of(&self, entry: usize) -> SegmentRef {
        self.run_directory
            .get_or_init(|| RunDirectory::new(&self.runs, self.hashes.len()))
            .segment_of(&self.runs, entry)
    }

    /// Every entry in order, as pushed.
    pub fn entries(&self) -> impl Iterator<Item = (SegmentRef, Hash256, u8)> + '_ {
        self.hashes
            .iter()
            .zip(self.qualities.iter())
            .enumerate()
            .map(|(i, (h, q))| (self.segment_of(i), Hash256::from_words(*h), *q))
    }

    /// The same entries with tables cut by `layout` (for benchmarks and tests).
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.build_tables(Some(layout));
        self
    }

    /// Probes the tables at every radius, never falling back to a linear scan: for tests
    /// that must exercise the tables, and benchmarks that time them.
    pub fn always_probe(mut self) -> Self {
        self.always_probe = true;
        self
    }

    /// Rebuilds the tables over every entry, with the layout the cost model picks.
    pub fn rebuild(&mut self) {
        self.build_tables(self.layout_for_entries());
    }

    /// The layout tables over every entry get: none below [`MIN_TABLE_ENTRIES`].
    pub(super) fn layout_for_entries(&self) -> Option<Layout> {
        (self.hashes.len() >= MIN_TABLE_ENTRIES).then(|| Layout::for_len(self.hashes.len()))
    }

    /// Drops the tables, keeping the entries: what an index file is written from when
    /// the tables are to be built as they are written.
    pub fn drop_tables(&mut self) {
        self.build_tables(None);
    }

    fn build_tables(&mut self, layout: Option<Layout>) {
        self.run_directory = std::sync::OnceLock::new();
        self.table_costs = std::sync::OnceLock::new();
        self.tables = Vec::new();
        self.offsets = Vec::new();
        self.built = 0;
        let Some(layout) = layout else {
            self.layout = None;
            return;
        };
        let offsets = offsets(&layout);
        let hashes = &*self.hashes;
        self.tables = offsets
            .par_iter()
            .zip(&layout.widths)
            .map(|(&o, &w)| Table::build(hashes, o, w))
            .collect();
        self.offsets = offsets;
        self.layout = Some(layout);
        self.built = self.hashes.len();
    }

    /// The tables as offset and entry-number arrays, one pair per chunk, if built over
    /// every entry; what a bank stores so that it need not rebuild them at open.
    pub fn tables(&self) -> Option<(&Layout, Vec<TableArrays<'_>>)> {
        let layout = self.layout.as_ref()?;
        (self.built == self.hashes.len()).then(|| {
            let parts = self.tables.iter().map(Table::arrays).collect();
            (layout, parts)
        })
    }

    /// Checks tables read from a file against the entries, cheaply enough for an
    /// open: their shapes, and the first two entries of a sample of buckets, spread over
    /// every table, found under their own chunk value. Each entry checked is a random
    /// read of the hashes, so few are: on clustered banks a bucket holds tens of
    /// thousands, and reading them all made a cold open of 100M segments take 3.3 s.
    /// `bank verify` compares the tables whole.
    pub(super) fn check_tables(&self, sampled_buckets: usize) -> Result<(), String> {
        let Some(layout) = &self.layout else {
            return Ok(());
        };
        let n = self.built;
        if self.tables.len() != layout.widths.len() || n > self.hashes.len() {
            return Err(format!(
                "{} tables for {} chunks",
                self.tables.len(),
                layout.widths.len()
            ));
        }
        for (k, (table, &width)) in self.tables.iter().zip(&layout.widths).enumerate() {
            if !table.shape_fits(n, width) {
                return Err(format!("table {k} does not fit {n} entries"));
            }
            let step = ((1usize << width) / sampled_buckets.max(1)).max(1);
            let sampled_ok = (0..1usize << width).step_by(step).all(|v| {
                let entries = table.bucket(v as u32);
                // In a sparse table a set bit must lead to entries, and the counts of
                // the bit's block must add up.
                let sparse_ok = !table.is_sparse()
                    || (table.block_counts_fit(v / super::table::BLOCK_BUCKETS)
                        && (table.view().slot(v as u32).is_none() || !entries.is_empty()));
                sparse_ok
                    && entries.iter().take(2).all(|&i| {
                        self.hashes
                            .get(i as usize)
                            .is_some_and(|h| chunk(h, self.offsets[k], width) == v as u32)
                    })
            });
            if !sampled_ok {
                return Err(format!("table {k} does not match the entries' hashes"));
            }
        }
        Ok(())
    }

    /// Bytes of the index that lie in a memory-mapped file rather than on the heap.
    pub fn mapped_bytes(&self) -> usize {
        self.hashes.mapped_bytes()
            + self.qualities.mapped_bytes()
            + self.runs.mapped_bytes()
            + self.tables.iter().map(Table::mapped_bytes).sum::<usize>()
    }

    /// The layout of the tables, if any are built.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// Entries not yet in the tables.
    pub fn tail_len(&self) -> usize {
        self.hashes.len() - self.built
    }

    /// Expected cache misses of one query at `radius`: the probes' and candidates' if
    /// the tables would be probed, a linear scan's otherwise, and the tail's scan. What
    /// a caller weighs before running a search where waiting is costly.
    pub fn expected_misses(&self, radius: u32) -> f64 {
        let built = match self.probing(radius) {
            Some(_) => self.table_cost(radius),
            None => self.built as f64 / LINEAR_HASHES_PER_MISS,
        };
        built + self.tail_len() as f64 / LINEAR_HASHES_PER_MISS
    }

    /// The layout to probe at `radius`, or none where a linear scan of the built
    /// entries costs less (or there are no tables).
    fn probing(&self, radius: u32) -> Option<&Layout> {
        self.layout.as_ref().filter(|_| {
            self.always_probe
                || self.table_cost(radius) * LINEAR_HASHES_PER_MISS < self.built as f64
        })
    }

    /// [`Layout::cost`] of the tables at `radius`, worked out for every radius on first
    /// use: the service asks it twice a lookup (whether to answer on the HTTP thread,
    /// then whether to probe), and its binomials and exponentials were 1 % of its CPU.
    fn table_cost(&self, radius: u32) -> f64 {
        let Some(layout) = &self.layout else {
            return 0.0;
        };
        let costs = self
            .table_costs
            .get_or_init(|| (0..=256).map(|r| layout.cost(self.built, r)).collect());
        costs[radius.min(256) as usize]
    }

    fn hit(&self, query: usize, id: usize, distance: u32) -> Hit {
        Hit {
            query,
            segment: self.segment_of(id),
            distance,
            quality: self.qualities.get(id).copied().unwrap_or(0),
        }
    }

    #[inline(always)]
    fn scan(&self, range: std::ops::Range<usize>, qi: usize, q: &[u64; 4], r: u32) -> Vec<Hit> {
        let start = range.start;
        self.hashes[range]
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let d = distance(h, q);
                (d <= r).then(|| self.hit(qi, start + i, d))
            })
            .collect()
    }

    /// Probes the tables for one query, reporting each entry from the first table that
    /// reaches it, so no entry is reported twice.
    ///
    /// At 1M entries and up nearly every step is a cache miss: a sparse table's bitmap
    /// word, a bucket's offsets, its entry numbers, their hashes. So rather than bucket by
    /// bucket, each table is done in flat passes (bucket values; their bitmap words, then
    /// the non-empty ones' slots; their offsets; the candidates in them; their hashes),
    /// each prefetching what the next will read, so that its loads are in flight
    /// together. The first pass's loads, the bitmap words, are asked for a table ahead:
    /// at 1M, where a table has a few dozen candidates, waiting for them at the start of
    /// each table was the largest stall left. Running all the passes a table or more
    /// ahead gained no more at 1M and lost 10 % at 100M, where a table has thousands.
    #[inline(always)]
    fn probe(
        &self,
        layout: &Layout,
        radii: &[Option<u32>],
        scratch: &mut Scratch,
        (qi, q): (usize, &[u64; 4]),
        r: u32,
        out: &mut Vec<Hit>,
    ) {
        let Scratch {
            views,
            probed,
            values,
            spans,
            candidates,
        } = scratch;
        let hashes = &*self.hashes;
        probed.clear();
        values.clear();
        for (k, s) in radii.iter().enumerate() {
            let Some(s) = *s else { continue };
            let width = layout.widths[k];
            let own = chunk(q, self.offsets[k], width);
            let from = values.len();
            let near = near_masks(width);
            let listed = near.len().min(masks_up_to(width, s));
            values.extend(near[..listed].iter().map(|mask| own ^ mask));
            for weight in NEAR_WEIGHT + 1..=s.min(width) {
                for_each_mask(width, weight, |mask| values.push(own ^ mask));
            }
            probed.push(Probed {
                k,
                values: from..values.len(),
            });
        }
        let prefetch_bitmap = |values: &[u32], p: &Probed| {
            let view = &views[p.k];
            if view.is_sparse() {
                for &v in &values[p.values.clone()] {
                    prefetch(view.filled, view.bitmap_word(v));
                }
            }
        };
        if let Some(p) = probed.first() {
            prefetch_bitmap(values, p);
        }
        for (t, p) in probed.iter().enumerate() {
            if let Some(p) = probed.get(t + 1) {
                prefetch_bitmap(values, p);
            }
            let (k, view) = (p.k, &views[p.k]);
            // Values become slots of `starts`, empty buckets of sparse tables dropped;
            // by hand rather than `retain_mut`, which is not inlined, so that the
            // counting in `slot` gets the caller's popcount.
            let (from, mut kept) = (p.values.start, p.values.start);
            for i in p.values.clone() {
                let slot = if view.is_sparse() {
                    match view.slot(values[i]) {
                        Some(slot) => slot,
                        None => continue,
                    }
                } else {
                    values[i]
                };
                prefetch(view.starts, slot as usize);
                values[kept] = slot;
                kept += 1;
            }
            spans.clear();
            for &slot in &values[from..kept] {
                let (a, b) = view.span(slot);
                if a < b {
                    prefetch(view.ids, a as usize);
                    spans.push((a, b));
                }
            }
            candidates.clear();
            for &(a, b) in spans.iter() {
                let bucket = view.ids.get(a as usize..b as usize).unwrap_or(&[]);
                // Pushed one by one: buckets hold one to a few entries, where a
                // slice copy's call costs more than the copy.
                for &id in bucket {
                    prefetch(hashes, id as usize);
                    candidates.push(id);
                }
            }
            for &id in candidates.iter() {
                let Some(h) = hashes.get(id as usize) else {
                    continue;
                };
                let d = distance(h, q);
                if d > r {
                    continue;
                }
                let x = [h[0] ^ q[0], h[1] ^ q[1], h[2] ^ q[2], h[3] ^ q[3]];
                let earlier = (0..k).any(|j| {
                    radii[j].is_some_and(|sj| {
                        chunk(&x, self.offsets[j], layout.widths[j]).count_ones() <= sj
                    })
                });
                if !earlier {
                    out.push(self.hit(qi, id as usize, d));
                }
            }
        }
    }
}

/// The probe's tables and lists, made once a search call, the lists with room for the
/// values every table is probed at rather than grown from empty for each query (a dozen
/// reallocations a query, in the service where each request is one query).
#[derive(Default)]
struct Scratch<'a> {
    views: Vec<View<'a>>,
    probed: Vec<Probed>,
    values: Vec<u32>,
    spans: Vec<(u32, u32)>,
    candidates: Vec<u32>,
}

/// A table the probe reads, and where its bucket values lie in the probe's list.
struct Probed {
    k: usize,
    values: std::ops::Range<usize>,
}

impl<'a> Scratch<'a> {
    fn for_probes(tables: &'a [Table], layout: &Layout, radii: &[Option<u32>]) -> Scratch<'a> {
        let probes: usize = layout
            .widths
            .iter()
            .zip(radii)
            .filter_map(|(&w, s)| s.map(|s| masks_up_to(w, s)))
            .sum::<usize>()
            // A wide radius (tests probe at any) grows them as it needs instead.
            .min(1 << 16);
        Scratch {
            views: tables.iter().map(Table::view).collect(),
            probed: Vec::with_capacity(tables.len()),
            values: Vec::with_capacity(probes),
            spans: Vec::with_capacity(probes),
            candidates: Vec::with_capacity(probes / 4),
        }
    }
}

/// Asks the CPU to start loading `slice[i]` into cache; a hint only, never a fault.
#[inline(always)]
fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = slice.get(i) {
        // SAFETY: a prefetch of a valid address; it reads nothing the program sees.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}

impl HammingIndex for MultiIndex {
    fn insert(&mut self, segment: SegmentRef, hash: Hash256, quality: u8) {
        self.push(segment, hash, quality);
        let tail = self.tail_len();
        if tail >= MIN_TABLE_ENTRIES && tail > self.built {
            self.rebuild();
        }
    }

    fn remove_asset(&mut self, asset: AssetId) {
        let old = std::mem::take(self);
        for (segment, hash, quality) in old.entries() {
            if segment.asset != asset {
                self.push(segment, hash, quality);
            }
        }
        self.always_probe = old.always_probe;
        self.rebuild();
    }

    fn search(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the instruction, checked just above.
            return unsafe { self.search_with_popcnt(queries, radius) };
        }
        self.search_compiled(queries, radius)
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Heap only: tables and hashes mapped from the bank's index file are the page
    /// cache's, resident while queries touch them ([`MultiIndex::mapped_bytes`]).
    fn memory_bytes(&self) -> usize {
        self.hashes.heap_bytes()
            + self.qualities.heap_bytes()
            + self.runs.heap_bytes()
            + self.tables.iter().map(Table::bytes).sum::<usize>()
    }
}

impl MultiIndex {
    /// The search compiled with the CPU's popcount instruction. The crate builds for
    /// plain x86-64, where a popcount is a dozen instructions; a query counts bits
    /// thousands of times (each candidate's distance, the bitmap counts): with the
    /// instruction, eight queries a call at 1M entries took 0.41-0.47 ms against
    /// 0.60-0.61 ms without (`search_scale`, alternating). Every x86-64 CPU since 2009
    /// has it; `search` checks before calling.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn search_with_popcnt(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        self.search_compiled(queries, radius)
    }

    /// The search, inlined into each caller so that it is compiled with the caller's
    /// target features.
    #[inline(always)]
    fn search_compiled(&self, queries: &[Hash256], radius: u32) -> Vec<Hit> {
        let mut out = Vec::new();
        let probing = self.probing(radius);
        let radii = probing.map_or(Vec::new(), |l| l.chunk_radii(radius));
        let mut scratch = probing.map_or(Scratch::default(), |l| {
            Scratch::for_probes(&self.tables, l, &radii)
        });
        for (qi, q) in queries.iter().enumerate() {
            let q = &q.words;
            match probing {
                Some(layout) => self.probe(layout, &radii, &mut scratch, (qi, q), radius, &mut out),
                None => out.extend(self.scan(0..self.built, qi, q, radius)),
            }
            out.extend(self.scan(self.built..self.hashes.len(), qi, q, radius));
        }
        out
    }
}
