//! `--shard I/N`: the slice of a walk's inputs one machine of a cluster takes.
//!
//! A path belongs to slice `1 + h mod N`, where h is the first 8 bytes (little-endian)
//! of the BLAKE3 hash of its text as reported ([`crate::media::pathtext`]). It depends on
//! nothing but the path, so every task of an array job, on any machine, walking the
//! same inputs in any order, agrees on who takes what, and the N slices take every input
//! exactly once. An archive and an image sequence are one input each (the archive's
//! path, the sequence's name), so they stay whole in one slice. Files the walk could not
//! read, and files that are not media, are counted by the slice their path falls in, so
//! that each is reported once when the slices are joined.

use crate::media::Discovered;
use crate::model::Shard;

/// Whether the input reported as `display` falls in `shard`.
pub fn holds(shard: Shard, display: &str) -> bool {
    let hash = blake3::hash(display.as_bytes());
    let head: [u8; 8] = hash.as_bytes()[..8].try_into().expect("8 of 32 bytes");
    u64::from_le_bytes(head) % u64::from(shard.count) == u64::from(shard.index - 1)
}

/// Keeps of `found` only what falls in `shard` (everything when `None`). The walk's
/// roots stay: they describe the inputs, not a slice of them.
pub(super) fn keep(found: &mut Discovered, shard: Option<Shard>) {
    let Some(shard) = shard else { return };
    found.files.retain(|f| holds(shard, &f.display));
    found.archives.retain(|f| holds(shard, &f.display));
    found.errors.retain(|(p, _)| holds(shard, p));
    found.skipped.retain(|(p, _)| holds(shard, p));
    found.text.retain(|p| holds(shard, p));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_falls_in_exactly_one_slice() {
        let paths: Vec<String> = (0..2000)
            .map(|i| format!("/media/shot{i:04}.mov"))
            .collect();
        for count in [1, 2, 3, 16] {
            let mut sizes = vec![0usize; count as usize];
            for p in &paths {
                let owners: Vec<u32> = (1..=count)
                    .filter(|&index| holds(Shard { index, count }, p))
                    .collect();
                assert_eq!(owners.len(), 1, "{p} in {owners:?} of {count}");
                sizes[owners[0] as usize - 1] += 1;
            }
            // A hash spreads the paths: no slice is more than half again its share.
            let share = paths.len() / count as usize;
            assert!(
                sizes.iter().all(|&n| n * 2 > share && n * 2 < share * 3),
                "{sizes:?}"
            );
        }
    }
}
