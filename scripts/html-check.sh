#!/usr/bin/env bash
# Renders the demo's HTML review report in a real browser (headless Chromium from Debian)
# and writes a screenshot to look at. It fails if Chromium cannot render the page, if the
# page asks for anything outside itself, or if a picture did not decode.
#
#   scripts/html-check.sh [REPORT.html]   (default: runs scripts/demo.sh first)
#
# Output: $CELPRINT_DEMO_OUT/report.png (default /var/tmp/celprint-demo/report.png).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${CELPRINT_DEMO_OUT:-/var/tmp/celprint-demo}"
report="${1:-}"
if [ -z "$report" ]; then
  bash scripts/demo.sh >&2 || [ $? -eq 1 ]   # exit 1 = matches, as the demo expects
  report="$out/report.html"
fi
[ -s "$report" ] || { echo "no report at $report" >&2; exit 2; }

browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "installing chromium (apt)" >&2
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2
  browser="$(command -v chromium)"
fi

shot="${report%.html}.png"
dom="${report%.html}.dom.html"
abs="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$(mktemp -d)")
# No network: a self-contained page needs none, and anything it tried to fetch fails.
flags+=(--host-resolver-rules="MAP * ~NOTFOUND")
timeout 120 "$browser" "${flags[@]}" --window-size=1200,2400 --screenshot="$shot" "file://$abs" 2>/dev/null
timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$abs" > "$dom" 2>/dev/null

# Every picture must have decoded: ask the browser, not the file.
probe="$(mktemp --suffix=.html)"
trap 'rm -f "$probe"' EXIT
{
  cat "$abs"
  echo '<script>window.onload=function(){var imgs=[].slice.call(document.images);'
  echo 'var bad=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)}).length;'
  echo 'document.title="images="+imgs.length+" broken="+bad;}</script>'
} > "$probe"
title="$(timeout 120 "$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$probe" 2>/dev/null \
  | grep -o '<title>[^<]*</title>' | head -1)"
echo "rendered: $title" >&2
case "$title" in
  *"broken=0"*) ;;
  *) echo "FAIL: pictures did not decode in the browser ($title)" >&2; exit 1 ;;
esac
[ -s "$shot" ] || { echo "FAIL: no screenshot" >&2; exit 1; }
grep -q '<article class="match">' "$dom" || { echo "FAIL: no match rendered" >&2; exit 1; }
echo "screenshot: $shot"
