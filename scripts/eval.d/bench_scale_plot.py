#!/usr/bin/env python3
"""bench_scale_plot.py JSONL WORK HEADER — bench-scale.sh's summary: scale.json (every
measurement), scale.txt (the table), scale.tsv and scale.gp (gnuplot draws scale.png:
open time, query latency, memory, and disk and ingest, against the bank's size)."""
import json
import os
import sys

jsonl, work, header = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(jsonl) if l.strip()]
with open(os.path.join(work, "scale.json"), "w") as f:
    json.dump({"machine": header, "measurements": rows}, f, indent=1)

keys = sorted({(r["data"], r["n"]) for r in rows if r["phase"] in ("build", "query")},
              key=lambda k: (k[0], k[1]))


def find(phase, data, n, label=None):
    for r in rows:
        if r["phase"] == phase and r["data"] == data and r["n"] == n and \
                (label is None or r.get("label") == label):
            return r
    return {}


nan = float("nan")
cols = ["data", "n", "ingest_per_s", "save_index_s", "bytes_per_segment",
        "cold_open_s", "cold_p50_ms", "cold_p99_ms", "cold_rss_open_mib", "cold_rss_queries_mib",
        "warm_open_s", "warm_p50_ms", "warm_p99_ms", "warm_rss_open_mib", "warm_rss_queries_mib",
        "mean_hits", "build_peak_mib"]
table = []
for data, n in keys:
    b, c, w, d = (find("build", data, n), find("query", data, n, "cold"),
                  find("query", data, n, "warm"), find("disk", data, n))
    rss = lambda q, at: q.get(at, {}).get("rss", nan)
    table.append([data, n, b.get("ingest_per_s", nan), b.get("save_index_s", nan),
                  d.get("du_bytes", nan) / n,
                  c.get("open_s", nan), c.get("p50_ms", nan), c.get("p99_ms", nan),
                  rss(c, "memory_after_open_mib"), rss(c, "memory_after_queries_mib"),
                  w.get("open_s", nan), w.get("p50_ms", nan), w.get("p99_ms", nan),
                  rss(w, "memory_after_open_mib"), rss(w, "memory_after_queries_mib"),
                  w.get("mean_hits", nan), b.get("memory_mib", {}).get("peak", nan)])

with open(os.path.join(work, "scale.tsv"), "w") as f:
    f.write("# " + "\t".join(cols) + "\n")
    for row in table:
        f.write("\t".join(str(v) for v in row) + "\n")

with open(os.path.join(work, "scale.txt"), "w") as f:
    f.write(f"# bench-scale: {header}\n")
    f.write("| data | segments | ingest/s | save index s | bytes/seg | open s cold / warm"
            " | p50 ms cold / warm | p99 ms cold / warm | RSS MiB after open / after queries (cold)"
            " | hits/query |\n|---|---|---|---|---|---|---|---|---|---|\n")
    for r in table:
        f.write(f"| {r[0]} | {r[1] / 1e6:.0f}M | {r[2] / 1e6:.2f}M | {r[3]:.1f} | {r[4]:.0f} "
                f"| {r[5]:.2f} / {r[10]:.2f} | {r[6]:.3f} / {r[11]:.3f} | {r[7]:.2f} / {r[12]:.2f} "
                f"| {r[8]:.0f} / {r[9]:.0f} | {r[15]:.1f} |\n")
    for r in rows:
        if r["phase"] in ("end-to-end", "skipped"):
            f.write(json.dumps(r) + "\n")

col = {c: i + 1 for i, c in enumerate(cols)}
tsv = os.path.join(work, "scale.tsv")


def plot(y, data, title, style):
    return (f"'{tsv}' using ($2/1e6):(strcol(1) eq '{data}' ? ${col[y]} : 1/0) "
            f"with linespoints {style} title '{title}'")


series = lambda ys: ", ".join(
    plot(y, data, f"{data} {name}", f"dt {1 if data == 'uniform' else 2} pt {i + 5}")
    for data in ("uniform", "clustered") for i, (y, name) in enumerate(ys))
with open(os.path.join(work, "scale.gp"), "w") as f:
    f.write(f"""set terminal pngcairo size 1400,1000 font ',11'
set output '{os.path.join(work, "scale.png")}'
set datafile separator '\\t'
set multiplot layout 2,2 title "celprint bank at scale (bench-scale: {header})"
set logscale x
set xlabel 'banked segments (millions)'
set key top left
set grid
set title 'open (read-only, as scan opens)'
set ylabel 'seconds'
set yrange [0:*]
plot {series([("cold_open_s", "cold"), ("warm_open_s", "warm")])}
set title 'one query on one thread, radius 31'
set ylabel 'ms'
set autoscale y
set logscale y
plot {series([("warm_p50_ms", "p50 warm"), ("warm_p99_ms", "p99 warm"), ("cold_p50_ms", "p50 cold")])}
unset logscale y
set yrange [0:*]
set title 'process memory (RSS)'
set ylabel 'MiB'
plot {series([("cold_rss_open_mib", "after open"), ("cold_rss_queries_mib", "after 1000 cold queries")])}
set title 'disk and ingest'
set ylabel 'bytes per segment'
set y2label 'ingest, M segments/s'
set y2tics
plot {series([("bytes_per_segment", "bytes/segment")])}, {", ".join(
        f"'{tsv}' using ($2/1e6):(strcol(1) eq '{d}' ? ${col['ingest_per_s']}/1e6 : 1/0) axes x1y2 "
        f"with linespoints dt 3 pt 9 title '{d} ingest'" for d in ("uniform", "clustered"))}
unset multiplot
""")
