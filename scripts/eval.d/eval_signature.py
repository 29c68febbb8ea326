#!/usr/bin/env python3
"""The FFmpeg `signature` side of `scripts/eval table` (table.sh).

Runs FFmpeg's MPEG-7 video signature filter on every (query, bank file) pair:

    ffmpeg -i QUERY -i BANK -filter_complex \
      "[0:v]NORM[a];[1:v]NORM[b];[a][b]signature=nb_inputs=2:detectmode=full" -f null -

with NORM = fps=24,scale=320:240,setsar=1,format=yuv420p on both inputs (same frame rate,
size and time base on both sides, so that the times it prints are comparable; the filter
itself works on any size). It parses the filter's verdict from the log:

    matching of video 0 at X and 1 at Y, N frames matching   (X: query s, Y: bank s)
    whole video matching
    no matching of video 0 and 1

and writes one TSV line per pair. A run killed by a signal (FFmpeg 5.1 dies with SIGSEGV on
some Big Buck Bunny pairs that open on black frames) is recorded as a crash, and the pair is
run once more with the workaround: each input that opens on black (blackdetect, pix_th 0.10,
from its first frame) is cut at the end of that black with -ss, and the cut is added back
to the times it prints. The first run's verdict is the one that counts in the table; the
workaround's goes in its own columns.

usage: eval_signature.py --jobs N --out PAIRS.tsv --bank NAME=PATH... --queries NAME=PATH...
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from eval_args import name_path_pairs

PROG = "eval_signature"

NORM = "fps=24,scale=320:240,setsar=1,format=yuv420p"
MATCH = re.compile(r"matching of video 0 at ([-\d.]+) and 1 at ([-\d.]+), (\d+) frames matching")
BLACK = re.compile(r"black_start:([-\d.]+) black_end:([-\d.]+)")

_black_cache = {}
_black_lock = threading.Lock()


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def leading_black(path):
    """Seconds of black at the very start of path (0 when it does not open on black)."""
    with _black_lock:
        if path in _black_cache:
            return _black_cache[path]
    p = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", path, "-t", "20", "-an",
         "-vf", f"{NORM},blackdetect=d=0:pix_th=0.10", "-f", "null", "-"],
        capture_output=True, text=True)
    black = 0.0
    m = BLACK.search(p.stderr)
    if m and float(m.group(1)) <= 0.001:
        black = float(m.group(2))
    with _black_lock:
        _black_cache[path] = black
    return black


def run_pair(query, bank, trim_q=0.0, trim_b=0.0):
    """One signature run; returns (status, match, q_s, b_s, frames, whole, seconds)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info"]
    if trim_q > 0:
        cmd += ["-ss", f"{trim_q:.3f}"]
    cmd += ["-i", query]
    if trim_b > 0:
        cmd += ["-ss", f"{trim_b:.3f}"]
    cmd += ["-i", bank, "-filter_complex",
            f"[0:v]{NORM}[a];[1:v]{NORM}[b];[a][b]signature=nb_inputs=2:detectmode=full",
            "-f", "null", "-"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    rc = p.returncode
    if rc < 0 or rc >= 128:
        sig = -rc if rc < 0 else rc - 128
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return (f"crash:{name}", 0, "", "", "", 0, secs)
    if rc != 0:
        return (f"error:rc{rc}", 0, "", "", "", 0, secs)
    m = MATCH.search(p.stderr)
    if not m:
        return ("ok", 0, "", "", "", 0, secs)
    whole = 1 if "whole video matching" in p.stderr else 0
    return ("ok", 1, f"{float(m.group(1)) + trim_q:.3f}", f"{float(m.group(2)) + trim_b:.3f}",
            m.group(3), whole, secs)


def job(item):
    (qn, qp), (bn, bp) = item
    first = run_pair(qp, bp)
    wa = ("", "", "", "", "", "", "")
    trims = ("", "")
    if first[0].startswith("crash"):
        tq, tb = leading_black(qp), leading_black(bp)
        trims = (f"{tq:.3f}", f"{tb:.3f}")
        if tq > 0 or tb > 0:
            wa = run_pair(qp, bp, tq, tb)
        else:
            wa = ("not-tried:no-leading-black", 0, "", "", "", 0, 0.0)
        log(f"{qn} vs {bn}: {first[0]}; workaround (trim {trims[0]} s / {trims[1]} s of "
            f"leading black): {wa[0]}, match={wa[1]}")
    return qn, bn, first, trims, wa


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bank", nargs="+", required=True)
    ap.add_argument("--queries", nargs="+", required=True)
    args = ap.parse_args()
    queries, bank = name_path_pairs(args.queries, PROG), name_path_pairs(args.bank, PROG)
    items = [(q, b) for q in queries for b in bank]
    t0 = time.perf_counter()
    rows = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for i, r in enumerate(pool.map(job, items), 1):
            rows.append(r)
            if i % 40 == 0 or i == len(items):
                log(f"{i}/{len(items)} pairs, {time.perf_counter() - t0:.0f} s")
    with open(args.out, "w") as f:
        f.write("query\tbank\tstatus\tmatch\tquery_s\tbank_s\tframes\twhole\tseconds"
                "\ttrim_query_s\ttrim_bank_s\twa_status\twa_match\twa_query_s\twa_bank_s"
                "\twa_frames\twa_whole\n")
        for qn, bn, first, trims, wa in rows:
            st, mt, qs, bs, fr, wh, secs = first
            f.write(f"{qn}\t{bn}\t{st}\t{mt}\t{qs}\t{bs}\t{fr}\t{wh}\t{secs:.2f}"
                    f"\t{trims[0]}\t{trims[1]}\t{wa[0]}\t{wa[1]}\t{wa[2]}\t{wa[3]}\t{wa[4]}\t{wa[5]}\n")


if __name__ == "__main__":
    main()
