//! The trade-offs the seeds promise, each in words with the numbers this comparison measured. A sentence
//! appears only when the matrix measured what it needs.

use super::plan::{SKEW_BEYOND, SKEW_WITHIN, SWEEP_CONCURRENCY};
use super::row::{median, pct, Row};
use workloads::overhead::Overhead;

fn med(rows: &[&Row], f: impl Fn(&Row) -> Option<f64>) -> Option<f64> {
    median(rows.iter().filter_map(|r| f(r)).collect())
}

fn safety<'a>(rows: &'a [Row], mode: &str, nemeses: &[&str]) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| {
            !r.is_sweep()
                && r.spec.mode == mode
                && r.spec.workload != "append"
                && r.spec.replication == "quorum"
                && nemeses.contains(&r.spec.nemesis.as_str())
        })
        .collect()
}

fn sweep<'a>(rows: &'a [Row], mode: &str, c: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.is_sweep() && r.spec.mode == mode && r.spec.concurrency == Some(c))
}

fn name(mode: &str) -> &str {
    match mode {
        "read-index" => "ReadIndex",
        "follower-read" => "follower reads",
        "lease" => "lease reads",
        m => m,
    }
}

/// Read latency of lease, ReadIndex and follower reads at each concurrency, and where the gap closes.
fn latency_sweep(rows: &[Row]) -> Option<String> {
    let mut parts = Vec::new();
    let mut ratios = Vec::new();
    for c in SWEEP_CONCURRENCY {
        let mut at = Vec::new();
        for mode in ["lease", "read-index", "follower-read"] {
            if let Some(r) = sweep(rows, mode, c) {
                if let (Some(p50), Some(p99)) = (r.read_p50_ms, r.read_p99_ms) {
                    at.push(format!("{} {p50:.2}/{p99:.2}", name(mode)));
                }
            }
        }
        if let (Some(l), Some(ri)) = (
            sweep(rows, "lease", c).and_then(|r| r.read_p50_ms),
            sweep(rows, "read-index", c).and_then(|r| r.read_p50_ms),
        ) {
            ratios.push((c, ri / l.max(1e-9)));
        }
        if !at.is_empty() {
            parts.push(format!("at {c} client(s): {}", at.join(", ")));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut s = format!(
        "Read latency p50/p99 in ms with no fault, each client sending its next read as soon as the last is \
         answered: {}.",
        parts.join("; ")
    );
    if ratios.len() >= 2 {
        let words: Vec<String> = ratios
            .iter()
            .map(|(c, x)| format!("{x:.1}x at {c}"))
            .collect();
        let (closest, x) = ratios
            .iter()
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        let first = ratios[0].1;
        s.push_str(&format!(
            " ReadIndex costs {} what a lease read does.",
            words.join(", ")
        ));
        if x < first {
            s.push_str(&format!(
                " The gap is narrowest at {closest} clients ({x:.1}x): there many reads share one heartbeat \
                 round, while the lease path's cost per read stays the same."
            ));
        } else {
            s.push_str(" The gap did not close as concurrency grew here.");
        }
    }
    Some(s)
}

fn unavailability(rows: &[Row]) -> Option<String> {
    let faults = ["kill-leader", "partition-leader"];
    let w = |m: &str| med(&safety(rows, m, &faults), |r| r.unavailable_write_s);
    let rd = |m: &str| med(&safety(rows, m, &faults), |r| r.unavailable_read_s);
    let (lease, ri) = (w("lease")?, w("read-index")?);
    Some(format!(
        "After the leader is lost (kill-leader, partition-leader), the first write succeeded {lease:.2} s after \
         the fault with lease and {ri:.2} s with ReadIndex (first read: {} s and {} s): a new lease leader \
         waits out the old leader's lease before it serves; ReadIndex needs only an election.",
        rd("lease").map_or("–".into(), |v| format!("{v:.2}")),
        rd("read-index").map_or("–".into(), |v| format!("{v:.2}")),
    ))
}

fn clock_bound(rows: &[Row]) -> Option<String> {
    let within = safety(rows, "lease", &["clock-skew-within"]);
    let beyond = safety(rows, "lease", &["clock-skew-beyond"]);
    let (w, b) = (within.first()?, beyond.first()?);
    Some(format!(
        "Leases rest on the clock bound: with the leader's clock at rate {SKEW_WITHIN} (inside the ±5% the \
         nodes assume, --max-drift 0.05) and the leader cut off, lease reads stayed linearizable in {} of {} \
         runs; at rate {SKEW_BEYOND} (beyond it) {} of {} runs served a stale read{}. ReadIndex under the \
         same skew: {}.",
        w.valid,
        w.runs,
        b.invalid,
        b.runs,
        b.fault_to_anomaly_s
            .map_or(String::new(), |s| format!(", {s:.2} s after the fault")),
        match safety(rows, "read-index", &["clock-skew-beyond"]).first() {
            Some(r) => format!("{} of {} runs linearizable", r.valid, r.runs),
            None => "not measured".into(),
        }
    ))
}

fn replication_rows<'a>(rows: &'a [Row], repl: &str, routing: &str, nemesis: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| {
            r.spec.workload == "append"
                && r.spec.replication == repl
                && r.spec.routing == routing
                && r.spec.nemesis == nemesis
        })
        .collect()
}

