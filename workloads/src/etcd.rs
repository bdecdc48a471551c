//! A client of etcd through its v3 HTTP/JSON gateway: `put`, `range` (linearizable or serializable) and
//! `txn` for compare-and-set. Register values are stored as decimal strings, lists (the append workload) as
//! JSON arrays; an append is a `txn` that puts the longer list only if the key's `mod_revision` is still the
//! one read, retried on conflict until the op's timeout. The txn workloads: [`txn`].
//!
//! Outcomes: etcd forwards every request to its leader, so an error after the request was sent proves
//! nothing for a write (`code 2`, unknown, after a member is cut off from the quorum; `code 14` after its
//! request timeout): `info`. Reads have no effect, so a read error is `fail`. Only a connection that was
//! never made, or a request etcd rejects as malformed (code 3), is a definite `fail` for a write.

mod txn;

use crate::client::{
    attempt, json_answer, transport_outcome, unknown, Attempt, Client, ClientError, NodeStatus,
    Outcome, ReadValue,
};
use crate::generator::{OpKind, OpSpec};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::future::BoxFuture;
use protocol::Role;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// int64 as a decimal string (the gateway's JSON mapping); omitted when 0.
    #[serde(default)]
    mod_revision: String,
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
            // An append is several requests (`append`); this body is its first read.
            OpKind::Read | OpKind::Append(_) | OpKind::Txn(_) => (
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

    /// Send one request; a failure comes back as the outcome it means for `op`.
    async fn send(
        &self,
        addr: &SocketAddr,
        path: &str,
        body: &Value,
        op: &OpSpec,
        timeout: Duration,
    ) -> Result<Vec<u8>, Outcome> {
        let sent = self
            .http
            .post(format!("http://{addr}{path}"))
            .json(body)
            .timeout(timeout)
            .send()
            .await;
        let resp = sent.map_err(|e| transport_outcome(op, &e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| unknown(op, format!("reading the answer: {e}")))?
            .to_vec();
        if !status.is_success() {
            let err: GatewayError = serde_json::from_slice(&bytes).unwrap_or(GatewayError {
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                code: -1,
            });
            let error = format!("etcd code {}: {}", err.code, err.message);
            return Err(if err.code == INVALID_ARGUMENT {
                Outcome::Fail { error }
            } else {
                unknown(op, error)
            });
        }
        Ok(bytes)
    }

    /// Read the list and its `mod_revision`, then put the longer list if the revision is unchanged; on a
    /// conflict, again, until the op's timeout. Every conflict is certain (the compare failed, nothing was
    /// put), so running out of time after conflicts is a `fail`; an unknown txn answer is `info`.
    async fn append(&self, addr: &SocketAddr, op: &OpSpec, value: i64) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        let key = b64(&op.key);
        let mut conflicts = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Outcome::Fail {
                    error: format!("append: {conflicts} conflicting updates, out of time"),
                };
            }
            let range = json!({"key": key});
            // A failed read changed nothing, whatever its cause.
            let bytes = match self.send(addr, "/v3/kv/range", &range, op, left).await {
                Ok(b) => b,
                Err(Outcome::Fail { error } | Outcome::Info { error }) => {
                    return Outcome::Fail { error }
                }
                Err(o) => return o,
            };
            let current = match serde_json::from_slice::<RangeReply>(&bytes) {
                Ok(r) => r.kvs.into_iter().next(),
                Err(e) => {
                    return Outcome::Fail {
                        error: format!("unreadable range answer: {e}"),
                    }
                }
            };
            let (mut list, revision) = match current {
                Some(kv) => match decode_value(&kv.value) {
                    Ok(ReadValue::List(l)) => (l, kv.mod_revision),
                    Ok(ReadValue::Int(v)) => (vec![v], kv.mod_revision),
                    Ok(ReadValue::Txn(_)) => {
                        let error = "a transaction's answer stored as a value".to_string();
                        return Outcome::Fail { error };
                    }
                    Err(error) => return Outcome::Fail { error },
                },
                None => (Vec::new(), "0".to_string()),
            };
            list.push(value);
            let txn = json!({
                "compare": [{"key": key, "target": "MOD", "result": "EQUAL",
                             "mod_revision": if revision.is_empty() { "0" } else { &revision }}],
                "success": [{"requestPut": {"key": key, "value": b64(&json!(list).to_string())}}],
            });
            let left = deadline.saturating_duration_since(Instant::now());
            let bytes = match self.send(addr, "/v3/kv/txn", &txn, op, left).await {
                Ok(b) => b,
                Err(o) => return o,
            };
            match serde_json::from_slice::<TxnReply>(&bytes) {
                Ok(t) if t.succeeded => return Outcome::Ok { read: None },
                Ok(_) => conflicts += 1,
                Err(e) => return unknown(op, format!("unreadable txn answer: {e}")),
            }
        }
    }

    async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        let (name, addr) = &self.members[i % self.members.len()];
        match op.kind {
            OpKind::Append(v) => return attempt(name, self.append(addr, op, v).await),
            OpKind::Txn(ref ops) => return attempt(name, self.txn(addr, op, ops).await),
            _ => {}
        }
        let (path, body) = self.body(op);
        let bytes = match self.send(addr, path, &body, op, self.timeout).await {
            Ok(b) => b,
            Err(outcome) => return attempt(name, outcome),
        };
        let outcome = match op.kind {
            OpKind::Read => match serde_json::from_slice::<RangeReply>(&bytes) {
                Ok(r) => match r.kvs.first().map(|kv| decode_value(&kv.value)).transpose() {
                    Ok(read) => Outcome::Ok { read },
                    Err(e) => unknown(op, e),
                },
                Err(e) => unknown(op, format!("unreadable range answer: {e}")),
            },
            OpKind::Write(_) | OpKind::Append(_) => Outcome::Ok { read: None },
            OpKind::Txn(_) => crate::client::no_txn("etcd"),
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
        self.post_body(node, path, &json!({})).await
    }

    async fn post_body<T: serde::de::DeserializeOwned>(
        &self,
        node: &str,
        path: &str,
        body: &Value,
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
            .json(body)
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

/// A stored value: a decimal integer (register) or a JSON array of integers (append).
fn decode_value(b: &str) -> Result<ReadValue, String> {
    let bytes = B64
        .decode(b)
        .map_err(|e| format!("value is not base64: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    serde_json::from_str(&text)
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

    /// A serializable range is answered from the member's own state: its local read.
    fn local_read<'a>(
        &'a self,
        node: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
        Box::pin(async move {
            let body = json!({"key": b64(key), "serializable": true});
            let r: RangeReply = self.post_body(node, "/v3/kv/range", &body).await?;
            r.kvs
                .first()
                .map(|kv| decode_value(&kv.value))
                .transpose()
                .map_err(|body| ClientError::Status {
                    node: node.to_string(),
                    status: 200,
                    body,
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_decode_as_registers_or_lists() {
        assert_eq!(decode_value(&b64("7")), Ok(ReadValue::Int(7)));
        assert_eq!(decode_value(&b64("[3,7]")), Ok(ReadValue::List(vec![3, 7])));
        assert!(decode_value(&b64("x")).unwrap_err().contains("\"x\""));
    }
}
