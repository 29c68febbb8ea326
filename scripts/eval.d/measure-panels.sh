#!/usr/bin/env bash
# measure-panels.sh — storyboard panel segmentation on the shared pages (media/storyboards):
# the 11 PNG pages, the 11 pages rasterised from the PDFs (pdftoppm -r 150) and ten
# scanned-like copies of the PNG pages made with ImageMagick (rotation ±1.5° and ±2°,
# scale 0.8 and 1.25, paper tint, JPEG quality 60, greyscale, and all of them at once).
#
# The measurement is the integration test tests/it/panels.rs (which also fails the build
# under 98 % recall or on any extra non-blank panel); this runs it and prints one line per
# variant: panels, found at IoU >= 0.8, recall, extra (non-blank panels that are no
# layout.json panel: text boxes, headers, parts of a picture) and milliseconds per page
# spent in find_panels, wall clock and this thread's CPU time (the page decode is not
# counted; on a loaded machine the CPU time is the one to compare).
#
# Needs: a release build (CARGO_TARGET_DIR as usual), ../shared, convert, pdftoppm.
set -euo pipefail
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --test it -- panels::storyboard_pages_and_scanned_copies --nocapture \
    >"$log" 2>&1 || status=$?
printf '%-12s %6s %6s %7s %6s %8s %8s\n' variant panels found recall extra ms/page cpu_ms
grep '^panels-eval ' "$log" | sed 's/^panels-eval //' | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%-12s %6s %6s %7s %6s %8s %8s\n", v["variant"], v["panels"], v["found"], v["recall"], v["extra"], v["ms_per_page"], v["cpu_ms_per_page"]
}'
if [ "$status" -ne 0 ]; then
    echo "panels: the test failed (misses and extras below)" >&2
    grep '^  ' "$log" >&2 || tail -30 "$log" >&2
fi
exit "$status"
