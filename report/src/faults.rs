//! Fault windows: the input type, and a fallback that recovers them from nemesis events.

use checker::{Event, Process};
use nemesis::family::{self, Channel, SpanKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// One fault window, as the harness scheduled it.
///
/// Pass only faults that were applied (a missed fault has no window). `end_s: None` means the fault was
/// still active when the history ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpan {
    /// The nemesis name: `partition-leader`, `kill-random`, `clock-skew`, ...
    pub kind: String,
    /// Seconds since the test started (the history's time origin).
    pub start_s: f64,
    pub end_s: Option<f64>,
    /// The nodes the fault hit.
    pub targets: Vec<String>,
}

impl FaultSpan {
    pub fn new<S: Into<String>>(
        kind: &str,
        start_s: f64,
        end_s: Option<f64>,
        targets: impl IntoIterator<Item = S>,
    ) -> Self {
        FaultSpan {
            kind: kind.to_string(),
            start_s,
            end_s,
            targets: targets.into_iter().map(Into::into).collect(),
        }
    }

    /// The end, or `run_end_s` for a fault still active at the end.
    pub fn end_or(&self, run_end_s: f64) -> f64 {
        self.end_s.unwrap_or(run_end_s.max(self.start_s))
    }

    /// Whether `t_s` lies in `[start, end)`; an open fault contains everything after its start.
    pub fn contains(&self, t_s: f64) -> bool {
        t_s >= self.start_s && self.end_s.is_none_or(|e| t_s < e)
    }
}

/// Faults aimed at the leader: the ones after which a new leader must be found, so the ones whose
/// unavailability window is measured. Each fault family says which of its kinds are.
pub fn is_leader_fault(kind: &str) -> bool {
    nemesis::family::is_leader_fault(kind)
}

fn nodes_of(v: &Value) -> Vec<String> {
    ["isolated", "nodes", "targets"]
        .iter()
        .filter_map(|k| v.get(*k)?.as_array())
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

fn role_kind(v: &Value, base: &str) -> String {
    match v.get("role").and_then(Value::as_str) {
        Some("leader") => format!("{base}-leader"),
        _ => base.to_string(),
    }
}

/// Recovers fault windows from the history's nemesis events, for callers without the harness's list
/// (e.g. re-rendering a stored history). Pairs each fault family's start and stop events
/// ([`nemesis::family::Events`]: `start-partition`/`stop-partition`, `kill`/`restart`, `pause`/`resume`,
/// `start-clock-skew`/`stop-clock-skew`); unmatched starts stay open.
pub fn faults_from_history(events: &[Event]) -> Vec<FaultSpan> {
    let mut spans: Vec<FaultSpan> = Vec::new();
    // Open span index per channel ("partition", "kill n1", ...): a stop closes what its start opened.
    let mut open: HashMap<String, usize> = HashMap::new();
    for e in events {
        if !matches!(&e.process, Process::Named(n) if n == "nemesis") {
            continue;
        }
        let t = e.time as f64 / 1e9;
        let nodes = nodes_of(&e.value);
        let node = nodes.first().cloned().unwrap_or_default();
        let Some((pair, opens)) = family::all_events()
            .filter(|p| p.span.is_some())
            .find_map(|p| {
                (p.start == e.f)
                    .then_some((p, true))
                    .or((p.stop == e.f).then_some((p, false)))
            })
        else {
            continue;
        };
        let channel = match pair.channel {
            Channel::Cluster(name) => name.to_string(),
            Channel::PerNode(prefix) => format!("{prefix} {node}"),
        };
        if opens {
            let kind = match pair.span {
                Some(SpanKind::Field(default)) => {
                    let named = e.value.get("fault").and_then(Value::as_str);
                    // A window another family opened through this one (clock-skew isolates its node
                    // too): that family's window is the fault's.
                    let own = family::kind_named(named.unwrap_or(default))
                        .is_none_or(|k| k.family().events.iter().any(|p| p.start == pair.start));
                    if !own {
                        continue;
                    }
                    named.unwrap_or(default).to_string()
                }
                Some(SpanKind::ByRole(base)) => role_kind(&e.value, base),
                Some(SpanKind::Fixed(kind)) => kind.to_string(),
                None => continue,
            };
            open.insert(channel, spans.len());
            spans.push(FaultSpan::new(&kind, t, None, nodes));
        } else if let Some(i) = open.remove(&channel) {
            spans[i].end_s = Some(t);
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nem(time_s: f64, f: &str, value: Value) -> Event {
        Event {
            time: (time_s * 1e9) as u64,
            ..Event::named("nemesis", f, value)
        }
    }

    #[test]
    fn pairs_nemesis_events() {
        use serde_json::json;
        let ev = vec![
            nem(
                1.0,
                "start-partition",
                json!({"fault":"partition-leader","isolated":["n1"]}),
            ),
            nem(3.0, "stop-partition", json!({})),
            nem(4.0, "kill", json!({"nodes":["n2"],"role":"leader"})),
            nem(5.0, "restart", json!({"nodes":["n2"]})),
            nem(
                6.0,
                "start-clock-skew",
                json!({"nodes":["n3"],"role":"leader"}),
            ),
            nem(
                6.1,
                "start-partition",
                json!({"fault":"clock-skew","isolated":["n3"]}),
            ),
            nem(8.0, "stop-partition", json!({})),
            nem(8.1, "stop-clock-skew", json!({"nodes":["n3"]})),
            nem(9.0, "pause", json!({"nodes":["n1"],"role":"leader"})),
        ];
        let f = faults_from_history(&ev);
        assert_eq!(f.len(), 4);
        assert_eq!(
            f[0],
            FaultSpan::new("partition-leader", 1.0, Some(3.0), ["n1"])
        );
        assert_eq!(f[1], FaultSpan::new("kill-leader", 4.0, Some(5.0), ["n2"]));
        assert_eq!(f[2].kind, "clock-skew");
        assert_eq!(f[2].end_s, Some(8.1));
        assert_eq!(f[3], FaultSpan::new("pause-leader", 9.0, None, ["n1"]));
        assert!(f[3].contains(100.0));
        assert!(!f[0].contains(3.0));
    }
}
