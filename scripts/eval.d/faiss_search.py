#!/usr/bin/env python3
"""FAISS binary-index baseline for celprint's Hamming index.

Measures, single-threaded, how FAISS answers "every base hash within Hamming
distance R of this query" on 256-bit PDQ hashes, so our own index has an
external reference point for both speed and exactness:

    flat       IndexBinaryFlat(256): brute-force popcount scan of all N codes.
    multihash  IndexBinaryMultiHash(256, 16, 16), nflip=1: 16 hash tables on
               disjoint 16-bit chunks, probing each chunk and its 16 one-bit
               flips. Exact for R <= 31: a code at distance <= 31 differs in
               at most 1 bit in at least one of the 16 chunks (pigeonhole).

    faiss_search.py DIR --radius 31 [--indexes flat,multihash] [--out DIR]
                    [--check OURS.txt]

DIR holds base.u8 (N x 32 raw bytes, row i = id i) and queries.u8 (Q x 32).
For each index: build (add) time, then range_search one query at a time,
timed with perf_counter, reported as p50/p99 latency and mean hits. Latencies
include the fixed Python/SWIG cost of one range_search call (~17 us p50 on a
1-code index, faiss-cpu 1.15.1), which matters for sub-0.1 ms comparisons.

Results go to OUT/faiss-<index>.txt (OUT defaults to DIR): one line per
query, in query order, the matching base ids ascending, space-separated,
empty when none -- the format of our Rust benchmark's result files, so
--check can diff ours against each FAISS file (exit status 1 on any
difference).

stdout, one grep-able line per index, then the process peak RSS:
    faiss flat n=1000000 q=1000 r=31 build_s=0.01 p50_ms=... p99_ms=... mean_hits=...
    faiss peak_rss_mib=...
"""

import argparse
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import faiss
import numpy as np

CODE_BYTES = 32
BITS = CODE_BYTES * 8

# IndexBinaryMultiHash reads each 16-bit chunk with an unaligned 8-byte load
# (IndexBinaryHash.cpp), which runs up to 6 bytes past the end of the last
# code; padding keeps those reads inside memory we own.
READ_PAD = 8


