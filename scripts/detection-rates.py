#!/usr/bin/env python3
"""Run each scenario N times and report how often the harness caught it, and how fast.

For each unsafe mode with its nemesis: how many of N runs ended invalid, and the median time from the fault
that preceded the first anomaly to that anomaly. For each safe mode: how many runs ended invalid (want 0).

    sudo python3 scripts/detection-rates.py --runs 10 --time-limit 15s > docs/detection-rates.md

Needs root (network namespaces). Builds the harness and node in release mode first.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

# (label, harness arguments, expected verdict). Routing per scenario: clients must keep asking the node that
# answers stale (round-robin or sticky); the async scenario uses many keys so that some key's next op after a
# failover is a read.
RR = ["--routing", "round-robin"]
SCENARIOS = [
    ("leader-local / partition-leader", ["--mode", "leader-local", "--nemesis", "partition-leader", *RR], "invalid"),
    ("any-local / partition-follower", ["--mode", "any-local", "--nemesis", "partition-follower", "--routing", "sticky"], "invalid"),
    ("lease-no-wait / partition-leader", ["--mode", "lease-no-wait", "--nemesis", "partition-leader", *RR], "invalid"),
    ("async / kill-leader", ["--mode", "read-index", "--replication", "async", "--nemesis", "kill-leader",
                             "--workload", "kv", "--keys", "8"], "invalid"),
    ("lease / clock-skew beyond the bound", ["--mode", "lease", "--nemesis", "clock-skew", *RR], "invalid"),
    ("read-index / clock-skew", ["--mode", "read-index", "--nemesis", "clock-skew", *RR], "valid"),
]
SCENARIOS = [(label, [*args, "--nemesis-interval", "4s"], want) for label, args, want in SCENARIOS]
# Each safe mode under all three faults in turn, in every run (2 s apart, so the three fit in 15 s).
for mode in ["log", "read-index", "lease", "follower-read"]:
    SCENARIOS.append((f"{mode} / partition-leader,partition-follower,kill-leader",
                      ["--mode", mode, "--nemesis", "partition-leader,partition-follower,kill-leader", *RR,
                       "--nemesis-interval", "2s"], "valid"))

COMMON = ["--rate", "150", "--concurrency", "6", "--fault-duration", "2.5s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--time-limit", default="15s")
    ap.add_argument("--only", help="substring of the scenario labels to run")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "harness", "-p", "node"], cwd=root, check=True)
    harness = os.path.join(root, "target", "release", "harness")
    node = os.path.join(root, "target", "release", "node")
    print(f"| scenario | expected | invalid runs | runs | median fault→anomaly (s) | other exits |")
    print(f"|---|---|---|---|---|---|")
    for label, extra, expected in SCENARIOS:
        if args.only and args.only not in label:
            continue
        invalid, delays, other = 0, [], []
        for i in range(args.runs):
            with tempfile.TemporaryDirectory() as store:
                cmd = [harness, *COMMON, *extra, "--time-limit", args.time_limit, "--seed", str(1000 + i),
                       "--store", store, "--node-bin", node]
                code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
                if code == 1:
                    invalid += 1
                    with open(os.path.join(store, "latest", "results.json")) as f:
                        d = json.load(f).get("detection") or {}
                    if d.get("delay_s") is not None:
                        delays.append(d["delay_s"])
                elif code != 0:
                    other.append(str(code))
        med = f"{statistics.median(delays):.2f}" if delays else "-"
        print(f"| {label} | {expected} | {invalid} | {args.runs} | {med} | {' '.join(other) or '-'} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
