//! The bounds of every number option of a run (README, "Running"), checked before anything is created,
//! and the longest a run can take with the options it was given ([`RunBound`]).
//!
//! The upper bounds keep a run finite and its arithmetic in range (a `--heartbeat-ms` near u64::MAX
//! would overflow the election check); the lower bounds are what the harness itself needs, e.g. a fault
//! must last as long as its landing check takes to verify it.

use super::args::RunArgs;
use crate::settings::{RunBound, RunConfig};
use std::time::Duration;

/// Bounds of the counts.
pub const NODES: (usize, usize) = (1, 9);
pub const CONCURRENCY: (usize, usize) = (1, 256);
pub const KEYS: (usize, usize) = (1, 10_000);
/// Operations per second in total: more than 0, at most this.
pub const MAX_RATE: f64 = 100_000.0;
pub const HEARTBEAT_MS: (u64, u64) = (NODE_TICK_MS, 10_000);
pub const ELECTION_TIMEOUT_MS_MAX: u64 = 60_000;
pub const LEASE_MS: (u64, u64) = (1, 60_000);
/// The node's timer tick (`node --tick-ms`, default 5): a heartbeat shorter than it cannot be kept.
pub const NODE_TICK_MS: u64 = 5;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
const fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}
const fn max(a: Duration, b: Duration) -> Duration {
    if a.as_nanos() > b.as_nanos() {
        a
    } else {
        b
    }
}

/// How long a landing check takes to see a fault that landed: a cut pair counts as cut once its probe
/// connect has timed out; a kill, pause or restart is read from the process state for up to a second.
pub const LANDING_VERIFY: Duration = max(
    ms(nemesis::LANDING_CONNECT_TIMEOUT_MS),
    nemesis::family::process::PROCESS_CHECK,
);
/// The longest a landing check takes: a connect that should work but did not gets a second try.
pub const LANDING_CHECK_MAX: Duration = max(
    ms(2 * nemesis::LANDING_CONNECT_TIMEOUT_MS),
    nemesis::family::process::PROCESS_CHECK,
);
/// The shortest `--fault-duration`: a fault must stay in place until its landing check has seen it.
pub const MIN_FAULT_DURATION: Duration = LANDING_VERIFY;
/// The shortest `--nemesis-interval`: the heal's own landing check (and a restart's) must fit between
/// two faults, at the interval's lowest jitter (0.8) too.
pub const MIN_NEMESIS_INTERVAL: Duration = secs(1);

/// Every duration option: (flag, its value, lower, upper), the bounds inclusive.
fn durations(a: &RunArgs) -> [(&'static str, Duration, Duration, Duration); 9] {
    [
        ("--time-limit", a.time_limit, secs(1), secs(24 * 3600)),
        ("--settle", a.settle, Duration::ZERO, secs(600)),
        ("--op-timeout", a.op_timeout, ms(10), secs(60)),
        ("--health-timeout", a.health_timeout, secs(1), secs(600)),
        (
            "--fault-duration",
            a.fault_duration,
            MIN_FAULT_DURATION,
            secs(3600),
        ),
        (
            "--nemesis-interval",
            a.nemesis_interval,
            MIN_NEMESIS_INTERVAL,
            secs(3600),
        ),
        (
            "--check-time-limit",
            a.check_time_limit,
            secs(1),
            secs(24 * 3600),
        ),
        ("--packet-delay", a.packet_delay, ms(1), secs(10)),
        ("--packet-jitter", a.packet_jitter, Duration::ZERO, secs(10)),
    ]
}

/// Human form of a bound: `500ms`, `2s`, `24h`.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0".into(),
        m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
        m if m % 60_000 == 0 && m >= 600_000 => format!("{}m", m / 60_000),
        m if m % 1000 == 0 => format!("{}s", m / 1000),
        m => format!("{m}ms"),
    }
}

