#!/usr/bin/env bash
# Side-by-side CPU times of porcupine and the checker on the same histories, case by case (each case's
# three runs within the same minute), as in the checker's issue 24.
#
#   benches/porcupine/run.sh [CASE...]
#
# Cases: etcd (all 102 etcd histories), c01-ok ... c50-bad (porcupine's kv files), rep-1k-5 ...
# rep-10k-20[-bad] (generated register histories, writes from 1..5; -bad has a stale read). Default:
# the etcd set, the six kv files and the repeated-value cases (rep2-10k-10: two such registers under
# two keys, where a second thread has a partition of its own to search).
#
# Per case: porcupine (55508eb, through its public API only: main.go here, GOMAXPROCS=1), then the
# checker at 1 thread (`cargo bench -p checker --bench vs_porcupine`), then at 2 threads. Figures are
# process CPU time per pass over the case: batches of passes taking about 20 ms, median over ROUNDS x REPS
# batches (default 3 x 11; rep cases REP_ROUNDS x REP_REPS, default 1 x 3). Porcupine gets
# PORCUPINE_TIMEOUT (default 60s) and PORCUPINE_MEM_MIB (default 4096) per history, past which its
# verdict is unknown (some of these take it tens of GB). The 2-thread column is wall time,
# for the parallel speedup. Fail semantics, both sides: `fail` ops are dropped, `info` reads dropped,
# `info` writes/cas may take effect at any point after their call or never (porcupine: an unknown output
# returned after every other event).
#
# porcupine's source: ./porcupine (not part of the repo), filled from $PORCUPINE_SRC (a checkout or a
# bare mirror) or cloned from GitHub, at 55508eb. Histories: $LH_HISTORIES or ../shared/histories
# beside the repo. Needs go (1.19+), cargo and python3. Raw JSON lines go to $OUT (default a temp file).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
commit=55508eb201b314c218d7e8412c3ea4b9499a5f53
hist=${LH_HISTORIES:-$(cd "$root/.." && pwd)/shared/histories}
rounds=${ROUNDS:-3}
reps=${REPS:-11}
rep_rounds=${REP_ROUNDS:-1}
rep_reps=${REP_REPS:-3}
timeout=${PORCUPINE_TIMEOUT:-60s}
mem=${PORCUPINE_MEM_MIB:-4096}
out=${OUT:-$(mktemp /tmp/vs-porcupine.XXXXXX.jsonl)}
export LH_HISTORIES=$hist

if [ ! -f "$here/porcupine/checker.go" ]; then
    rm -rf "$here/porcupine"
    src=${PORCUPINE_SRC:-https://github.com/anishathalye/porcupine}
    if [ -d "$src" ] && [ -f "$src/HEAD" ] && [ ! -d "$src/.git" ]; then
        # A bare mirror: export the commit.
        mkdir -p "$here/porcupine"
        git --git-dir="$src" archive "$commit" | tar -x -C "$here/porcupine"
    else
        git clone -q "$src" "$here/porcupine"
        git -C "$here/porcupine" checkout -q "$commit"
    fi
fi
if [ -d "$here/porcupine/.git" ]; then
    have=$(git -C "$here/porcupine" rev-parse HEAD)
    [ "$have" = "$commit" ] || { echo "porcupine is at $have, not $commit" >&2; exit 2; }
fi
(cd "$here" && go build -o driver .)
bin=$(cd "$root" && cargo bench -p checker --bench vs_porcupine --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*vs_porcupine-[0-9a-f]*\)).*/\1/p' | tail -1)
[ -n "$bin" ] || { echo "could not build the vs_porcupine bench" >&2; exit 2; }
case $bin in /*) ;; *) bin=$root/$bin ;; esac

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    cases=(etcd c01-ok c01-bad c10-ok c10-bad c50-ok c50-bad
        rep-1k-5 rep-1k-20 rep-10k-5 rep-10k-10 rep-10k-20 rep-1k-20-bad rep-10k-20-bad rep2-10k-10)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$out"
for c in "${cases[@]}"; do
    r=$rounds n=$reps pc=$c
    if [[ $c == rep* ]]; then
        r=$rep_rounds n=$rep_reps
        "$bin" --write-edn "$tmp" "$c" >/dev/null
        pc=$tmp/$c.edn
    fi
    echo "== $c $(date +%T)" >&2
    # Exit status 3: porcupine passed the memory cap (its line says unknown).
    { GOMAXPROCS=1 "$here/driver" -dir "$hist" -rounds "$r" -reps "$n" -timeout "$timeout" \
        -mem-mib "$mem" "$pc" || [ $? -eq 3 ]; } |
        sed "s|\"case\":\"[^\"]*\"|\"case\":\"$c\"|" >>"$out"
    "$bin" --rounds "$r" --reps "$n" --threads 1 "$c" >>"$out"
    "$bin" --rounds "$r" --reps "$n" --threads 2 "$c" >>"$out"
done

python3 - "$out" <<'EOF'
import json, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    c = d["case"]
    if c not in rows:
        rows[c] = {}
        order.append(c)
    key = "porcupine" if d["checker"].startswith("porcupine") else "t%d" % d["threads"]
    rows[c][key] = d

def t(us):
    return "%.0f ms" % (us / 1e3) if us >= 10e3 else "%.1f us" % us if us < 1e3 else "%.2f ms" % (us / 1e3)

def verdict(d):
    if d is None:
        return "-"
    n = d["histories"]
    u = d.get("unknown", 0)
    bad = d.get("verdict_mismatches") or []
    s = "%d/%d valid" % (d["valid"], n) if n > 1 else ("valid" if d["valid"] else "unknown" if u else "invalid")
    return s + (" MISMATCH %s" % bad if bad else "")

print("| case | checker, 1 thread (CPU) | porcupine 55508eb, GOMAXPROCS=1 (CPU) | ratio | checker 2 threads (wall) / 1 thread (wall) | speedup | peak RSS checker / porcupine | verdicts checker / porcupine |")
print("|---|---|---|---|---|---|---|---|")
for c in order:
    r = rows[c]
    o, p, o2 = r.get("t1"), r.get("porcupine"), r.get("t2")
    pu = p and p.get("unknown", 0)
    ratio = "-" if not (o and p) or pu else "%.1fx" % (p["cpu_us"] / o["cpu_us"])
    pc = "-" if not p else ("> %s (unknown)" % t(p["cpu_us"]) if pu else t(p["cpu_us"]))
    sp = "-" if not (o and o2) else "%s / %s" % (t(o2["wall_us"]), t(o["wall_us"]))
    spd = "-" if not (o and o2) else "%.2fx" % (o["wall_us"] / o2["wall_us"])
    rss = "%d / %s MiB" % (o["peak_rss_mib"] if o else 0, "%d" % p["peak_rss_mib"] if p else "-")
    print("| %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (c, t(o["cpu_us"]) if o else "-", pc, ratio, sp, spd, rss, verdict(o), verdict(p)))
print()
print("Fail semantics, both sides: fail ops dropped; info reads dropped; info writes/cas may take effect after their call or never.")
print("Raw results: " + sys.argv[1])
EOF
