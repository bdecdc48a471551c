//! `cargo run --release --example load_history -- FILE`: load a history (any supported format) and print
//! the op count, the time taken and the peak memory (VmHWM), for the loading memory target.

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: load_history FILE");
        std::process::exit(254);
    };
    let t = Instant::now();
    match checker::load_history(std::path::Path::new(&path)) {
        Ok(h) => {
            let hwm = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                })
                .map_or(f64::NAN, |k| k / 1024.0);
            println!(
                "{path}: {} ops in {:.2} s, peak memory {hwm:.0} MiB",
                h.op_count(),
                t.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(254);
        }
    }
}