/// Every number option within its bounds; the message names the option and its range.
pub fn check(a: &RunArgs) -> Result<(), String> {
    for (flag, d, lo, hi) in durations(a) {
        if d < lo || d > hi {
            let why = match flag {
                "--fault-duration" => format!(
                    " (a fault must stay in place for its landing check, up to {})",
                    show(LANDING_VERIFY)
                ),
                "--nemesis-interval" => {
                    " (the heal's landing check must fit between two faults)".to_string()
                }
                _ => String::new(),
            };
            return Err(format!(
                "{flag} {} is out of range; use {} to {}{why}",
                show_given(d),
                show(lo),
                show(hi)
            ));
        }
    }
    for (flag, v, (lo, hi)) in [
        ("--nodes", a.nodes, NODES),
        ("--concurrency", a.concurrency, CONCURRENCY),
        ("--keys", a.keys, KEYS),
    ] {
        if v < lo || v > hi {
            return Err(format!("{flag} {v} is out of range; use {lo} to {hi}"));
        }
    }
    if !(a.rate > 0.0 && a.rate <= MAX_RATE) {
        return Err(format!(
            "--rate {} is out of range; use more than 0 and at most {MAX_RATE} ops/s",
            a.rate
        ));
    }
    for (flag, v, (lo, hi)) in [
        ("--heartbeat-ms", a.heartbeat_ms, HEARTBEAT_MS),
        ("--lease-ms", a.lease_ms, LEASE_MS),
    ] {
        if v < lo || v > hi {
            return Err(format!("{flag} {v} is out of range; use {lo} to {hi}"));
        }
    }
    if a.election_timeout_ms < 2 * a.heartbeat_ms || a.election_timeout_ms > ELECTION_TIMEOUT_MS_MAX
    {
        return Err(format!(
            "--election-timeout-ms {} is out of range; use twice --heartbeat-ms ({}) to {ELECTION_TIMEOUT_MS_MAX}",
            a.election_timeout_ms,
            2 * a.heartbeat_ms
        ));
    }
    if let Some(r) = a.skew_rate {
        if !(r > 0.0 && r <= 10.0) {
            return Err(format!(
                "--skew-rate {r} is out of range; use more than 0 and at most 10"
            ));
        }
    }
    if !(0.0..0.5).contains(&a.max_drift) {
        return Err(format!(
            "--max-drift {} is out of range; use 0 to less than 0.5",
            a.max_drift
        ));
    }
    for (flag, pct) in [
        ("--packet-loss", a.packet_loss),
        ("--packet-duplicate", a.packet_duplicate),
    ] {
        if !(pct > 0.0 && pct <= 100.0) {
            return Err(format!(
                "{flag} {pct} is out of range; use a percentage more than 0 and at most 100"
            ));
        }
    }
    Ok(())
}

/// A given duration as the user would write it (to the millisecond).
fn show_given(d: Duration) -> String {
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        show(d)
    } else {
        format!("{:?}", d)
    }
}

/// Local runs take their addresses from `--subnet`: the client at .2, node *i* at .11 + *i*, and with
/// `--partition-scope all` a session address per node after the nodes.
pub fn subnet(a: &RunArgs) -> Result<(), String> {
    if a.hosts.is_some() {
        return Ok(());
    }
    let per_node = if a.partition_scope == nemesis::PartitionScope::All {
        2
    } else {
        1
    };
    let needed = nemesis::FIRST_NODE_HOST - 1 + per_node * a.nodes as u32;
    let have = a.subnet.host_count();
    if needed > have {
        let scope = if per_node == 2 {
            " and --partition-scope all (a session address per node)"
        } else {
            ""
        };
        let prefix = (1..=28u32)
            .rev()
            .find(|p| (1u32 << (32 - p)) - 2 >= needed)
            .unwrap_or(24);
        return Err(format!(
            "--subnet {} has {have} host addresses, but --nodes {}{scope} needs {needed} (nodes start at \
             .{}); use a /{prefix} or larger",
            a.subnet,
            a.nodes,
            nemesis::FIRST_NODE_HOST
        ));
    }
    Ok(())
}

