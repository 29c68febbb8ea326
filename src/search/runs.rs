//! Which segment an entry of the multi-index stands for.
//!
//! Banks insert whole assets, so entries come in runs: consecutive entries of one asset
//! with consecutive segment numbers, one [`Run`] each. Finding an entry's run is a binary
//! search over the runs' first entries. At 100M entries in 100,000 runs that is 17
//! dependent loads a hit, most of them misses, and a query near a much-copied frame
//! reports thousands of hits: it took 17 % of such queries (perf, 100M clustered bank).
//! A [`RunDirectory`] narrows the search to the few runs that cover a block of
//! [`BLOCK_ENTRIES`] entries first, from a table of 1 byte per 1,024 entries that stays
//! in cache.

use super::mapped::{Plain, Slab};
use crate::model::{AssetId, SegmentRef};

/// Consecutive entries of one asset with consecutive segment numbers: entries
/// `first_entry..` are segments `first_index..` of `asset`. One run per asset stands for
/// what would otherwise be 16 bytes an entry. Laid out as the index file holds it
/// (24 bytes, no padding).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(super) struct Run {
    pub(super) first_entry: u64,
    pub(super) asset: u64,
    pub(super) first_index: u32,
    pub(super) unused: u32,
}

// SAFETY: two u64 then two u32, no padding; every bit pattern is a value.
unsafe impl Plain for Run {}

/// log2 of the entries a directory slot covers: 4 bytes a slot is 1 byte per 1,024
/// entries (98 KiB at 100M), small enough to stay in cache beside the search's own
/// data, and a block of 4,096 entries spans one or two runs where assets are videos.
const BLOCK_SHIFT: u32 = 12;
pub(super) const BLOCK_ENTRIES: usize = 1 << BLOCK_SHIFT;

/// Runs past which no directory is made. Making one does a binary search of the runs a
/// slot, on the first lookup, from a mapped file: up to 2^20 runs that reads at most
/// their 24 MiB, but a bank of a hundred million one-segment stills has as many runs as
/// entries, and its slots would touch nearly every page of 2.4 GB. Such a bank searches
/// all its runs, as before the directory.
const MAX_RUNS: usize = 1 << 20;

/// For each block of [`BLOCK_ENTRIES`] entries, the run its first entry lies in; made
/// over the entries present when it is made (`covered`). Runs are only ever appended,
/// so the slots stay true as entries are added after it.
#[derive(Debug, Clone, Default)]
pub(super) struct RunDirectory {
    covered: u64,
    first_run: Vec<u32>,
}

impl RunDirectory {
    /// The directory of `runs` over their first `entries` entries; an empty one, which
    /// leaves every lookup to search all runs, past [`MAX_RUNS`].
    pub(super) fn new(runs: &[Run], entries: usize) -> RunDirectory {
        RunDirectory::up_to(runs, entries, MAX_RUNS)
    }

    fn up_to(runs: &[Run], entries: usize, max_runs: usize) -> RunDirectory {
        if runs.len() > max_runs {
            return RunDirectory::default();
        }
        let first_run = (0..entries.div_ceil(BLOCK_ENTRIES))
            .map(|b| {
                let entry = (b as u64) << BLOCK_SHIFT;
                let at = runs.partition_point(|r| r.first_entry <= entry);
                at.saturating_sub(1) as u32
            })
            .collect();
        RunDirectory {
            covered: entries as u64,
            first_run,
        }
    }

    /// The runs that may hold `entry`: all of them past the directory's cover.
    #[inline(always)]
    fn candidates(&self, entry: u64, runs: usize) -> (usize, usize) {
        if entry >= self.covered {
            return (0, runs);
        }
        let block = (entry >> BLOCK_SHIFT) as usize;
        let lo = self.first_run.get(block).map_or(0, |&r| r as usize);
        let hi = self
            .first_run
            .get(block + 1)
            .map_or(runs, |&r| (r as usize + 1).min(runs));
        (lo.min(hi), hi)
    }

