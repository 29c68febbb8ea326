#!/usr/bin/env bash
# bench-cores.sh (`scripts/eval bench cores`) — one long file on several cores: `celprint hash --jobs N` against
# `--jobs 1` on the same file.
#
# Usage: scripts/eval bench cores [FILE]
#   FILE defaults to Popeye pgs T00 (60 s, 1440x1074 HEVC) in ../shared/media/video.
#
# Runs $PAIRS alternating pairs (default 8) of `hash --jobs 1` and `hash --jobs $THREADS`
# (default 2). The machine is shared and its speed drifts from minute to minute, so each
# pair is timed back to back and the figure is the median of the pairs' ratios, wall
# seconds of --jobs 1 over wall seconds of --jobs N. Also prints the CPU seconds each
# side used (what cutting the file costs in extra work), the load average, and checks
# that every run printed exactly the segments of the first --jobs 1 run.
# With BASELINE_BIN set (another celprint build), each round also times that build at
# --jobs N, for a before/after comparison in the same run.
# Last line: PASS when the median speed-up is at least $TARGET (default 1.7, the target
# for two cores), else FAIL. Exits non-zero only when something broke.
#
# Environment: THREADS, PAIRS, TARGET, BASELINE_BIN, CELPRINT_BIN, CELPRINT_SHARED.
source "$(dirname "${BASH_SOURCE[0]}")/measure-env.sh"

threads="${THREADS:-2}"
pairs="${PAIRS:-8}"
target="${TARGET:-1.7}"
file="${1:-$v/popeye/showorder_pgs_Title_T00-1.mkv}"
[ -f "$file" ] || { echo "bench-cores: no such file: $file" >&2; exit 1; }
baseline="${BASELINE_BIN:-}"
cat "$file" >/dev/null

# run NAME BIN JOBS: times one run; prints "wall cpu" and checks its output.
run() {
    local name=$1 bin=$2 jobs=$3
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$bin" hash --jobs "$jobs" "$file" >"$work/$name.out"
    if [ -f "$work/reference.out" ]; then
        cmp -s "$work/reference.out" "$work/$name.out" ||
            { echo "bench-cores: $name printed other segments than --jobs 1" >&2; exit 1; }
    else
        cp "$work/$name.out" "$work/reference.out"
    fi
    awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$work/time"
}

echo "file: $file"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| pair | --jobs 1 wall (cpu) | --jobs %s wall (cpu) | speed-up |%s\n' "$threads" \
    "${baseline:+ baseline --jobs $threads wall (cpu) |}"
printf '|---|---|---|---|%s\n' "${baseline:+---|}"
ratios=()
for i in $(seq 1 "$pairs"); do
    read -r w1 c1 < <(run one "$bin" 1)
    read -r wn cn < <(run many "$bin" "$threads")
    extra=""
    if [ -n "$baseline" ]; then
        read -r wb cb < <(run baseline "$baseline" "$threads")
        extra=" $wb ($cb) |"
    fi
    r=$(awk -v a="$w1" -v b="$wn" 'BEGIN { printf "%.2f", a / b }')
    ratios+=("$r")
    echo "| $i | $w1 ($c1) | $wn ($cn) | $r |$extra"
done
echo "segments printed: $(wc -l <"$work/reference.out"), the same in every run"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
median=$(printf '%s\n' "${ratios[@]}" | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
verdict=$(awk -v m="$median" -v t="$target" 'BEGIN { print (m >= t) ? "PASS" : "FAIL" }')
echo "$verdict: median speed-up $median with --jobs $threads over --jobs 1 ($pairs pairs; target $target)"
