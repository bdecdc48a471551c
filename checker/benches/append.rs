//! `cargo bench -p checker --bench append`: checking a generated 1,000,000-op list-append history
//! (16 keys live at a time, 50 sessions, 5% info) with every guarantee, single-threaded.
//! Target on a 2-core machine: under 3 s and under 1 GB (memory: `cargo run --release -p checker
//! --example append_check`, which prints peak RSS).

mod append_synth;

use checker::append::{check_append, AppendOptions};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let h = append_synth::append_history(&append_synth::Shape::default());
    let opts = AppendOptions {
        final_read_after_ns: None,
    };
    let r = check_append(&h, &opts).expect("the generated history is well formed");
    assert_eq!(
        r.guarantees.linearizable,
        Some(true),
        "{:?}",
        r.violations.first()
    );
    let mut g = c.benchmark_group("append");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("1m-ops-16-keys-50-sessions", |b| {
        b.iter(|| check_append(&h, &opts).map(|r| r.violations.len()))
    });
    g.finish();
}

criterion_group!(append, benches);
criterion_main!(append);
