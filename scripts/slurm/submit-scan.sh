#!/usr/bin/env bash
# Scan a delivery against BANK over a Slurm cluster: an array of N slices, then the
# join (afterok) into REPORT_DIR/report.json and one run in the bank's audit trail.
# Prints the two job ids; the join job's exit status is the verdict.
#   scripts/slurm/submit-scan.sh N BANK REPORT_DIR INPUT...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 4 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
n="$1" bank="$2" report_dir="$3"; shift 3
mkdir -p "$report_dir"
export CELPRINT_SHARDS="$n" CELPRINT_BANK="$bank" CELPRINT_REPORT_DIR="$report_dir"
array="1-$n${CELPRINT_ARRAY_LIMIT:+%$CELPRINT_ARRAY_LIMIT}"
scan=$(sbatch --parsable --export=ALL --array="$array" \
  --output="$report_dir/scan-%a.log" "$here/scan-array.sbatch" "$@")
join=$(sbatch --parsable --export=ALL --dependency="afterok:${scan%%;*}" \
  --kill-on-invalid-dep=yes --output="$report_dir/join.log" "$here/scan-join.sbatch")
echo "$scan $join"
