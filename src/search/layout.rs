//! How the 256 bits of a hash are cut into the multi-index's chunks: the cut, the radius
//! each chunk is probed at for a search radius (the pigeonhole principle,
//! [`super::mih`]), the cost model that picks the cut for a bank's size, and the values
//! within a chunk's radius that a probe reads.

use super::table::is_sparse;

/// The radius the layout is tuned for: Meta's recommended PDQ match threshold, and the
/// matcher's default seed radius.
pub const DESIGN_RADIUS: u32 = 31;

/// A probe costs about one cache miss (the offset pair); a candidate about two (its
/// entry number, then its hash); a linear scan streams about this many hashes in the
/// time of one miss. Measured on the 1M-entry sweep in `benches/search_scale.rs`.
pub(super) const LINEAR_HASHES_PER_MISS: f64 = 12.0;
const MISSES_PER_CANDIDATE: f64 = 2.0;
/// In a sparse table a probe first reads the bitmap, and costs a miss for the offsets
/// only where the bucket holds entries. While the bitmaps of all tables together fit in
/// [`BITMAP_CACHE_BYTES`] they mostly stay in cache between queries and a read counts
/// as this fraction of a miss; past it, as a miss. At 1M entries the single-threaded
/// benchmark found 11 tables of 23-24 bits (14 MiB of bitmaps) and 12 of 21-22 bits
/// (4 MiB) equally fast, but in the service, whose own work shares the cache, reading
/// the bitmaps took 31 % of its CPU with 14 MiB and 23 % with 4 MiB (perf, 50 clients);
/// the budget lies between (docs/performance.md, "Sparse tables").
const MISSES_PER_BITMAP_READ: f64 = 0.25;
const BITMAP_CACHE_BYTES: f64 = 8.0 * 1024.0 * 1024.0;

/// The chunk counts a layout may have.
pub const CHUNK_COUNTS: std::ops::RangeInclusive<usize> = 11..=32;

/// How the 256 bits are cut.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Layout {
    /// Chunk widths in bits, in order from bit 0; they add up to 256.
    pub widths: Vec<u32>,
}

impl Layout {
    /// `m` chunks of 256/m bits, the first `256 mod m` one bit wider. `m` is at least
    /// 11, so that no chunk is over 24 bits (a dense offset array of 2^24 entries,
    /// 64 MiB).
    pub fn with_chunks(m: usize) -> Layout {
        assert!(
            CHUNK_COUNTS.contains(&m),
            "chunk count {m} outside {CHUNK_COUNTS:?}"
        );
        let base = 256 / m as u32;
        let extra = 256 % m;
        Layout {
            widths: (0..m).map(|k| base + u32::from(k < extra)).collect(),
        }
    }

    /// The layout the cost model prefers for `n` entries at [`DESIGN_RADIUS`]: the
    /// fewest expected cache misses, with no chunk of more than 64 values an entry (or
    /// 16 bits): a table's bitmap is then at most 8 bytes an entry, and a dense table's
    /// offsets (at most one value an entry) at most 8 bytes an entry too.
    pub fn for_len(n: usize) -> Layout {
        CHUNK_COUNTS
            .map(Layout::with_chunks)
            .filter(|l| {
                let widest = 1usize << l.widths[0];
                widest <= 64 * n.max(1) || l.widths[0] <= 16
            })
            .min_by(|a, b| {
                a.cost(n, DESIGN_RADIUS)
                    .total_cmp(&b.cost(n, DESIGN_RADIUS))
            })
            .unwrap_or_else(|| Layout::with_chunks(16))
    }

    /// The radius each chunk is probed at for a search radius `r`; `None` where the
    /// chunk need not be probed at all.
    pub fn chunk_radii(&self, r: u32) -> Vec<Option<u32>> {
        let m = self.widths.len() as u32;
        let (s, a) = (r / m, r % m);
        (0..m)
            .map(|k| if k <= a { Some(s) } else { s.checked_sub(1) })
            .collect()
    }

    /// Expected cache misses for one query at radius `r` over `n` uniform hashes: each
    /// probe's offsets (in a sparse table, its bitmap read and the offsets only of a
    /// non-empty bucket), and two per candidate.
    pub fn cost(&self, n: usize, r: u32) -> f64 {
        let bitmap_bytes: f64 = self
            .widths
            .iter()
            .filter(|&&b| is_sparse(n, b))
            .map(|&b| 2f64.powi(b as i32) / 8.0)
            .sum();
        let bitmap_read = if bitmap_bytes <= BITMAP_CACHE_BYTES {
            MISSES_PER_BITMAP_READ
        } else {
            1.0
        };
        self.widths
            .iter()
            .zip(self.chunk_radii(r))
            .map(|(&b, s)| {
                let probes: f64 = (0..=s.map_or(-1, |s| s as i64))
                    .map(|w| binomial(b, w as u32))
                    .sum();
                let per_bucket = n as f64 / 2f64.powi(b as i32);
                let offsets = if is_sparse(n, b) {
                    bitmap_read + (1.0 - (-per_bucket).exp())
                } else {
                    1.0
                };
                probes * (offsets + MISSES_PER_CANDIDATE * per_bucket)
            })
            .sum()
    }
}

fn binomial(n: u32, k: u32) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