fn write_cost(rows: &[Row]) -> Option<String> {
    let at = |repl: &str| {
        let rs = replication_rows(rows, repl, "sticky", "none");
        Some((med(&rs, |r| r.write_p50_ms)?, med(&rs, |r| r.write_p99_ms)?))
    };
    let measured: Vec<(&str, (f64, f64))> = ["sync-all", "quorum", "async"]
        .iter()
        .filter_map(|m| Some((*m, at(m)?)))
        .collect();
    if measured.len() < 2 {
        return None;
    }
    let parts: Vec<String> = measured
        .iter()
        .map(|(m, (a, b))| format!("{m} {a:.2}/{b:.2}"))
        .collect();
    let p50 = |m: &str| measured.iter().find(|(n, _)| *n == m).map(|(_, v)| v.0);
    // Per op, sync-all waits at least as long as quorum (it answers once the slowest follower has
    // the write, quorum once one has); across separate runs the medians can still come out the other way.
    let sync_vs_quorum = match (p50("sync-all"), p50("quorum")) {
        (Some(s), Some(q)) if s > q * 1.1 => format!(
            " Synchronous replication waits for the slowest follower: {:.2} ms more than quorum at p50.",
            s - q
        ),
        (Some(_), Some(_)) => " Sync-all and quorum came out within run-to-run noise of each other: with \
             every node on one host the slowest follower is barely slower than the faster one, so waiting \
             for both costs little more than waiting for one."
            .to_string(),
        _ => String::new(),
    };
    let async_saves = match (p50("async"), p50("quorum")) {
        (Some(a), Some(q)) => format!(
            " Async answers before any follower has the write, {:.2} ms sooner than quorum at p50.",
            q - a
        ),
        _ => String::new(),
    };
    Some(format!(
        "Write latency p50/p99 in ms (append workload, sticky sessions, no fault): {}.{sync_vs_quorum}\
         {async_saves}",
        parts.join(", ")
    ))
}

/// What synchronous replication costs in availability: writes served with a node away.
fn write_availability(rows: &[Row]) -> Option<String> {
    let parts: Vec<String> = ["sync-all", "quorum", "async"]
        .iter()
        .filter_map(|m| {
            let cut = replication_rows(rows, m, "sticky", "partition-follower");
            let killed = replication_rows(rows, m, "sticky", "kill-leader");
            if cut.is_empty() && killed.is_empty() {
                return None;
            }
            Some(format!(
                "{m} {} of the majority side's writes with a follower cut off, {} of all requests during \
                 kill-leader",
                pct(med(&cut, |r| r.majority_updates)),
                pct(med(&killed, |r| r.availability_in_faults)),
            ))
        })
        .collect();
    if parts.len() < 2 {
        return None;
    }
    Some(format!(
        "Availability with a node away (append workload, sticky sessions), served: {}. A sync-all write \
         needs every node, so with one away writes stop until it is back (reported as unavailable); \
         quorum and async writes go on with two of three.",
        parts.join("; ")
    ))
}

fn broke(r: &Row, g: &str) -> (usize, usize) {
    r.ladder
        .iter()
        .find(|(name, _, _)| name == g)
        .map_or((0, 0), |(_, held, broke)| (*broke, held + broke))
}

fn async_sessions(rows: &[Row]) -> Option<String> {
    let mut parts = Vec::new();
    for routing in ["sticky", "round-robin"] {
        for nemesis in ["none", "kill-leader"] {
            let Some(r) = replication_rows(rows, "async", routing, nemesis)
                .into_iter()
                .next()
            else {
                continue;
            };
            let (ryw, n) = broke(r, "read_your_writes");
            let lost = r.lost_writes.unwrap_or(0.0);
            parts.push(format!(
                "{routing} × {nemesis}: read-your-writes broken in {ryw} of {n} runs, {lost:.0} acknowledged \
                 writes lost (median)"
            ));
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "Asynchronous replication keeps a session's own writes only while the session stays where it wrote \
         them: {}.",
        parts.join("; ")
    ))
}

/// Who carries the load: the busiest node's share, from the no-fault cells where the matrix has them
/// (a fault moves load around), else from its cells with a fault.
fn load(rows: &[Row]) -> Option<String> {
    let share = |m: &str| {
        let of_mode: Vec<&Row> = rows
            .iter()
            .filter(|r| r.spec.mode == m && r.spec.workload != "append")
            .collect();
        let calm: Vec<&Row> = of_mode
            .iter()
            .copied()
            .filter(|r| r.spec.nemesis == "none")
            .collect();
        med(if calm.is_empty() { &of_mode } else { &calm }, |r| {
            r.busiest_node_share
        })
    };
    let (one, spread) = (share("read-index")?, share("follower-read")?);
    Some(format!(
        "Who carries the load: with ReadIndex the busiest node answered {:.0}% of the successful requests \
         (the leader serves every read); with follower reads, {:.0}%.",
        one * 100.0,
        spread * 100.0
    ))
}

