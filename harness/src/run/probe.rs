//! Live cluster state, asked from inside the client namespace (the only place with a route to the nodes).

use anyhow::{anyhow, Result};
use node::api::{ClockRequest, ClockState, Role};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use workloads::{Client, NodeStatus};

#[derive(Clone)]
pub struct Probe {
    client: Arc<dyn Client>,
    rt: Handle,
    nodes: Vec<String>,
}

impl Probe {
    pub fn new(client: Arc<dyn Client>, rt: Handle, nodes: Vec<String>) -> Probe {
        Probe { client, rt, nodes }
    }

    /// Run `f` on the client runtime, whose threads live in the client namespace.
    async fn on_client_rt<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.rt.spawn(f).await.expect("probe task panicked")
    }

    pub async fn statuses(&self) -> Vec<(String, Option<NodeStatus>)> {
        let client = self.client.clone();
        let nodes = self.nodes.clone();
        self.on_client_rt(async move {
            let asks = nodes.iter().map(|n| {
                let c = client.clone();
                let n = n.clone();
                async move {
                    let s = c.status(&n).await.ok();
                    (n, s)
                }
            });
            futures::future::join_all(asks).await
        })
        .await
    }

    /// The node that says it is leader in the highest term, with that term.
    pub async fn leader(&self) -> Option<(String, u64)> {
        self.statuses()
            .await
            .into_iter()
            .filter_map(|(n, s)| s.filter(|s| s.role == Role::Leader).map(|s| (n, s.term)))
            .max_by_key(|(_, term)| *term)
    }

    /// Wait up to `timeout` for a leader (retrying: right after a fault heals an election may be running).
    pub async fn wait_leader(&self, timeout: Duration) -> Option<(String, u64)> {
        let start = Instant::now();
        loop {
            if let Some(l) = self.leader().await {
                return Some(l);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Healthy: every node answers, one leader, and every node names it.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<(String, u64)> {
        let start = Instant::now();
        let mut last = String::from("no status yet");
        while start.elapsed() < timeout {
            let statuses = self.statuses().await;
            let down: Vec<_> = statuses
                .iter()
                .filter(|(_, s)| s.is_none())
                .map(|(n, _)| n.clone())
                .collect();
            let leader = statuses
                .iter()
                .filter_map(|(n, s)| {
                    s.as_ref()
                        .filter(|s| s.role == Role::Leader)
                        .map(|s| (n.clone(), s.term))
                })
                .max_by_key(|(_, t)| *t);
            match (&leader, down.is_empty()) {
                (Some((l, t)), true)
                    if statuses
                        .iter()
                        .all(|(_, s)| s.as_ref().is_some_and(|s| s.leader.as_ref() == Some(l))) =>
                {
                    return Ok((l.clone(), *t));
                }
                _ => {
                    last = if !down.is_empty() {
                        format!("not answering: {}", down.join(", "))
                    } else if leader.is_none() {
                        "no leader".into()
                    } else {
                        "nodes disagree on the leader".into()
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(anyhow!(
            "cluster not healthy after {:.1}s: {last}",
            timeout.as_secs_f64()
        ))
    }

    pub async fn set_clock(&self, node: &str, req: ClockRequest) -> Result<ClockState> {
        let client = self.client.clone();
        let node = node.to_string();
        self.on_client_rt(async move {
            client
                .set_clock(&node, &req)
                .await
                .map_err(|e| anyhow!("{e}"))
        })
        .await
    }
}
