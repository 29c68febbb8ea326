#!/usr/bin/env bash
# Where faint frames stop carrying their picture. Dims 10 s of Big Buck Bunny, Sintel
# and Popeye toward black (luma scaled by F, as in the middle of a fade; F = 0.02 to
# 0.4), hashes every frame, and prints per PDQ quality band:
# - how far a dimmed frame's hash lies from the same frame undimmed (its counterpart);
# - how near the nearest frame of the two other films comes, dimmed or not (chance).
# Then banks the three undimmed clips and scans the dimmed ones with faint evidence on
# (the default) and off (--faint-quality 50): seconds matched at the right place, and
# other runs: on the wrong clip, or with an end more than 0.5 s off (printed to stderr).
source "$(dirname "$0")/measure-env.sh"
enc=(-an -c:v libx264 -crf 18 -preset veryfast -pix_fmt yuv420p -r 24)
levels=(0.02 0.04 0.06 0.1 0.2 0.4)

ff -ss 6 -t 10 -i "$v/bbb/bower_bbb_480p_30s.mp4" -vf scale=640:-2 "${enc[@]}" "$work/bbb.mp4"
# Sintel without its letterbox bars: dimmed, its picture sinks toward the bars' black,
# which would measure the bars finder rather than the hash.
ff -ss 2 -t 10 -i "$v/sintel/mangomm_sintel_848x480_26s.mp4" -vf crop=848:362:0:58,scale=640:-2 \
  "${enc[@]}" "$work/sintel.mp4"
ff -ss 10 -t 10 -i "$v/popeye/showorder_pgs_Title_T01-2.mkv" -vf scale=640:-2 "${enc[@]}" "$work/popeye.mp4"
for clip in bbb sintel popeye; do
  "$bin" hash --format vpdq "$work/$clip.mp4" > "$work/$clip.txt"
  for f in "${levels[@]}"; do
    # Limited-range luma: black is 16.
    ff -i "$work/$clip.mp4" -vf "lutyuv=y=16+(val-16)*$f" "${enc[@]}" "$work/${clip}_$f.mp4"
    "$bin" hash --format vpdq "$work/${clip}_$f.mp4" > "$work/${clip}_$f.txt"
  done
done

python3 - "$work" "${levels[@]}" <<'PY'
import sys, statistics
work, levels = sys.argv[1], sys.argv[2:]
clips = ["bbb", "sintel", "popeye"]
def load(name):
    return [(int(q), int(h, 16)) for _, q, h, _ in (l.strip().split(",") for l in open(f"{work}/{name}.txt"))]
frames = {c: load(c) for c in clips}
dimmed = {(c, f): load(f"{c}_{f}") for c in clips for f in levels}
pool = {c: [h for _, h in frames[c]] + [h for f in levels for _, h in dimmed[(c, f)]] for c in clips}
bands = [(0, 5), (5, 10), (10, 20), (20, 35), (35, 50), (50, 101)]
rows = {b: ([], []) for b in bands}
for (c, f), fr in dimmed.items():
    others = [h for o in clips if o != c for h in pool[o]]
    for i, (q, h) in enumerate(fr):
        if i >= len(frames[c]):
            break
        b = next(b for b in bands if b[0] <= q < b[1])
        rows[b][0].append(bin(h ^ frames[c][i][1]).count("1"))
        rows[b][1].append(min(bin(h ^ o).count("1") for o in others))
print("| quality | frames | to its undimmed frame: median bits | ≤ 31 | ≤ 56 | nearest other film: median bits | min | ≤ 56 |")
print("|---|---|---|---|---|---|---|---|")
for b in bands:
    own, other = rows[b]
    if not own:
        continue
    n = len(own)
    share = lambda xs, d: f"{sum(x <= d for x in xs) / n:.2f}"
    print(f"| {b[0]}–{b[1] - 1} | {n} | {statistics.median(own):.0f} | {share(own, 31)} | {share(own, 56)} "
          f"| {statistics.median(other):.0f} | {min(other)} | {share(other, 56)} |")
PY

"$bin" index --db "$work/bank" "$work/bbb.mp4" "$work/sintel.mp4" "$work/popeye.mp4" >/dev/null
echo
echo "| luma × F | faint evidence | matched s (of 30) | worst time error s | other runs (wrong clip, or an end off by over 0.5 s) |"
echo "|---|---|---|---|---|"
for f in "${levels[@]}"; do
  for mode in on off; do
    extra=()
    [ "$mode" = off ] && extra=(--faint-quality 50)
    "$bin" scan --db "$work/bank" "${extra[@]}" --json "$work/s.json" \
      "$work/bbb_$f.mp4" "$work/sintel_$f.mp4" "$work/popeye_$f.mp4" >/dev/null 2>&1 || true
    python3 - "$f" "$mode" "$work/s.json" <<'PY'
import json, os, sys
f, mode, r = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
matched, err, other = 0.0, 0.0, 0
for m in r["matches"]:
    q, b = m["query"], m["bank_asset"]
    same = os.path.basename(q["path"]).split("_")[0] == os.path.basename(b["path"]).split(".")[0]
    e = max(abs(q["start_s"] - b["start_s"]), abs(q["end_s"] - b["end_s"]))
    if same and e <= 0.5:
        matched += m["matched_duration_s"] or 0
        err = max(err, e)
    else:
        other += 1
        print(f"  other run: {q['path']} {q['start_s']:.2f}-{q['end_s']:.2f} ~ {b['path']} {b['start_s']:.2f}-{b['end_s']:.2f}", file=sys.stderr)
print(f"| {f} | {mode} | {matched:.1f} | {err:.2f} | {other} |")
PY
  done
done
