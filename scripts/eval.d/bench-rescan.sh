#!/usr/bin/env bash
# bench-rescan.sh (`scripts/eval bench rescan`) — the nightly rerun: `celprint index` over 10,000 files, then the same
# command again with nothing changed, timed in one run. Target: the rerun takes under 5%
# of the first run (it must skip every file unread).
#
# The files are 10,000 distinct 160x120 PNG frames of FFmpeg's testsrc2 pattern (built
# once under $BENCH_WORK, outside git). Prints both times, the ratio and PASS/FAIL.
#
# Environment:
#   CARGO_TARGET_DIR   default /var/tmp/celprint-target
#   BENCH_WORK         default /var/tmp/celprint-bench-rescan
#   FILES              default 10000
set -euo pipefail

die() { echo "bench-rescan: error: $*" >&2; exit 1; }
log() { echo "bench-rescan: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-rescan}"
FILES="${FILES:-10000}"
CELPRINT="$CARGO_TARGET_DIR/release/celprint"

command -v ffmpeg >/dev/null || die "ffmpeg is needed (scripts/setup.sh installs it)"
(cd "$ROOT" && cargo build --release --quiet)

TREE="$WORK/tree"
if [ "$(find "$TREE" -name '*.png' 2>/dev/null | wc -l)" -ne "$FILES" ]; then
    log "making $FILES PNG files under $TREE"
    rm -rf "$TREE"
    mkdir -p "$TREE"
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=160x120:rate=25" -frames:v "$FILES" \
        "$TREE/f%05d.png"
fi
rm -rf "$WORK/bank"

seconds() { /usr/bin/time -f '%e' "$@" 2>&1 >/dev/null | tail -1; }
# The files are numbered f00001.png …: --no-sequences keeps them 10,000 stills, the
# archive this benchmark is about, rather than one image sequence.
log "first run"
first="$(seconds "$CELPRINT" index --no-sequences --db "$WORK/bank" "$TREE")"
log "rerun, nothing changed"
rerun_out="$("$CELPRINT" index --no-sequences --db "$WORK/bank" "$TREE" 2>/dev/null)"
rerun="$(seconds "$CELPRINT" index --no-sequences --db "$WORK/bank" "$TREE")"
echo "$rerun_out"
ratio="$(awk -v a="$rerun" -v b="$first" 'BEGIN { printf "%.4f", a / b }')"
echo "files=$FILES first_s=$first rerun_s=$rerun rerun/first=$ratio"
if awk -v r="$ratio" 'BEGIN { exit !(r < 0.05) }'; then
    echo "PASS: the no-change rerun takes under 5% of the first run"
else
    echo "FAIL: the no-change rerun takes $ratio of the first run (target < 0.05)"
fi
