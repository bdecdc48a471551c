//! The harness client's own cost per op: the real workload (generator, sticky routing, recorder writing
//! history.jsonl, HTTP) against loopback servers that answer at once. The target: at most 100 µs p50.
//! Criterion times one 1-second measurement; the p50/p99 it found are printed alongside.

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("client_overhead");
    g.sample_size(10);
    // Back to back (the client's own work per op) and paced as a run sends (each op also pays for the
    // machine waking from idle).
    for (concurrency, rate) in [
        (1usize, workloads::overhead::CLOSED_LOOP),
        workloads::overhead::PACED,
        (8, 2000.0),
    ] {
        g.bench_function(format!("register_1s_c{concurrency}_rate{rate}"), |b| {
            b.iter(|| {
                let o = rt
                    .block_on(workloads::overhead::measure_for(
                        Duration::from_secs(1),
                        concurrency,
                        rate,
                    ))
                    .unwrap();
                eprintln!(
                    "c{concurrency} rate {rate}: {} ops, read p50 {:.0} µs p99 {:.0} µs, write p50 {:.0} µs p99 {:.0} µs",
                    o.ops, o.read_p50_us, o.read_p99_us, o.write_p50_us, o.write_p99_us
                );
                o
            })
        });
    }
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
