//! One chunk's table of the multi-index: the entry numbers sorted by chunk value, and
//! where each value's bucket of them starts.
//!
//! A table with at least as many entries as chunk values keeps an offset for every
//! value (dense). One with fewer (sparse: over a third of its buckets empty) keeps a
//! bitmap of the values whose bucket holds entries, the bitmap's set bits counted
//! before each block of [`BLOCK_BUCKETS`], and offsets for the non-empty buckets only.
//! A probe of a sparse table learns that a bucket is empty from the bitmap, 1/32 of a
//! dense offset array and so mostly in cache, instead of from a miss to memory; and
//! because its size follows the bitmap rather than 4 bytes a value, the layout can cut
//! wider chunks for a small bank (fewer candidates a query) without the offsets
//! outgrowing the entries.

use super::layout::chunk;
use super::mapped::Slab;

/// Buckets each count in `ranks` covers: eight bitmap words, one cache line.
pub(super) const BLOCK_BUCKETS: usize = 512;
const BLOCK_WORDS: usize = BLOCK_BUCKETS / 64;

#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    /// Offsets into `ids`: one a chunk value and one more (dense), or one a non-empty
    /// bucket in value order and one more (sparse). The last is the entry count.
    pub(super) starts: Slab<u32>,
    pub(super) ids: Slab<u32>,
    /// Sparse only (empty when dense): bit `v` set where bucket `v` holds entries.
    pub(super) filled: Slab<u64>,
    /// Sparse only: set bits of `filled` before each block of [`BLOCK_BUCKETS`], and
    /// the total after the last block.
    pub(super) ranks: Slab<u32>,
}

/// A table's arrays, as [`super::MultiIndex::tables`] shows them to `bank verify`.
#[derive(Debug, PartialEq, Eq)]
pub struct TableArrays<'a> {
    pub starts: &'a [u32],
    pub ids: &'a [u32],
    pub filled: &'a [u64],
    pub ranks: &'a [u32],
}

/// Whether a table of `n` entries over chunks of `width` bits is kept sparse.
pub(super) fn is_sparse(n: usize, width: u32) -> bool {
    n < 1usize << width
}

/// Words of a sparse table's bitmap, and entries of its ranks.
pub(super) fn bitmap_words(width: u32) -> usize {
    (1usize << width).div_ceil(64)
}

pub(super) fn rank_entries(width: u32) -> usize {
    (1usize << width).div_ceil(BLOCK_BUCKETS) + 1
}

