# shellcheck shell=bash
# Sourced by measure-extend.sh and measure-sampling.sh: the shared set-up of both
# evaluations. Sources measure-env.sh ($bin, $v, $work removed on exit),
# banks Big Buck Bunny 0-30 s and Popeye T00/T01 (pgs master) in "$work/bank", and
# defines $positives: the other encodes of that footage (about 160 s of truth).
source "$(dirname "${BASH_SOURCE[0]}")/measure-env.sh"

"$bin" index --db "$work/bank" "$v/bbb/bower_bbb_480p_30s.mp4" \
  "$v/popeye/showorder_pgs_Title_T00-1.mkv" "$v/popeye/showorder_pgs_Title_T01-2.mkv" >/dev/null
# shellcheck disable=SC2034 # used by the scripts that source this one
positives=("$v/bbb/moviepy_big_buck_bunny_0_30.webm" "$v/bbb/smelter_big_buck_bunny_10s.mp4"
           "$v/popeye/showorder_vob_Title_T00-1.mkv" "$v/popeye/showorder_vob_Title_T01-2.mkv")
