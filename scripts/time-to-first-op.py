#!/usr/bin/env python3
"""Time from the `harness` command to its first operation, with a built binary (median of N runs).

    sudo python3 scripts/time-to-first-op.py target/release/harness --runs 5

Each run is `harness --nemesis none --time-limit 2s`; the first op is the first `invoke` line to appear in the
run's history.jsonl (polled every 2 ms), measured from just before the process is started.
"""
import argparse
import glob
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("harness")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    times = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as store:
            t0 = time.monotonic()
            p = subprocess.Popen([args.harness, "--nemesis", "none", "--time-limit", "2s", "--seed", str(i),
                                  "--store", store], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first = None
            while first is None and p.poll() is None:
                for h in glob.glob(f"{store}/*/*/history.jsonl"):
                    with open(h) as f:
                        if '"invoke"' in f.read():
                            first = time.monotonic() - t0
                time.sleep(0.002)
            p.wait()
            if first is None:
                print(f"run {i}: no op seen (exit {p.returncode})")
                continue
            times.append(first)
            print(f"run {i}: first op after {first:.3f} s")
    if times:
        print(f"median {statistics.median(times):.3f} s of {len(times)}")


if __name__ == "__main__":
    sys.exit(main())