impl Table {
    /// Sorts entry numbers by chunk value with two passes of a least-significant-digit
    /// radix sort (digits of at most 12 bits, so each pass scatters into at most 4096
    /// streams that stay in cache), then counts the sorted values into the offsets in one
    /// sequential pass. A counting sort straight into 2^24 offsets costs a cache miss per
    /// entry per pass instead; this is what keeps the rebuild at open fast.
    pub(super) fn build(hashes: &[[u64; 4]], offset: u32, width: u32) -> Table {
        let n = hashes.len();
        let mut pairs: Vec<(u32, u32)> = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| (chunk(h, offset, width), i as u32))
            .collect();
        let mut spare = vec![(0u32, 0u32); n];
        let low_bits = width / 2;
        for (shift, bits) in [(0, low_bits), (low_bits, width - low_bits)] {
            let mask = (1u32 << bits) - 1;
            let mut next = vec![0usize; (1usize << bits) + 1];
            for (v, _) in &pairs {
                next[((v >> shift) & mask) as usize + 1] += 1;
            }
            for d in 1..next.len() {
                next[d] += next[d - 1];
            }
            for &(v, i) in &pairs {
                let slot = &mut next[((v >> shift) & mask) as usize];
                spare[*slot] = (v, i);
                *slot += 1;
            }
            std::mem::swap(&mut pairs, &mut spare);
        }
        drop(spare);
        let mut starts = vec![0u32; (1usize << width) + 1];
        for (v, _) in &pairs {
            starts[*v as usize + 1] += 1;
        }
        for v in 1..starts.len() {
            starts[v] += starts[v - 1];
        }
        let ids: Vec<u32> = pairs.into_iter().map(|(_, i)| i).collect();
        if !is_sparse(n, width) {
            return Table {
                starts: starts.into(),
                ids: ids.into(),
                ..Table::default()
            };
        }
        let mut filled = vec![0u64; bitmap_words(width)];
        let mut compact = Vec::new();
        for (v, pair) in starts.windows(2).enumerate() {
            if pair[0] < pair[1] {
                filled[v / 64] |= 1 << (v % 64);
                compact.push(pair[0]);
            }
        }
        compact.push(n as u32);
        Table {
            starts: compact.into(),
            ids: ids.into(),
            ranks: ranks_of(&filled).into(),
            filled: filled.into(),
        }
    }

    pub(super) fn is_sparse(&self) -> bool {
        !self.filled.is_empty()
    }

    /// The arrays as plain slices, for a run of lookups.
    #[inline(always)]
    pub(super) fn view(&self) -> View<'_> {
        View {
            starts: &self.starts,
            ids: &self.ids,
            filled: &self.filled,
            ranks: &self.ranks,
        }
    }

    /// The entries whose chunk is `v`.
    pub(super) fn bucket(&self, v: u32) -> &[u32] {
        self.view().bucket(v)
    }

    pub(super) fn arrays(&self) -> TableArrays<'_> {
        TableArrays {
            starts: &self.starts,
            ids: &self.ids,
            filled: &self.filled,
            ranks: &self.ranks,
        }
    }

    /// Whether the arrays have the sizes a table of `n` entries over `width`-bit chunks
    /// must have, offsets from 0 to `n`. Cheap: reads only their ends.
    pub(super) fn shape_fits(&self, n: usize, width: u32) -> bool {
        let offsets = if is_sparse(n, width) {
            let Some(&total) = self.ranks.last() else {
                return false;
            };
            if self.filled.len() != bitmap_words(width)
                || self.ranks.len() != rank_entries(width)
                || self.ranks.first() != Some(&0)
            {
                return false;
            }
            total as usize + 1
        } else {
            if !self.filled.is_empty() || !self.ranks.is_empty() {
                return false;
            }
            (1usize << width) + 1
        };
        self.ids.len() == n
            && self.starts.len() == offsets
            && self.starts.first() == Some(&0)
            && self.starts.last().map(|&l| l as usize) == Some(n)
    }

    /// Whether block `b`'s count agrees with the bitmap (sparse tables; a sample of
    /// blocks is checked at open).
    pub(super) fn block_counts_fit(&self, b: usize) -> bool {
        let words = self
            .filled
            .get(b * BLOCK_WORDS..((b + 1) * BLOCK_WORDS).min(self.filled.len()));
        match (words, self.ranks.get(b), self.ranks.get(b + 1)) {
            (Some(words), Some(&r0), Some(&r1)) => {
                r0 + words.iter().map(|w| w.count_ones()).sum::<u32>() == r1
            }
            _ => false,
        }
    }

    pub(super) fn bytes(&self) -> usize {
        self.starts.heap_bytes()
            + self.ids.heap_bytes()
            + self.filled.heap_bytes()
            + self.ranks.heap_bytes()
    }

    pub(super) fn mapped_bytes(&self) -> usize {
        self.starts.mapped_bytes()
            + self.ids.mapped_bytes()
            + self.filled.mapped_bytes()
            + self.ranks.mapped_bytes()
    }
}

/// A table's arrays as plain slices, taken once a table for a query's probes: reading a
/// mapped [`Slab`] goes through a match on where it lives, which the probe's loops
/// otherwise redid at every load (the match and its bounds were 16 % of the search's
/// samples in the service under 50 clients).
#[derive(Debug, Clone, Copy)]
pub(super) struct View<'a> {
    pub(super) starts: &'a [u32],
    pub(super) ids: &'a [u32],
    pub(super) filled: &'a [u64],
    ranks: &'a [u32],
}

impl<'a> View<'a> {
    #[inline(always)]
    pub(super) fn is_sparse(&self) -> bool {
        !self.filled.is_empty()
    }

