//! Read and write throughput and latency of a real 3-node cluster on loopback, per read mode.
//!
//! `cargo bench -p node --bench reads` (env: LH_BENCH_SECS per measurement, default 3; LH_BENCH_RUNS
//! repetitions, default 3, medians reported; LH_BENCH_CLIENTS, default 8; LH_BENCH_MODES, comma list;
//! LH_BENCH_NODES, default 3).
//! Checks the design's promise that lease reads are at least 2x faster at p50 than read-index reads, and
//! exits 1 if not.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Client, Cluster, LeaderRouter, Outcome};

const KEYS: usize = 64;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    errors: usize,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn median_figures(runs: &[Figures]) -> Figures {
    Figures {
        ops_per_sec: median(runs.iter().map(|f| f.ops_per_sec).collect()),
        p50_us: median(runs.iter().map(|f| f.p50_us).collect()),
        p99_us: median(runs.iter().map(|f| f.p99_us).collect()),
        errors: runs.iter().map(|f| f.errors).sum(),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
}

/// `clients` concurrent loops against `base` for `secs`; latencies of successful ops only.
async fn measure(base: &str, op: Op, clients: usize, secs: f64) -> Figures {
    let base: Arc<str> = base.into();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let client = Client::new();
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            let mut i = 0u64;
            while Instant::now() < end {
                let key = format!("k{}", (c as u64 * 7919 + i) % KEYS as u64);
                let t = Instant::now();
                let ok = match op {
                    Op::Read => client.read(&base, &key).await.is_ok(),
                    Op::Write => {
                        let value = (c as i64) << 40 | i as i64;
                        client.write(&base, &key, value).await == Outcome::Ok
                    }
                };
                if ok {
                    lat.push(t.elapsed().as_micros() as u32);
                } else {
                    errors += 1;
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("bench client");
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        if all.is_empty() {
            f64::NAN
        } else {
            all[((all.len() - 1) as f64 * p) as usize] as f64
        }
    };
    Figures {
        ops_per_sec: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    }
}

struct Row {
    what: String,
    figures: Figures,
}

async fn bench_mode(
    nodes: usize,
    mode: &str,
    clients: usize,
    secs: f64,
    runs: usize,
    writes: bool,
) -> Vec<Row> {
    let cluster = Cluster::start(nodes, &["--read-mode", mode]);
    let client = Client::new();
    cluster
        .wait_for_leader(&client, Duration::from_secs(15))
        .await;
    let mut router = LeaderRouter::new(client.clone(), &cluster);
    for k in 0..KEYS {
        let outcome = router
            .write(&format!("k{k}"), k as i64, Duration::from_secs(10))
            .await;
        assert_eq!(outcome, Outcome::Ok, "preload k{k}");
    }
    // The leader may have changed during preload; measure against the current one.
    let leader = cluster
        .wait_for_leader(&client, Duration::from_secs(15))
        .await;
    let base = cluster.url(&leader);
    // Warm up connections and the lease.
    measure(&base, Op::Read, clients, 0.3).await;

    let mut rows = Vec::new();
    let reads: Vec<Figures> = {
        let mut v = Vec::new();
        for _ in 0..runs {
            v.push(measure(&base, Op::Read, clients, secs).await);
        }
        v
    };
    rows.push(Row {
        what: format!("read  {mode}"),
        figures: median_figures(&reads),
    });
    if writes {
        let mut v = Vec::new();
        for _ in 0..runs {
            v.push(measure(&base, Op::Write, clients, secs).await);
        }
        rows.push(Row {
            what: "write quorum".into(),
            figures: median_figures(&v),
        });
    }
    rows
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: skip the long run there.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("reads bench: run with `cargo bench -p node --bench reads`; skipping");
        return;
    }
    let secs: f64 = env_or("LH_BENCH_SECS", 3.0);
    let runs: usize = env_or("LH_BENCH_RUNS", 3).max(1);
    let clients: usize = env_or("LH_BENCH_CLIENTS", 8).max(1);
    let nodes: usize = env_or("LH_BENCH_NODES", 3).max(1);
    let modes: Vec<String> = std::env::var("LH_BENCH_MODES")
        .unwrap_or_else(|_| "lease,read-index,log,follower-read".into())
        .split(',')
        .map(str::to_string)
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        rows.extend(rt.block_on(bench_mode(nodes, mode, clients, secs, runs, i == 0)));
    }

    println!(
        "\n{nodes} nodes on loopback, {clients} clients, {secs} s per run, median of {runs} runs (release build)"
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>8}",
        "op", "ops/s", "p50 µs", "p99 µs", "errors"
    );
    for r in &rows {
        let f = r.figures;
        println!(
            "{:<22} {:>10.0} {:>10.0} {:>10.0} {:>8}",
            r.what, f.ops_per_sec, f.p50_us, f.p99_us, f.errors
        );
    }

    let p50 = |m: &str| {
        rows.iter()
            .find(|r| r.what == format!("read  {m}"))
            .map(|r| r.figures.p50_us)
    };
    if let (Some(lease), Some(ri)) = (p50("lease"), p50("read-index")) {
        let ratio = ri / lease;
        let ok = ratio >= 2.0;
        println!(
            "lease p50 {lease:.0} µs vs read-index p50 {ri:.0} µs: {ratio:.1}x faster (target >= 2x): {}",
            if ok { "PASS" } else { "FAIL" }
        );
        if !ok {
            std::process::exit(1);
        }
    }
}
