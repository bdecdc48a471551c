//! CAP, measured: during partitions, how available the system was to the sessions on the cut-off
//! (minority) side and to those on the majority side.
//!
//! A session's side is that of node *session mod n*, the node it started on (docs/protocol.md): its
//! client sends from that side's address, and failing over to a node across the cut does not move the
//! client. An op counts for its session's side when it was invoked inside a partition window; it was
//! served when it completed `ok` or with a correct refusal (`cas_failed`), as
//! [`crate::metrics::Availability`] counts, before the window ended: a request held up by the cut and
//! answered after the heal was not available during the partition.

use crate::faults::FaultSpan;
use crate::ops::pair;
use checker::Event;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Served / invoked, for one side, overall and for reads and updates apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SideCounts {
    pub ops: usize,
    pub served: usize,
    pub reads: usize,
    pub reads_served: usize,
    pub updates: usize,
    pub updates_served: usize,
}

impl SideCounts {
    fn add(&mut self, read: bool, served: bool) {
        self.ops += 1;
        self.served += served as usize;
        if read {
            self.reads += 1;
            self.reads_served += served as usize;
        } else {
            self.updates += 1;
            self.updates_served += served as usize;
        }
    }

    /// `served / ops`; `None` when no op was invoked on this side.
    pub fn ratio(&self) -> Option<f64> {
        (self.ops > 0).then(|| self.served as f64 / self.ops as f64)
    }

    pub fn read_ratio(&self) -> Option<f64> {
        (self.reads > 0).then(|| self.reads_served as f64 / self.reads as f64)
    }

    pub fn update_ratio(&self) -> Option<f64> {
        (self.updates > 0).then(|| self.updates_served as f64 / self.updates as f64)
    }
}

/// Availability on each side of the run's partitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapAvailability {
    /// Partition windows measured.
    pub partitions: usize,
    pub minority: SideCounts,
    pub majority: SideCounts,
    /// `minority.ratio()` and `majority.ratio()`, for readers of results.json.
    pub minority_ratio: Option<f64>,
    pub majority_ratio: Option<f64>,
}

impl CapAvailability {
    fn side(&mut self, minority: bool) -> &mut SideCounts {
        if minority {
            &mut self.minority
        } else {
            &mut self.majority
        }
    }
}

/// Faults that cut the cluster in two with a named minority: the targets are the cut-off side.
fn is_partition(kind: &str) -> bool {
    matches!(
        kind,
        "partition-leader"
            | "partition-follower"
            | "partition-random"
            | "partition-halves"
            | "partition-one-way"
            | "clock-skew"
    )
}

/// `None` when the run had no partition with a minority side.
pub fn cap_availability(
    events: &[Event],
    faults: &[FaultSpan],
    nodes: &[String],
) -> Option<CapAvailability> {
    let windows: Vec<&FaultSpan> = faults.iter().filter(|f| is_partition(&f.kind)).collect();
    if windows.is_empty() || nodes.is_empty() {
        return None;
    }
    // Per process: (side is minority, is a read) of its op invoked in a window and never answered. A
    // later invoke of the process drops it; one still open at the end was not served.
    let mut open: HashMap<u64, (bool, bool)> = HashMap::new();
    let mut out = CapAvailability {
        partitions: windows.len(),
        ..CapAvailability::default()
    };
    // `pair` gives one op per client invoke, in the order of the invokes.
    for op in pair(events) {
        open.remove(&op.process);
        let Some(w) = windows
            .iter()
            .find(|w| w.contains(op.invoke_ns as f64 / 1e9))
        else {
            continue;
        };
        let session = op.session.unwrap_or(op.process);
        let side = &nodes[session as usize % nodes.len()];
        let minority = w.targets.iter().any(|t| t == side);
        match op.complete_ns {
            Some(c) => {
                let served = op.is_served() && w.contains(c as f64 / 1e9);
                out.side(minority).add(op.is_read(), served);
            }
            None => {
                open.insert(op.process, (minority, op.is_read()));
            }
        }
    }
    for (minority, read) in open.into_values() {
        out.side(minority).add(read, false);
    }
    out.minority_ratio = out.minority.ratio();
    out.majority_ratio = out.majority.ratio();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::{EventType, Process};
    use serde_json::json;

    fn ev(time_s: f64, process: Process, kind: EventType, f: &str) -> Event {
        Event {
            index: 0,
            time: (time_s * 1e9) as u64,
            process,
            kind,
            f: f.into(),
            key: Some("k".into()),
            value: serde_json::Value::Null,
            node: None,
            error: None,
            session: None,
        }
    }

    #[test]
    fn ops_count_for_the_side_their_session_started_on() {
        let nodes: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        let faults = vec![FaultSpan::new("partition-leader", 1.0, Some(5.0), ["n1"])];
        let c = Process::Client;
        let mut events = vec![
            // Before the partition: not counted.
            ev(0.5, c(0), EventType::Invoke, "read"),
            ev(0.6, c(0), EventType::Ok, "read"),
            // Session 0 (home n1, cut off): a read served, a write refused.
            ev(1.5, c(0), EventType::Invoke, "read"),
            ev(1.6, c(0), EventType::Ok, "read"),
            ev(1.7, c(0), EventType::Invoke, "write"),
            ev(1.8, c(0), EventType::Fail, "write"),
            // Session 1 (home n2): a write served, a cas correctly refused.
            ev(1.5, c(1), EventType::Invoke, "write"),
            ev(1.6, c(1), EventType::Ok, "write"),
            ev(1.7, c(1), EventType::Invoke, "cas"),
            ev(1.8, c(1), EventType::Fail, "cas"),
        ];
        events[5].error = Some("unavailable: no quorum".into());
        events[9].error = Some("cas_failed: value is 3".into());
        // Session 0 fails over to n2: its client is still on n1's side, so its later ops count there.
        let mut fo = ev(
            2.0,
            Process::Named("router".into()),
            EventType::Info,
            "failover",
        );
        fo.value = json!({"session": 0, "from": "n1", "to": "n2", "reason": "refused"});
        events.push(fo);
        events.push(ev(2.5, c(0), EventType::Invoke, "read"));
        events.push(ev(2.6, c(0), EventType::Ok, "read"));
        // Session 2 (home n3): a read held up by the cut, answered only after the heal at 5 s.
        events.push(ev(4.5, c(2), EventType::Invoke, "read"));
        events.push(ev(5.5, c(2), EventType::Ok, "read"));
        let cap = cap_availability(&events, &faults, &nodes).unwrap();
        assert_eq!(cap.minority.ops, 3);
        assert_eq!(cap.minority.served, 2);
        assert_eq!(cap.minority.read_ratio(), Some(1.0));
        assert_eq!(cap.minority.update_ratio(), Some(0.0));
        assert_eq!(cap.majority.ops, 3);
        assert_eq!(
            cap.majority.served, 2,
            "the read answered after the heal was not served"
        );
        assert!(cap_availability(&events, &[], &nodes).is_none());
    }
}
