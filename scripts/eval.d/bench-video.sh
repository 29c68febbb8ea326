#!/usr/bin/env bash
# bench-video.sh (`scripts/eval bench video`) — video hashing speed: celprint vs bare FFmpeg decode vs Meta's vPDQ.
#
# For each video (default: bbb/bower_bbb_480p_30s.mp4 and
# popeye/showorder_pgs_Title_T00-1.mkv under $CELPRINT_SHARED/media/video, or the
# files given as arguments), with the same thread count everywhere ($THREADS, 1 by
# default), times once, after one warm-up of the page cache (cat FILE >/dev/null):
#   - bare decode:  ffmpeg -threads T -i FILE -an -sn -dn -f null -
#                   and the same with -skip_frame nokey (the baseline for --keyframes)
#   - celprint hash --jobs T            (default mode: reduced frames)
#   - celprint hash --jobs T --exact    (native resolution, like vPDQ)
#   - celprint hash --jobs T --keyframes
#   - celprint hash --jobs T --fps 2
#   - celprint hash --jobs T --format vpdq  (per-frame output, like vPDQ's)
#   - vPDQ (PyPI `vpdq`, Meta's C++ behind Cython): computeHash(every frame,
#     native resolution, thread_count=T), timed in-process around that call only.
# Then $PAIRS (default 3) alternating pairs of bare decode and celprint default, by CPU
# seconds: the machine's speed drifts between steps a minute apart, pairs taken back to
# back do not.
# Prints a markdown table per file (wall and CPU seconds, frames hashed, segments
# printed, decode_time/step_time, vpdq_time/step_time), the paired ratios, the load
# average, and a PASS/FAIL line per target:
#   - default mode: median paired decode_cpu / celprint_cpu >= 0.8 on every file
#   - default mode: vpdq_time / celprint_time   >= 4   on every file
# Exits 0 whether the targets pass or fail; non-zero only when something broke.
#
# Notes:
#   - The decode baseline drops audio/subtitles (-an -sn -dn): celprint decodes
#     only the video stream, and `ffmpeg -i FILE -f null -` would also decode
#     (and re-encode to PCM) the audio.
#   - `-threads T` sits before -i, so it sets the decoder's threads.
#   - vPDQ opens its decoder with thread_count=0 and slice threading only (its
#     ffmpegwrapper.cpp; the Python API does not expose it): streams without
#     slices decode on one thread. thread_count=T is its number of hashing
#     threads (1 = hash inline on the decoding thread). The cpu s column shows
#     what each step really used.
#   - celprint times are wall times of the whole process (start-up included).
#   - Frames for --exact are those of the --format vpdq run (the same frames,
#     hashed at native resolution); frames for --keyframes and --fps 2 come from
#     extra, untimed --format vpdq runs with the same flags.
#
# Environment:
#   THREADS            threads for every step   (default 1)
#   PAIRS              paired decode/default runs (default 3)
#   CARGO_TARGET_DIR   cargo target dir         (default /var/tmp/celprint-target)
#   CELPRINT_BIN       celprint binary to time  (default $CARGO_TARGET_DIR/release/celprint,
#                      built with `cargo build --release` when missing)
#   CELPRINT_VENV      Python venv for vpdq     (default /var/tmp/celprint-venv; created
#                      if missing, `pip install $VPDQ_SPEC` if vpdq is missing)
#   VPDQ_SPEC          pip requirement for vPDQ (default vpdq==0.2.5, the API used here)
#   CELPRINT_SHARED    shared data dir          (default $ROOT/../shared)
#   BENCH_WORK         outputs, outside git     (default /var/tmp/celprint-bench-video)
set -euo pipefail