/// Bit offsets of each chunk.
pub(super) fn offsets(layout: &Layout) -> Vec<u32> {
    layout
        .widths
        .iter()
        .scan(0, |at, w| {
            let o = *at;
            *at += w;
            Some(o)
        })
        .collect()
}

/// Bits `[offset, offset + width)` of `h`, width at most 32.
#[inline(always)]
pub(super) fn chunk(h: &[u64; 4], offset: u32, width: u32) -> u32 {
    let word = (offset / 64) as usize;
    let shift = offset % 64;
    let mut v = h[word] >> shift;
    if shift + width > 64 {
        v |= h[word + 1] << (64 - shift);
    }
    (v & ((1u64 << width) - 1)) as u32
}

/// Chunk radii up to this are probed from a list of masks made once; wider ones (small
/// banks, or radii past the design radius) make their masks as they go.
pub(super) const NEAR_WEIGHT: u32 = 2;

/// Every `width`-bit mask of popcount at most [`NEAR_WEIGHT`], by weight: made once,
/// because making them one by one took a fifth of a query at 1M entries (each from the
/// last, a chain of dependent steps), where the list turns them into values in a loop
/// the compiler vectorises.
pub(super) fn near_masks(width: u32) -> &'static [u32] {
    static MASKS: std::sync::OnceLock<Vec<Vec<u32>>> = std::sync::OnceLock::new();
    let all = MASKS.get_or_init(|| {
        (0..=32)
            .map(|w| {
                let mut masks = Vec::new();
                for weight in 0..=NEAR_WEIGHT.min(w) {
                    for_each_mask(w, weight, |m| masks.push(m));
                }
                masks
            })
            .collect()
    });
    &all[width as usize]
}

/// How many masks of `width` bits have popcount at most `weight`.
pub(super) fn masks_up_to(width: u32, weight: u32) -> usize {
    (0..=weight.min(width))
        .map(|k| binomial(width, k) as usize)
        .sum()
}

/// Calls `f` with every `width`-bit value of popcount `weight` (Gosper's hack).
#[inline(always)]
pub(super) fn for_each_mask(width: u32, weight: u32, mut f: impl FnMut(u32)) {
    if weight == 0 {
        f(0);
        return;
    }
    let limit = 1u64 << width;
    let mut x: u64 = (1u64 << weight) - 1;
    while x < limit {
        f(x as u32);
        let c = x & x.wrapping_neg();
        let r = x + c;
        x = (((r ^ x) >> 2) / c) | r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pigeonhole_radii_cover_the_radius() {
        for m in CHUNK_COUNTS {
            let layout = Layout::with_chunks(m);
            assert_eq!(layout.widths.iter().sum::<u32>(), 256);
            assert!(layout.widths[0] <= 24);
            for r in 0..80 {
                // The smallest distance that escapes every probe must exceed r.
                let escape: u32 = layout
                    .chunk_radii(r)
                    .iter()
                    .map(|s| s.map_or(0, |s| s + 1))
                    .sum();
                assert_eq!(escape, r + 1, "m={m} r={r}");
            }
        }
    }

    #[test]
    fn chunks_tile_the_hash() {
        let h = [
            0x0123_4567_89ab_cdef,
            0xfedc_ba98_7654_3210,
            u64::MAX,
            0x5555_5555_5555_5555,
        ];
        for m in [11, 13, 16, 24, 32] {
            let layout = Layout::with_chunks(m);
            let mut rebuilt = [0u64; 4];
            for (o, w) in offsets(&layout).into_iter().zip(&layout.widths) {
                let v = u64::from(chunk(&h, o, *w));
                for b in 0..*w {
                    if v >> b & 1 == 1 {
                        let bit = o + b;
                        rebuilt[(bit / 64) as usize] |= 1 << (bit % 64);
                    }
                }
            }
            assert_eq!(rebuilt, h, "m={m}");
        }
    }

    #[test]
    fn the_listed_masks_are_those_made_one_by_one() {
        for width in [8u32, 13, 21, 24, 32] {
            for radius in 0..=4 {
                let mut made = Vec::new();
                for weight in 0..=radius {
                    for_each_mask(width, weight, |m| made.push(m));
                }
                let near = near_masks(width);
                let listed = near.len().min(masks_up_to(width, radius));
                let mut got = near[..listed].to_vec();
                for weight in NEAR_WEIGHT + 1..=radius {
                    for_each_mask(width, weight, |m| got.push(m));
                }
                assert_eq!(got, made, "width {width} radius {radius}");
            }
        }
    }

    #[test]
    fn masks_are_all_values_of_a_weight() {
        for (width, weight) in [(5u32, 0u32), (5, 2), (16, 1), (20, 3)] {
            let mut seen = Vec::new();
            for_each_mask(width, weight, |m| seen.push(m));
            assert_eq!(seen.len() as f64, binomial(width, weight));
            assert!(seen
                .iter()
                .all(|m| m.count_ones() == weight && *m < 1 << width));
            seen.dedup();
            assert_eq!(seen.len() as f64, binomial(width, weight));
        }
    }

    #[test]
    fn layout_grows_with_the_bank() {
        let small = Layout::for_len(100_000);
        let large = Layout::for_len(10_000_000);
        assert!(small.widths[0] < large.widths[0], "{small:?} {large:?}");
        assert!(large.widths[0] <= 24);
    }
}
