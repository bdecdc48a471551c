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

    /// The nodes it asks, in configuration order.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
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

    /// Healthy: every node answers and either one leader that every node names, or (a leaderless system,
    /// when `leaderless_after` is given) no node leads or names a leader for that long without a break,
    /// so that a cluster still electing its first leader is not mistaken for one. Returns the leader and
    /// its term, or None for a leaderless system.
    pub async fn wait_healthy(
        &self,
        timeout: Duration,
        leaderless_after: Option<Duration>,
    ) -> Result<Option<(String, u64)>> {
        let start = Instant::now();
        let mut last = String::from("no status yet");
        let mut leaderless_since = None;
        while start.elapsed() < timeout {
            match health(&self.statuses().await) {
                Ok(Some(leader)) => return Ok(Some(leader)),
                Ok(None) => {
                    let since = *leaderless_since.get_or_insert_with(Instant::now);
                    match leaderless_after {
                        Some(after) if since.elapsed() >= after => return Ok(None),
                        _ => last = "no leader".into(),
                    }
                }
                Err(why) => {
                    leaderless_since = None;
                    last = why;
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

/// Whether these statuses make a healthy cluster (see [`Probe::wait_healthy`]), or why not.
fn health(statuses: &[(String, Option<NodeStatus>)]) -> Result<Option<(String, u64)>, String> {
    let down: Vec<&str> = statuses
        .iter()
        .filter(|(_, s)| s.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    if !down.is_empty() {
        return Err(format!("not answering: {}", down.join(", ")));
    }
    let all: Vec<&NodeStatus> = statuses.iter().filter_map(|(_, s)| s.as_ref()).collect();
    let leader = statuses
        .iter()
        .filter_map(|(n, s)| {
            s.as_ref()
                .filter(|s| s.role == Role::Leader)
                .map(|s| (n.clone(), s.term))
        })
        .max_by_key(|(_, t)| *t);
    match leader {
        Some((l, t)) if all.iter().all(|s| s.leader.as_ref() == Some(&l)) => Ok(Some((l, t))),
        Some(_) => Err("nodes disagree on the leader".into()),
        // A leaderless system: nobody leads and nobody names a leader.
        None if all
            .iter()
            .all(|s| s.leader.is_none() && s.role == Role::Follower) =>
        {
            Ok(None)
        }
        None => Err("no leader".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(node: &str, role: Role, leader: Option<&str>) -> (String, Option<NodeStatus>) {
        let s = NodeStatus {
            node: node.into(),
            role,
            term: 2,
            leader: leader.map(str::to_string),
        };
        (node.into(), Some(s))
    }

    #[test]
    fn healthy_with_one_agreed_leader_or_with_none_at_all() {
        use Role::*;
        let led = [st("n1", Leader, Some("n1")), st("n2", Follower, Some("n1"))];
        assert_eq!(health(&led), Ok(Some(("n1".into(), 2))));
        let leaderless = [st("n1", Follower, None), st("n2", Follower, None)];
        assert_eq!(health(&leaderless), Ok(None));
        // An election in progress is not a leaderless system.
        let electing = [st("n1", Candidate, None), st("n2", Follower, None)];
        assert_eq!(health(&electing), Err("no leader".into()));
        let split = [st("n1", Leader, Some("n1")), st("n2", Follower, None)];
        assert!(health(&split).is_err());
        let down = [st("n1", Follower, None), ("n2".into(), None)];
        assert_eq!(health(&down), Err("not answering: n2".into()));
    }
}
