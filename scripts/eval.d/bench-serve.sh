#!/usr/bin/env bash
# bench-serve.sh — `celprint serve` against issue 19's targets, in one run on one machine
# (`scripts/eval bench serve`; docs/serve.md).
#
#   1. A bank of SCALE_N segments (default 1M), built by benches/search_scale.rs: 1000
#      synthetic video assets of SCALE_N/1000 segments each, uniform random PDQ hashes.
#      Kept under $BENCH_WORK and reused while SCALE_N is unchanged.
#   2. The service on a loopback port, and lookups `GET /v1/lookup?pdq=HEX&radius=31` from
#      benches/serve_load.rs (keep-alive connections: tasks on one thread in the closed
#      loop, a thread each in the open loop; half the hashes banked ones with 0-8 bits
#      flipped (hits), half random (misses)):
#      - one client alone for 10 s: the time a lookup takes the service;
#      - CLIENTS clients (default 50) in a closed loop for DURATION seconds (default 600),
#        each sending its next request when the last is answered: the service's
#        throughput, with CLIENTS requests always waiting (p50 ~ CLIENTS / throughput);
#        the service's resident memory is sampled every 5 s meanwhile;
#      - CLIENTS clients in an open loop for 60 s at OPEN_RATE requests a second over all
#        (default: half the closed loop's throughput), each latency counted from when its
#        request was due: the latency a client sees when the service is not saturated.
#      Each prints p50/p90/p99 and the errors (anything but a 200).
#   3. A 30 s 480p clip (made by FFmpeg) scanned ROUNDS times (default 3) both ways,
#      alternately, against the same bank while the service holds it: uploaded
#      (`POST /v1/scans`, from the request until the job reads done) and by
#      `celprint scan` (the whole process). Medians and their ratio (target <= 1.2).
#
# Environment: CARGO_TARGET_DIR (default /var/tmp/celprint-target), BENCH_WORK (default
# /var/tmp/celprint-bench-serve), SCALE_N, CLIENTS, DURATION, OPEN_RATE, ROUNDS.
set -euo pipefail

