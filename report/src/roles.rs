//! Who each node was over time, from the `/status` samples in the history (`info` events of the process
//! `"status"`), and the checker's explanation enriched with it: every op the explanation names gets
//! "(served by n2, a follower in term 3 whose leader was n1)" where that is known.

use crate::named::{named, note_len};
use checker::{CheckResult, Event, History, Op, Outcome, Process};
use serde_json::Value;
use std::collections::HashMap;

/// A sample older than this says nothing about an op (the sampler stalled, or the run had not begun).
const STALE_NS: u64 = 1_000_000_000;

/// One node in one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// `leader`, `follower`, `candidate`, `precandidate`, or `down` (no answer in time).
    pub role: String,
    pub term: Option<u64>,
    pub leader: Option<String>,
}

impl NodeState {
    /// `a follower in term 3 whose leader was n1`, `the leader in term 3`, `not answering /status`.
    pub fn words(&self) -> String {
        let term = self
            .term
            .map(|t| format!(" in term {t}"))
            .unwrap_or_default();
        match self.role.as_str() {
            "down" => "not answering /status".into(),
            "leader" => format!("the leader{term}"),
            role => {
                let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                let leader = match &self.leader {
                    Some(l) => format!(" whose leader was {l}"),
                    None => " with no known leader".into(),
                };
                format!("{article} {role}{term}{leader}")
            }
        }
    }

    /// `follower t3`, for tight labels.
    pub fn short(&self) -> String {
        match self.term {
            Some(t) => format!("{} t{t}", self.role),
            None => self.role.clone(),
        }
    }
}

/// Every node's samples, in time order.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    by_node: HashMap<String, Vec<(u64, NodeState)>>,
}

impl Roles {
    pub fn from_events(events: &[Event]) -> Roles {
        let mut by_node: HashMap<String, Vec<(u64, NodeState)>> = HashMap::new();
        for e in events {
            if !matches!(&e.process, Process::Named(n) if n == "status") {
                continue;
            }
            let Value::Object(nodes) = &e.value else {
                continue;
            };
            for (node, v) in nodes {
                let Some(role) = v.get("role").and_then(Value::as_str) else {
                    continue;
                };
                let state = NodeState {
                    role: role.to_string(),
                    term: v.get("term").and_then(Value::as_u64),
                    leader: v.get("leader").and_then(Value::as_str).map(str::to_string),
                };
                by_node
                    .entry(node.clone())
                    .or_default()
                    .push((e.time, state));
            }
        }
        for s in by_node.values_mut() {
            s.sort_by_key(|(t, _)| *t);
        }
        Roles { by_node }
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// The sampled nodes, by name.
    pub fn nodes(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.by_node.keys().map(String::as_str).collect();
        n.sort_unstable();
        n
    }

    /// A node's samples, in time order (empty for a node never sampled).
    pub fn samples(&self, node: &str) -> &[(u64, NodeState)] {
        self.by_node.get(node).map_or(&[], Vec::as_slice)
    }

    /// The node's last answered sample at or before `t_ns`, at most a second old; else its last sample
    /// then (a node not answering).
    pub fn before(&self, node: &str, t_ns: u64) -> Option<(u64, &NodeState)> {
        let samples = self.by_node.get(node)?;
        let upto = samples.partition_point(|(t, _)| *t <= t_ns);
        let recent = |(t, _): &&(u64, NodeState)| t_ns - *t <= STALE_NS;
        samples[..upto]
            .iter()
            .rev()
            .take_while(recent)
            .find(|(_, s)| s.role != "down")
            .or_else(|| samples[..upto].last().filter(recent))
            .map(|(t, s)| (*t, s))
    }

    /// The node's first answered sample at or after `t_ns`, at most a second later.
    pub fn after(&self, node: &str, t_ns: u64) -> Option<(u64, &NodeState)> {
        let samples = self.by_node.get(node)?;
        let from = samples.partition_point(|(t, _)| *t < t_ns);
        samples[from..]
            .iter()
            .take_while(|(t, _)| *t - t_ns <= STALE_NS)
            .find(|(_, s)| s.role != "down")
            .map(|(t, s)| (*t, s))
    }

    /// What the node that served an op was: the samples just before its invocation and just after its
    /// completion, as one state when they agree (or only one exists).
    pub fn served(
        &self,
        node: Option<&str>,
        invoke_ns: u64,
        complete_ns: Option<u64>,
    ) -> Option<Served> {
        let node = node?;
        let before = self.before(node, invoke_ns);
        let after = self.after(node, complete_ns.unwrap_or(invoke_ns));
        Some(match (before, after) {
            (Some((_, b)), Some((_, a))) if a == b => Served::Same(b.clone()),
            (Some((tb, b)), Some((ta, a))) => Served::Changed {
                before: (tb, b.clone()),
                after: (ta, a.clone()),
            },
            (Some((_, s)), None) | (None, Some((_, s))) => Served::Same(s.clone()),
            (None, None) => return None,
        })
    }

    /// ` (served by n2, a follower in term 3 whose leader was n1)`, or ` (served by n2)` without samples;
    /// ` (sent to n2, ...)` for an op whose outcome is unknown (nobody vouched for serving it).
    pub fn served_note(&self, op: &Op) -> Option<String> {
        let node = op.node.as_deref()?;
        let verb = if op.outcome == Outcome::Ok {
            "served by"
        } else {
            "sent to"
        };
        let served = self.served(
            Some(node),
            op.invoke_time_ns.unwrap_or(0),
            op.complete_time_ns,
        );
        Some(match served {
            Some(s) => format!(" ({verb} {node}, {})", s.words()),
            None => format!(" ({verb} {node})"),
        })
    }
}

/// The state of the node that served an op, around the op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// The samples before and after the op agree.
    Same(NodeState),
    /// The node changed during the op (it may have been elected): both samples, with their times.
    Changed {
        before: (u64, NodeState),
        after: (u64, NodeState),
    },
}

