#!/usr/bin/env bash
# bench-sequence.sh — an image sequence hashed by celprint against its frames decoded
# alone, in one run. Target (issue 18): the sequence is hashed at >= 0.8x the speed of
# decoding its frames, i.e. ratio = decode seconds / hash seconds >= 0.8.
#
# Worker for `scripts/eval` (the one entry point); runs on its own too.
#
# The frames are the first FRAMES of Big Buck Bunny (../shared, 854x480) at 24 a second,
# written once as PNG (FORMAT=png) or JPEG (FORMAT=jpg) under $BENCH_WORK. Each timing is
# the best of RUNS, after one untimed run that warms the page cache:
#   decode: ffmpeg -threads <cores> -i frame.%04d.<ext> -f null -   (every frame decoded,
#           frame-threaded, nothing else)
#   hash:   celprint hash <folder>   (every frame read, digested, decoded, PDQ-hashed and
#           segmented as one sequence)
# Prints both times, the ratio and PASS/FAIL.
#
# Environment:
#   CARGO_TARGET_DIR   default /var/tmp/celprint-target
#   BENCH_WORK         default /var/tmp/celprint-bench-sequence
#   SHARED             default <repo>/../shared
#   FRAMES             default 240 (10 s)
#   FORMAT             png or jpg, default png
#   RUNS               default 3
set -euo pipefail

die() { echo "bench-sequence: error: $*" >&2; exit 1; }
log() { echo "bench-sequence: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-sequence}"
SHARED="${SHARED:-$ROOT/../shared}"
FRAMES="${FRAMES:-240}"
FORMAT="${FORMAT:-png}"
RUNS="${RUNS:-3}"
CELPRINT="$CARGO_TARGET_DIR/release/celprint"
FILM="$SHARED/media/video/bbb/bower_bbb_480p_30s.mp4"

command -v ffmpeg >/dev/null || die "ffmpeg is needed (scripts/setup.sh installs it)"
[ -f "$FILM" ] || die "no $FILM (../shared)"
case "$FORMAT" in png|jpg) ;; *) die "FORMAT must be png or jpg" ;; esac
(cd "$ROOT" && cargo build --release --quiet)

SEQ="$WORK/$FORMAT-$FRAMES"
if [ "$(find "$SEQ" -name "frame.*.$FORMAT" 2>/dev/null | wc -l)" -ne "$FRAMES" ]; then
    log "writing $FRAMES $FORMAT frames under $SEQ"
    rm -rf "$SEQ"
    mkdir -p "$SEQ"
    ffmpeg -nostdin -v error -i "$FILM" -vf fps=24 -q:v 2 -frames:v "$FRAMES" \
        "$SEQ/frame.%04d.$FORMAT"
fi

cores="$(nproc)"
decode() { ffmpeg -nostdin -v error -threads "$cores" -i "$SEQ/frame.%04d.$FORMAT" -f null -; }
hash() { "$CELPRINT" hash "$SEQ" >/dev/null; }
best() {
    local b="" t
    "$@" >/dev/null 2>&1  # warms the page cache
    for _ in $(seq "$RUNS"); do
        t="$( { TIMEFORMAT=%R; time "$@" >/dev/null 2>&1; } 2>&1 )"
        if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b="$t"; fi
    done
    echo "$b"
}

lines="$("$CELPRINT" hash "$SEQ" | wc -l)"
log "$FRAMES frames ($FORMAT, 854x480) on $cores cores; celprint gives $lines segments"
d="$(best decode)"
h="$(best hash)"
ratio="$(awk -v d="$d" -v h="$h" 'BEGIN { printf "%.2f", (h > 0 ? d / h : 0) }')"
verdict="$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8 ? "PASS" : "FAIL") }')"
echo "decode ${d}s  hash ${h}s  ratio ${ratio} (target >= 0.8)  $verdict"
