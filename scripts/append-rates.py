#!/usr/bin/env python3
"""Run each append scenario N times and report how often each guarantee came out as the scenario expects.

    sudo python3 scripts/append-rates.py --runs 10 --parallel 3 --harness target/release/harness --node target/release/node

Needs root (network namespaces). Each run has its own store and its own namespaces, so runs can go side
by side; on a 2-core machine keep --parallel at 2-3. The scenarios are those of harness/tests/append_root.rs.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

BASE = ["--workload", "append", "--keys", "4", "--nemesis-interval", "4s", "--fault-duration", "3s"]
# (label, arguments, [(what is counted, test on results.json)]).
SCENARIOS = [
    ("quorum, lease, sticky, kill-leader", ["--replication", "quorum", "--mode", "lease", "--routing", "sticky", "--nemesis", "kill-leader"],
     [("every guarantee holds", lambda r: all(r["guarantees"].get(g) is True for g in
        ["linearizable", "read_your_writes", "monotonic_reads", "monotonic_writes", "writes_follow_reads", "converged"])
       and r["lost_writes"]["count"] == 0),
      ("converged", lambda r: r["guarantees"].get("converged") is True)]),
    ("async, lease, sticky, none", ["--replication", "async", "--mode", "lease", "--routing", "sticky", "--nemesis", "none"],
     [("read-your-writes holds", lambda r: r["guarantees"].get("read_your_writes") is True)]),
    ("async, follower-read, round-robin, none",
     ["--replication", "async", "--mode", "follower-read", "--routing", "round-robin", "--nemesis", "none"],
     [("read-your-writes broken", lambda r: r["guarantees"].get("read_your_writes") is False)]),
    ("async, lease, sticky, kill-leader", ["--replication", "async", "--mode", "lease", "--routing", "sticky", "--nemesis", "kill-leader"],
     [("read-your-writes broken", lambda r: r["guarantees"].get("read_your_writes") is False),
      ("lost writes > 0", lambda r: r["lost_writes"]["count"] > 0)]),
    ("any-local, round-robin, partition-follower",
     ["--mode", "any-local", "--routing", "round-robin", "--nemesis", "partition-follower"],
     [("monotonic reads broken", lambda r: r["guarantees"].get("monotonic_reads") is False),
      ("converged", lambda r: r["guarantees"].get("converged") is True)]),
]


def one(harness, node, extra, time_limit, seed):
    with tempfile.TemporaryDirectory() as store:
        cmd = [harness, *BASE, *extra, "--time-limit", time_limit, "--seed", str(seed), "--store", store,
               "--node-bin", node]
        code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        try:
            with open(os.path.join(store, "latest", "results.json")) as f:
                return code, json.load(f)
        except (OSError, ValueError):
            return code, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--time-limit", default="15s")
    ap.add_argument("--harness", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--only", help="substring of the scenario labels to run")
    args = ap.parse_args()
    print("| scenario | detection | runs where it showed | runs | not counted (exit: why) |")
    print("|---|---|---|---|---|")
    for label, extra, checks in SCENARIOS:
        if args.only and args.only not in label:
            continue
        with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
            outs = list(pool.map(lambda i: one(args.harness, args.node, extra, args.time_limit, 2000 + i),
                                 range(args.runs)))
        # A run whose run itself was invalid (exit 3: fault missed, cluster not healthy) is not counted.
        good = [r for code, r in outs if r is not None and r.get("run_valid")]
        bad = [f"{code}: {'; '.join((r or {}).get('run_problems', []))[:80]}" for code, r in outs
               if r is None or not r.get("run_valid")]
        for what, test in checks:
            hits = sum(1 for r in good if test(r))
            print(f"| {label} | {what} | {hits} | {len(good)} | {', '.join(bad) or '-'} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
