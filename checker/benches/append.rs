//! `cargo bench -p checker --bench append`: checking a generated 1,000,000-op list-append history
//! (16 keys live at a time, 50 sessions, 5% info) with every guarantee, single-threaded.
//! Target on a 2-core machine: under 3 s and under 1 GB (memory: `cargo run --release -p checker
//! --example append_check`, which prints peak RSS). Measured twice: wall time, and the thread's CPU
//! time (`append-cpu`), which a shared, loaded machine does not inflate.

mod append_synth;

use checker::append::{check_append, AppendOptions};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

/// CPU time of the benchmarking thread, in ns.
struct CpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical >= 1e9 {
            (1e9, "s cpu")
        } else {
            (1e6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v = 1e9 / *v);
        "iter/s cpu"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// The clean history, and one with 10% stale reads (every check finds violations and takes its slower
/// paths).
fn histories() -> Vec<(&'static str, checker::History)> {
    let clean = append_synth::append_history(&append_synth::Shape::default());
    let r = check_append(&clean, &AppendOptions::default()).expect("well formed");
    assert_eq!(
        r.guarantees.linearizable,
        checker::Validity::Valid,
        "{:?}",
        r.violations.first()
    );
    let stale = append_synth::append_history(&append_synth::Shape {
        stale_share: 0.1,
        ..Default::default()
    });
    vec![
        ("1m-ops-16-keys-50-sessions", clean),
        ("1m-ops-10pct-stale", stale),
    ]
}

fn bench<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let opts = AppendOptions::default();
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    for (name, h) in histories() {
        g.bench_function(name, |b| {
            b.iter(|| check_append(&h, &opts).map(|r| r.violations.len()))
        });
    }
    g.finish();
}

fn wall(c: &mut Criterion) {
    bench(c, "append");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    bench(c, "append-cpu");
}

criterion_group!(append_wall, wall);
criterion_group! {
    name = append_cpu;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(append_wall, append_cpu);
