//! A client of etcd through its v3 HTTP/JSON gateway: `put`, `range` (linearizable or serializable) and
//! `txn` for compare-and-set. Register values are stored as decimal strings.
//!
//! Outcomes: etcd forwards every request to its leader, so an error after the request was sent proves
//! nothing for a write (`code 2`, unknown, after a member is cut off from the quorum; `code 14` after its
//! request timeout): `info`. Reads have no effect, so a read error is `fail`. Only a connection that was
//! never made, or a request etcd rejects as malformed (code 3), is a definite `fail` for a write.

use crate::client::{
    attempt, json_answer, transport_outcome, unknown, Attempt, Client, ClientError, NodeStatus,
    Outcome,
};
use crate::generator::{OpKind, OpSpec};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::future::BoxFuture;
use node::api::Role;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// gRPC status code etcd uses for a malformed request: certainly not applied.
const INVALID_ARGUMENT: i64 = 3;

/// Read consistency: etcd's default (`linearizable`, through the leader's ReadIndex) or `serializable`
/// (the member answers from its local state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdReads {
    Linearizable,
    Serializable,
}

pub struct EtcdClient {
    http: reqwest::Client,
    members: Vec<(String, SocketAddr)>,
    timeout: Duration,
    reads: EtcdReads,
    /// etcd's member ids (decimal strings) to our names, learned from the member list.
    names_by_id: Mutex<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    member_id: String,
    #[serde(default)]
    raft_term: String,
}

#[derive(Deserialize)]
struct RangeReply {
    #[serde(default)]
    kvs: Vec<Kv>,
}

#[derive(Deserialize)]
struct Kv {
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct TxnReply {
    /// Omitted by the gateway when false.
    #[serde(default)]
    succeeded: bool,
}

#[derive(Deserialize)]
struct StatusReply {
    header: Header,
    #[serde(default)]
    leader: String,
}

#[derive(Deserialize)]
struct MemberList {
    #[serde(default)]
    members: Vec<MemberInfo>,
}

#[derive(Deserialize)]
struct MemberInfo {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct GatewayError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
}

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

impl EtcdClient {
    pub fn new(
        members: Vec<(String, SocketAddr)>,
        timeout: Duration,
        reads: EtcdReads,
    ) -> reqwest::Result<EtcdClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(5))
            .no_proxy()
            .build()?;
        Ok(EtcdClient {
            http,
            members,
            timeout,
            reads,
            names_by_id: Mutex::new(HashMap::new()),
        })
    }

    fn body(&self, op: &OpSpec) -> (&'static str, Value) {
        let key = b64(&op.key);
        match op.kind {
            OpKind::Read => (
                "/v3/kv/range",
                json!({"key": key, "serializable": self.reads == EtcdReads::Serializable}),
            ),
            OpKind::Write(v) => (
                "/v3/kv/put",
                json!({"key": key, "value": b64(&v.to_string())}),
            ),
            OpKind::Cas { from, to } => (
                "/v3/kv/txn",
                json!({
                    "compare": [{"key": key, "target": "VALUE", "result": "EQUAL",
                                 "value": b64(&from.to_string())}],
                    "success": [{"requestPut": {"key": key, "value": b64(&to.to_string())}}],
                }),
            ),
        }
    }

    async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        let (name, addr) = &self.members[i % self.members.len()];
        let (path, body) = self.body(op);
        let sent = self
            .http
            .post(format!("http://{addr}{path}"))
            .json(&body)
            .timeout(self.timeout)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return attempt(name, transport_outcome(op, &e)),
        };
        let status = resp.status();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return attempt(name, unknown(op, format!("reading the answer: {e}"))),
        };
        if !status.is_success() {
            let err: GatewayError = serde_json::from_slice(&bytes).unwrap_or(GatewayError {
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                code: -1,
            });
            let error = format!("etcd code {}: {}", err.code, err.message);
            let outcome = if err.code == INVALID_ARGUMENT {
                Outcome::Fail { error }
            } else {
                unknown(op, error)
            };
            return attempt(name, outcome);
        }
        let outcome = match op.kind {
            OpKind::Read => match serde_json::from_slice::<RangeReply>(&bytes) {
                Ok(r) => match r.kvs.first().map(|kv| decode_value(&kv.value)).transpose() {
                    Ok(read) => Outcome::Ok { read },
                    Err(e) => unknown(op, e),
                },
                Err(e) => unknown(op, format!("unreadable range answer: {e}")),
            },
            OpKind::Write(_) => Outcome::Ok { read: None },
            OpKind::Cas { .. } => match serde_json::from_slice::<TxnReply>(&bytes) {
                Ok(t) if t.succeeded => Outcome::Ok { read: None },
                // The compare failed, so the put was not applied: certain.
                Ok(_) => Outcome::Fail {
                    error: "cas_failed: the value was not the expected one".into(),
                },
                Err(e) => unknown(op, format!("unreadable txn answer: {e}")),
            },
        };
        attempt(name, outcome)
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        node: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        let addr = self
            .members
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, a)| *a)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))?;
        let resp = self
            .http
            .post(format!("http://{addr}{path}"))
            .json(&json!({}))
            .timeout(self.timeout)
            .send()
            .await;
        json_answer(node, resp).await
    }

    async fn member_status(&self, node: &str) -> Result<NodeStatus, ClientError> {
        let s: StatusReply = self.post(node, "/v3/maintenance/status").await?;
        let known = self.names_by_id.lock().unwrap().contains_key(&s.leader);
        if !known && !s.leader.is_empty() && s.leader != "0" {
            let list: MemberList = self.post(node, "/v3/cluster/member/list").await?;
            let mut names = self.names_by_id.lock().unwrap();
            for m in list.members {
                names.insert(m.id, m.name);
            }
        }
        let names = self.names_by_id.lock().unwrap();
        let leader = names.get(&s.leader).cloned();
        let role = if !s.leader.is_empty() && s.leader == s.header.member_id {
            Role::Leader
        } else {
            Role::Follower
        };
        Ok(NodeStatus {
            node: node.to_string(),
            role,
            term: s.header.raft_term.parse().unwrap_or(0),
            leader,
        })
    }
}

fn decode_value(b: &str) -> Result<i64, String> {
    let bytes = B64
        .decode(b)
        .map_err(|e| format!("value is not base64: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    text.parse()
        .map_err(|_| format!("value {text:?} is not one this workload wrote"))
}

impl Client for EtcdClient {
    fn names(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(self.member_status(node))
    }
}
