#!/usr/bin/env bash
# bench-search.sh (`scripts/eval bench search`) — the bank's Hamming index at archive scale, against the linear scan
# and against FAISS, in one run on one machine.
#
#   1. Seeds for clustered data: `celprint hash` over every clip in
#      $CELPRINT_SHARED/media/video (one real PDQ hash per segment).
#   2. 1M entries (benches/search_scale.rs): linear scan vs multi-index at radius 31,
#      uniform and clustered, with a sweep over chunk counts 11..20; then FAISS
#      IndexBinaryFlat and IndexBinaryMultiHash (16x16, nflip=1) on the same hashes and
#      queries (faiss_search.py, beside this script), with their result sets checked against ours.
#   3. 10M entries: the same without the sweep, plus a bank of 10M segments built on
#      disk (ingest rate, open time, bytes per segment, search on the reopened bank);
#      FAISS on the same 10M uniform hashes.
#   4. End to end: `celprint scan` of a 10-minute delivery against the 10M bank, next to
#      `celprint hash` of the same file (fingerprinting alone), with peak RSS of each.
#
# Every query is timed alone on one thread; p50/p99 over 1000 queries (200 for the
# linear scan). Half the queries are near copies of banked hashes, half random.
# Prints the benchmark lines as they come and a summary at the end. Needs ~6 GB of RAM
# and ~2 GB of disk under $BENCH_WORK; takes about 15 minutes on 2 cores.
#
# Environment:
#   CARGO_TARGET_DIR   default /var/tmp/celprint-target
#   CELPRINT_SHARED    default $ROOT/../shared
#   CELPRINT_VENV      Python venv for FAISS (default /var/tmp/celprint-venv; faiss-cpu
#                      is pip-installed into it when missing)
#   BENCH_WORK         outputs and the 10M bank (default /var/tmp/celprint-bench-search)
#   BIG_N              entries of the large run (default 10000000)
set -euo pipefail

die() { echo "bench-search: error: $*" >&2; exit 1; }
log() { echo "bench-search: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
SHARED="${CELPRINT_SHARED:-$ROOT/../shared}"
VENV="${CELPRINT_VENV:-/var/tmp/celprint-venv}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-search}"
BIG_N="${BIG_N:-10000000}"
CELPRINT="$CARGO_TARGET_DIR/release/celprint"

[ -d "$SHARED/media/video" ] || die "no $SHARED/media/video (set CELPRINT_SHARED)"
mkdir -p "$WORK"
cd "$ROOT"

log "building (release)"
cargo build --release --quiet
cargo bench --no-run --quiet --bench search_scale 2>/dev/null

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import faiss' 2>/dev/null; then
    log "installing faiss-cpu into $VENV"
    "$VENV/bin/pip" install --quiet faiss-cpu numpy
fi
PY="$VENV/bin/python"

log "seeds: real segment hashes of $SHARED/media/video"
"$CELPRINT" hash "$SHARED/media/video" >"$WORK/seeds.csv" 2>/dev/null
echo "# bench-search: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{printf "%.0f GiB", $2/1048576}'), load $(cut -d' ' -f1-3 /proc/loadavg), seeds $(wc -l <"$WORK/seeds.csv")"

scale() { cargo bench --quiet --bench search_scale 2>/dev/null | grep -E '^(search|bank|peak)'; }
faiss() { "$PY" "$SCRIPT_DIR/faiss_search.py" "$@" | sed 's/^/  /'; }

log "1M entries: linear, multi-index, sweep"
SCALE_N=1000000 SCALE_SWEEP=1 SCALE_SEEDS="$WORK/seeds.csv" SCALE_EXPORT="$WORK/1m" scale |
    tee "$WORK/scale-1m.txt"
log "1M entries: FAISS, uniform then clustered"
faiss "$WORK/1m" --radius 31 --check "$WORK/1m/ours.txt" | tee "$WORK/faiss-1m.txt"
faiss "$WORK/1m/clustered" --radius 31 --check "$WORK/1m/clustered/ours.txt" |
    tee "$WORK/faiss-1m-clustered.txt"

log "$BIG_N entries: linear, multi-index, bank"
SCALE_N="$BIG_N" SCALE_SEEDS="$WORK/seeds.csv" SCALE_EXPORT="$WORK/big" SCALE_BANK="$WORK/bank-big" scale |
    tee "$WORK/scale-big.txt"
log "$BIG_N entries: FAISS, uniform"
faiss "$WORK/big" --radius 31 --check "$WORK/big/ours.txt" | tee "$WORK/faiss-big.txt"
rm -f "$WORK"/big/*.u8 "$WORK"/big/clustered/*.u8 "$WORK"/1m/*.u8 "$WORK"/1m/clustered/*.u8

log "end to end: a 10-minute delivery against the $BIG_N-segment bank"
DELIVERY="$WORK/delivery-10min.mp4"
if [ ! -s "$DELIVERY" ]; then
    ffmpeg -nostdin -v error -y -stream_loop 19 -i "$SHARED/media/video/bbb/bower_bbb_480p_30s.mp4" \
        -c copy -t 600 "$DELIVERY"
fi
timed() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
read -r hash_s hash_kb < <(timed "$CELPRINT" hash "$DELIVERY")
set +e
read -r scan_s scan_kb < <(timed "$CELPRINT" scan --db "$WORK/bank-big" "$DELIVERY")
set -e
echo "end-to-end delivery=600s hash_s=$hash_s hash_peak_mib=$((hash_kb / 1024)) scan_s=$scan_s scan_peak_mib=$((scan_kb / 1024)) bank_segments=$BIG_N" |
    tee "$WORK/end-to-end.txt"

echo
echo "## summary"
grep -hE 'multi r=31 p50|linear r=31|speedup|build_s|^bank|peak' "$WORK/scale-1m.txt" "$WORK/scale-big.txt"
grep -hE 'faiss (flat|multihash)|identical|differ' "$WORK"/faiss-*.txt
cat "$WORK/end-to-end.txt"
# Under `scripts/eval bench search`, the figure files go with the run's record.
if [ -n "${EVAL_RESULTS_DIR:-}" ]; then
    cp "$WORK"/scale-1m.txt "$WORK"/scale-big.txt "$WORK"/faiss-*.txt "$WORK"/end-to-end.txt "$EVAL_RESULTS_DIR/"
fi
