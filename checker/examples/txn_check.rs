//! Checks a generated list-append history of N transactions (default 1,000,000) and prints the time and
//! the heap held; run under `/usr/bin/time -v` for peak memory:
//! `cargo run --release -p checker --example txn_check -- 1000000 [stale]`.

use checker::txn::{check_txn, synth, Mop, ReadValue, TxnModel, TxnOptions};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::now();
    let mut h = synth::list_append_history(n, 100, 5, 42);
    // `stale`: every 1000th read returns the empty list, to time a history full of anomalies.
    if std::env::args().nth(2).as_deref() == Some("stale") {
        let empty = h.list(&[]);
        let mut reads = 0;
        for m in h.mops.iter_mut() {
            if let Mop::Read { value, .. } = m {
                reads += 1;
                if reads % 1000 == 0 && *value != ReadValue::Unknown {
                    *value = empty;
                }
            }
        }
    }
    let made = t0.elapsed();
    let t1 = Instant::now();
    let r = check_txn(&h, TxnModel::ListAppend, &TxnOptions::default()).expect("checks");
    let took = t1.elapsed();
    println!(
        "{n} txns, {} micro-ops, {} edges: generated in {:.2} s, checked in {:.2} s ({:.2} us/txn), valid {}, heap {} MB, anomalies {:?}",
        r.micro_ops,
        r.edges,
        made.as_secs_f64(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64,
        r.valid,
        r.heap_bytes >> 20,
        r.anomaly_counts
    );
}
