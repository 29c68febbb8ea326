//! Aligning a delivered video with a banked one in time.
//!
//! Seeds are query segments within the strict radius of a banked segment. Each seed
//! votes for a line `bank_time = rate × query_time + offset`, for every rate in a grid
//! around 1 (±10 %: speed changes, 23.976 against 24 fps). The line with the most
//! distinct seeding segments wins. Along that line every query segment is then compared
//! with the banked segment the line predicts, at a looser radius: a re-encode from
//! another master, with burned-in text or a grade, rarely stays within 31 bits frame by
//! frame, but it stays on the diagonal, and the diagonal is what chance cannot fake.
//! Maximal runs of aligned segments, bridging short gaps, are reported. The seeds they
//! explain are removed and the voting repeats, so one delivery can hold several runs.

use crate::fingerprint::{Hash256, Segment};

use super::{MatchOptions, QuerySegment};

/// A seed: query segment `q` within the strict radius of bank segment `b`.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    pub q: usize,
    pub b: usize,
    pub distance: u32,
    /// Neither segment is faint.
    pub firm: bool,
}

/// One aligned run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub query_start_s: f64,
    pub query_end_s: f64,
    pub bank_start_s: f64,
    pub bank_end_s: f64,
    pub rate: f64,
    /// Seconds of the run covered by aligned segments.
    pub matched_s: f64,
    pub segments: u32,
    pub median_distance: u32,
    pub seeds: u32,
    /// Aligned segments where neither side is faint; 0 when the run rests on faint
    /// frames alone.
    pub firm_segments: u32,
    /// Seeds (strict-radius hits) where neither side is faint.
    pub firm_seeds: u32,
}

const OFFSET_BIN_S: f64 = 0.5;
const ALIGN_TOLERANCE_S: f64 = 1.0;
/// How close to a fitted line a seed must lie to support its rate.
const FIT_TOLERANCE_S: f64 = 0.25;
/// The shortest stretch of seeds a rate is measured on.
const MIN_FIT_SPAN_S: f64 = 12.0;
const MAX_PLACES: usize = 16;

fn mid(s: &Segment) -> f64 {
    (s.start_s.unwrap_or(0.0) + s.end_s.unwrap_or(0.0)) / 2.0
}

/// The rates voted on, and the precision a fitted rate is kept to.
const RATE_STEP: f64 = 0.005;

fn rates(max_dev: f64) -> Vec<f64> {
    let steps = (max_dev / RATE_STEP).round() as i64;
    let mut r: Vec<f64> = (-steps..=steps)
        .map(|k| 1.0 + k as f64 * RATE_STEP)
        .collect();
    // Try 1 first so that ties go to real time.
    r.sort_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs()));
    r
}

