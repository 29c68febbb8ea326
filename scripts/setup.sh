#!/usr/bin/env bash
# Installs what celprint needs to build and test on Debian 12, if it is missing:
# clang (bindgen, for RocksDB's bindings), pkg-config, the FFmpeg development libraries and
# the ffmpeg command and ImageMagick (tests use them to make fixtures), poppler-utils (PDF
# input, at run time) and qpdf (a test file), and rustfmt/clippy.
# Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail

packages=(build-essential clang libclang-dev pkg-config ffmpeg libturbojpeg0-dev
          libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
          libavfilter-dev libavdevice-dev libswresample-dev
          bsdutils          # script(1): the progress-bar test runs the job on a terminal
          imagemagick       # convert: the CMYK JPEG, multi-page TIFF and GIF test files
          poppler-utils     # pdfinfo, pdftoppm, pdftohtml: PDF pages rendered at run time
          qpdf              # the encrypted PDF test file
          fonts-dejavu-core   # drawtext: the burned-in text and timecode tests
          slurm-wlm munge     # scripts/slurm-test.sh: the Slurm round trip on this machine
          gnuplot-nox         # scripts/eval bench scale: the plot of the bank at scale
          chromium chromium-driver)  # the review page's browser test (tests/it/serve)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "celprint setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null; then
  echo "celprint setup: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
  exit 2
fi
if command -v rustup >/dev/null; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" >&2
  done
fi

# Dependencies (RocksDB's C++ above all, ~20 minutes on 2 cores) are built once per
# machine in a folder outside the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
