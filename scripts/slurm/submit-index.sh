#!/usr/bin/env bash
# Index INPUTS into BANK over a Slurm cluster: an array of N shard tasks, then a merge
# that waits for all of them (afterok). Prints the two job ids.
#   scripts/slurm/submit-index.sh N BANK SHARD_DIR INPUT... [-- sbatch options]
# Paths must be absolute and on storage every node sees. Set CELPRINT to the binary's
# path if it is not on the nodes' PATH; SBATCH_* variables and --array limits such as
# CELPRINT_ARRAY_LIMIT=2 (at most 2 tasks at once) pass through.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 4 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
n="$1" bank="$2" shard_dir="$3"; shift 3
mkdir -p "$shard_dir"
export CELPRINT_SHARDS="$n" CELPRINT_BANK="$bank" CELPRINT_SHARD_DIR="$shard_dir"
array="1-$n${CELPRINT_ARRAY_LIMIT:+%$CELPRINT_ARRAY_LIMIT}"
index=$(sbatch --parsable --export=ALL --array="$array" \
  --output="$shard_dir/index-%a.log" "$here/index-array.sbatch" "$@")
merge=$(sbatch --parsable --export=ALL --dependency="afterok:${index%%;*}" \
  --kill-on-invalid-dep=yes --output="$shard_dir/merge.log" "$here/index-merge.sbatch")
echo "$index $merge"
