//! Verifying that a fault landed: partitions by probes from inside the namespaces, process faults by the
//! process state, packet faults by measuring them. Every result goes into the history; a miss goes into
//! `not_landed`, which makes the run invalid (exit 3) naming the pair or node.

use super::FaultRunner;
use nemesis::{PacketFault, Partition};
use serde_json::json;
use std::time::Duration;

/// How long a kill, pause or restart may take to show in the process state before it counts as missed.
pub const PROCESS_CHECK: Duration = Duration::from_secs(1);

impl FaultRunner<'_> {
    /// Probe every node pair against `expected` (what was just applied, or nothing after a heal).
    pub(super) fn check_landing(&mut self, fault: &str, expected: &Partition) {
        let check = self.net.check_partition(expected);
        if let Some(mut event) = check.event {
            event["fault"] = fault.into();
            self.event("landing", event);
        }
        if let Some(missed) = check.missed {
            self.miss(fault, missed);
        }
    }

    /// Check that each of `nodes` is (or is not) running, and stopped when `paused`.
    pub(super) fn check_processes(&mut self, fault: &str, nodes: &[String], want: ProcState) {
        let ok = |state: Option<char>| match want {
            ProcState::Down => state.is_none(),
            ProcState::Paused => state == Some('T'),
            ProcState::Running => state.is_some_and(|s| s != 'T'),
        };
        // A signal is delivered a moment after kill(2) returns: give the states up to a second.
        let deadline = std::time::Instant::now() + PROCESS_CHECK;
        let mut states: Vec<(String, Option<char>)>;
        loop {
            states = nodes
                .iter()
                .map(|n| (n.clone(), self.cluster.state(n)))
                .collect();
            if states.iter().all(|(_, s)| ok(*s)) || std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let wrong: Vec<String> = states
            .iter()
            .filter(|(_, s)| !ok(*s))
            .map(|(n, s)| {
                format!(
                    "{n} is {} (expected {want:?})",
                    s.map_or("not running".to_string(), |s| format!("in state {s}"))
                )
            })
            .collect();
        let states: serde_json::Map<String, serde_json::Value> = states
            .into_iter()
            .map(|(n, s)| (n, json!(s.map(String::from))))
            .collect();
        self.event(
            "landing",
            json!({"fault": fault, "landed": wrong.is_empty(), "states": states}),
        );
        if !wrong.is_empty() {
            self.miss(fault, wrong.join(", "));
        }
    }

    /// Check a packet fault on what `node` sends by measuring it with a burst of probes (in namespaces
    /// from inside them, on hosts between the hosts): `on`, the effect is there, about as asked; else it is
    /// gone with its rules.
    pub(super) fn check_packets(&mut self, fault: &str, node: &str, spec: &PacketFault, on: bool) {
        let aim = self.packets.aim();
        let net = self.net;
        let rules = net.shaped(node);
        let burst = net.measure_packets(node, spec, aim);
        let verdict = match (&rules, &burst) {
            (Err(e), _) => Err(format!("reading {node}'s rules: {e}")),
            (_, Err(e)) => Err(format!("measuring {node}'s packets: {e}")),
            (Ok(r), _) if *r != on => Err(format!(
                "{node}'s packet rules are {}",
                if on { "missing" } else { "still there" }
            )),
            (_, Ok(b)) => spec.judge(b, aim, on).map_err(|e| format!("{node}: {e}")),
        };
        self.event(
            "landing",
            json!({"fault": fault, "node": node, "landed": verdict.is_ok(), "asked": spec.asked(aim), "aim": aim,
                   "measured": burst.as_ref().ok().map(|b| spec.measured(b)), "burst": burst.as_ref().ok(),
                   "rules": rules.as_ref().ok(), "mechanism": net.packet_mechanism()}),
        );
        if let Err(e) = verdict {
            self.miss(fault, e);
        }
    }

    /// Before a packet fault is removed: whether it held all along (a dead delay thread let packets
    /// through undelayed, which makes the run invalid).
    pub(super) fn check_packet_health(&mut self, node: &str) {
        let Some(health) = self.net.packet_fault_health(node) else {
            return;
        };
        if let Err(e) = health {
            self.event(
                "landing",
                json!({"fault": "packet-delay", "node": node, "landed": false, "reason": e}),
            );
            self.miss("packet-delay", e);
        }
    }

    fn miss(&mut self, fault: &str, what: String) {
        tracing::warn!("{fault} did not land: {what}");
        self.not_landed
            .push(format!("{fault} did not land: {what}"));
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum ProcState {
    Down,
    Paused,
    Running,
}