def load_codes(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % CODE_BYTES:
        sys.exit(f"{path}: {raw.size} bytes is not a multiple of {CODE_BYTES}")
    padded = np.zeros(raw.size + READ_PAD, dtype=np.uint8)
    padded[: raw.size] = raw
    return padded[: raw.size].reshape(-1, CODE_BYTES)


def make_flat():
    return faiss.IndexBinaryFlat(BITS)


def make_multihash():
    index = faiss.IndexBinaryMultiHash(BITS, 16, 16)
    index.nflip = 1
    return index


INDEXES = {"flat": make_flat, "multihash": make_multihash}


def run_index(name, base, queries, radius):
    """Build one index, query it one hash at a time; return (summary, hits)."""
    index = INDEXES[name]()
    t0 = time.perf_counter()
    index.add(base)
    build_s = time.perf_counter() - t0

    # FAISS binary range_search is strict: it returns d < radius. The
    # contract is documented on IndexBinary::range_search in IndexBinary.h
    # ("only distances < radius (strict comparison) are returned, ie.
    # radius = 0 does not return any result"), and both implementations
    # used here test `dis < radius` (hamming_range_search in
    # utils/hamming.cpp for flat, RangeSearchResults::add in
    # IndexBinaryHash.cpp for multihash). Checked empirically with
    # neighbours planted at exactly r and r+1 bits: passing r drops the
    # distance-r neighbour, passing r+1 returns it and not the r+1 one.
    # We want d <= radius, so pass radius + 1.
    faiss_radius = radius + 1

    # One untimed query first, so p99 is not a first-touch page-fault outlier.
    index.range_search(queries[:1], faiss_radius)

    latencies = np.empty(len(queries))
    hits = []
    for i in range(len(queries)):
        # A slice (not a copy) keeps the query inside the padded buffer.
        q = queries[i : i + 1]
        t0 = time.perf_counter()
        _, _, ids = index.range_search(q, faiss_radius)
        latencies[i] = time.perf_counter() - t0
        # multihash yields ids in hash-set order; flat in scan order.
        hits.append(np.sort(ids))

    p50, p99 = np.percentile(latencies, [50, 99]) * 1e3
    mean_hits = sum(len(h) for h in hits) / max(len(hits), 1)
    summary = (
        f"faiss {name} n={len(base)} q={len(queries)} r={radius} "
        f"build_s={build_s:.3f} p50_ms={p50:.3f} p99_ms={p99:.3f} "
        f"mean_hits={mean_hits:.2f}"
    )
    return summary, hits


def write_results(path, hits):
    with open(path, "w") as f:
        for ids in hits:
            f.write(" ".join(map(str, ids.tolist())) + "\n")


def read_results(path):
    with open(path) as f:
        return [line.split() for line in f.read().splitlines()]


def compare(ours_path, faiss_path):
    """Print how ours_path matches faiss_path; return True if identical."""
    ours = read_results(ours_path)
    theirs = read_results(faiss_path)
    label = f"check {ours_path} vs {faiss_path}:"
    for qi in range(max(len(ours), len(theirs))):
        if qi >= len(ours) or qi >= len(theirs):
            print(f"{label} query {qi}: line count differs "
                  f"(ours {len(ours)}, faiss {len(theirs)})")
            return False
        # Multisets, so id order is ignored but a duplicated id still counts.
        a, b = Counter(ours[qi]), Counter(theirs[qi])
        if a != b:
            only_ours = " ".join(sorted((a - b).elements(), key=int))
            only_faiss = " ".join(sorted((b - a).elements(), key=int))
            print(f"{label} first difference at query {qi}: "
                  f"only_ours=[{only_ours}] only_faiss=[{only_faiss}]")
            return False
    print(f"{label} identical")
    return True


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("dir", type=Path, help="directory with base.u8 and queries.u8")
    ap.add_argument("--radius", type=int, required=True,
                    help="Hamming radius, inclusive (d <= radius)")
    ap.add_argument("--indexes", default="flat,multihash",
                    help="comma-separated subset of: " + ",".join(INDEXES))
    ap.add_argument("--out", type=Path, help="output directory (default: DIR)")
    ap.add_argument("--check", type=Path, metavar="OURS.txt",
                    help="our result file to compare with each FAISS result file")
    args = ap.parse_args()

    names = [n for n in args.indexes.split(",") if n]
    unknown = [n for n in names if n not in INDEXES]
    if unknown or not names:
        ap.error(f"--indexes: unknown {unknown}; choose from {list(INDEXES)}")
    if "multihash" in names and args.radius >= 2 * 16:
        # Beyond 31 bits a match can differ in >= 2 bits of every chunk, so
        # multihash would silently miss results and not be comparable.
        print(f"warning: multihash with nflip=1 is not exact for radius "
              f"{args.radius} > 31", file=sys.stderr)
    out = args.out or args.dir
    out.mkdir(parents=True, exist_ok=True)

    faiss.omp_set_num_threads(1)
    base = load_codes(args.dir / "base.u8")
    queries = load_codes(args.dir / "queries.u8")
    print(f"faiss version={faiss.__version__} threads=1")

    result_files = []
    for name in names:
        summary, hits = run_index(name, base, queries, args.radius)
        path = out / f"faiss-{name}.txt"
        write_results(path, hits)
        result_files.append(path)
        print(summary, flush=True)

    # ru_maxrss is in KiB on Linux.
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"faiss peak_rss_mib={peak_mib:.1f}")

    if args.check:
        results = [compare(args.check, path) for path in result_files]
        if not all(results):
            sys.exit(1)


if __name__ == "__main__":
    main()
