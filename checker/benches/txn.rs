//! The transactional checker on a generated 1,000,000-transaction list-append history (4 micro-ops on
//! average, 100 sessions, 5% info): target under 10 s single-threaded and under 2 GB. Peak memory:
//! `/usr/bin/time -v target/release/examples/txn_check 1000000`.

use checker::txn::{check_txn, synth, TxnModel, TxnOptions};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("txn");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    for n in [100_000usize, 1_000_000] {
        let h = synth::list_append_history(n, 100, 5, 42);
        g.bench_function(format!("list_append_{n}"), |b| {
            b.iter(|| {
                let r = check_txn(&h, TxnModel::ListAppend, &TxnOptions::default()).unwrap();
                assert!(r.valid);
                r.edges
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
