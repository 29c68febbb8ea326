#!/usr/bin/env bash
# The Slurm round trip on this one machine (Debian 12's slurm-wlm and munge): starts
# munged, slurmctld and slurmd on 127.0.0.1 in a temporary folder (no systemd), submits
# scripts/slurm/'s index array over ../shared/media and its merge, compares the merged
# bank with the bank one `celprint index` makes of the same media (`merge --dump`), then
# scans a delivery in slices and joins them, and compares with a one-machine scan.
# Stops the daemons and removes the folder on any exit.
#   scripts/slurm-test.sh            # 3 shards, any number of tasks at once
#   SLURM_TEST_SHARDS=4 SLURM_TEST_LIMITS="1 2" scripts/slurm-test.sh
#     # also times the index array with at most 1, then 2, tasks at once
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
: "${CARGO_TARGET_DIR:=/var/tmp/celprint-target}"
celprint="${CELPRINT:-$CARGO_TARGET_DIR/release/celprint}"
media="${SLURM_TEST_MEDIA:-$repo/../shared/media}"
shards="${SLURM_TEST_SHARDS:-3}"
for tool in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$tool" >/dev/null || { echo "slurm-test: $tool missing (scripts/setup.sh installs slurm-wlm munge)" >&2; exit 2; }
done
[ -x "$celprint" ] || { echo "slurm-test: no binary at $celprint (cargo build --release)" >&2; exit 2; }
if [ ! -d "$media" ]; then
  [ "${CELPRINT_REQUIRE_SHARED:-}" = 1 ] && { echo "slurm-test: no media at $media" >&2; exit 2; }
  echo "slurm-test: SKIPPED: no media at $media"
  exit 0
fi
media="$(cd "$media" && pwd)"

work="$(mktemp -d /tmp/celprint-slurm.XXXXXX)"
chmod 700 "$work"
pids=()
cluster=""
one_pid=""
# This test's processes: whatever carries its SLURM_CONF (the daemons, slurmstepd, the
# jobs), except this script and its own children (which inherit it too).
ours() {
  local p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = $$ ] && continue
    grep -qzxF "SLURM_CONF=$work/slurm.conf" "/proc/$p/environ" 2>/dev/null || continue
    [ "$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)" = $$ ] || echo "$p"
  done
}
cleanup() {
  local status="$1" left
  trap - EXIT INT TERM
  [ -z "$one_pid" ] || { kill "$one_pid" 2>/dev/null; wait "$one_pid" 2>/dev/null; } || true
  # Only our own cluster's jobs (a SLURM_CONF from the caller's environment must never
  # be the one scancel talks to); then wait for their steps to end while slurmd is
  # still there to reap them: a slurmstepd whose slurmd is gone ignores SIGTERM.
  if [ -n "$cluster" ]; then
    scancel --quiet --full "--user=$(id -un)" 2>/dev/null || true
    for _ in $(seq 60); do squeue -h 2>/dev/null | grep -q . || break; sleep 0.25; done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  left="$(ours)"
  if [ -n "$left" ]; then
    echo "slurm-test: left running after the daemons stopped (killed now):" >&2
    # shellcheck disable=SC2086
    ps -o pid,args -p "$(echo $left | tr ' ' ,)" >&2 || true
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
    [ "$status" -ne 0 ] || status=1
  fi
  if [ "$status" -ne 0 ]; then
    echo "slurm-test: FAILED ($status); daemon logs:" >&2
    tail -n 20 "$work"/*.log >&2 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
# A signal is a failure: its own status, not that of the last command run.
trap 'cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ports of our own, so that a Slurm already on the machine (or another test) is left
# alone.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ctld_port="$(free_port)"
slurmd_port="$(free_port)"

mkdir -p "$work/munge" "$work/state" "$work/spool"
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --force --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/munged.seed" \
  --log-file="$work/munged.log"
pids+=("$(cat "$work/munge/munged.pid")")

user="$(id -un)"
cpus="$(nproc)"
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=celprint-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
cluster=started
slurmctld -f "$SLURM_CONF" -i
for _ in $(seq 100); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 100); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)' && break
  sleep 0.2
done
sinfo -h -o %T | grep -qE '^(idle|mixed)' || { echo "slurm-test: the node never came up" >&2; exit 1; }
echo "slurm-test: munged, slurmctld and slurmd up on 127.0.0.1:$ctld_port/$slurmd_port ($cpus CPUs)"

# Waits for job (or array) $1 to leave the queue; fails unless every task COMPLETED.
wait_job() {
  local id="$1" states
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do sleep 0.5; done
  states="$(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' ')"
  [ "$states" = "COMPLETED " ] || {
    echo "slurm-test: job $id ended ${states:-unknown}" >&2
    cat "$work"/*/"${2:-}"*.log >&2 2>/dev/null || true
    return 1
  }
}