/// Aligns `query` (hashed for one transform: `hash_of(q)`) with `bank`, both in time
/// order, from `seeds`.
pub fn align(
    query: &[QuerySegment],
    hash_of: impl Fn(&QuerySegment) -> Hash256,
    bank: &[Segment],
    mut seeds: Vec<Seed>,
    opts: &MatchOptions,
) -> Vec<Run> {
    let mut runs = Vec::new();
    // Min and max rather than first and last: `clamp` below must never see them crossed.
    let bank_start = bank
        .iter()
        .filter_map(|s| s.start_s)
        .fold(f64::INFINITY, f64::min);
    let bank_end = bank
        .iter()
        .filter_map(|s| s.end_s)
        .fold(f64::NEG_INFINITY, f64::max);
    if !(bank_start.is_finite() && bank_end.is_finite() && bank_start <= bank_end) {
        return Vec::new();
    }
    let shortest = shortest_run(query, opts.min_duration_s);
    if shortest < opts.min_duration_s {
        // A few delivered frames of a shot held for seconds hit every banked segment of
        // the hold alike, and the middle of them all is not where the frames are: as a
        // still is placed at its closest banked frame, each delivered segment of a file
        // this short votes only with its closest banked segments.
        seeds = closest_seeds(seeds);
    }
    for _ in 0..MAX_PLACES {
        let Some((rate, offset)) = vote(query, bank, &seeds, opts.max_rate_deviation) else {
            break;
        };
        let inliers_of = |rate: f64, offset: f64| -> Vec<Seed> {
            seeds
                .iter()
                .copied()
                .filter(|s| {
                    (mid(&bank[s.b]) - (rate * mid(&query[s.q].segment) + offset)).abs()
                        <= ALIGN_TOLERANCE_S
                })
                .collect()
        };
        // The vote's bins are wide enough that a 4 % speed change over half a minute
        // still lands in the real-time bin, so the line is fitted to its inliers before
        // it is trusted to map times.
        // Refitting can take in seeds the first line left out at its far end, so fit
        // until the line stops moving.
        let (mut rate, mut offset) = (rate, offset);
        for _ in 0..4 {
            let (r, o) = refine(
                query,
                bank,
                &inliers_of(rate, offset),
                rate,
                offset,
                opts.max_rate_deviation,
            );
            let settled = r == rate && (o - offset).abs() < 0.01;
            (rate, offset) = (r, o);
            if settled {
                break;
            }
        }
        let inliers = inliers_of(rate, offset);
        let offset = median_f64(
            inliers
                .iter()
                .map(|s| mid(&bank[s.b]) - rate * mid(&query[s.q].segment)),
        )
        .unwrap_or(offset);
        let taken: Vec<(f64, f64)> = runs
            .iter()
            .map(|r: &Run| (r.query_start_s, r.query_end_s))
            .collect();
        let found = extend(
            query,
            &hash_of,
            bank,
            (bank_start, bank_end),
            &inliers,
            rate,
            offset,
            opts,
            shortest,
            &taken,
        );
        for mut run in found {
            widen_over_gaps(
                &mut run,
                query,
                bank,
                rate,
                offset,
                opts.min_quality,
                &taken,
            );
            run.bank_start_s = (rate * run.query_start_s + offset).clamp(bank_start, bank_end);
            run.bank_end_s = (rate * run.query_end_s + offset).clamp(bank_start, bank_end);
            runs.push(run);
        }
        // Whatever the outcome, these seeds have had their say; and a stretch of the
        // delivery already explained by a run is not explained again by a weaker line
        // (animation reuses drawings, so a second line through the same stretch is
        // almost always the same footage seen through a repeated drawing).
        let used: std::collections::HashSet<(usize, usize)> =
            inliers.iter().map(|s| (s.q, s.b)).collect();
        seeds.retain(|s| {
            let t = mid(&query[s.q].segment);
            !used.contains(&(s.q, s.b))
                && !runs
                    .iter()
                    .any(|r| t >= r.query_start_s && t <= r.query_end_s)
        });
        if seeds.is_empty() {
            break;
        }
    }
    runs.sort_by(|a, b| a.query_start_s.total_cmp(&b.query_start_s));
    runs
}

/// The (rate, offset) line with the most distinct seeding query segments; on a tie, the
/// rate nearest 1 (real time). Each seed votes for its offset bin and both neighbours,
/// so a tight cluster ties three bins of one rate: that tie goes to the bin holding most
/// of the cluster itself, then to the lowest offset, so that the same input always gives
/// the same line.
fn vote(
    query: &[QuerySegment],
    bank: &[Segment],
    seeds: &[Seed],
    max_dev: f64,
) -> Option<(f64, f64)> {
    type Voters = std::collections::HashSet<usize>;
    let mut best: Option<(usize, f64, f64)> = None;
    for rate in rates(max_dev) {
        // Per bin: the seeds within one bin of it, and those in it.
        let mut bins: std::collections::BTreeMap<i64, (Voters, Voters)> = Default::default();
        for s in seeds {
            let offset = mid(&bank[s.b]) - rate * mid(&query[s.q].segment);
            let bin = (offset / OFFSET_BIN_S).round() as i64;
            for b in bin - 1..=bin + 1 {
                let (near, inside) = bins.entry(b).or_default();
                near.insert(s.q);
                if b == bin {
                    inside.insert(s.q);
                }
            }
        }
        let mut here: Option<((usize, usize), i64)> = None;
        for (bin, (near, inside)) in bins {
            let support = (near.len(), inside.len());
            if here.is_none_or(|(n, _)| support > n) {
                here = Some((support, bin));
            }
        }
        if let Some(((near, _), bin)) = here {
            if best.is_none_or(|(n, _, _)| near > n) {
                best = Some((near, rate, bin as f64 * OFFSET_BIN_S));
            }
        }
    }
    best.map(|(_, rate, offset)| (rate, offset))
}

