#!/usr/bin/env bash
# Keypoints on disk: a scan of a 1-minute delivery against a bank of a few banked hours
# of keypoints and against one of many more, with the keypoint index read from the
# bank's buckets (now) and loaded into memory (before: the same bank with its buckets
# dropped, which a read-only scan loads as every scan did), in one run.
#
# Banks: Big Buck Bunny 30 s and Sintel 26 s (real), plus synthetic hours made by
#   benches/keypoints_scale.rs from a seed bank of Popeye T00-T03 and another Sintel
#   clip: real keypoints, each sample replicated with 16-40 descriptor bits flipped and
#   random places.
# Delivery: 60 s, the two real clips reframed (80 % of each side, off centre) and the
#   first 4 s of Big Buck Bunny again, so the keypoint path does the finding.
# One bank grows: the small count of synthetic hours first, measured, then the rest
# added to reach the big count, measured again. Each measurement is a scan of the bank
# (keypoints on disk) and one of a checkpoint of it without its buckets (in memory).
# Prints a row per bank as it is measured (keypoints, bytes on disk, scan wall time and
# peak RSS on disk and in memory, matches, whether both reports' matches are equal),
# then the ratios.
#
# Environment:
#   KP_HOURS_SMALL  synthetic hours of the small bank (default 5)
#   KP_HOURS_BIG    synthetic hours of the big bank (default 25; ~0.45 GB a banked hour
#                   on disk: check df first)
#   KP_BASELINE_BIN another celprint binary (e.g. a build of an older commit) that also
#                   scans each bank with its keypoints on disk, in the same run, for a
#                   before/after comparison; its columns are left out when unset
#   BENCH_WORK      where the bank goes (default /var/tmp/celprint-kp-disk). A bank left
#                   there by an interrupted run (with bank.hours saying how many synthetic
#                   hours it holds) is grown, not made again; KP_FRESH=1 starts over. It is
#                   removed at the end of a run that completes.
source "$(dirname "$0")/measure-env.sh"
small="${KP_HOURS_SMALL:-5}"
big="${KP_HOURS_BIG:-25}"
out="${BENCH_WORK:-/var/tmp/celprint-kp-disk}"
mkdir -p "$out"
log() { echo "measure-keypoints-disk: $*" >&2; }

cargo bench --no-run --bench keypoints_scale 2>/dev/null
gen=$(find "$CARGO_TARGET_DIR/release/deps" -name 'keypoints_scale-*' -type f -executable -printf '%T@ %p\n' |
  sort -n | tail -1 | cut -d' ' -f2)
[ -x "$gen" ] || { log "no keypoints_scale bench binary"; exit 1; }

echo "# measure-keypoints-disk: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{printf "%.0f GiB", $2/1048576}'), load at start $(cut -d' ' -f1-3 /proc/loadavg)"

bbb="$v/bbb/bower_bbb_480p_30s.mp4"
sintel="$v/sintel/mangomm_sintel_848x480_26s.mp4"
bank="$out/bank"
have=0
if [ "${KP_FRESH:-0}" != 1 ] && [ -d "$bank" ] && [ -s "$out/bank.hours" ] && [ -d "$out/seed" ]; then
  have=$(cat "$out/bank.hours")
  log "growing $bank, which holds $have synthetic hours"
else
  rm -rf "$bank" "$out/seed" "$out/bank.hours"
  log "seed bank"
  "$bin" index --db "$out/seed" "$v"/popeye/showorder_pgs_Title_T0[0-3]-*.mkv \
    "$v/sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4" >/dev/null 2>&1
  "$bin" index --db "$bank" "$bbb" "$sintel" >/dev/null 2>&1
fi
cut="crop=trunc(iw*0.8/2)*2:trunc(ih*0.8/2)*2:iw*0.04:ih*0.16,scale=854:480,setsar=1,fps=24"
log "delivery"
ff -i "$bbb" -i "$sintel" -i "$bbb" -filter_complex \
  "[0:v]${cut}[a];[1:v]${cut}[b];[2:v]trim=0:4,setpts=PTS-STARTPTS,${cut}[c];[a][b][c]concat=n=3:v=1:a=0[v]" \
  -map "[v]" -an -c:v libx264 -crf 20 -preset veryfast -pix_fmt yuv420p "$work/delivery.mp4"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/delivery.mp4")

# scan NAME BANK [BIN]: one timed scan; prints "seconds peak_kib cpu_seconds".
scan() {
  /usr/bin/time -f "%e %M %U %S" -o "$work/$1.time" \
    "${3:-$bin}" scan --db "$2" --json "$work/$1.json" "$work/delivery.mp4" >/dev/null 2>&1 || true
  [ -s "$work/$1.json" ] || { log "scan $1 made no report"; exit 1; }
  # time puts "Command exited with non-zero status 1" (a scan that matched) first.
  tail -1 "$work/$1.time" | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}'
  if [ -n "${EVAL_RESULTS_DIR:-}" ]; then
    mkdir -p "$EVAL_RESULTS_DIR/scans"
    cp "$work/$1.time" "$work/$1.json" "$EVAL_RESULTS_DIR/scans/"
  fi
}
field() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))$2)" "$1"; }