export CELPRINT="$celprint"
# Seconds since $1 (from `date +%s%N`), to a tenth.
since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); echo "$((ms / 1000)).$(( ms % 1000 / 100 ))"; }
start=$(date +%s%N)
# Exit 2 is expected: some shared files are not media or decode only in part; the
# merged bank must hold the same. Anything else (a crash) is a failure: two empty banks
# would compare equal.
# In the background: bash runs a trap only once a foreground command ends, and a
# Ctrl-C or kill must not wait minutes for the daemons to be stopped.
one=0
"$celprint" index --db "$work/one" "$media" >/dev/null 2>"$work/one-index.log" &
one_pid=$!
wait "$one_pid" || one=$?
one_pid=""
[ "$one" -le 2 ] || { echo "slurm-test: one-machine index exited $one" >&2; tail "$work/one-index.log" >&2; exit 1; }
echo "slurm-test: one-machine index of $media: $(since "$start") s"

limits="${SLURM_TEST_LIMITS:-}"
for limit in ${limits:-all}; do
  rm -rf "$work/merged" "$work/shards"
  if [ "$limit" = all ]; then unset CELPRINT_ARRAY_LIMIT; else export CELPRINT_ARRAY_LIMIT="$limit"; fi
  start=$(date +%s%N)
  # Not `read < <(...)`: a failed submission must stop the test.
  jobs="$(scripts/slurm/submit-index.sh "$shards" "$work/merged" "$work/shards" "$media")"
  read -r index_job merge_job <<<"$jobs"
  wait_job "$index_job" index
  indexed="$(since "$start")"
  wait_job "$merge_job" merge
  echo "slurm-test: index array of $shards shards, $limit at once: $indexed s; with the merge: $(since "$start") s"
  "$celprint" merge --db "$work/one" --dump > "$work/one.dump"
  "$celprint" merge --db "$work/merged" --dump > "$work/merged.dump"
  if ! cmp -s "$work/one.dump" "$work/merged.dump"; then
    echo "slurm-test: the merged bank differs from the one-machine bank:" >&2
    diff "$work/one.dump" "$work/merged.dump" | head -20 >&2
    exit 1
  fi
  assets="$(grep -c '"digest":' "$work/one.dump" || true)"
  if ! grep -q '"kind":"video"' "$work/one.dump" || [ "$assets" -lt 20 ]; then
    echo "slurm-test: the banks hold only $assets assets (no video?)" >&2
    exit 1
  fi
  echo "slurm-test: merged bank = one-machine bank ($assets assets, $(wc -l < "$work/one.dump") dump lines)"
done

# A delivery: a still, a board and a video that the bank holds, and a picture it
# does not.
delivery="$work/delivery"
mkdir -p "$delivery"
cp "$media/stills/lineart/frog.png" "$media/storyboards/boards/bbb_f0216.png" \
   "$media/video/bbb/moviepy_doc_example2_bbb_2s.mp4" "$delivery/"
convert -size 320x240 plasma:fractal -seed 7 "$delivery/unbanked.png" 2>/dev/null \
  || convert -size 320x240 gradient:red-blue "$delivery/unbanked.png"
whole=0
"$celprint" scan --db "$work/merged" --json "$work/whole.json" "$delivery" >/dev/null || whole=$?
jobs="$(scripts/slurm/submit-scan.sh "$shards" "$work/merged" "$work/reports" "$delivery")"
read -r scan_job join_job <<<"$jobs"
wait_job "$scan_job" scan
while squeue -h -j "$join_job" 2>/dev/null | grep -q .; do sleep 0.5; done
joined=$(scontrol show job "$join_job" | sed -n 's/.*ExitCode=\([0-9]*\):.*/\1/p' | head -1)
python3 - "$work/whole.json" "$work/reports/report.json" "$shards" <<'PY'
import json, sys
whole, joined = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda r: sorted((m["query"]["path"], m["bank_asset"]["digest"]) for m in r["matches"])
files = lambda r: sorted((f["path"], f["status"]) for f in r["scanned"])
assert key(whole) == key(joined), (key(whole), key(joined))
assert files(whole) == files(joined)
assert whole["summary"]["verdict"] == joined["summary"]["verdict"]
assert len(joined["slices"]) == int(sys.argv[3])
PY
[ "$joined" = "$whole" ] || { echo "slurm-test: join exit $joined, one-machine scan exit $whole" >&2; exit 1; }
echo "slurm-test: scan in $shards slices joined = one-machine scan (exit $whole, $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["summary"]["verdict"], len(r["matches"]), "matches")' "$work/reports/report.json"))"
echo "slurm-test: OK"