die() { echo "bench-serve: error: $*" >&2; exit 1; }
log() { echo "bench-serve: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/serve-env.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/celprint-target}"
WORK="${BENCH_WORK:-/var/tmp/celprint-bench-serve}"
N="${SCALE_N:-1000000}"
CLIENTS="${CLIENTS:-50}"
OPEN_RATE="${OPEN_RATE:-}"
DURATION="${DURATION:-600}"
ROUNDS="${ROUNDS:-3}"
CELPRINT="$CARGO_TARGET_DIR/release/celprint"
BANK="$WORK/bank"
mkdir -p "$WORK"
cd "$ROOT"
command -v curl >/dev/null || die "needs curl"
command -v ffmpeg >/dev/null || die "needs ffmpeg"

log "building (release)"
cargo build --release --quiet
cargo bench --quiet --bench serve_load --no-run 2>/dev/null

# 1. The bank.
if [ "$(cat "$WORK/bank.n" 2>/dev/null)" != "$N" ]; then
    log "building a bank of $N segments in $BANK"
    rm -f "$WORK/bank.n"
    SCALE_N="$N" SCALE_QUERIES=100 SCALE_BANK="$BANK" \
        cargo bench --quiet --bench search_scale 2>/dev/null | grep '^bank' >&2
    echo "$N" >"$WORK/bank.n"
fi
# A bank whose index file an older celprint wrote (another format) is rebuilt in memory
# at every open; an index run over nothing saves the current file, which serve maps.
if ! "$CELPRINT" info --db "$BANK" | grep -q 'mapped from the index file'; then
    log "saving the bank's index file"
    mkdir -p "$WORK/nothing"
    "$CELPRINT" index --db "$BANK" "$WORK/nothing" >/dev/null 2>&1 || die "index over nothing failed"
fi
rm -rf "$BANK/uploads" "$BANK/proxies"
TOKEN="$("$CELPRINT" token add --db "$BANK" --name "bench-$(date +%s%N)" --role scanner)"

# Lookup queries: the bank's first hashes (benches/search_scale.rs's generator and seed,
# hex in Meta's order), perturbed, and random ones; one request path a line.
python3 - "$WORK" "$N" <<'EOF'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
M = (1 << 64) - 1
x = 0x9E3779B97F4A7C15
def nxt():
    global x
    x ^= x >> 12; x ^= (x << 25) & M; x ^= x >> 27
    return (x * 0x2545F4914F6CDD1D) & M
banked = []
for _ in range(min(n, 5000)):
    words = [nxt() for _ in range(4)]
    banked.append(sum(w << (64 * i) for i, w in enumerate(words)))
with open(f"{work}/first.txt", "w") as f:
    f.write(f"pdq={banked[0]:064x}\n")
rnd = random.Random(19)
with open(f"{work}/lookups.paths", "w") as f:
    for i in range(32000):
        if i % 2:
            h = rnd.choice(banked)
            for _ in range(rnd.randint(0, 8)):
                h ^= 1 << rnd.randrange(256)
        else:
            h = rnd.getrandbits(256)
        f.write(f"/v1/lookup?pdq={h:064x}&radius=31\n")
EOF

# 2. The service and the lookup clients.
trap 'kill -TERM ${SERVE:-} 2>/dev/null || true' EXIT
start_serve "$CELPRINT" "$BANK" "$WORK/serve"
log "serving $BANK on $ADDR (pid $SERVE)"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVE/status"; }
lookups() { # CLIENTS SECONDS [RATE]: one line of figures on stdout
    ADDR="$ADDR" TOKEN="$TOKEN" PATHS="$WORK/lookups.paths" CLIENTS="$1" RUN_SECONDS="$2" \
        RATE="${3:-}" LABEL="lookups n=$N" cargo bench --quiet --bench serve_load 2>/dev/null
}
# The generator above must be the bank's: its first hash is banked.
first=$(sed -n 's#.*pdq=\([0-9a-f]*\).*#\1#p' "$WORK/first.txt")
curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/v1/lookup?pdq=$first&radius=0" |
    grep -q '"distance":0' || die "the bank's first hash $first is not found: not the bench's bank?"
# Warm up (the first lookups page in the index), then one client alone.
lookups "$CLIENTS" 5 >/dev/null
lookups 1 10
: >"$WORK/rss.txt"
(while kill -0 $SERVE 2>/dev/null; do echo "$(date +%s) $(rss)" >>"$WORK/rss.txt"; sleep 5; done) &
SAMPLER=$!
log "lookups: $CLIENTS clients, closed loop, for $DURATION s"
closed="$(lookups "$CLIENTS" "$DURATION")"
echo "$closed"
kill $SAMPLER 2>/dev/null || true
echo "$(date +%s) $(rss)" >>"$WORK/rss.txt"
python3 - "$WORK/rss.txt" <<'EOF'
import sys
rss = [int(l.split()[1]) / 1024 for l in open(sys.argv[1]) if len(l.split()) == 2]
print(f"serve rss_mib first={rss[0]:.0f} max={max(rss):.0f} last={rss[-1]:.0f} samples={len(rss)}")
EOF
if [ -z "$OPEN_RATE" ]; then
    OPEN_RATE=$(echo "$closed" | sed -n 's/.* per_s=\([0-9]*\).*/\1/p')
    OPEN_RATE=$((OPEN_RATE / 2))
fi
log "lookups: $CLIENTS clients, open loop at $OPEN_RATE a second, for 60 s"
lookups "$CLIENTS" 60 "$OPEN_RATE"

# 3. Upload scan against CLI scan, alternately, on the same bank.
CLIP="$WORK/clip-480p-30s.mp4"
[ -f "$CLIP" ] || ffmpeg -v error -f lavfi -i testsrc2=size=854x480:rate=25:duration=30 \
    -c:v libx264 -pix_fmt yuv420p "$CLIP"
now() { date +%s.%N; }
: >"$WORK/scans.txt"
for r in $(seq "$ROUNDS"); do
    t0=$(now)
    id=$(curl -s -H "Authorization: Bearer $TOKEN" -F "file=@$CLIP" "http://$ADDR/v1/scans" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    # Polled by curl alone, ten times a second: a heavier poller would take CPU from the
    # scan it times.
    while :; do
        state=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/v1/scans/$id" |
            head -c 300 | grep -o '"state":"[a-z]*"' || true)
        case $state in *done*) break ;; *failed*) die "upload scan failed" ;; esac
        sleep 0.1
    done
    t1=$(now)
    "$CELPRINT" scan --db "$BANK" "$CLIP" --json "$WORK/cli-report.json" --force >/dev/null 2>&1 ||
        [ $? -eq 1 ] || die "celprint scan failed"
    t2=$(now)
    echo "$r $(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc)" | tee -a "$WORK/scans.txt" >&2
done
python3 - "$WORK" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(f"{sys.argv[1]}/scans.txt")]
up = statistics.median(float(r[1]) for r in rows)
cli = statistics.median(float(r[2]) for r in rows)
print(f"scan clip=480p-30s rounds={len(rows)} upload_s={up:.2f} cli_s={cli:.2f} ratio={up / cli:.2f}")
EOF
kill -TERM $SERVE
wait $SERVE || true
trap - EXIT