/// The aligned line, refitted to its inliers: first the rate on the voting grid that
/// puts the most of them within [`FIT_TOLERANCE_S`] of itself (each rate with the median
/// offset; the voted line is kept unless another does strictly better, so real time wins
/// ties), then least squares over just those, snapped to the grid. Counting first
/// matters: a held drawing's segment can start earlier or end later in one copy than in
/// the other, and such points would tilt a least-squares line. The voted line is kept
/// when the inliers span under [`MIN_FIT_SPAN_S`]: over a short run the segment times
/// cannot tell a few per cent of speed apart, and a few per cent move its ends by less
/// than the time tolerance anyway.
fn refine(
    query: &[QuerySegment],
    bank: &[Segment],
    inliers: &[Seed],
    rate: f64,
    offset: f64,
    max_dev: f64,
) -> (f64, f64) {
    let points: Vec<(f64, f64)> = inliers
        .iter()
        .map(|s| (mid(&query[s.q].segment), mid(&bank[s.b])))
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    if points.len() < 3 || hi - lo < MIN_FIT_SPAN_S {
        return (rate, offset);
    }
    let close = |r: f64, o: f64| -> Vec<(f64, f64)> {
        points
            .iter()
            .copied()
            .filter(|p| (p.1 - (r * p.0 + o)).abs() <= FIT_TOLERANCE_S)
            .collect()
    };
    let offset_for = |r: f64| median_f64(points.iter().map(|p| p.1 - r * p.0)).unwrap_or(offset);
    let mut best = (close(rate, offset_for(rate)).len(), rate);
    for r in rates(max_dev) {
        let n = close(r, offset_for(r)).len();
        if n > best.0 {
            best = (n, r);
        }
    }
    let support = close(best.1, offset_for(best.1));
    if support.len() < 3 {
        return (rate, offset);
    }
    let n = support.len() as f64;
    let mx = support.iter().map(|p| p.0).sum::<f64>() / n;
    let my = support.iter().map(|p| p.1).sum::<f64>() / n;
    let var: f64 = support.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let cov: f64 = support.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if var <= 0.0 {
        return (best.1, offset_for(best.1));
    }
    let fitted = ((cov / var).clamp(1.0 - max_dev, 1.0 + max_dev) / RATE_STEP).round() * RATE_STEP;
    (fitted, offset_for(fitted))
}

/// Walks the query along the line and cuts it into runs of aligned segments.
#[allow(clippy::too_many_arguments)]
fn extend(
    query: &[QuerySegment],
    hash_of: &impl Fn(&QuerySegment) -> Hash256,
    bank: &[Segment],
    (bank_start, bank_end): (f64, f64),
    inliers: &[Seed],
    rate: f64,
    offset: f64,
    opts: &MatchOptions,
    shortest: f64,
    taken: &[(f64, f64)],
) -> Vec<Run> {
    let mut seeded: std::collections::HashMap<usize, (u32, bool)> =
        std::collections::HashMap::new();
    for s in inliers {
        let (d, firm) = seeded.entry(s.q).or_insert((s.distance, s.firm));
        *d = (*d).min(s.distance);
        *firm |= s.firm;
    }
    let mut runs = Vec::new();
    let mut current: Option<(Run, Vec<u32>)> = None;
    for (qi, q) in query.iter().enumerate() {
        let s = &q.segment;
        let (start, end) = (s.start_s.unwrap_or(0.0), s.end_s.unwrap_or(0.0));
        let t = mid(s);
        if taken.iter().any(|(a, b)| t >= *a && t <= *b) {
            finish(current.take(), opts, shortest, &mut runs);
            continue;
        }
        let evidence = if s.quality < opts.evidence_quality() {
            None
        } else if let Some((d, firm)) = seeded.get(&qi) {
            Some((*d, true, *firm))
        } else {
            let t = rate * mid(s) + offset;
            // A delivered segment the line puts before the asset's start or past its
            // end is no copy of it, however close the banked segment within the time
            // tolerance happens to be: without this a short banked clip was reported
            // as the source of more delivered time than it holds.
            if t < bank_start || t > bank_end {
                continue;
            }
            nearest_distance(bank, t, &hash_of(q), opts.evidence_quality())
                .filter(|(d, _)| *d <= opts.extend_distance)
                .map(|(d, bank_quality)| {
                    let firm = !opts.is_faint(s.quality) && !opts.is_faint(bank_quality);
                    (d, false, firm)
                })
        };
        let Some((distance, is_seed, firm)) = evidence else {
            continue;
        };
        if let Some((run, _)) = &current {
            if start - run.query_end_s > opts.max_gap_s {
                finish(current.take(), opts, shortest, &mut runs);
            }
        }
        let (run, distances) = current.get_or_insert_with(|| {
            (
                Run {
                    query_start_s: start,
                    query_end_s: end,
                    bank_start_s: 0.0,
                    bank_end_s: 0.0,
                    rate,
                    matched_s: 0.0,
                    segments: 0,
                    median_distance: 0,
                    seeds: 0,
                    firm_segments: 0,
                    firm_seeds: 0,
                },
                Vec::new(),
            )
        });
        run.query_end_s = run.query_end_s.max(end);
        run.matched_s += end - start;
        run.segments += 1;
        run.seeds += is_seed as u32;
        run.firm_segments += firm as u32;
        run.firm_seeds += (is_seed && firm) as u32;
        distances.push(distance);
    }
    finish(current, opts, shortest, &mut runs);
    runs
}

