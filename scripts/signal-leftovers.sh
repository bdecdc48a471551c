#!/usr/bin/env bash
# Sends each of SIGINT, SIGTERM, SIGHUP and SIGQUIT at a random moment of a run (set-up, workload, faults,
# final reads, check), RUNS times each, and counts what each run left behind: its namespaces (the owner
# marker in /run/lh names them), its marker, node processes of this build with their data in the run's
# store, and the store's lock file.
# Every count must be 0. Needs root. Usage: scripts/signal-leftovers.sh [RUNS] (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
cargo build --quiet -p harness -p node
HARNESS=$PWD/target/debug/harness
NODE=$PWD/target/debug/node
STORE=$(mktemp -d)
trap 'rm -rf "$STORE"' EXIT
# A run lasts about 6 s of workload plus set-up, recovery, final reads and the check: ~9-10 s; a signal after the end finds no process (exit 0 in the table).
SPAN_MS=9000

node_procs() { # live processes of this build's node binary whose data dir is in the run's store $1
  local n=0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$NODE" ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$1/" && n=$((n + 1))
  done
  echo $n
}

printf '%-8s %5s %10s %8s %6s %5s  %s\n' signal runs namespaces markers nodes locks "exit codes"
total=0
for sig in INT TERM HUP QUIT; do
  ns=0 markers=0 nodes=0 locks=0 codes=""
  for i in $(seq 1 "$RUNS"); do
    "$HARNESS" --time-limit 6s --nemesis partition-leader --nemesis-interval 2s --fault-duration 2s \
      --node-bin "$NODE" --store "$STORE/$sig-$i" >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v s=$RANDOM -v span=$SPAN_MS 'BEGIN { printf "%.3f", (s % span) / 1000 }')"
    kill -s "$sig" "$pid" 2>/dev/null || true
    set +e
    wait "$pid"
    code=$?
    set -e
    codes="$codes $code"
    for m in /run/lh/lh*.json; do
      [ -e "$m" ] || continue
      if grep -q "\"pid\":$pid," "$m"; then
        markers=$((markers + 1))
        for n in $(grep -o '"namespaces":\[[^]]*\]' "$m" | grep -o 'lh[a-z0-9]*'); do
          [ -e "/run/netns/$n" ] && ns=$((ns + 1))
        done
      fi
    done
    nodes=$((nodes + $(node_procs "$STORE/$sig-$i")))
    locks=$((locks + $(find "$STORE/$sig-$i" -mindepth 3 -maxdepth 3 -name lock 2>/dev/null | wc -l)))
  done
  printf '%-8s %5s %10s %8s %6s %5s  %s\n' "SIG$sig" "$RUNS" $ns $markers $nodes $locks "$codes"
  total=$((total + ns + markers + nodes + locks))
done
if [ "$total" -ne 0 ]; then
  echo "leftovers found: $total" >&2
  exit 1
fi
echo "no leftovers"
