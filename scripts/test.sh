#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test, in the release profile (the
# same profile as the binary, so RocksDB is compiled once).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# Each step's time on stderr, so a slow CI run shows where its minutes went.
step() {
    local start=$SECONDS
    echo "== $*" >&2
    "$@"
    echo "== $((SECONDS - start)) s: $*" >&2
}

step cargo fmt --check
step cargo clippy --release --all-targets --locked -- -D warnings
step cargo test --release --locked

# The Slurm round trip: munged, slurmctld and slurmd started on 127.0.0.1 by the script,
# an index array over ../shared/media merged and compared with a one-machine bank
# (3.6 to 5.3 minutes on 2 busy cores).
step bash scripts/slurm-test.sh

# --- Fuzz smoke (docs/fuzzing.md) -------------------------------------------------------
# Each libFuzzer target for CELPRINT_FUZZ_SECONDS (default 15) from its seeds; 0 skips
# it. Runs after the tests, so the instrumented build finds every dependency already
# built in this build folder and compiles only celprint and the targets (about 5 min
# on two cores), never RocksDB.
if [ "${CELPRINT_FUZZ_SECONDS:-15}" != 0 ]; then
    step bash fuzz/run.sh smoke "${CELPRINT_FUZZ_SECONDS:-15}"
fi