/// The shortest run reported in `query`: `min_duration_s`, or the delivered file's own
/// length when it is shorter. A file under a second long (one frame, a half-second cut)
/// could otherwise never match a banked video, though a still of any of its frames
/// would; such a run must then cover the whole file, so the evidence is never less than
/// a still's, and a run within a longer file is held to the full floor as before.
fn shortest_run(query: &[QuerySegment], min_duration_s: f64) -> f64 {
    let (start, end) = query
        .iter()
        .filter_map(|q| Some((q.segment.start_s?, q.segment.end_s?)))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (s, e)| {
            (a.min(s), b.max(e))
        });
    if end > start {
        min_duration_s.min(end - start)
    } else {
        min_duration_s
    }
}

/// The seeds of each delivered segment at its least distance.
fn closest_seeds(seeds: Vec<Seed>) -> Vec<Seed> {
    let mut least: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
    for s in &seeds {
        let d = least.entry(s.q).or_insert(s.distance);
        *d = (*d).min(s.distance);
    }
    seeds
        .into_iter()
        .filter(|s| least[&s.q] == s.distance)
        .collect()
}

/// Keeps `current` as a run if it is one: seeded, at least `shortest` long and covered
/// at `min_fraction`. A run under `min_duration_s` (a file shorter than that) needs a
/// seed where neither side is faint, as a still does: one frame is no time line to
/// vouch for faint frames.
fn finish(
    current: Option<(Run, Vec<u32>)>,
    opts: &MatchOptions,
    shortest: f64,
    runs: &mut Vec<Run>,
) {
    let Some((mut run, mut distances)) = current else {
        return;
    };
    let duration = run.query_end_s - run.query_start_s;
    let short = duration + 1e-9 < opts.min_duration_s;
    if run.seeds == 0
        || duration + 1e-9 < shortest
        || (short && run.firm_seeds == 0)
        || run.matched_s < opts.min_fraction * duration
    {
        return;
    }
    distances.sort_unstable();
    run.median_distance = distances[distances.len() / 2];
    runs.push(run);
}

/// Widens a run over the low-quality gaps (black, fades, flat colour) that border it
/// when the bank has a gap at the same place on the line too: a fade from black at the
/// head of a copied shot is part of the copy, though it is no evidence by itself. The
/// widened time counts toward the run's extent, not toward its matched time.
fn widen_over_gaps(
    run: &mut Run,
    query: &[QuerySegment],
    bank: &[Segment],
    rate: f64,
    offset: f64,
    min_quality: u8,
    taken: &[(f64, f64)],
) {
    let bank_is_gap = |t: f64| {
        let i = bank.partition_point(|b| b.end_s.unwrap_or(0.0) <= t);
        bank.get(i)
            .is_some_and(|b| b.start_s.unwrap_or(0.0) <= t && b.quality < min_quality)
    };
    let free = |s: &Segment| !taken.iter().any(|(a, b)| mid(s) >= *a && mid(s) <= *b);
    let first = query.partition_point(|q| q.segment.end_s.unwrap_or(0.0) <= run.query_start_s);
    for q in query[..first].iter().rev() {
        let s = &q.segment;
        let near = run.query_start_s - s.end_s.unwrap_or(0.0) <= 1e-6;
        if !near || s.quality >= min_quality || !free(s) || !bank_is_gap(rate * mid(s) + offset) {
            break;
        }
        run.query_start_s = s.start_s.unwrap_or(run.query_start_s);
    }
    let last = query.partition_point(|q| q.segment.start_s.unwrap_or(0.0) < run.query_end_s);
    for q in &query[last..] {
        let s = &q.segment;
        let near = s.start_s.unwrap_or(0.0) - run.query_end_s <= 1e-6;
        if !near || s.quality >= min_quality || !free(s) || !bank_is_gap(rate * mid(s) + offset) {
            break;
        }
        run.query_end_s = s.end_s.unwrap_or(run.query_end_s);
    }
}