/// Creating the network and starting the nodes; at the end stopping them (2 s), the client threads
/// (2 s) and removing the network; writing the report.
pub const SETUP_AND_TEARDOWN: Duration = secs(10);
/// How long the cluster may take to recover after the last heal (`drive` in run/mod.rs).
pub const RECOVERY: Duration = secs(20);
/// The final reads' budget.
pub const FINAL_READS: Duration = secs(10);
/// The pause of the loops that poll `/status` (healthy, leader, recovery): one more may start at the end.
pub const POLL: Duration = ms(100);
/// Attempts one op may make: the node it goes to and up to two `not_leader` hops.
pub const ATTEMPTS_PER_OP: u32 = 3;

/// The longest each phase of a run may take with its options, in order; their sum is the run's bound
/// (README, "How long a run takes"). Each phase is bounded in the code by the constant named here.
pub fn run_bound(cfg: &RunConfig) -> RunBound {
    let op = cfg.workload.op_timeout;
    let one_op = op * ATTEMPTS_PER_OP;
    let nodes = cfg.cluster.nodes.len() as u32;
    // Started before the limit, a fault may finish starting after it (finding the leader, a clock
    // request, the landing check), then heal (a clock request, the landing check).
    let overrun = if cfg.faults.kinds.is_empty() {
        Duration::ZERO
    } else {
        super::faults::LEADER_WAIT + POLL + op + (op + LANDING_CHECK_MAX) * 2
    };
    // Two faults may be on at once where a replayed schedule overlaps them: both can overrun.
    let windows = cfg.schedule();
    let overlapping = windows
        .iter()
        .enumerate()
        .any(|(i, w)| windows[..i].iter().any(|e| e.end > w.start));
    let overrun = if overlapping { overrun * 2 } else { overrun };
    // A restart's heal may wait for the member to serve again (Galera).
    let overrun = match cfg.cluster.system.rejoin_wait() {
        Some(w) if cfg.faults.kinds.iter().any(|f| f.restarts()) => overrun + w,
        _ => overrun,
    };
    // Before the workload: a family that needs the clock API (clock-skew) asks every node's; append
    // probes its route once.
    let mut probes = op;
    if cfg.faults.kinds.iter().any(|f| {
        f.family()
            .start_needs
            .contains(&nemesis::family::StartNeed::ClockEndpoint)
    }) {
        probes += op * nodes;
    }
    let phases = vec![
        ("set-up, teardown and report", SETUP_AND_TEARDOWN),
        (
            "healthy (--health-timeout)",
            cfg.cluster.health_timeout + op + POLL,
        ),
        ("start-up probes", probes),
        ("workload (--time-limit)", cfg.workload.time_limit),
        ("the last fault's overrun", overrun),
        ("ops in flight", one_op),
        ("recovery after the last heal", RECOVERY + op + POLL),
        ("--settle", cfg.workload.settle),
        ("final reads", FINAL_READS + one_op),
        // A round of local reads (every key on every node) under way when the bound passes ends too.
        (
            "convergence",
            super::convergence::BOUND + op * nodes * cfg.workload.keys as u32,
        ),
        ("check (--check-time-limit)", cfg.check.time_limit),
    ];
    RunBound::new(phases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::args::parse_for_test;

    fn bound(argv: &[&str]) -> RunBound {
        let store = tempfile::tempdir().unwrap();
        let mut v = vec!["--store", store.path().to_str().unwrap()];
        v.extend_from_slice(argv);
        let cfg = RunConfig::from_args(&parse_for_test(&v)).unwrap();
        cfg.run_bound.expect("from_args computes the bound")
    }

    /// The README's worked numbers are this code's: the defaults with no fault and with one.
    #[test]
    fn the_readme_states_the_bound_the_code_computes() {
        let none = bound(&["--nemesis", "none"]).total_s;
        let one = bound(&[]).total_s;
        let readme = include_str!("../../../README.md");
        let said = format!(
            "{none:.1} s with the defaults and `--nemesis none`, {one:.1} s with one fault"
        );
        assert!(readme.contains(&said), "README lacks: {said}");
        // Each phase grows with its option.
        let longer = bound(&["--settle", "10s", "--nemesis", "none"]).total_s;
        assert!((longer - none - 8.0).abs() < 1e-9, "{longer} vs {none}");
    }
}
