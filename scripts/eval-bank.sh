# Sourced by measure-extend.sh and measure-sampling.sh: the shared set-up of both
# evaluations. Sets $bin, $v (the shared video folder) and $work (removed on exit),
# banks Big Buck Bunny 0-30 s and Popeye T00/T01 (pgs master) in "$work/bank", and
# defines $positives: the other encodes of that footage (about 160 s of truth).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
bin="${CELPRINT_BIN:-$CARGO_TARGET_DIR/release/celprint}"
[ -x "$bin" ] || cargo build --release --locked
shared="${CELPRINT_SHARED:-../shared}"
v="$shared/media/video"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$bin" index --db "$work/bank" "$v/bbb/bower_bbb_480p_30s.mp4" \
  "$v/popeye/showorder_pgs_Title_T00-1.mkv" "$v/popeye/showorder_pgs_Title_T01-2.mkv" >/dev/null
positives=("$v/bbb/moviepy_big_buck_bunny_0_30.webm" "$v/bbb/smelter_big_buck_bunny_10s.mp4"
           "$v/popeye/showorder_vob_Title_T00-1.mkv" "$v/popeye/showorder_vob_Title_T01-2.mkv")
