//! Faults a healthy cluster cannot take, refused at the start (exit 254) instead of failing later: faults
//! aimed at a leader against a system that reports none, and what a fault family needs at the start
//! ([`nemesis::Family::start_needs`]): the clock family needs `POST /admin/clock` (probed with a no-op:
//! offset 0, rate 1).

use super::probe::Probe;
use nemesis::family::StartNeed;
use nemesis::FaultKind;
use node::api::ClockRequest;
use std::time::Duration;

/// How long every node must report no leader, without a break, before a system counts as leaderless
/// (a Raft cluster elects its first leader well within this).
pub const LEADERLESS_AFTER: Duration = Duration::from_secs(3);

/// Why the run must not go on with these faults, if it must not.
pub async fn refusal(faults: &[FaultKind], leaderless: bool, probe: &Probe) -> Option<String> {
    if leaderless {
        let aimed: Vec<&str> = faults
            .iter()
            .filter(|f| f.needs_leader())
            .map(|f| f.name())
            .collect();
        if !aimed.is_empty() {
            let usable: Vec<&str> = nemesis::FaultKind::ALL
                .iter()
                .filter(|f| !f.needs_leader())
                .map(|f| f.name())
                .collect();
            return Some(format!(
                "refusing --nemesis {}: {} aimed at the leader, but every node reports no leader \
                 (a leaderless system); use none or one of: {}",
                aimed.join(","),
                if aimed.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
                usable.join(", ")
            ));
        }
    }
    let clock: Vec<&str> = faults
        .iter()
        .filter(|f| f.family().start_needs.contains(&StartNeed::ClockEndpoint))
        .map(|f| f.name())
        .collect();
    if !clock.is_empty() {
        let no_op = ClockRequest {
            offset_ms: 0.0,
            rate: 1.0,
        };
        for node in probe.nodes() {
            if let Err(e) = probe.set_clock(node, no_op.clone()).await {
                return Some(format!(
                    "refusing --nemesis {}: the system must let the harness skew a node's clock \
                     through POST /admin/clock (docs/protocol.md), but {node} did not: {e}",
                    clock.join(",")
                ));
            }
        }
    }
    None
}