impl Served {
    /// `a follower in term 3 whose leader was n1`; a change is given with both sample times.
    pub fn words(&self) -> String {
        match self {
            Served::Same(s) => s.words(),
            Served::Changed { before, after } => format!(
                "{} at {:.2} s and {} at {:.2} s",
                before.1.words(),
                before.0 as f64 / 1e9,
                after.1.words(),
                after.0 as f64 / 1e9
            ),
        }
    }

    /// `follower t3`, or `follower t1 → leader t2`.
    pub fn short(&self) -> String {
        match self {
            Served::Same(s) => s.short(),
            Served::Changed { before, after } => {
                format!("{} → {}", before.1.short(), after.1.short())
            }
        }
    }

    /// The state after the op (the newest known).
    pub fn last(&self) -> &NodeState {
        match self {
            Served::Same(s) => s,
            Served::Changed { after, .. } => &after.1,
        }
    }
}

/// Adds a served-by note after every op the counterexample's explanation names (the anomaly's at the end
/// when the explanation does not name it in the usual words), in the counterexample and in the result's
/// one-line explanation. Idempotent: a mention already noted is left alone.
pub fn enrich(check: &mut CheckResult, events: &[Event], history: &History) {
    let Some(cx) = check.counterexample.as_mut() else {
        return;
    };
    let roles = Roles::from_events(events);
    // From the sentence the notes are added afresh each time; in older English, where they are not yet.
    let (text, found) = named(cx, history);
    let mut out = String::with_capacity(text.len() + 200);
    let mut from = 0;
    let mut anomaly_named = false;
    for m in &found {
        let op = &history.ops[m.op];
        anomaly_named |= op.invoke_index == cx.op.invoke_index;
        out.push_str(&text[from..m.end]);
        from = m.end;
        if note_len(&text[m.end..]) > 0 {
            continue;
        }
        if let Some(note) = roles.served_note(op) {
            out.push_str(&note);
        }
    }
    out.push_str(&text[from..]);
    if !anomaly_named && no_note_yet(&text) {
        if let Some(op) = history
            .ops
            .iter()
            .find(|o| o.invoke_index == cx.op.invoke_index)
        {
            if let Some(note) = roles.served_note(op) {
                let body = out.trim_end_matches('.');
                out = format!("{body}{note}.");
            }
        }
    }
    if check.explanation == text || check.explanation == cx.explanation {
        check.explanation = out.clone();
    }
    cx.explanation = out;
}