/// The smallest distance from `hash` to a banked segment of at least `min_quality` around
/// time `t`, with that segment's quality.
fn nearest_distance(
    bank: &[Segment],
    t: f64,
    hash: &Hash256,
    min_quality: u8,
) -> Option<(u32, u8)> {
    let first = bank.partition_point(|b| b.end_s.unwrap_or(0.0) < t - ALIGN_TOLERANCE_S);
    bank[first..]
        .iter()
        .take_while(|b| b.start_s.unwrap_or(0.0) <= t + ALIGN_TOLERANCE_S)
        .filter(|b| b.quality >= min_quality)
        .map(|b| (b.pdq.distance(hash), b.quality))
        .min_by_key(|(d, q)| (*d, std::cmp::Reverse(*q)))
}

fn median_f64(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::Dihedral;

    fn segment(start_s: f64) -> Segment {
        Segment {
            start_s: Some(start_s),
            end_s: Some(start_s + 0.5),
            pdq: Hash256::default(),
            quality: 90,
            frames: 12,
            secondary: 0,
        }
    }

    /// Six delivered segments, a second apart from 0 s.
    fn six_delivered() -> Vec<QuerySegment> {
        (0..6)
            .map(|i| QuerySegment {
                segment: segment(f64::from(i)),
                variants: vec![(Dihedral::Identity, Hash256::default())],
            })
            .collect()
    }

    /// A seed from delivered segment `i` to banked segment `i + shift`, for each of six.
    fn six_seeds(shift: usize) -> Vec<Seed> {
        (0..6)
            .map(|i| Seed {
                q: i,
                b: i + shift,
                distance: 4,
                firm: true,
            })
            .collect()
    }

    /// Seeds whose banked segment lies 2 s after the delivered one vote for the offset
    /// bin of 2 s and both its neighbours, at every rate near 1: the line must be real
    /// time through the middle bin, every time (a hash map's order once chose the bin).
    #[test]
    fn a_tight_cluster_of_seeds_votes_for_its_own_bin() {
        let query = six_delivered();
        let bank: Vec<Segment> = (0..10).map(|i| segment(f64::from(i))).collect();
        let seeds = six_seeds(2);
        for _ in 0..20 {
            assert_eq!(vote(&query, &bank, &seeds, 0.10), Some((1.0, 2.0)));
        }
    }

    /// Real time wins a tie on the seed count even when its seeds straddle two offset
    /// bins and a slightly slower rate would gather them into one.
    #[test]
    fn real_time_wins_over_a_rate_that_merely_gathers_the_seeds_into_one_bin() {
        let query = six_delivered();
        // Offsets 2.3 s for the first three, 2.2 s for the last: bins 2.5 and 2.0 at
        // rate 1, one bin at rates a little under 1 (0.98 won when ties went that way).
        let bank: Vec<Segment> = (0..6)
            .map(|i| segment(f64::from(i) + if i < 3 { 2.3 } else { 2.2 }))
            .collect();
        let (rate, _) = vote(&query, &bank, &six_seeds(0), 0.10).unwrap();
        assert_eq!(rate, 1.0);
    }

    /// A delivery that goes on past the end of a short banked clip, with the same
    /// picture throughout (as a held drawing would): the delivered segments after the
    /// clip's end lie within the time tolerance of its last banked segment, but the run
    /// must stop where the clip does, on both sides of the match.
    #[test]
    fn a_run_never_claims_delivered_time_past_the_end_of_a_short_banked_clip() {
        let query: Vec<QuerySegment> = (0..8)
            .map(|i| QuerySegment {
                segment: segment(0.5 * f64::from(i)),
                variants: vec![(Dihedral::Identity, Hash256::default())],
            })
            .collect();
        // The banked clip: 0-2 s.
        let bank: Vec<Segment> = (0..4).map(|i| segment(0.5 * f64::from(i))).collect();
        let seeds = (0..4)
            .map(|i| Seed {
                q: i,
                b: i,
                distance: 0,
                firm: true,
            })
            .collect();
        let runs = align(
            &query,
            |q| q.segment.pdq,
            &bank,
            seeds,
            &MatchOptions::default(),
        );
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = &runs[0];
        assert_eq!((run.query_start_s, run.query_end_s), (0.0, 2.0), "{run:?}");
        assert_eq!((run.bank_start_s, run.bank_end_s), (0.0, 2.0), "{run:?}");
        assert!(run.matched_s <= 2.0, "{run:?}");
    }

    /// A delivery of `n` segments of half a second from 0 s, each a seed on the banked
    /// segment 10 s later, firm or not.
    fn short_delivery(n: usize, firm: bool) -> (Vec<QuerySegment>, Vec<Segment>, Vec<Seed>) {
        let query = (0..n)
            .map(|i| QuerySegment {
                segment: segment(0.5 * i as f64),
                variants: vec![(Dihedral::Identity, Hash256::default())],
            })
            .collect();
        let bank = (0..60).map(|i| segment(0.5 * f64::from(i))).collect();
        let seeds = (0..n)
            .map(|i| Seed {
                q: i,
                b: i + 20,
                distance: 3,
                firm,
            })
            .collect();
        (query, bank, seeds)
    }

    /// A delivered video shorter than the floor (one segment of 0.5 s) matches over its
    /// whole length, at its place in the bank; a faint seed is not enough for it.
    #[test]
    fn a_delivery_shorter_than_the_floor_matches_over_its_whole_length() {
        let opts = MatchOptions::default();
        let (query, bank, seeds) = short_delivery(1, true);
        let runs = align(&query, |q| q.segment.pdq, &bank, seeds, &opts);
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = &runs[0];
        assert_eq!((run.query_start_s, run.query_end_s), (0.0, 0.5), "{run:?}");
        assert_eq!((run.bank_start_s, run.bank_end_s), (10.0, 10.5), "{run:?}");

        let (query, bank, seeds) = short_delivery(1, false);
        assert!(align(&query, |q| q.segment.pdq, &bank, seeds, &opts).is_empty());
    }

    /// The floor is lowered only to the length of the whole delivery: half a second
    /// aligned inside a longer delivery (the rest of it nowhere in the bank) is not a
    /// run, as before.
    #[test]
    fn half_a_second_inside_a_longer_delivery_is_still_under_the_floor() {
        let (mut query, bank, seeds) = short_delivery(1, true);
        // Two more seconds of something else, with no seeds and far from every banked
        // hash.
        let other: Hash256 = "ff".repeat(32).parse().unwrap();
        query.extend((1..5).map(|i| QuerySegment {
            segment: Segment {
                pdq: other,
                ..segment(0.5 * f64::from(i))
            },
            variants: vec![(Dihedral::Identity, other)],
        }));
        let runs = align(
            &query,
            |q| q.segment.pdq,
            &bank,
            seeds,
            &MatchOptions::default(),
        );
        assert!(runs.is_empty(), "{runs:?}");
    }

    /// One delivered frame of a shot the bank holds over several segments seeds them
    /// all; it is placed at the closest, as a still is, not at the middle of the hold.
    #[test]
    fn a_short_delivery_is_placed_at_its_closest_banked_segment() {
        let (query, bank, _) = short_delivery(1, true);
        let seeds = [(20, 10), (21, 4), (22, 12), (23, 12)]
            .map(|(b, distance)| Seed {
                q: 0,
                b,
                distance,
                firm: true,
            })
            .to_vec();
        let runs = align(
            &query,
            |q| q.segment.pdq,
            &bank,
            seeds,
            &MatchOptions::default(),
        );
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!((runs[0].bank_start_s, runs[0].bank_end_s), (10.5, 11.0));
    }
}