    /// Where bucket `v`'s offset pair starts in `starts`: `v` itself in a dense table;
    /// in a sparse one its rank among the non-empty buckets, or none where it is empty.
    /// Checked reads throughout: a damaged mapped table gives wrong buckets (which
    /// `bank verify` names), never a panic.
    #[inline(always)]
    pub(super) fn slot(&self, v: u32) -> Option<u32> {
        if !self.is_sparse() {
            return Some(v);
        }
        let word = (v / 64) as usize;
        let bits = *self.filled.get(word)?;
        let below = bits & ((1u64 << (v % 64)) - 1);
        if bits >> (v % 64) & 1 == 0 {
            return None;
        }
        let block = word / BLOCK_WORDS;
        let mut rank = *self.ranks.get(block)?;
        for w in block * BLOCK_WORDS..word {
            rank += self.filled.get(w)?.count_ones();
        }
        Some(rank + below.count_ones())
    }

    /// The part of the bitmap `v`'s slot is read from, to prefetch (sparse only).
    #[inline(always)]
    pub(super) fn bitmap_word(&self, v: u32) -> usize {
        (v / 64) as usize
    }

    /// `ids[a..b]`, the bucket whose offsets start at `slot`; empty where the offsets are
    /// out of range.
    #[inline(always)]
    pub(super) fn span(&self, slot: u32) -> (u32, u32) {
        let s = slot as usize;
        match (self.starts.get(s), self.starts.get(s + 1)) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        }
    }

    /// The entries whose chunk is `v`.
    pub(super) fn bucket(&self, v: u32) -> &'a [u32] {
        let Some(slot) = self.slot(v) else {
            return &[];
        };
        let (a, b) = self.span(slot);
        self.ids.get(a as usize..b as usize).unwrap_or(&[])
    }
}

/// Set bits of `filled` before each block, then the total.
fn ranks_of(filled: &[u64]) -> Vec<u32> {
    let mut ranks = Vec::with_capacity(filled.len().div_ceil(BLOCK_WORDS) + 1);
    let mut total = 0u32;
    ranks.push(0);
    for block in filled.chunks(BLOCK_WORDS) {
        total += block.iter().map(|w| w.count_ones()).sum::<u32>();
        ranks.push(total);
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: usize) -> Vec<[u64; 4]> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                std::array::from_fn(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                })
            })
            .collect()
    }

    /// Every value's bucket, looked up the table's way, against a plain grouping.
    fn check_buckets(hashes: &[[u64; 4]], offset: u32, width: u32) -> Table {
        let table = Table::build(hashes, offset, width);
        assert!(table.shape_fits(hashes.len(), width));
        let mut expected = vec![Vec::new(); 1 << width];
        for (i, h) in hashes.iter().enumerate() {
            expected[chunk(h, offset, width) as usize].push(i as u32);
        }
        for (v, want) in expected.iter().enumerate() {
            let mut got = table.bucket(v as u32).to_vec();
            got.sort_unstable();
            assert_eq!(&got, want, "width {width} value {v}");
            assert_eq!(
                table.view().slot(v as u32).is_none(),
                want.is_empty() && table.is_sparse()
            );
        }
        table
    }

    #[test]
    fn sparse_and_dense_tables_find_every_bucket() {
        let hs = hashes(3000);
        // 2^13 values for 3000 entries: sparse, most buckets empty, some hold several;
        // 2^10 for 3000: dense.
        let sparse = check_buckets(&hs, 40, 13);
        assert!(sparse.is_sparse());
        assert!(sparse.starts.len() < 3001 && sparse.starts.len() > 2000);
        for b in 0..sparse.ranks.len() - 1 {
            assert!(sparse.block_counts_fit(b));
        }
        let dense = check_buckets(&hs, 7, 10);
        assert!(!dense.is_sparse());
        assert_eq!(dense.starts.len(), 1025);
        // Fewer values than a block's 512.
        assert!(check_buckets(&hs[..100], 100, 8).is_sparse());
    }

    #[test]
    fn a_wrong_count_or_a_short_bitmap_is_caught_not_followed() {
        let hs = hashes(3000);
        let mut t = Table::build(&hs, 40, 13);
        let mut ranks = t.ranks.to_vec();
        ranks[3] += 1;
        t.ranks = ranks.into();
        assert!(!t.block_counts_fit(2) && !t.block_counts_fit(3) && t.block_counts_fit(4));
        t.filled = t.filled[..1].to_vec().into();
        assert!(!t.shape_fits(3000, 13));
        assert_eq!(t.view().slot(64 * 5), None);
    }
}
