# shellcheck shell=bash
# Sourced by the workers of `scripts/eval measure` and `bench cores` (eval-bank.sh, measure-crop.sh, measure-faint.sh,
# measure-stills.sh): strict mode, the repository root as the working directory, $bin
# (built if missing), $v (the shared video folder), $work (a temporary folder removed on
# exit) and ff (ffmpeg, quiet, overwriting).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
bin="${CELPRINT_BIN:-$CARGO_TARGET_DIR/release/celprint}"
[ -x "$bin" ] || cargo build --release --locked
shared="${CELPRINT_SHARED:-../shared}"
# shellcheck disable=SC2034 # used by the scripts that source this one
v="$shared/media/video"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ff() { ffmpeg -nostdin -v error -y "$@"; }
