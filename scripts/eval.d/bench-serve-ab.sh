#!/usr/bin/env bash
# bench-serve-ab.sh (`scripts/eval bench serve-ab`) — two celprint builds serving the same
# bank, alternately, for A/B figures on a shared, noisy machine (docs/serve.md, "Speed").
#
# Needs the bank and the lookup paths `scripts/eval bench serve` leaves under
# $BENCH_WORK. Each build gets its own copy of the bank (a build saves the index file of
# its own format and layout; the copies are kept under $BENCH_WORK/ab-*, and an index
# run over nothing saves a file the build can map). Then ROUNDS rounds (default 5),
# each build in turn: the index file dropped from the page cache, the service started,
# 50 clients (CLIENTS) for 3 s of warm-up, then a closed loop for AB_SECONDS (default 20),
# or an open loop at RATE lookups a second where RATE is set. One line a run: the load
# client's figures (lookups a second, p50, p99, errors) and the service's CPU a
# request, from its process times over the timed loop.
#
# To compare two load clients against one service instead, give both sides the same
# celprint (BASELINE_BIN = CANDIDATE_BIN) and the baseline's client in BASELINE_LOAD.
#
# Environment: BASELINE_BIN (required: the other build's celprint binary),
# CANDIDATE_BIN (default: this tree's release build), BASELINE_LOAD (default: this
# tree's serve_load for both), RATE, CARGO_TARGET_DIR (default /var/tmp/celprint-target),
# BENCH_WORK (default /var/tmp/celprint-bench-serve), CLIENTS, AB_SECONDS, ROUNDS.
set -euo pipefail

die() { echo "bench-serve-ab: error: $*" >&2; exit 1; }
log() { echo "bench-serve-ab: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/serve-env.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-serve}"
CLIENTS="${CLIENTS:-50}"
SECONDS_EACH="${AB_SECONDS:-20}"
ROUNDS="${ROUNDS:-5}"
[ -n "${BASELINE_BIN:-}" ] || die "set BASELINE_BIN to the other build's celprint"
[ -x "$BASELINE_BIN" ] || die "$BASELINE_BIN is not executable"
[ -d "$WORK/bank" ] && [ -f "$WORK/lookups.paths" ] ||
    die "no bench bank under $WORK: run scripts/eval bench serve first"
cd "$ROOT"
log "building (release)"
cargo build --release --quiet
cargo bench --quiet --bench serve_load --no-run 2>/dev/null
CANDIDATE_BIN="${CANDIDATE_BIN:-$CARGO_TARGET_DIR/release/celprint}"
# Copied, so that a rebuild of this tree during the run changes nothing.
BINS="$WORK/ab-bin"
mkdir -p "$BINS" "$WORK/nothing"
cp "$BASELINE_BIN" "$BINS/baseline"
cp "$CANDIDATE_BIN" "$BINS/candidate"
cp "$(ls -t "$CARGO_TARGET_DIR"/release/deps/serve_load-* | grep -v '\.d$' | head -1)" \
    "$BINS/load-candidate"
cp "${BASELINE_LOAD:-$BINS/load-candidate}" "$BINS/load-baseline"

for name in baseline candidate; do
    bank="$WORK/ab-$name"
    rm -rf "$bank"
    cp -a "$WORK/bank" "$bank"
    rm -rf "$bank/uploads" "$bank/proxies"
    if ! "$BINS/$name" info --db "$bank" | grep -q 'mapped from the index file'; then
        "$BINS/$name" index --db "$bank" "$WORK/nothing" >/dev/null 2>&1 ||
            die "$name: index over nothing failed"
    fi
    log "$name: $("$BINS/$name" info --db "$bank" | grep 'search index')"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
    for name in baseline candidate; do
        bank="$WORK/ab-$name"
        token="$("$BINS/$name" token add --db "$bank" --name "ab-$(date +%s%N)" --role scanner 2>/dev/null)"
        start_serve "$BINS/$name" "$bank" "$WORK/ab"
        serve=$SERVE
        addr=$ADDR
        run() { ADDR="$addr" TOKEN="$token" PATHS="$WORK/lookups.paths" CLIENTS="$CLIENTS" \
            RUN_SECONDS="$1" RATE="${2:-}" LABEL="$name round=$r" "$BINS/load-$name" --bench; }
        run 3 >/dev/null
        t0=$(ticks $serve)
        line="$(run "$SECONDS_EACH" "${RATE:-}")"
        t1=$(ticks $serve)
        kill -TERM $serve
        wait $serve || true
        requests=$(echo "$line" | sed -n 's/.* requests=\([0-9]*\).*/\1/p')
        echo "$line serve_cpu_us_per_request=$(( (t1 - t0) * 1000000 / hz / requests ))"
    done
done
