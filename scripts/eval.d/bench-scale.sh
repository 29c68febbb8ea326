#!/usr/bin/env bash
# bench-scale.sh (`scripts/eval bench scale`) — the bank's search at archive scale: 10M, 30M
# and 100M segments, uniform and real-clustered, in one run on one machine.
#
# For each size and data set (benches/search_scale.rs, SCALE_PHASE, one process a phase):
#   1. build: the segments written into a new bank in assets of 1000 (ingest rate), and
#      the index saved (seconds);
#   2. the bank's files evicted from the page cache (dd iflag=nocache, this bank's files
#      only), then query "cold": open time, 1000 queries one at a time on one thread at
#      radius 31 (p50/p99; half near copies of banked segments, half random), memory
#      before and after the open and after the queries;
#   3. query "warm": the same again at once, the files now cached;
#   4. bytes on disk per segment (du), then the bank is deleted before the next.
# Then, for the largest uniform bank before it goes: `celprint scan` of a 10-minute
# delivery against it, next to `celprint hash` of the same file.
# Writes every figure as JSON (scale.jsonl, one line a measurement; scale.json, the
# same as one document) and draws scale.png (gnuplot) into the work folder and, under
# `scripts/eval`, the run's results folder.
#
# Needs about 180 bytes of disk a segment for the largest bank (18 GB at 100M) and, to
# build it, about 11 GB of memory; refuses a size the disk cannot hold. About 40
# minutes at the default sizes on 2 cores.
#
# Environment:
#   CARGO_TARGET_DIR   default /var/tmp/celprint-target
#   CELPRINT_SHARED    default $ROOT/../shared
#   BENCH_WORK         outputs and banks (default /var/tmp/celprint-bench-scale)
#   SCALE_SIZES        segments per bank (default "10000000 30000000 100000000")
#   SCALE_DATASETS     default "uniform clustered"
#   SCALE_E2E          1 (default) for the end-to-end scan, 0 to skip it
#   SCALE_BIN          a search_scale bench binary to run instead of building one (to
#                      measure another build of celprint with the same script)
#   SCALE_CELPRINT     the celprint binary for the end-to-end figures (default the build's)
set -euo pipefail

die() { echo "bench-scale: error: $*" >&2; exit 1; }
log() { echo "bench-scale: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
SHARED="${CELPRINT_SHARED:-$ROOT/../shared}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-scale}"
SIZES="${SCALE_SIZES:-10000000 30000000 100000000}"
DATASETS="${SCALE_DATASETS:-uniform clustered}"
E2E="${SCALE_E2E:-1}"
CELPRINT="${SCALE_CELPRINT:-$CARGO_TARGET_DIR/release/celprint}"

[ -d "$SHARED/media/video" ] || die "no $SHARED/media/video (set CELPRINT_SHARED)"
command -v gnuplot >/dev/null || die "gnuplot not found (scripts/setup.sh installs gnuplot-nox)"
mkdir -p "$WORK"
cd "$ROOT"

BIN="${SCALE_BIN:-}"
if [ -z "$BIN" ]; then
    log "building (release)"
    cargo build --release --quiet
    BIN=$(cargo bench --no-run --bench search_scale --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "search_scale" and m.get("executable"):
        print(m["executable"])')
fi
[ -x "$BIN" ] || die "no search_scale binary ($BIN)"

log "seeds: real segment hashes of $SHARED/media/video"
"$CELPRINT" hash "$SHARED/media/video" >"$WORK/seeds.csv" 2>/dev/null
JSONL="$WORK/scale.jsonl"
: >"$JSONL"
header="$(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{printf "%.0f GiB", $2/1048576}'), seeds $(($(wc -l <"$WORK/seeds.csv") - 1))"
echo "# bench-scale: $header, load $(cut -d' ' -f1-3 /proc/loadavg), sizes $SIZES, data $DATASETS"

record() { # a JSON object on stdin, with the load average added
    python3 -c 'import json,sys
d = json.loads(sys.stdin.read()); d["loadavg"] = open("/proc/loadavg").read().split()[:3]
print(json.dumps(d))' | tee -a "$JSONL"
}
phase() { # PHASE N DATA [LABEL]
    SCALE_PHASE="$1" SCALE_N="$2" SCALE_DATA="$3" SCALE_LABEL="${4:-}" SCALE_BANK="$BANK" \
        SCALE_SEEDS="$WORK/seeds.csv" "$BIN" --bench | sed -n 's/^json //p' | record
}
evict() { # this bank's files out of the page cache, no one else's
    find "$BANK" -type f -print0 | while IFS= read -r -d '' f; do
        sync "$f" 2>/dev/null || true
        dd if="$f" iflag=nocache count=0 status=none 2>/dev/null || true
    done
}

largest=$(printf '%s\n' $SIZES | sort -n | tail -1)
for n in $SIZES; do
    for data in $DATASETS; do
        BANK="$WORK/bank-$data-$n"
        rm -rf "$BANK"
        need=$((n * 200 + (2 << 30)))
        avail=$(($(df --output=avail -B1 "$WORK" | tail -1)))
        if [ "$avail" -lt "$need" ]; then
            log "skipping $data $n: $((avail >> 30)) GiB free, $((need >> 30)) GiB needed"
            echo "{\"phase\": \"skipped\", \"n\": $n, \"data\": \"$data\", \"free_gib\": $((avail >> 30))}" | record
            continue
        fi
        log "$data $n: build"
        phase build "$n" "$data"
        evict
        log "$data $n: query, cold"
        phase query "$n" "$data" cold
        log "$data $n: query, warm"
        phase query "$n" "$data" warm
        echo "{\"phase\": \"disk\", \"n\": $n, \"data\": \"$data\", \"du_bytes\": $(du -sb "$BANK" | cut -f1)}" | record
        if [ "$E2E" = 1 ] && [ "$data" = uniform ] && [ "$n" = "$largest" ]; then
            log "end to end: a 10-minute delivery against the $n-segment bank"
            DELIVERY="$WORK/delivery-10min.mp4"
            if [ ! -s "$DELIVERY" ]; then
                ffmpeg -nostdin -v error -y -stream_loop 19 \
                    -i "$SHARED/media/video/bbb/bower_bbb_480p_30s.mp4" -c copy -t 600 "$DELIVERY"
            fi
            timed() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
            read -r hash_s hash_kb < <(timed "$CELPRINT" hash "$DELIVERY")
            set +e
            read -r scan_s scan_kb < <(timed "$CELPRINT" scan --db "$BANK" "$DELIVERY")
            set -e
            echo "{\"phase\": \"end-to-end\", \"n\": $n, \"data\": \"$data\", \"delivery_s\": 600, \"hash_s\": $hash_s, \"hash_peak_mib\": $((hash_kb / 1024)), \"scan_s\": $scan_s, \"scan_peak_mib\": $((scan_kb / 1024)), \"scan_over_hash\": $(echo "$scan_s $hash_s" | awk '{printf "%.2f", $1 / $2}')}" | record
        fi
        rm -rf "$BANK"
    done
done

log "summary and plot"
python3 "$SCRIPT_DIR/bench_scale_plot.py" "$JSONL" "$WORK" "$header"
gnuplot "$WORK/scale.gp"
cat "$WORK/scale.txt"
if [ -n "${EVAL_RESULTS_DIR:-}" ]; then
    cp "$JSONL" "$WORK/scale.json" "$WORK/scale.txt" "$WORK/scale.png" "$EVAL_RESULTS_DIR/"
fi