fn cap(rows: &[Row]) -> Option<String> {
    let mut cp = Vec::new();
    let mut ap = Vec::new();
    for r in rows {
        match r.cap.as_str() {
            "CP" => cp.push(r.label.as_str()),
            "AP" => ap.push(r.label.as_str()),
            _ => {}
        }
    }
    if cp.is_empty() && ap.is_empty() {
        return None;
    }
    Some(format!(
        "CAP, measured: {} cell(s) were CP (the cut-off side refused, nothing inconsistent){}; {} were AP (the \
         cut-off side kept answering and a guarantee broke){}.",
        cp.len(),
        if cp.is_empty() {
            String::new()
        } else {
            format!(", e.g. {}", cp.iter().take(3).copied().collect::<Vec<_>>().join(", "))
        },
        ap.len(),
        if ap.is_empty() {
            String::new()
        } else {
            format!(": {}", ap.join(", "))
        }
    ))
}

fn unsafe_modes(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for m in ["leader-local", "any-local", "lease-no-wait"] {
        let rs: Vec<&Row> = rows.iter().filter(|r| r.spec.mode == m).collect();
        if rs.is_empty() {
            continue;
        }
        let invalid: usize = rs.iter().map(|r| r.invalid).sum();
        let runs: usize = rs.iter().map(|r| r.runs).sum();
        if let Some(p50) = med(&rs, |r| r.read_p50_ms) {
            out.push(format!(
                "{m} is fast and wrong: reads took {p50:.2} ms at p50, and {invalid} of {runs} runs found an \
                 anomaly."
            ));
        }
    }
    out
}

pub fn tradeoffs(rows: &[Row], overhead: Option<&Overhead>) -> Vec<String> {
    let mut out: Vec<String> = [
        latency_sweep(rows),
        unavailability(rows),
        clock_bound(rows),
        write_cost(rows),
        write_availability(rows),
        async_sessions(rows),
        load(rows),
        cap(rows),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.extend(unsafe_modes(rows));
    if let Some(o) = overhead {
        out.push(format!("Client overhead: {}.", o.sentence()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::expect::expected;
    use crate::compare::plan::{preset_cells, Narrowing, Preset};
    use crate::compare::{Cell, RunResult};
    use serde_json::{json, Value};

    /// A row of the replication preset whose one run measured `results`.
    fn row(label: &str, results: Value) -> Row {
        let spec = preset_cells(Preset::Replication, &Narrowing::default())
            .into_iter()
            .find(|c| c.label() == label)
            .unwrap_or_else(|| panic!("no cell {label}"));
        Row::of(&Cell {
            expect: expected("node", &spec),
            spec,
            runs: vec![RunResult {
                seed: 1,
                exit_code: 0,
                dir: "run".into(),
                results,
            }],
        })
    }

    fn partitioned(writes_served: u64) -> Value {
        let side = json!({"ops": 10, "served": writes_served, "reads": 0, "reads_served": 0,
                          "updates": 10, "updates_served": writes_served});
        json!({"cap": {"partitions": 1, "minority": side, "majority": side},
               "metrics": {"write_latency": {"p50_ms": 2.0, "p99_ms": 4.0}}})
    }

    #[test]
    fn sync_all_availability_is_stated_from_the_majority_side() {
        let rows = vec![
            row("sync-all sticky × partition-follower", partitioned(0)),
            row("quorum sticky × partition-follower", partitioned(10)),
            row(
                "sync-all sticky × kill-leader",
                json!({"metrics": {"availability_in_faults": {"ratio": 0.25}}}),
            ),
        ];
        let words = tradeoffs(&rows, None).join("\n");
        assert!(
            words
                .contains("sync-all 0% of the majority side's writes with a follower cut off, 25%"),
            "{words}"
        );
        assert!(words.contains("quorum 100%"), "{words}");
        // With only one write path measured there is nothing to compare.
        let one = tradeoffs(&rows[..1], None).join("\n");
        assert!(!one.contains("Availability with a node away"), "{one}");
    }

    #[test]
    fn write_cost_compares_the_write_paths_without_a_fault() {
        let lat =
            |p50: f64| json!({"metrics": {"write_latency": {"p50_ms": p50, "p99_ms": p50 * 2.0}}});
        let rows = vec![
            row("sync-all sticky × none", lat(3.0)),
            row("quorum sticky × none", lat(2.0)),
            row("async sticky × none", lat(1.0)),
        ];
        let words = tradeoffs(&rows, None).join("\n");
        assert!(
            words.contains("sync-all 3.00/6.00, quorum 2.00/4.00, async 1.00/2.00"),
            "{words}"
        );
        assert!(words.contains("1.00 ms more than quorum"), "{words}");
        assert!(words.contains("1.00 ms sooner than quorum"), "{words}");
        // Medians the other way round are not read as sync-all being cheaper.
        let rows = vec![
            row("sync-all sticky × none", lat(1.9)),
            row("quorum sticky × none", lat(2.0)),
        ];
        let words = tradeoffs(&rows, None).join("\n");
        assert!(words.contains("within run-to-run noise"), "{words}");
    }
}