die() { echo "bench-video: error: $*" >&2; exit 1; }
log() { echo "bench-video: $*" >&2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
CELPRINT="${CELPRINT_BIN:-$CARGO_TARGET_DIR/release/celprint}"
VENV="${CELPRINT_VENV:-/var/tmp/celprint-venv}"
VPDQ_SPEC="${VPDQ_SPEC:-vpdq==0.2.5}"
SHARED="${CELPRINT_SHARED:-$ROOT/../shared}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-video}"
THREADS="${THREADS:-1}"
PAIRS="${PAIRS:-3}"
MIN_DECODE_RATIO=0.8
MIN_VPDQ_SPEEDUP=4

[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, not '$THREADS'"
for tool in ffmpeg ffprobe awk; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (apt-get install -y ffmpeg)"
done

if [ "$#" -gt 0 ]; then
    FILES=("$@")
else
    FILES=("$SHARED/media/video/bbb/bower_bbb_480p_30s.mp4"
           "$SHARED/media/video/popeye/showorder_pgs_Title_T00-1.mkv")
fi
for f in "${FILES[@]}"; do
    [ -f "$f" ] || die "no such file: $f (set CELPRINT_SHARED or pass files as arguments)"
done
mkdir -p "$WORK"

NCORES="$(nproc --all)"
# Everything we time gets the same thread settings (after nproc: it obeys OMP_NUM_THREADS).
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"

is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
    # apt_install PKG...: only as root on a Debian-like system.
    if is_root && command -v apt-get >/dev/null 2>&1; then
        log "apt-get install -y $*"
        apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
    else
        return 1
    fi
}

# ---------------------------------------------------------------- 1. celprint
if [ -n "${CELPRINT_BIN:-}" ]; then
    [ -x "$CELPRINT" ] || die "CELPRINT_BIN=$CELPRINT is not an executable"
elif [ ! -x "$CELPRINT" ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found; cannot build $CELPRINT"
    log "building celprint: (cd $ROOT && cargo build --release), CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release >&2) || die "'cargo build --release' failed in $ROOT"
    [ -x "$CELPRINT" ] || die "cargo build succeeded but $CELPRINT does not exist"
fi

# ------------------------------------------------------------ 2. vPDQ venv
if [ ! -x "$VENV/bin/python" ]; then
    PY="$(command -v python3 || true)"
    [ -n "$PY" ] || { apt_install python3 python3-venv || die "no python3"; PY="$(command -v python3)"; }
    log "creating venv $VENV with $PY"
    "$PY" -m venv "$VENV" >&2 || { rm -rf "$VENV"; apt_install python3-venv && "$PY" -m venv "$VENV" >&2; } \
        || die "python3 -m venv $VENV failed"
fi
PYV="$VENV/bin/python"
if ! "$PYV" -c 'import vpdq' >/dev/null 2>&1; then
    # PyPI has only vpdq's sdist: pip compiles Meta's C++ with CMake against the
    # system FFmpeg libraries (found with pkg-config), plus Cython.
    need=()
    command -v g++ >/dev/null 2>&1 || need+=(g++)
    command -v cmake >/dev/null 2>&1 || need+=(cmake)
    command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
    pkg-config --exists libavdevice libavfilter libavformat libavcodec libswresample libswscale libavutil 2>/dev/null \
        || need+=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavfilter-dev libavdevice-dev libswresample-dev)
    if ((${#need[@]})); then
        apt_install "${need[@]}" || log "warning: could not install ${need[*]}; building vpdq will likely fail"
    fi
    log "pip install $VPDQ_SPEC into $VENV (compiles C++, about a minute)"
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
        "$PYV" -m pip install -q --disable-pip-version-check "$VPDQ_SPEC" >&2 \
        || die "pip install $VPDQ_SPEC failed (needs g++, cmake, pkg-config, FFmpeg -dev packages, Python headers)"
    "$PYV" -c 'import vpdq' || die "vpdq installed but does not import"
fi
VPDQ_VERSION="$("$PYV" -c 'from importlib.metadata import version; print(version("vpdq"))')"

# ------------------------------------------------------------ 3. helpers
# timed OUT CMD...: run CMD with stdout to OUT; print "wall_s cpu_s" (cpu = user +
# sys of the child and its threads, from wait4). Fails if CMD fails.
TIMER="$(cat <<'EOF'
import os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
with open(out, "wb") as f:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=f, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit("command exited with %d: %s" % (code, " ".join(cmd)))
print("%.3f %.3f" % (wall, ru.ru_utime + ru.ru_stime))
EOF
)"
timed() { "$PYV" -c "$TIMER" "$@"; }

# vPDQ: computeHash on every frame (seconds_per_hash=0), native size, T threads.
VPDQ_RUN="$(cat <<'EOF'
import resource, sys, time
import vpdq
path, threads, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kw = dict(seconds_per_hash=0, downsample_width=0, downsample_height=0)
def run():
    try:
        return vpdq.computeHash(path, thread_count=threads, **kw)
    except TypeError:  # an older/newer API spelling
        return vpdq.computeHash(input_video_filename=path, num_threads=threads, **kw)
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
feats = run()
wall = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
with open(out, "w") as f:
    for x in feats:
        f.write("%d,%d,%s,%.3f\n" % (x.frame_number, x.quality, x.hex, x.timestamp))
print("%.3f %.3f %d" % (wall, cpu, len(feats)))
EOF
)"

lines() { wc -l <"$1" | tr -d ' '; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# ffmpeg's frame count from its -progress file (last frame=N).
progress_frames() { awk -F= '$1 == "frame" { n = $2 } END { print n + 0 }' "$1"; }

RATIO_RESULTS=()
SPEEDUP_RESULTS=()
RATIO_OK=1
SPEEDUP_OK=1
CEL=(env "RAYON_NUM_THREADS=$THREADS" "$CELPRINT" hash --jobs "$THREADS")

echo "# bench-video: threads=$THREADS, celprint=$CELPRINT, vpdq $VPDQ_VERSION (PyPI), $(ffmpeg -version | head -1 | cut -d' ' -f1-3), ${NCORES} cores"
echo "load average at start: $(loadavg)"

# ------------------------------------------------------------ 4. per file
for f in "${FILES[@]}"; do
    name="$(basename "$f")"
    out="$WORK/${name%.*}"
    info="$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height \
        -of csv=p=0 "$f" | head -1)"
    dur="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")"
    log "$name: warming the page cache"
    cat "$f" >/dev/null
    load0="$(loadavg)"

    log "$name: ffmpeg decode"
    read -r w_dec c_dec < <(timed /dev/null ffmpeg -nostdin -hide_banner -loglevel error \
        -threads "$THREADS" -i "$f" -an -sn -dn -progress "$out.decode.progress" -f null -) \
        || die "ffmpeg decode failed on $f"
    n_dec="$(progress_frames "$out.decode.progress")"
    log "$name: ffmpeg decode, keyframes only"
    read -r w_key c_key < <(timed /dev/null ffmpeg -nostdin -hide_banner -loglevel error \
        -threads "$THREADS" -skip_frame nokey -i "$f" -an -sn -dn -vsync passthrough \
        -progress "$out.keyframes.progress" -f null -) \
        || die "ffmpeg -skip_frame nokey failed on $f"
    n_key="$(progress_frames "$out.keyframes.progress")"

    log "$name: celprint default"
    read -r w_def c_def < <(timed "$out.default.csv" "${CEL[@]}" "$f") || die "celprint hash failed on $f"
    log "$name: celprint --exact"
    read -r w_exa c_exa < <(timed "$out.exact.csv" "${CEL[@]}" --exact "$f") || die "celprint hash --exact failed on $f"
    log "$name: celprint --keyframes"
    read -r w_kf c_kf < <(timed "$out.keyframes.csv" "${CEL[@]}" --keyframes "$f") || die "celprint hash --keyframes failed on $f"
    log "$name: celprint --fps 2"
    read -r w_fps c_fps < <(timed "$out.fps2.csv" "${CEL[@]}" --fps 2 "$f") || die "celprint hash --fps 2 failed on $f"
    log "$name: celprint --format vpdq"
    read -r w_fmt c_fmt < <(timed "$out.vpdq-format.csv" "${CEL[@]}" --format vpdq "$f") || die "celprint hash --format vpdq failed on $f"
    # The machine is shared and its speed drifts over a minute, so the decode target is
    # judged on decode and celprint runs taken in alternating pairs, by CPU seconds: the
    # median over $PAIRS pairs of decode_cpu / celprint_cpu.
    pair_ratios=()
    for ((i = 1; i <= PAIRS; i++)); do
        log "$name: paired decode / celprint default, pair $i of $PAIRS"
        read -r _ pc_dec < <(timed /dev/null ffmpeg -nostdin -hide_banner -loglevel error \
            -threads "$THREADS" -i "$f" -an -sn -dn -f null -) || die "ffmpeg decode failed on $f"
        read -r _ pc_def < <(timed /dev/null "${CEL[@]}" "$f") || die "celprint hash failed on $f"
        pair_ratios+=("$(div "$pc_dec" "$pc_def")")
    done
    r_pair="$(printf '%s\n' "${pair_ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
    log "$name: vPDQ $VPDQ_VERSION computeHash"
    read -r w_vp c_vp n_vp < <("$PYV" -c "$VPDQ_RUN" "$f" "$THREADS" "$out.vpdq-ref.csv") || die "vpdq.computeHash failed on $f"
    load1="$(loadavg)"

    # Untimed: frames hashed by --keyframes and --fps 2.
    log "$name: counting frames of --keyframes and --fps 2 (untimed)"
    "${CEL[@]}" --format vpdq --keyframes "$f" >"$out.keyframes.vpdq-format.csv" || die "celprint --format vpdq --keyframes failed"
    "${CEL[@]}" --format vpdq --fps 2 "$f" >"$out.fps2.vpdq-format.csv" || die "celprint --format vpdq --fps 2 failed"

    n_fmt="$(lines "$out.vpdq-format.csv")"
    n_kf="$(lines "$out.keyframes.vpdq-format.csv")"
    n_fps="$(lines "$out.fps2.vpdq-format.csv")"
    s_def="$(lines "$out.default.csv")"; s_exa="$(lines "$out.exact.csv")"
    s_kf="$(lines "$out.keyframes.csv")"; s_fps="$(lines "$out.fps2.csv")"

    r_def="$(div "$w_dec" "$w_def")"
    v_def="$(div "$w_vp" "$w_def")"
    echo
    echo "## $name — $info, $(awk -v d="$dur" 'BEGIN { printf "%.1f", d }') s, threads=$THREADS"
    echo
    echo "| step | wall s | cpu s | frames | segments | decode / step | vPDQ / step |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    row() { printf '| %s | %.2f | %.2f | %s | %s | %s | %s |\n' "$@"; }
    row "ffmpeg decode" "$w_dec" "$c_dec" "$n_dec" "" "1.00" "$(div "$w_vp" "$w_dec")"
    row "ffmpeg decode -skip_frame nokey" "$w_key" "$c_key" "$n_key" "" "1.00 (kf)" "$(div "$w_vp" "$w_key")"
    row "**celprint hash (default)**" "$w_def" "$c_def" "$n_fmt" "$s_def" "**$r_def**" "**$v_def**"
    row "celprint hash --exact" "$w_exa" "$c_exa" "$n_fmt" "$s_exa" "$(div "$w_dec" "$w_exa")" "$(div "$w_vp" "$w_exa")"
    row "celprint hash --keyframes" "$w_kf" "$c_kf" "$n_kf" "$s_kf" "$(div "$w_key" "$w_kf") (kf)" "$(div "$w_vp" "$w_kf")"
    row "celprint hash --fps 2" "$w_fps" "$c_fps" "$n_fps" "$s_fps" "$(div "$w_dec" "$w_fps")" "$(div "$w_vp" "$w_fps")"
    row "celprint hash --format vpdq" "$w_fmt" "$c_fmt" "$n_fmt" "" "$(div "$w_dec" "$w_fmt")" "$(div "$w_vp" "$w_fmt")"
    row "vPDQ $VPDQ_VERSION computeHash (every frame)" "$w_vp" "$c_vp" "$n_vp" "" "$(div "$w_dec" "$w_vp")" "1.00"
    echo
    echo "(kf): against the keyframes-only decode. Load average before/after: $load0 / $load1. Outputs: $out.*"
    echo
    echo "Paired decode_cpu / celprint_default_cpu, $PAIRS alternating pairs: ${pair_ratios[*]} (median **$r_pair**)."

    RATIO_RESULTS+=("$name $r_pair")
    SPEEDUP_RESULTS+=("$name ${v_def}x")
    ge "$r_pair" "$MIN_DECODE_RATIO" || RATIO_OK=0
    ge "$v_def" "$MIN_VPDQ_SPEEDUP" || SPEEDUP_OK=0
done

echo
echo "load average at end: $(loadavg) (${NCORES} cores)"
pf() { [ "$1" = 1 ] && echo PASS || echo FAIL; }
echo "$(pf "$RATIO_OK"): default mode decode_time/celprint_time (paired median) >= $MIN_DECODE_RATIO on every file: $(IFS=,; r="${RATIO_RESULTS[*]}"; echo "${r//,/, }")"
echo "$(pf "$SPEEDUP_OK"): default mode vpdq_time/celprint_time >= ${MIN_VPDQ_SPEEDUP}x on every file: $(IFS=,; r="${SPEEDUP_RESULTS[*]}"; echo "${r//,/, }")"
