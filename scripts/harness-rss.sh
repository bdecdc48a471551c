#!/usr/bin/env bash
# The harness's own memory over a run: starts one run (default 10 minutes at 800 ops/s, kv workload,
# partition-leader and kill-leader faults) and prints the harness process's VmRSS every 30 s, then the
# run's exit code. Needs root. Usage: scripts/harness-rss.sh [TIME_LIMIT] [RATE] (default 10m 800).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-10m}
RATE=${2:-800}
cargo build --quiet --release -p harness -p node
STORE=$(mktemp -d)
trap 'rm -rf "$STORE"' EXIT
target/release/harness --time-limit "$LIMIT" --rate "$RATE" --concurrency 16 --workload kv --keys 64 \
  --nemesis partition-leader,kill-leader --node-bin target/release/node --store "$STORE" \
  --check-time-limit 120s >"$STORE/out" 2>&1 &
pid=$!
start=$(date +%s)
echo "elapsed_s rss_mb history_lines"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || true)
  lines=$(wc -l <"$STORE/latest/history.jsonl" 2>/dev/null || echo 0)
  phase=$(grep -o '"phase":"[a-z]*"' "$STORE/latest/lock" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$(($(date +%s) - start)) $rss $lines $phase"
  sleep 30
done
set +e
wait "$pid"
echo "exit $?"
tail -n 30 "$STORE/out"
