#!/usr/bin/env python3
"""Run each scenario N times with the harness's defaults and report how often it was caught, and how fast.

Every run uses the defaults a new user gets: no routing flag (sticky sessions), 3 nodes, the register workload,
5 workers at 100 ops/s in total, a 1500 ms client timeout, faults of 3 s with 6 s between them, heartbeat 50 ms,
election timeout 300 ms, lease 1500 ms. Only --mode, --nemesis, --seed, --store and (for the safe rows, which
fit all four faults in one run) --time-limit are given.

For each unsafe mode with its nemesis: how many of N runs ended invalid, and the median time from the fault
that preceded the first anomaly to that anomaly. For each safe mode: how many runs ended invalid (want 0).

    sudo python3 scripts/detection-rates.py --runs 20 --jobs 3 > docs/detection-rates.md

Needs root (network namespaces). Builds the harness in release mode first; the harness runs its own nodes
(`harness node`), so nothing else is built. Runs --jobs clusters side by side (each in its own namespaces).
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SAFE_FAULTS = "partition-leader,partition-follower,kill-leader,pause-leader"
# (label, harness arguments, time limit, expected verdict).
SCENARIOS = [
    ("leader-local / partition-leader", ["--mode", "leader-local", "--nemesis", "partition-leader"], "20s", "invalid"),
    ("lease-no-wait / partition-leader", ["--mode", "lease-no-wait", "--nemesis", "partition-leader"], "20s", "invalid"),
    ("any-local / partition-follower", ["--mode", "any-local", "--nemesis", "partition-follower"], "20s", "invalid"),
]
# Each safe mode goes through all four faults in every run: 40 s holds four windows of 3 s, 6 s apart.
for mode in ["log", "read-index", "lease", "follower-read"]:
    SCENARIOS.append((f"{mode} / {SAFE_FAULTS}", ["--mode", mode, "--nemesis", SAFE_FAULTS], "40s", "valid"))

FIRST_SEED = 1000


def one_run(harness, extra, time_limit, seed):
    """Exit code, detection delay (or None), and every fault's kind and whether it hit."""
    with tempfile.TemporaryDirectory() as store:
        cmd = [harness, *extra, "--time-limit", time_limit, "--seed", str(seed), "--store", store]
        code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        delay, faults = None, []
        try:
            with open(os.path.join(store, "latest", "results.json")) as f:
                res = json.load(f)
            delay = (res.get("detection") or {}).get("delay_s")
            faults = [(x["kind"], x["hit"]) for x in res.get("faults", [])]
        except (OSError, ValueError, KeyError):
            pass
        return code, delay, faults


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=3, help="runs side by side")
    ap.add_argument("--only", help="substring of the scenario labels to run")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "harness"], cwd=root, check=True)
    harness = os.path.join(root, "target", "release", "harness")
    rows = [s for s in SCENARIOS if not args.only or args.only in s[0]]
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {(label, i): pool.submit(one_run, harness, extra, limit, FIRST_SEED + i)
                   for label, extra, limit, _ in rows for i in range(args.runs)}
        print("| scenario | time limit | expected | invalid runs | runs | median fault→anomaly (s) | faults that missed | other exits |")
        print("|---|---|---|---|---|---|---|---|")
        for label, _, limit, expected in rows:
            results = [futures[(label, i)].result() for i in range(args.runs)]
            invalid = sum(1 for code, _, _ in results if code == 1)
            delays = [d for code, d, _ in results if code == 1 and d is not None]
            missed = sum(1 for _, _, faults in results for _, hit in faults if not hit)
            other = [str(code) for code, _, _ in results if code not in (0, 1)]
            med = f"{statistics.median(delays):.2f}" if delays else "-"
            print(f"| {label} | {limit} | {expected} | {invalid} | {args.runs} | {med} | {missed} | "
                  f"{' '.join(other) or '-'} |", flush=True)
    print(f"\n{len(futures)} runs, {args.jobs} at a time, in {(time.time() - started) / 60:.1f} min.")


if __name__ == "__main__":
    sys.exit(main())
