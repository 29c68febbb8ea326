#!/usr/bin/env bash
# The demo: builds celprint, banks the stills and the clip in data/demo/bank and the
# storyboard pages in data/demo/storyboards/bank as leaked material, scans the mock
# deliveries (data/demo/delivery, data/demo/storyboards/delivery), and writes the JSON,
# CSV and HTML reports.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release --locked
bin="$CARGO_TARGET_DIR/release/celprint"
out="${CELPRINT_DEMO_OUT:-/var/tmp/celprint-demo}"
rm -rf "$out"
mkdir -p "$out"

"$bin" index --db "$out/bank" --label leaked --source "demo leak" --note "INC-0001" \
  data/demo/bank data/demo/storyboards/bank
set +e
"$bin" scan --db "$out/bank" --json "$out/report.json" --csv "$out/report.csv" \
  --html "$out/report.html" data/demo/delivery data/demo/storyboards/delivery > "$out/summary.txt"
status=$?
set -e
cat "$out/summary.txt"
echo
echo "reports: $out/report.json  $out/report.csv  $out/report.html (open it in a browser)"
echo "to review the matches in a browser: \"$bin\" token add --db \"$out/bank\" --name me --role reviewer,"
echo "  then \"$bin\" serve --db \"$out/bank\" and open http://127.0.0.1:8470/review: this scan is in"
echo "  its queue, and the page scans more deliveries (docs/serve.md)"
case $status in
  0) echo "exit 0: the delivery is clean" ;;
  1) echo "exit 1: the delivery matches banked material (expected for the demo: see data/demo/TRUTH.md and data/demo/storyboards/README.md)" ;;
  *) echo "exit $status: errors; the delivery was not fully checked" >&2; exit "$status" ;;
esac
