//! Live cluster state, asked from inside the client namespace (the only place with a route to the nodes).

use anyhow::{anyhow, Result};
use node::api::{ClockRequest, ClockState, MicroOp, Role};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use workloads::generator::{OpKind, OpSpec};
use workloads::{Client, ClientError, NodeStatus, ProbeAnswer, WorkloadConfig, WorkloadKind};

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

/// Live cluster state as the fault families see it.
impl nemesis::family::Cluster for Probe {
    fn set_clock<'a>(
        &'a self,
        node: &'a str,
        offset_ms: f64,
        rate: f64,
    ) -> futures::future::LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            Probe::set_clock(self, node, ClockRequest { offset_ms, rate })
                .await
                .map(drop)
        })
    }

    fn serving(&self) -> futures::future::LocalBoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.statuses()
                .await
                .into_iter()
                .filter(|(_, s)| {
                    s.as_ref()
                        .is_some_and(|s| matches!(s.role, Role::Follower | Role::Leader))
                })
                .map(|(n, _)| n)
                .collect()
        })
    }
}

/// Keys the start-up probe uses; no workload reads or writes them, so the history never sees them.
const PROBE_KEY: &str = "lh-probe";
const PROBE_LIST: &str = "lh-probe-list";

/// Statuses that say a system does not serve a request at all (docs/protocol.md: an optional request
/// it lacks is answered 400 or 404; 405 and 501 are HTTP's own words for it).
const REFUSALS: [u16; 4] = [400, 404, 405, 501];

/// The ops a workload will send, once each, on keys of the probe's own.
fn workload_ops(w: &WorkloadConfig) -> Vec<OpSpec> {
    let op = |key: &str, kind| OpSpec {
        key: key.to_string(),
        kind,
    };
    match w.kind {
        WorkloadKind::Append => vec![
            op(PROBE_LIST, OpKind::Append(0)),
            op(PROBE_LIST, OpKind::Read),
        ],
        WorkloadKind::TxnAppend | WorkloadKind::TxnRegister => {
            let write = match w.kind {
                WorkloadKind::TxnRegister => MicroOp::Write {
                    key: PROBE_KEY.into(),
                    value: 0,
                },
                _ => MicroOp::Append {
                    key: PROBE_LIST.into(),
                    value: 0,
                },
            };
            let mut txn = OpSpec::txn_reads(&[write.key().to_string()]);
            if let OpKind::Txn(ops) = &mut txn.kind {
                ops.insert(0, write);
            }
            vec![txn]
        }
        WorkloadKind::Register | WorkloadKind::Kv => {
            let mut ops = vec![op(PROBE_KEY, OpKind::Write(0)), op(PROBE_KEY, OpKind::Read)];
            if w.cas_share > 0.0 && w.read_share < 1.0 {
                ops.push(op(PROBE_KEY, OpKind::Cas { from: 0, to: 1 }));
            }
            ops
        }
    }
}

/// The request an op is, in docs/protocol.md's words.
fn request_words(op: &OpSpec) -> &'static str {
    match op.kind {
        OpKind::Read => "GET /kv/{key}",
        OpKind::Write(_) => "PUT /kv/{key}",
        OpKind::Cas { .. } => "POST /kv/{key}/cas",
        OpKind::Append(_) => "POST /kv/{key}/append",
        OpKind::Txn(_) => "POST /txn",
    }
}

/// Whether an answer says the system does not serve the request at all.
fn refused(a: &ProbeAnswer) -> bool {
    match a.status {
        Some(s) => REFUSALS.contains(&s),
        // Clients that do not see statuses report a definite `bad_request`.
        None => a.code == Some(node::api::ErrorCode::BadRequest),
    }
}

impl Probe {
    /// Before the workload: send each kind of op it will use once, at the leader (following one
    /// `not_leader` hint), and refuse the run when any is answered 400, 404, 405 or 501: such a system
    /// would fail every one of those ops and leave the guarantees nothing to judge. Other failures (a
    /// timeout, `unavailable`) are no reason to stop and are only logged. Local reads are asked too;
    /// without them convergence is reported as not checkable, and the run goes on.
    pub async fn workload(&self, w: &WorkloadConfig) -> Result<(), String> {
        let leader = self.leader().await.map(|(n, _)| n);
        let at = |name: &Option<String>| {
            name.as_ref()
                .and_then(|n| self.nodes.iter().position(|m| m == n))
                .unwrap_or(0)
        };
        let home = at(&leader);
        for op in workload_ops(w) {
            let client = self.client.clone();
            let nodes = self.nodes.len();
            let answer = self
                .on_client_rt(async move {
                    let mut a = client.probe_op(home, &op).await;
                    if a.code == Some(node::api::ErrorCode::NotLeader) {
                        if let Some(i) = a.leader.as_ref().and_then(|l| {
                            client
                                .names()
                                .iter()
                                .position(|n| n == l)
                                .filter(|&i| i < nodes)
                        }) {
                            a = client.probe_op(i, &op).await;
                        }
                    }
                    (op, a)
                })
                .await;
            let (op, a) = answer;
            if refused(&a) {
                let what = match a.status {
                    Some(s) => format!("HTTP {s}"),
                    None => "a definite bad_request".into(),
                };
                return Err(format!(
                    "--workload {} needs {} (docs/protocol.md), which this system does not serve: {} \
                     answered {what} ({}) to the start-up probe",
                    w.kind,
                    request_words(&op),
                    a.node,
                    a.error.as_deref().unwrap_or("no error body")
                ));
            }
            if let Some(e) = &a.error {
                tracing::warn!("start-up probe of {}: {}: {e}", request_words(&op), a.node);
            }
        }
        let client = self.client.clone();
        let node = self.nodes.get(home).cloned().unwrap_or_default();
        let local = self
            .on_client_rt(async move { client.local_read(&node, PROBE_KEY).await })
            .await;
        if let Err(ClientError::Unsupported(why)) = local {
            tracing::info!("{why}: convergence will not be checkable");
        }
        Ok(())
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

    fn answer(status: Option<u16>, code: Option<node::api::ErrorCode>) -> ProbeAnswer {
        ProbeAnswer {
            node: "n1".into(),
            status,
            code,
            leader: None,
            error: None,
        }
    }

    #[test]
    fn refusals_are_400_404_405_501_or_a_definite_bad_request() {
        use node::api::ErrorCode::*;
        for s in [400, 404, 405, 501] {
            assert!(refused(&answer(Some(s), None)), "{s}");
        }
        for s in [200, 409, 500, 503, 504] {
            assert!(!refused(&answer(Some(s), None)), "{s}");
        }
        // Clients without statuses (etcd): a definite bad_request is a refusal, unavailable is not.
        assert!(refused(&answer(None, Some(BadRequest))));
        assert!(!refused(&answer(None, Some(Unavailable))));
        assert!(!refused(&answer(None, None)));
    }

    #[test]
    fn the_probe_sends_every_kind_of_op_the_workload_uses() {
        let kinds = |kind, cas_share| {
            let w = WorkloadConfig {
                kind,
                cas_share,
                ..WorkloadConfig::default()
            };
            workload_ops(&w).iter().map(|o| o.f()).collect::<Vec<_>>()
        };
        assert_eq!(kinds(WorkloadKind::Register, 0.3), ["write", "read", "cas"]);
        assert_eq!(kinds(WorkloadKind::Kv, 0.0), ["write", "read"]);
        assert_eq!(kinds(WorkloadKind::Append, 0.3), ["append", "read"]);
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
