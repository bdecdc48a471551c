//! `cargo run --release --example synth_check -- OPS PROCESSES INFO_SHARE [SEED [REPEAT]]`: generate a linearizable
//! register history (unique values, all processes overlapping), check it single-threaded, and print the
//! verdict, the method, the time and the peak memory (VmHWM). With `SYNTH_WRITE=FILE` it also writes the
//! history as JSON Lines. With `SYNTH_VALUES=N` the history is a read/write register whose writes repeat
//! values from 1..=N (checked with the `register` model); `SYNTH_THREADS=T` sets the checker's threads.

#[path = "../benches/synth.rs"]
mod synth;

use checker::{check, parse_events, CheckOptions, ModelKind};
use std::time::{Duration, Instant};

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: f64| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (ops, procs, info, seed) = (num(0, 100_000.0), num(1, 50.0), num(2, 0.05), num(3, 1.0));
    let env_num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let values = env_num("SYNTH_VALUES");
    let (events, model) = match values {
        Some(n) => (
            synth::repeated_register_history(ops as usize, procs as usize, n as i64, seed as u64),
            ModelKind::Register,
        ),
        None => (
            synth::register_history(ops as usize, procs as usize, info, seed as u64),
            ModelKind::CasRegister,
        ),
    };
    if let Some(path) = std::env::var_os("SYNTH_WRITE") {
        // Also write the history as JSON Lines, to measure loading and checking a file.
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
        for e in &events {
            serde_json::to_writer(&mut w, e).expect("write");
            w.write_all(b"\n").expect("write");
        }
    }
    let h = parse_events(&events).expect("generated history parses");
    drop(events);
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(
            env_num("SYNTH_SECS").unwrap_or(60) as u64
        )),
        memory_limit_bytes: Some(4 << 30),
        threads: env_num("SYNTH_THREADS").unwrap_or(1),
    };
    let repeat = num(4, 1.0) as usize;
    let t = Instant::now();
    let mut r = check(&h, model, &opts);
    for _ in 1..repeat {
        r = check(&h, model, &opts);
    }
    let method = r.per_key.first().map(|k| k.method.as_str()).unwrap_or("-");
    println!(
        "{} ops, {} processes, {:.0}% info: {} by {method} in {:.3} s; {} states; peak memory {:.0} MiB",
        ops,
        procs,
        info * 100.0,
        r.valid,
        t.elapsed().as_secs_f64() / repeat.max(1) as f64,
        r.per_key.iter().map(|k| k.states).sum::<usize>(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
