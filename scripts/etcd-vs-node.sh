#!/usr/bin/env bash
# etcd (linearizable reads) against our node (read-index) on the same workload, the same machine, no faults.
# Workers run closed-loop (no rate cap), so ops/s is what each system sustains. Prints ops/s and read/write p50 latency of each run from its results.json. Needs root and etcd-server.
#   sudo scripts/etcd-vs-node.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
cargo build --release -q -p harness -p node
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
common=(--nemesis none --time-limit "${secs}s" --rate 100000 --concurrency 8 --routing leader --seed 1 --store "$store")
printf '| system | mode | ok ops/s | read p50 ms | write p50 ms | verdict |\n|---|---|---|---|---|---|\n'
for run in "node read-index" "etcd linearizable"; do
  set -- $run
  extra=()
  [ "$1" = node ] && extra=(--node-bin target/release/node)
  target/release/harness --system "$1" --mode "$2" "${common[@]}" "${extra[@]}" >/dev/null 2>&1 || true
  python3 - "$store/latest/results.json" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
verdict = {True: "valid", False: "invalid"}.get(r["valid"], r["valid"])
p50 = lambda k: f'{m[k]["p50_ms"]:.2f}' if m.get(k) else "-"
print(f'| {sys.argv[2]} | {sys.argv[3]} | {m["throughput_ok_per_s"]:.0f} | {p50("read_latency")} | {p50("write_latency")} | {verdict} |')
PY
done
