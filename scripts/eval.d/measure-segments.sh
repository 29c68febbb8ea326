#!/usr/bin/env bash
# measure-segments.sh (`scripts/eval measure segments`) — how much celprint's segment collapsing shrinks video hash lists.
#
# For every video under $CELPRINT_SHARED/media/video (recursively; or under the
# directories/files given as arguments), prints one markdown row with:
#   duration   ffprobe's container duration, seconds
#   frames/min lines of `celprint hash --format vpdq FILE` (one per decoded frame) per minute
#   segs/min   lines of `celprint hash FILE` (one per segment) per minute
#   frames/seg frames / segments
#   under 50   share of segments with quality < 50 (faint and gap segments; see
#              README "Segments")
# and a total row (sums of durations, frames and segments; rates over the total).
# Videos are files with a common video extension (mp4 m4v mov mkv webm avi mpg
# mpeg ts m2ts wmv flv ogv 3gp); stills such as posters are skipped.
#
# Environment:
#   CARGO_TARGET_DIR  cargo target dir  (default /var/tmp/celprint-target)
#   CELPRINT_BIN      celprint binary   (default $CARGO_TARGET_DIR/release/celprint,
#                     built with `cargo build --release` when missing)
#   CELPRINT_SHARED   shared data dir   (default $ROOT/../shared)
#   HASH_FLAGS        extra flags for both celprint runs, e.g. "--exact" (default none)
#   JOBS              celprint --jobs   (default 1; one file decodes on one thread anyway)
set -euo pipefail

die() { echo "segments-report: error: $*" >&2; exit 1; }
log() { echo "segments-report: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
CELPRINT="${CELPRINT_BIN:-$CARGO_TARGET_DIR/release/celprint}"
SHARED="${CELPRINT_SHARED:-$ROOT/../shared}"
JOBS="${JOBS:-1}"
read -r -a HASH_FLAGS <<<"${HASH_FLAGS:-}"
GAP_QUALITY=50

command -v ffprobe >/dev/null 2>&1 || die "'ffprobe' not found (apt-get install -y ffmpeg)"
if [ -n "${CELPRINT_BIN:-}" ]; then
    [ -x "$CELPRINT" ] || die "CELPRINT_BIN=$CELPRINT is not an executable"
elif [ ! -x "$CELPRINT" ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found; cannot build $CELPRINT"
    log "building celprint: (cd $ROOT && cargo build --release)"
    (cd "$ROOT" && cargo build --release >&2) || die "'cargo build --release' failed in $ROOT"
    [ -x "$CELPRINT" ] || die "cargo build succeeded but $CELPRINT does not exist"
fi

if [ "$#" -gt 0 ]; then
    TOPS=("$@")
else
    TOPS=("$SHARED/media/video")
fi
BASE=""
[ "${#TOPS[@]}" -eq 1 ] && [ -d "${TOPS[0]}" ] && BASE="${TOPS[0]%/}/"
mapfile -t VIDEOS < <(find -L "${TOPS[@]}" -type f \( -iname '*.mp4' -o -iname '*.m4v' -o -iname '*.mov' \
    -o -iname '*.mkv' -o -iname '*.webm' -o -iname '*.avi' -o -iname '*.mpg' -o -iname '*.mpeg' \
    -o -iname '*.ts' -o -iname '*.m2ts' -o -iname '*.wmv' -o -iname '*.flv' -o -iname '*.ogv' \
    -o -iname '*.3gp' \) | LC_ALL=C sort)
[ "${#VIDEOS[@]}" -gt 0 ] || die "no videos under ${TOPS[*]} (set CELPRINT_SHARED or pass a directory)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
CEL=("$CELPRINT" hash --jobs "$JOBS" ${HASH_FLAGS[@]+"${HASH_FLAGS[@]}"})

echo "| video | duration s | frames | frames/min | segments | segments/min | frames/segment | segments under quality $GAP_QUALITY |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
# row NAME DURATION FRAMES SEGMENTS GAPS
row() {
    awk -v n="$1" -v d="$2" -v f="$3" -v s="$4" -v g="$5" 'BEGIN {
        m = d / 60
        printf "| %s | %.1f | %d | %s | %d | %s | %s | %s |\n", n, d, f,
            (m > 0 ? sprintf("%.0f", f / m) : "n/a"), s,
            (m > 0 ? sprintf("%.1f", s / m) : "n/a"),
            (s > 0 ? sprintf("%.1f", f / s) : "n/a"),
            (s > 0 ? sprintf("%.1f%%", 100 * g / s) : "n/a")
    }'
}

tot_d=0; tot_f=0; tot_s=0; tot_g=0
for v in "${VIDEOS[@]}"; do
    name="${v#"$BASE"}"
    log "$name"
    dur="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$v" | head -1)"
    [[ "$dur" =~ ^[0-9.]+$ ]] || die "ffprobe gives no duration for $v ('$dur')"
    "${CEL[@]}" --format vpdq "$v" >"$TMP/frames" || die "celprint hash --format vpdq failed on $v"
    "${CEL[@]}" "$v" >"$TMP/segments" || die "celprint hash failed on $v"
    frames="$(wc -l <"$TMP/frames" | tr -d ' ')"
    segs="$(wc -l <"$TMP/segments" | tr -d ' ')"
    # hash,quality,path#t=START,END: quality is the second field (paths may hold commas).
    gaps="$(awk -F, -v q="$GAP_QUALITY" 'NF >= 3 && $2 + 0 < q { n++ } END { print n + 0 }' "$TMP/segments")"
    row "$name" "$dur" "$frames" "$segs" "$gaps"
    tot_d="$(awk -v a="$tot_d" -v b="$dur" 'BEGIN { printf "%.6f", a + b }')"
    tot_f=$((tot_f + frames)); tot_s=$((tot_s + segs)); tot_g=$((tot_g + gaps))
done
row "**total (${#VIDEOS[@]} videos)**" "$tot_d" "$tot_f" "$tot_s" "$tot_g"
