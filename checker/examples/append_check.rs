//! Generates the benchmark's 1,000,000-op list-append history, checks it once and prints the time and
//! peak memory (VmHWM): `cargo run --release -p checker --example append_check [ops] [per_key] [stale_share]`.

#[path = "../benches/append_synth.rs"]
mod append_synth;

use checker::append::{check_append, AppendOptions};
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU seconds this process has used (user + system): the machine may be shared, so wall time alone
/// overstates the check's cost.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let ticks = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut shape = append_synth::Shape::default();
    if let Some(n) = args.next().and_then(|a| a.parse().ok()) {
        shape.ops = n;
    }
    if let Some(n) = args.next().and_then(|a| a.parse().ok()) {
        shape.per_key = n;
    }
    if let Some(x) = args.next().and_then(|a| a.parse().ok()) {
        shape.stale_share = x;
    }
    let t = Instant::now();
    let h = append_synth::append_history(&shape);
    let gen = t.elapsed();
    let before = peak_rss_mib();
    let t = Instant::now();
    let cpu = cpu_s();
    let r = match check_append(&h, &AppendOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("append_check: {e}");
            std::process::exit(1);
        }
    };
    let took = t.elapsed();
    let cpu = cpu_s() - cpu;
    println!(
        "{} ops, {} keys, {} reads: generated in {:.2} s (peak RSS {before:.0} MiB), checked in {:.3} s wall, {cpu:.2} s CPU (peak RSS {:.0} MiB); linearizable {:?}, stale reads {}, violations {:?}",
        r.ops,
        r.keys,
        r.staleness.reads,
        gen.as_secs_f64(),
        took.as_secs_f64(),
        peak_rss_mib(),
        r.guarantees.linearizable,
        r.staleness.stale_reads,
        r.violation_counts
    );
}