    /// The segment entry `entry` stands for. Wrapping and saturating: runs read from a
    /// damaged file give a wrong segment (which `bank verify` reports), not a panic.
    #[inline(always)]
    pub(super) fn segment_of(&self, runs: &Slab<Run>, entry: usize) -> SegmentRef {
        let entry = entry as u64;
        let (lo, hi) = self.candidates(entry, runs.len());
        let within = runs
            .get(lo..hi)
            .map_or(0, |r| r.partition_point(|r| r.first_entry <= entry));
        let Some(run) = (lo + within).checked_sub(1).and_then(|i| runs.get(i)) else {
            return SegmentRef {
                asset: AssetId(u64::MAX),
                index: 0,
            };
        };
        SegmentRef {
            asset: AssetId(run.asset),
            index: run
                .first_index
                .wrapping_add(entry.wrapping_sub(run.first_entry) as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of the given lengths, one asset each.
    fn runs_of(lengths: &[u64]) -> (Vec<Run>, usize) {
        let mut at = 0;
        let runs = lengths
            .iter()
            .enumerate()
            .map(|(a, &len)| {
                let run = Run {
                    first_entry: at,
                    asset: a as u64,
                    first_index: 7,
                    unused: 0,
                };
                at += len;
                run
            })
            .collect();
        (runs, at as usize)
    }

    fn plain_search(runs: &[Run], entry: u64) -> SegmentRef {
        let run = runs[runs.partition_point(|r| r.first_entry <= entry) - 1];
        SegmentRef {
            asset: AssetId(run.asset),
            index: 7 + (entry - run.first_entry) as u32,
        }
    }

    #[test]
    fn the_directory_finds_every_entry_s_run() {
        // Runs longer and shorter than a block, one ending on a block's edge, many in
        // one block; then entries added after the directory was made.
        let lengths = [
            1,
            BLOCK_ENTRIES as u64 - 1,
            3 * BLOCK_ENTRIES as u64,
            5,
            1,
            1,
            2,
            9000,
            BLOCK_ENTRIES as u64,
            17,
        ];
        let (runs, n) = runs_of(&lengths);
        let slab: Slab<Run> = runs.clone().into();
        for covered in [0, 1, BLOCK_ENTRIES, n - 20, n] {
            let dir = RunDirectory::new(&runs, covered);
            assert_eq!(dir.first_run.len(), covered.div_ceil(BLOCK_ENTRIES));
            for entry in 0..n {
                assert_eq!(
                    dir.segment_of(&slab, entry),
                    plain_search(&runs, entry as u64),
                    "entry {entry}, covered {covered}"
                );
            }
        }
    }

    #[test]
    fn too_many_runs_make_no_directory_and_are_searched_whole() {
        let (runs, n) = runs_of(&[3, 5000, 1, 1, 2, 9000]);
        let slab: Slab<Run> = runs.clone().into();
        let dir = RunDirectory::up_to(&runs, n, 5);
        assert!(dir.first_run.is_empty());
        for entry in 0..n {
            assert_eq!(
                dir.segment_of(&slab, entry),
                plain_search(&runs, entry as u64)
            );
        }
    }

    #[test]
    fn runs_out_of_order_give_a_wrong_segment_not_a_panic() {
        let (mut runs, n) = runs_of(&[5000, 3, 9000, 2]);
        let dir = RunDirectory::new(&runs, n);
        runs.swap(0, 2);
        runs[1].first_entry = u64::MAX;
        let slab: Slab<Run> = runs.into();
        for entry in (0..n + 10).chain([usize::MAX]) {
            let _ = dir.segment_of(&slab, entry);
        }
        let empty: Slab<Run> = Vec::new().into();
        assert_eq!(dir.segment_of(&empty, 3).asset, AssetId(u64::MAX));
    }
}