/// Whether no served-by note is in `text` yet.
fn no_note_yet(text: &str) -> bool {
    !text.contains(" (served by ") && !text.contains(" (sent to ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::EventType;
    use serde_json::json;

    fn sample(ms: u64, value: Value) -> Event {
        Event {
            time: ms * 1_000_000,
            ..Event::named("status", "status", value)
        }
    }

    #[test]
    fn the_state_at_a_time_skips_missed_answers_and_stale_samples() {
        let ev = vec![
            sample(
                100,
                json!({"n1": {"role": "leader", "term": 1, "leader": "n1"}, "n2": {"role": "follower", "term": 1, "leader": "n1"}}),
            ),
            sample(
                200,
                json!({"n1": {"role": "down"}, "n2": {"role": "candidate", "term": 2, "leader": null}}),
            ),
        ];
        let r = Roles::from_events(&ev);
        assert_eq!(
            r.before("n1", 250_000_000).unwrap().1.role,
            "leader",
            "a missed answer does not hide the last one"
        );
        assert_eq!(
            r.before("n1", 250_000_000).unwrap().1.words(),
            "the leader in term 1"
        );
        assert_eq!(
            r.before("n2", 150_000_000).unwrap().1.words(),
            "a follower in term 1 whose leader was n1"
        );
        assert_eq!(
            r.before("n2", 250_000_000).unwrap().1.words(),
            "a candidate in term 2 with no known leader"
        );
        assert!(
            r.before("n2", 50_000_000).is_none(),
            "nothing before the first sample"
        );
        assert!(
            r.before("n2", 5_000_000_000).is_none(),
            "a sample seconds old says nothing"
        );
        assert!(r.before("n9", 150_000_000).is_none());
        // n2 changed between the samples around an op at 150–160 ms: both are given.
        let s = r
            .served(Some("n2"), 150_000_000, Some(160_000_000))
            .unwrap();
        assert_eq!(s.short(), "follower t1 → candidate t2");
        assert_eq!(
            s.words(),
            "a follower in term 1 whose leader was n1 at 0.10 s and a candidate in term 2 with no known leader at 0.20 s"
        );
        assert_eq!(
            r.after("n1", 150_000_000),
            None,
            "a down sample is no answer"
        );
    }

    #[test]
    fn the_explanation_says_who_served_each_named_op() {
        use EventType::*;
        let op = |ms: u64, p: u64, kind: EventType, f: &str, v: Value, node: &str| Event {
            index: 0,
            time: ms * 1_000_000,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: Some("r".into()),
            value: v,
            node: (kind != Invoke).then(|| node.to_string()),
            error: None,
            session: None,
        };
        let up = json!({"n1": {"role": "leader", "term": 1, "leader": "n1"}, "n2": {"role": "follower", "term": 1, "leader": "n1"}});
        let mut ev = vec![sample(50, up.clone())];
        ev.extend([
            op(100, 1, Invoke, "write", json!(7), "n1"),
            op(110, 1, Ok, "write", json!(7), "n1"),
            sample(300, up.clone()),
            op(500, 12, Invoke, "write", json!(9), "n1"),
            op(530, 12, Ok, "write", json!(9), "n1"),
            sample(535, up),
            op(540, 2, Invoke, "read", Value::Null, "n2"),
            op(545, 2, Ok, "read", json!(7), "n2"),
        ]);
        for (i, e) in ev.iter_mut().enumerate() {
            e.index = i as u64;
        }
        let h = checker::parse_events(&ev).unwrap();
        let mut c = checker::check(&h, checker::ModelKind::Register, &Default::default());
        assert_eq!(c.valid, checker::Validity::Invalid);
        enrich(&mut c, &ev, &h);
        let why = &c.counterexample.as_ref().unwrap().explanation;
        assert!(
            why.contains("read of r by process 2 (served by n2, a follower in term 1 whose leader was n1) at 0.54 s"),
            "{why}"
        );
        assert!(
            why.contains("by process 12 (served by n1, the leader in term 1)"),
            "{why}"
        );
        assert_eq!(
            &c.explanation, why,
            "the one-line explanation is enriched too"
        );
        // An op with an unknown outcome was only sent there.
        let mut info = h.ops[0].clone();
        info.outcome = checker::Outcome::Info;
        let note = Roles::from_events(&ev).served_note(&info).unwrap();
        assert_eq!(note, " (sent to n1, the leader in term 1)");
        let again = why.clone();
        enrich(&mut c, &ev, &h);
        assert_eq!(c.counterexample.unwrap().explanation, again, "idempotent");
    }
}
