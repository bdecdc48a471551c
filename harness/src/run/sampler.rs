//! Every node's `/status`, about every 100 ms while a run is driven, recorded in the history as `info`
//! events of the named process `"status"` (checkers skip named processes), so the reports can say which
//! role and term the node that served an op had at the time:
//!
//! ```json
//! {"process":"status","type":"info","f":"status","value":{"n1":{"role":"leader","term":3,"leader":"n1"},"n2":{"role":"down"}}}
//! ```
//!
//! Cheap on purpose: at most one request per node in flight, a short deadline, and a node that does not
//! answer in time (paused, killed, unreachable) is recorded as `down` for that sample.

use checker::Event;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use workloads::{Client, ClientError, NodeStatus, Recorder};

/// How often every node is asked.
pub const PERIOD: Duration = Duration::from_millis(100);
/// A node that has not answered within this is `down` in this sample; below `PERIOD`, so a slow node
/// never has two requests in flight.
const ANSWER_WITHIN: Duration = Duration::from_millis(80);

/// The sampling task; dropping it stops the sampling.
pub struct Sampler(JoinHandle<()>);

impl Drop for Sampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start sampling on `rt` (the client runtime: only its threads can reach the nodes).
pub fn spawn(
    client: &Arc<dyn Client>,
    recorder: &Arc<Recorder>,
    rt: &tokio::runtime::Runtime,
) -> Sampler {
    let (client, recorder) = (client.clone(), recorder.clone());
    Sampler(rt.spawn(async move {
        let names = client.names();
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let asks = names.iter().map(|n| {
                let client = &client;
                async move {
                    let s = tokio::time::timeout(ANSWER_WITHIN, client.status(n)).await;
                    (n.clone(), s.ok())
                }
            });
            let answers = futures::future::join_all(asks).await;
            recorder.record(sample_event(answers));
        }
    }))
}

/// One sample as a history event; a missing or failed answer is `{"role":"down"}`.
fn sample_event(answers: Vec<(String, Option<Result<NodeStatus, ClientError>>)>) -> Event {
    let mut value = Map::new();
    for (node, answer) in answers {
        let v = match answer {
            Some(Ok(s)) => json!({"role": s.role, "term": s.term, "leader": s.leader}),
            _ => json!({"role": "down"}),
        };
        value.insert(node, v);
    }
    Event::named("status", "status", Value::Object(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::{EventType, Process};
    use node::api::Role;

    #[test]
    fn a_sample_names_every_node_and_marks_the_silent_ones_down() {
        let up = NodeStatus {
            node: "n1".into(),
            role: Role::Leader,
            term: 3,
            leader: Some("n1".into()),
        };
        let e = sample_event(vec![
            ("n1".into(), Some(Ok(up))),
            ("n2".into(), None),
            (
                "n3".into(),
                Some(Err(ClientError::UnknownNode("n3".into()))),
            ),
        ]);
        assert_eq!(e.process, Process::Named("status".into()));
        assert_eq!(e.kind, EventType::Info);
        assert_eq!(
            e.value,
            json!({"n1": {"role": "leader", "term": 3, "leader": "n1"}, "n2": {"role": "down"}, "n3": {"role": "down"}})
        );
    }
}
