//! The txn workloads on etcd, as Jepsen's etcd append test does them: read every key the transaction
//! touches in one `txn` (one revision), evaluate the micro-ops on what was read, then put the new values
//! in a second `txn` that compares every key's `mod_revision` with the one read. A failed compare is a
//! certain failure (nothing was put); a read-only transaction is its first step alone.

use super::{b64, decode_value, EtcdClient, EtcdReads, Kv};
use crate::client::{unknown, Outcome, ReadValue};
use crate::generator::OpSpec;
use protocol::{MicroOp, TxnRead};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Deserialize)]
struct TxnAnswer {
    #[serde(default)]
    succeeded: bool,
    #[serde(default)]
    responses: Vec<RangeIn>,
}

#[derive(Deserialize)]
struct RangeIn {
    #[serde(default)]
    response_range: Option<Ranged>,
}

#[derive(Deserialize)]
struct Ranged {
    #[serde(default)]
    kvs: Vec<Kv>,
}

/// A key as read: its value and `mod_revision` ("0": absent).
struct Seen {
    value: Option<ReadValue>,
    revision: String,
}

impl EtcdClient {
    pub(super) async fn txn(&self, addr: &SocketAddr, op: &OpSpec, ops: &[MicroOp]) -> Outcome {
        let mut keys: Vec<&str> = ops.iter().map(|m| m.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        let seen = match self.read_keys(addr, op, &keys).await {
            Ok(s) => s,
            // Nothing was put yet: certain, for reads and writes alike.
            Err(Outcome::Fail { error } | Outcome::Info { error }) => {
                return Outcome::Fail { error }
            }
            Err(o) => return o,
        };
        let (filled, writes) = evaluate(&seen, ops);
        if writes.is_empty() {
            return Outcome::Ok {
                read: Some(ReadValue::Txn(filled)),
            };
        }
        let compare: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({"key": b64(k), "target": "MOD", "result": "EQUAL",
                       "mod_revision": seen[*k].revision})
            })
            .collect();
        let success: Vec<Value> = writes
            .iter()
            .map(|(k, v)| json!({"requestPut": {"key": b64(k), "value": b64(v)}}))
            .collect();
        let body = json!({"compare": compare, "success": success});
        let bytes = match self.send(addr, "/v3/kv/txn", &body, op, self.timeout).await {
            Ok(b) => b,
            Err(o) => return o,
        };
        match serde_json::from_slice::<TxnAnswer>(&bytes) {
            Ok(t) if t.succeeded => Outcome::Ok {
                read: Some(ReadValue::Txn(filled)),
            },
            Ok(_) => Outcome::Fail {
                error: "conflict: a key changed since it was read; nothing was put".into(),
            },
            Err(e) => unknown(op, format!("unreadable txn answer: {e}")),
        }
    }

    /// Every key in one `txn` of ranges, so all are read at one revision.
    async fn read_keys(
        &self,
        addr: &SocketAddr,
        op: &OpSpec,
        keys: &[&str],
    ) -> Result<HashMap<String, Seen>, Outcome> {
        let serializable = self.reads == EtcdReads::Serializable;
        let ranges: Vec<Value> = keys
            .iter()
            .map(|k| json!({"requestRange": {"key": b64(k), "serializable": serializable}}))
            .collect();
        let body = json!({"success": ranges});
        let bytes = self
            .send(addr, "/v3/kv/txn", &body, op, self.timeout)
            .await?;
        let answer: TxnAnswer = serde_json::from_slice(&bytes).map_err(|e| Outcome::Fail {
            error: format!("unreadable txn answer: {e}"),
        })?;
        let mut seen = HashMap::new();
        for (k, r) in keys.iter().zip(answer.responses) {
            let kv = r.response_range.and_then(|r| r.kvs.into_iter().next());
            let s = match kv {
                Some(kv) => Seen {
                    value: Some(decode_value(&kv.value).map_err(|error| Outcome::Fail { error })?),
                    revision: if kv.mod_revision.is_empty() {
                        "0".into()
                    } else {
                        kv.mod_revision
                    },
                },
                None => Seen {
                    value: None,
                    revision: "0".into(),
                },
            };
            seen.insert(k.to_string(), s);
        }
        Ok(seen)
    }
}

/// The micro-ops with reads filled in from `seen` and the transaction's own earlier writes, and the value
/// text to put for each key written (a list as a JSON array, a register as its decimal).
fn evaluate(
    seen: &HashMap<String, Seen>,
    ops: &[MicroOp],
) -> (Vec<MicroOp>, Vec<(String, String)>) {
    let mut now: HashMap<&str, Option<ReadValue>> = seen
        .iter()
        .map(|(k, s)| (k.as_str(), s.value.clone()))
        .collect();
    let mut written = Vec::new();
    let filled = ops
        .iter()
        .map(|m| {
            let cur = now.get(m.key()).cloned().flatten();
            match m {
                MicroOp::Read { key, .. } => MicroOp::Read {
                    key: key.clone(),
                    value: cur.map(|v| match v {
                        ReadValue::Int(i) => TxnRead::Int(i),
                        ReadValue::List(l) => TxnRead::List(l),
                        ReadValue::Txn(_) => TxnRead::List(Vec::new()),
                    }),
                },
                MicroOp::Append { key, value } => {
                    let mut l = match cur {
                        Some(ReadValue::List(l)) => l,
                        Some(ReadValue::Int(i)) => vec![i],
                        _ => Vec::new(),
                    };
                    l.push(*value);
                    now.insert(key, Some(ReadValue::List(l)));
                    written.push(key.as_str());
                    m.clone()
                }
                MicroOp::Write { key, value } => {
                    now.insert(key, Some(ReadValue::Int(*value)));
                    written.push(key.as_str());
                    m.clone()
                }
            }
        })
        .collect();
    written.sort_unstable();
    written.dedup();
    let writes = written
        .into_iter()
        .map(|k| {
            let text = match &now[k] {
                Some(ReadValue::Int(i)) => i.to_string(),
                Some(v) => json!(v).to_string(),
                None => String::new(),
            };
            (k.to_string(), text)
        })
        .collect();
    (filled, writes)
}
