#!/usr/bin/env bash
# Builds and runs the libFuzzer targets on the stable toolchain (docs/fuzzing.md).
#   fuzz/run.sh build              build every target, instrumented
#   fuzz/run.sh smoke [SECONDS]    run each target SECONDS (default 20) from its seeds
#   fuzz/run.sh long TARGET SECONDS [libFuzzer options]
#                                  one long run; new inputs are kept in corpus/TARGET
# Seeds come from fuzz/seed.sh (fuzz/seeds/, only read), run first when missing. Crashes go to
# fuzz/artifacts/TARGET/. The build shares $CARGO_TARGET_DIR with the main release build
# and reuses its dependencies as they are (see rustc-wrapper.sh).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
export RUSTC_WRAPPER="$PWD/rustc-wrapper.sh"
TARGETS=(archive hash_lists bank_records saved_index still jpeg_turbo psd exr pdf_info
    sequence_names panels claims)

max_len() {
    case "$1" in
        still | jpeg_turbo | psd | exr | archive) echo 262144 ;;
        claims) echo 65536 ;;
        panels) echo 65536 ;;
        *) echo 8192 ;;
    esac
}

# run_one TARGET SECONDS ARTIFACTS CORPUS... [-- libFuzzer options]
run_one() {
    local target=$1 seconds=$2 artifacts=$3
    shift 3
    mkdir -p "$artifacts"
    # -rss_limit_mb: a decode that keeps growing is a finding too; there is no leak
    # sanitizer on stable, so this is the check for memory that is never freed.
    TMPDIR="$scratch" "$CARGO_TARGET_DIR/release/$target" "$@" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/"
}

build() {
    # -v shows each crate Fresh or Compiling: librocksdb-sys must be Fresh.
    cargo build --release --locked --bins -v 2>&1 | grep -E '^ *(Compiling|Fresh librocksdb|Finished|error|warning)' || true
    cargo build --release --locked --bins
}

[ -d seeds ] || bash seed.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
case "${1:-}" in
    build) build ;;
    smoke)
        build
        seconds=${2:-20}
        for t in "${TARGETS[@]}"; do
            echo "== $t ($seconds s)"
            # New inputs and crashes go to a throwaway folder, so that an old long
            # run's finding does not fail this.
            mkdir -p "$scratch/new-$t"
            status=0
            run_one "$t" "$seconds" "$scratch/crash-$t" "$scratch/new-$t" "seeds/$t" \
                >"$scratch/log-$t" 2>&1 || status=$?
            grep -E '^#[0-9]+ +DONE|^stat::number_of_executed_units' "$scratch/log-$t" || true
            if [ "$status" -ne 0 ]; then
                tail -n 40 "$scratch/log-$t" >&2
                mkdir -p "artifacts/$t" && cp "$scratch/crash-$t"/* "artifacts/$t/" 2>/dev/null || true
                echo "fuzz target $t failed: its input is in fuzz/artifacts/$t/" >&2
                exit 1
            fi
        done
        ;;
    long)
        target=$2 seconds=$3
        shift 3
        mkdir -p "corpus/$target"
        run_one "$target" "$seconds" "artifacts/$target" "corpus/$target" "seeds/$target" "$@"
        ;;
    *)
        sed -n '2,9p' "$0"
        exit 2
        ;;
esac