echo
echo "## Scan of a ${dur%.*} s delivery, keypoints on disk against in memory"
echo
base_head="" base_rule=""
if [ -n "${KP_BASELINE_BIN:-}" ]; then
  base_head=" scan s (disk, baseline) | CPU s (disk, baseline) | peak RSS MB (disk, baseline) | same matches (baseline) |"
  base_rule="---|---|---|---|"
fi
echo "| synthetic hours | banked keypoints | bank GB | scan s (disk) | CPU s (disk) | peak RSS MB (disk) | scan s (memory) | CPU s (memory) | peak RSS MB (memory) | matches | same matches |$base_head"
echo "|---|---|---|---|---|---|---|---|---|---|---|$base_rule"
declare -A row row_base
for hours in "$small" "$big"; do
  add=$(awk -v a="$hours" -v b="$have" 'BEGIN{print a - b}')
  if awk -v a="$add" 'BEGIN{exit !(a > 0)}'; then
    log "adding $add synthetic hours"
    KP_SEED_BANK="$out/seed" KP_BANK="$bank" KP_HOURS="$add" "$gen" >&2
    have=$hours
    echo "$have" >"$out/bank.hours"
  fi
  bytes=$(du -sb "$bank" | cut -f1)
  log "scan, keypoints on disk"
  read -r disk_s disk_k disk_c < <(scan "disk-$hours" "$bank")
  base_cells=""
  if [ -n "${KP_BASELINE_BIN:-}" ]; then
    log "scan, keypoints on disk, baseline binary"
    read -r base_s base_k base_c < <(scan "baseline-$hours" "$bank" "$KP_BASELINE_BIN")
    base_same=$(python3 -c "import json,sys;a,b=(json.load(open(p))['matches'] for p in sys.argv[1:]);print('yes' if a==b else 'NO')" \
      "$work/disk-$hours.json" "$work/baseline-$hours.json")
    base_cells=$(awk -v s="$base_s" -v k="$base_k" -v c="$base_c" -v m="$base_same" 'BEGIN{printf " %.1f | %.1f | %.0f | %s |", s, c, k/1024, m}')
    row_base[$hours]="$base_s $base_k $base_c"
  fi
  rm -rf "$out/before"
  KP_BANK="$bank" KP_BEFORE="$out/before" "$gen"
  log "scan, keypoints in memory"
  read -r mem_s mem_k mem_c < <(scan "memory-$hours" "$out/before")
  rm -rf "$out/before"
  keypoints=$(field "$work/disk-$hours.json" "['settings']['local_features']")
  matches=$(field "$work/disk-$hours.json" "['matches'].__len__()")
  same=$(python3 -c "import json,sys;a,b=(json.load(open(p))['matches'] for p in sys.argv[1:]);print('yes' if a==b else 'NO')" \
    "$work/disk-$hours.json" "$work/memory-$hours.json")
  row[$hours]="$disk_s $disk_k $mem_s $mem_k"
  awk -v h="$hours" -v kp="$keypoints" -v b="$bytes" -v ds="$disk_s" -v dk="$disk_k" -v dc="$disk_c" -v ms="$mem_s" -v mk="$mem_k" -v mc="$mem_c" -v s="$same" -v m="$matches" -v base="$base_cells" \
    'BEGIN{printf "| %s | %d | %.2f | %.1f | %.1f | %.0f | %.1f | %.1f | %.0f | %s | %s |%s\n", h, kp, b/1e9, ds, dc, dk/1024, ms, mc, mk/1024, m, s, base}'
done
read -r ds1 dk1 ms1 mk1 <<<"${row[$small]}"
read -r ds2 dk2 ms2 mk2 <<<"${row[$big]}"
echo
awk -v a="$ds1" -v b="$ds2" -v c="$ms1" -v d="$ms2" -v e="$dk1" -v f="$dk2" -v g="$mk1" -v h="$mk2" \
  'BEGIN{printf "disk_time_ratio=%.2f memory_time_ratio=%.2f disk_rss_ratio=%.2f memory_rss_ratio=%.2f\n", b/a, d/c, f/e, h/g}'
if [ -n "${KP_BASELINE_BIN:-}" ]; then
  read -r bs1 bk1 bc1 <<<"${row_base[$small]}"
  read -r bs2 bk2 bc2 <<<"${row_base[$big]}"
  awk -v a="$bs1" -v b="$bs2" -v e="$bk1" -v f="$bk2" -v c="$bc1" -v d="$bc2" \
    'BEGIN{printf "baseline_time_ratio=%.2f baseline_cpu_ratio=%.2f baseline_rss_ratio=%.2f\n", b/a, d/c, f/e}'
fi
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
rm -rf "$bank" "$out/seed" "$out/bank.hours"
