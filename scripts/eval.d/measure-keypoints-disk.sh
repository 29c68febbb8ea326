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
# Prints a table per bank (keypoints, bytes on disk, scan wall time and peak RSS on
# disk and in memory, whether both reports' matches are equal) and the ratios.
#
# Environment:
#   KP_HOURS_SMALL  synthetic hours of the small bank (default 5)
#   KP_HOURS_BIG    synthetic hours of the big bank (default 25; ~0.45 GB a banked hour
#                   on disk: check df first)
#   BENCH_WORK      where the banks go (default /var/tmp/celprint-kp-disk; removed after
#                   each bank is measured)
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

log "seed bank"
rm -rf "$out/seed"
"$bin" index --db "$out/seed" "$v"/popeye/showorder_pgs_Title_T0[0-3]-*.mkv \
  "$v/sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4" >/dev/null 2>&1
bbb="$v/bbb/bower_bbb_480p_30s.mp4"
sintel="$v/sintel/mangomm_sintel_848x480_26s.mp4"
cut="crop=trunc(iw*0.8/2)*2:trunc(ih*0.8/2)*2:iw*0.04:ih*0.16,scale=854:480,setsar=1,fps=24"
log "delivery"
ff -i "$bbb" -i "$sintel" -i "$bbb" -filter_complex \
  "[0:v]$cut[a];[1:v]$cut[b];[2:v]trim=0:4,setpts=PTS-STARTPTS,$cut[c];[a][b][c]concat=n=3:v=1:a=0[v]" \
  -map "[v]" -an -c:v libx264 -crf 20 -preset veryfast -pix_fmt yuv420p "$work/delivery.mp4"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/delivery.mp4")

# scan NAME BANK: one timed scan; prints "seconds peak_kib".
scan() {
  /usr/bin/time -f "%e %M" -o "$work/$1.time" \
    "$bin" scan --db "$2" --json "$work/$1.json" "$work/delivery.mp4" >/dev/null 2>&1 || true
  [ -s "$work/$1.json" ] || { log "scan $1 made no report"; exit 1; }
  cat "$work/$1.time"
}

declare -A row
for hours in "$small" "$big"; do
  bank="$out/bank-$hours"
  rm -rf "$bank"
  log "bank of $hours synthetic hours"
  "$bin" index --db "$bank" "$bbb" "$sintel" >/dev/null 2>&1
  KP_SEED_BANK="$out/seed" KP_BANK="$bank" KP_HOURS="$hours" "$gen" | tee "$work/gen-$hours.txt" >&2
  bytes=$(du -sb "$bank" | cut -f1)
  log "scans, keypoints on disk"
  read -r disk_s disk_k < <(scan "disk-$hours" "$bank")
  keypoints=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['settings']['local_features'])" "$work/disk-$hours.json")
  KP_STRIP=1 KP_BANK="$bank" "$gen" >&2
  log "scans, keypoints in memory"
  read -r mem_s mem_k < <(scan "memory-$hours" "$bank")
  same=$(python3 -c "import json,sys;a,b=(json.load(open(p))['matches'] for p in sys.argv[1:]);print('yes' if a==b and a else 'NO')" \
    "$work/disk-$hours.json" "$work/memory-$hours.json")
  matches=$(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['matches']))" "$work/disk-$hours.json")
  row[$hours]="$keypoints $bytes $disk_s $disk_k $mem_s $mem_k $same $matches"
  rm -rf "$bank"
done
rm -rf "$out/seed"

echo
echo "## Scan of a ${dur%.*} s delivery, keypoints on disk against in memory"
echo
echo "| synthetic hours | banked keypoints | bank GB | scan s (disk) | peak RSS MB (disk) | scan s (memory) | peak RSS MB (memory) | matches | same matches |"
echo "|---|---|---|---|---|---|---|---|---|"
for hours in "$small" "$big"; do
  read -r kp bytes ds dk ms mk same matches <<<"${row[$hours]}"
  awk -v h="$hours" -v kp="$kp" -v b="$bytes" -v ds="$ds" -v dk="$dk" -v ms="$ms" -v mk="$mk" -v s="$same" -v m="$matches" \
    'BEGIN{printf "| %s | %d | %.2f | %.1f | %.0f | %.1f | %.0f | %s | %s |\n", h, kp, b/1e9, ds, dk/1024, ms, mk/1024, m, s}'
done
read -r _ _ ds1 dk1 ms1 mk1 _ _ <<<"${row[$small]}"
read -r _ _ ds2 dk2 ms2 mk2 _ _ <<<"${row[$big]}"
echo
awk -v a="$ds1" -v b="$ds2" -v c="$ms1" -v d="$ms2" -v e="$dk1" -v f="$dk2" -v g="$mk1" -v h="$mk2" \
  'BEGIN{printf "disk_time_ratio=%.2f memory_time_ratio=%.2f disk_rss_ratio=%.2f memory_rss_ratio=%.2f\n", b/a, d/c, f/e, h/g}'
echo "load_at_end=$(cut -d' ' -f1 /proc/loadavg)"
