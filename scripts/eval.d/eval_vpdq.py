#!/usr/bin/env python3
"""The vPDQ side of `scripts/eval table` (table.sh).

Hashes every file given with Meta's vPDQ (the PyPI `vpdq` package: every frame, one hashing
thread per process, files spread over --jobs processes), writes each list in vPDQ's text
format (frame,quality,hash,seconds), then compares every query with every bank file by
vPDQ's own brute-force rule and writes one TSV line per pair:

    query  bank  query_match_pct  compared_match_pct  query_frames  bank_frames

The rule is python-threatexchange's `match_VPDQ_hash_brute` (the matcher behind its vPDQ
signal type; Meta's C++ `matchTwoHashBrute` is the same but for `<` instead of `<=`): drop
repeated hashes, drop frames of quality < 50, then query_match_pct = the share of the
query's frames that lie within 31 bits of some frame of the other file, and
compared_match_pct the same the other way round. The detection threshold is applied by
eval_report.py, not here.

Files wider than 1000 pixels (the 1440x1074 Popeye masters) are hashed with vPDQ's own
downsample option at half size (PDQ reduces every frame to 64x64 anyway); at native size
vPDQ needs about 85 s for one of them on this machine.

usage: eval_vpdq.py --jobs N --hashes DIR --out PAIRS.tsv --bank NAME=PATH... --queries NAME=PATH...
"""
import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from eval_args import name_path_pairs

PROG = "eval_vpdq"

QUALITY_MIN = 50  # frames below this quality are never compared (Meta's default)
DISTANCE_MAX = 31  # frames within this many bits match (Meta's default)
DOWNSAMPLE_ABOVE = 1000  # width in pixels above which vPDQ hashes at half size


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def probe_size(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", path],
        check=True, capture_output=True, text=True).stdout.strip().splitlines()[0]
    w, h = (int(x) for x in out.split(",")[:2])
    return w, h


def hash_one(job):
    """Hashes one file into its vPDQ list; returns (name, frames, seconds, downsample)."""
    import vpdq  # imported in the worker: the extension is not fork-shared state

    name, path, out = job
    w, h = probe_size(path)
    kw = {}
    if w > DOWNSAMPLE_ABOVE:
        kw = dict(downsample_width=w // 4 * 2, downsample_height=h // 4 * 2)
    t0 = time.perf_counter()
    feats = vpdq.computeHash(path, seconds_per_hash=0, thread_count=1, **kw)
    secs = time.perf_counter() - t0
    tmp = out + ".part"
    with open(tmp, "w") as f:
        for x in feats:
            f.write("%d,%d,%s,%.3f\n" % (x.frame_number, x.quality, x.hex, x.timestamp))
    os.replace(tmp, out)
    return name, len(feats), secs, kw


def load(path):
    """Unique hashes of quality >= QUALITY_MIN as an (n, 4) uint64 array, and the frame count."""
    seen, rows, frames = set(), [], 0
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 3:
                continue
            frames += 1
            quality, hexhash = int(parts[1]), parts[2]
            if hexhash in seen:  # dedupe first, then filter, as threatexchange does
                continue
            seen.add(hexhash)
            if quality >= QUALITY_MIN:
                rows.append([int(hexhash[i:i + 16], 16) for i in range(0, 64, 16)])
    return np.array(rows, dtype=np.uint64).reshape(-1, 4), frames


def matched_share(a, b):
    """Percentage of the rows of a within DISTANCE_MAX bits of some row of b."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    hit = np.zeros(len(a), dtype=bool)
    for i in range(0, len(a), 512):
        d = np.bitwise_count(a[i:i + 512, None, :] ^ b[None, :, :]).sum(axis=2)
        hit[i:i + 512] = (d <= DISTANCE_MAX).any(axis=1)
    return 100.0 * hit.sum() / len(a)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--hashes", required=True, help="folder for the vPDQ hash lists")
    ap.add_argument("--out", required=True, help="TSV of pair results")
    ap.add_argument("--bank", nargs="+", required=True)
    ap.add_argument("--queries", nargs="+", required=True)
    args = ap.parse_args()
    bank, queries = name_path_pairs(args.bank, PROG), name_path_pairs(args.queries, PROG)
    os.makedirs(args.hashes, exist_ok=True)

    jobs = [(n, p, os.path.join(args.hashes, n + ".txt")) for n, p in bank + queries]
    # Longest files first, so that the pool does not end on one big file.
    jobs.sort(key=lambda j: -os.path.getsize(j[1]))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, frames, secs, kw in pool.map(hash_one, jobs):
            note = f" (downsampled to {kw['downsample_width']}x{kw['downsample_height']})" if kw else ""
            log(f"hashed {name}: {frames} frames in {secs:.1f} s{note}")
    log(f"hashed {len(jobs)} files in {time.perf_counter() - t0:.1f} s wall")

    banked = {n: load(os.path.join(args.hashes, n + ".txt")) for n, _ in bank}
    with open(args.out, "w") as f:
        f.write("query\tbank\tquery_match_pct\tcompared_match_pct\tquery_frames\tbank_frames\n")
        for qn, _ in queries:
            q, qframes = load(os.path.join(args.hashes, qn + ".txt"))
            for bn, (b, bframes) in banked.items():
                f.write(f"{qn}\t{bn}\t{matched_share(q, b):.2f}\t{matched_share(b, q):.2f}"
                        f"\t{qframes}\t{bframes}\n")


if __name__ == "__main__":
    main()
