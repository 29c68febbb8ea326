#!/bin/sh
# RUSTC_WRAPPER for the fuzz build: adds libFuzzer's coverage instrumentation (the flags
# cargo-fuzz passes, all stable `-C` options) to celprint and the fuzz targets only.
# Every other crate is compiled exactly as the main release build compiles it, so cargo
# finds its artifacts fresh in the shared build folder and never recompiles RocksDB.
# (RUSTFLAGS would change every crate's fingerprint; per-package profile rustflags need
# RUSTC_BOOTSTRAP=1, which makes proc-macro2's build script rerun and so rebuilds
# bindgen and RocksDB.) Instrumented celprint does not overwrite the plain one: the fuzz
# workspace's profile turns on its debug assertions, which gives it its own artifact.
rustc="$1"
shift
instrument=no
prev=
for a in "$@"; do
    case "$prev:$a" in
        --crate-name:celprint) instrument=yes ;;
    esac
    case "$a" in
        */fuzz/fuzz_targets/*.rs) instrument=yes ;;
    esac
    prev="$a"
done
if [ "$instrument" = yes ]; then
    exec "$rustc" "$@" \
        -Cpasses=sancov-module \
        -Cllvm-args=-sanitizer-coverage-level=4 \
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
        -Cllvm-args=-sanitizer-coverage-pc-table \
        -Cllvm-args=-sanitizer-coverage-trace-compares \
        -Cllvm-args=-sanitizer-coverage-stack-depth
fi
exec "$rustc" "$@"
