//! A client of NATS JetStream's key-value store (`async-nats` 0.33, the last that creates a bucket on
//! server 2.9): one connection per server, pinned to it (servers the cluster announces are ignored), all
//! on one bucket replicated on every server (up to 5). Keys hold a decimal integer (register) or a JSON
//! array (append). A write is a publish acknowledged by the stream's leader once stored; compare-and-set
//! and append publish with `Nats-Expected-Last-Subject-Sequence` set to the revision read, so a concurrent
//! change makes them fail certainly (`wrong last sequence`); an append retries until the op's timeout.
//!
//! Reads: `direct` (the bucket allows direct gets, the clients' default) lets any server holding a replica
//! answer, the nearest first; `leader` turns direct gets off, so every get goes through the stream leader.
//!
//! The leader of a node's view is the KV stream's leader in its `/jsz` monitoring answer.

use crate::client::{
    attempt, unknown, Attempt, Client, ClientError, NodeStatus, Outcome, CONNECT_ERROR,
    TIMEOUT_ERROR,
};
use crate::generator::{OpKind, OpSpec};
use crate::stored;
use async_nats::header::{HeaderMap, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE};
use async_nats::jetstream::{self, context::PublishErrorKind, kv};
use futures::future::BoxFuture;
use protocol::Role;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The bucket every op uses.
pub const BUCKET: &str = "lh";
/// The port of each server's HTTP monitoring endpoint (`/jsz`).
pub const MONITOR_PORT: u16 = 8222;

/// Whether the bucket allows direct gets: NATS's documented knob for where KV reads are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatsReads {
    Direct,
    Leader,
}

#[derive(Clone)]
struct Conn {
    js: jetstream::Context,
    kv: kv::Store,
}

pub struct NatsClient {
    members: Vec<(String, SocketAddr)>,
    timeout: Duration,
    reads: NatsReads,
    http: reqwest::Client,
    /// One connection per server, made on first use (on the client runtime, inside the client
    /// namespace); the client library reconnects it to the same server after a failure.
    conns: Vec<tokio::sync::Mutex<Option<Conn>>>,
    /// Set once the bucket exists with this run's read setting.
    bucket: tokio::sync::OnceCell<()>,
}

/// What `/jsz?accounts=true&streams=true` says, as far as the leader goes.
#[derive(Deserialize, Default)]
struct Jsz {
    #[serde(default)]
    account_details: Vec<AccountDetail>,
}

#[derive(Deserialize)]
struct AccountDetail {
    #[serde(default)]
    stream_detail: Vec<StreamDetail>,
}

#[derive(Deserialize)]
struct StreamDetail {
    name: String,
    #[serde(default)]
    cluster: Option<ClusterInfo>,
}

#[derive(Deserialize)]
struct ClusterInfo {
    #[serde(default)]
    leader: Option<String>,
}

impl NatsClient {
    pub fn new(
        members: Vec<(String, SocketAddr)>,
        timeout: Duration,
        reads: NatsReads,
    ) -> reqwest::Result<NatsClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .no_proxy()
            .build()?;
        let conns = members
            .iter()
            .map(|_| tokio::sync::Mutex::new(None))
            .collect();
        Ok(NatsClient {
            members,
            timeout,
            reads,
            http,
            conns,
            bucket: tokio::sync::OnceCell::new(),
        })
    }

    fn index(&self, node: &str) -> Result<usize, ClientError> {
        self.members
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))
    }

    async fn connect(&self, i: usize) -> Result<jetstream::Context, String> {
        let addr = self.members[i].1;
        let connect = async_nats::ConnectOptions::new()
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout))
            // Pinned: never moved to another server of the cluster.
            .ignore_discovered_servers()
            .connect(format!("nats://{addr}"));
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(c)) => Ok(jetstream::new(c)),
            Ok(Err(e)) => Err(format!("{CONNECT_ERROR}{addr}: {e}")),
            Err(_) => Err(format!("{CONNECT_ERROR}{addr}: not connected in time")),
        }
    }

    /// Create the bucket once, through server `i`: replicated on every server, direct gets as the mode says.
    async fn ensure_bucket(&self, i: usize) -> Result<(), String> {
        self.bucket
            .get_or_try_init(|| async {
                let js = self.connect(i).await?;
                let made = js
                    .create_key_value(kv::Config {
                        bucket: BUCKET.into(),
                        history: 1,
                        num_replicas: self.members.len().min(5),
                        ..Default::default()
                    })
                    .await;
                // Another attempt may have made it already; its config is checked below either way.
                if let Err(e) = made {
                    js.get_key_value(BUCKET)
                        .await
                        .map_err(|g| format!("creating the bucket: {e}; reading it: {g}"))?;
                }
                let mut stream = js
                    .get_stream(format!("KV_{BUCKET}"))
                    .await
                    .map_err(|e| format!("reading the bucket's stream: {e}"))?;
                let mut config = stream
                    .info()
                    .await
                    .map_err(|e| format!("reading the bucket's stream: {e}"))?
                    .config
                    .clone();
                let direct = self.reads == NatsReads::Direct;
                if config.allow_direct != direct {
                    config.allow_direct = direct;
                    js.update_stream(&config)
                        .await
                        .map_err(|e| format!("setting allow_direct to {direct}: {e}"))?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Server `i`'s connection and its view of the bucket (made once the bucket exists).
    async fn conn(&self, i: usize) -> Result<Conn, String> {
        self.ensure_bucket(i).await?;
        let mut slot = self.conns[i].lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let js = self.connect(i).await?;
        let kv = js
            .get_key_value(BUCKET)
            .await
            .map_err(|e| format!("opening the bucket: {e}"))?;
        let c = Conn { js, kv };
        *slot = Some(c.clone());
        Ok(c)
    }

    /// The key's bytes and revision (`None`: absent).
    async fn get(&self, c: &Conn, key: &str) -> Result<Option<(Vec<u8>, u64)>, String> {
        match c.kv.entry(key).await {
            Ok(Some(e)) if e.operation == kv::Operation::Put => {
                Ok(Some((e.value.to_vec(), e.revision)))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(format!("get: {e}")),
        }
    }

    /// Publish `data` at `key`, on revision `expect` when given (0: the key must be absent).
    async fn put(&self, c: &Conn, key: &str, data: Vec<u8>, expect: Option<u64>) -> Put {
        let subject = format!("$KV.{BUCKET}.{key}");
        let mut headers = HeaderMap::new();
        if let Some(rev) = expect {
            headers.insert(
                NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                rev.to_string().as_str(),
            );
        }
        let sent =
            c.js.publish_with_headers(subject, headers, data.into())
                .await;
        let acked = match sent {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match acked {
            Ok(_) => Put::Done,
            Err(e) => match e.kind() {
                PublishErrorKind::WrongLastSequence => Put::Conflict,
                // No server took the message: nothing was stored.
                PublishErrorKind::StreamNotFound => Put::NotStored(e.to_string()),
                _ => Put::Unknown(e.to_string()),
            },
        }
    }

    async fn run(&self, c: &Conn, op: &OpSpec) -> Outcome {
        match op.kind {
            OpKind::Txn(_) => crate::client::no_txn("nats"),
            OpKind::Read => match self.get(c, &op.key).await {
                Ok(got) => match got.map(|(d, _)| stored::decode(&d)).transpose() {
                    Ok(read) => Outcome::Ok { read },
                    Err(error) => Outcome::Fail { error },
                },
                Err(error) => Outcome::Fail { error },
            },
            OpKind::Write(v) => {
                let put = self.put(c, &op.key, stored::encode_int(v), None).await;
                put.outcome(op, "write")
            }
            OpKind::Cas { from, to } => {
                let (data, rev) = match self.get(c, &op.key).await {
                    Ok(Some(got)) => got,
                    Ok(None) => return cas_failed(),
                    Err(error) => return Outcome::Fail { error },
                };
                if stored::decode(&data).ok().and_then(|v| v.as_int()) != Some(from) {
                    return cas_failed();
                }
                let put = self
                    .put(c, &op.key, stored::encode_int(to), Some(rev))
                    .await;
                match put {
                    Put::Conflict => cas_failed(),
                    p => p.outcome(op, "cas"),
                }
            }
            OpKind::Append(v) => self.append(c, op, v).await,
        }
    }

    /// Read the list and its revision, publish the longer list on that revision; again on a conflict
    /// until the op's timeout (every conflict is certain, so running out of time after them is a `fail`).
    async fn append(&self, c: &Conn, op: &OpSpec, value: i64) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        let mut conflicts = 0;
        while Instant::now() < deadline {
            let (bytes, rev) = match self.get(c, &op.key).await {
                Ok(Some((d, r))) => (Some(d), r),
                Ok(None) => (None, 0),
                Err(error) => return Outcome::Fail { error },
            };
            let mut list = match stored::as_list(bytes.as_deref()) {
                Ok(l) => l,
                Err(error) => return Outcome::Fail { error },
            };
            list.push(value);
            match self
                .put(c, &op.key, stored::encode_list(&list), Some(rev))
                .await
            {
                Put::Conflict => conflicts += 1,
                p => return p.outcome(op, "append"),
            }
        }
        Outcome::Fail {
            error: format!("append: {conflicts} conflicting updates, out of time"),
        }
    }

    async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        let i = i % self.members.len();
        let name = self.members[i].0.clone();
        let ran = tokio::time::timeout(self.timeout, async {
            match self.conn(i).await {
                Ok(c) => self.run(&c, op).await,
                Err(error) => Outcome::Fail { error },
            }
        })
        .await;
        attempt(
            &name,
            ran.unwrap_or_else(|_| unknown(op, TIMEOUT_ERROR.to_string())),
        )
    }

    async fn server_status(&self, node: &str) -> Result<NodeStatus, ClientError> {
        let i = self.index(node)?;
        let status = |body: String| ClientError::Status {
            node: node.to_string(),
            status: 0,
            body,
        };
        // The stream's leader is the one that matters; there is none before the bucket exists.
        self.ensure_bucket(i).await.map_err(status)?;
        let addr = SocketAddr::new(self.members[i].1.ip(), MONITOR_PORT);
        let resp = self
            .http
            .get(format!("http://{addr}/jsz?accounts=true&streams=true"))
            .timeout(self.timeout)
            .send()
            .await;
        let jsz: Jsz = crate::client::json_answer(node, resp).await?;
        let leader = stream_leader(&jsz);
        let role = match &leader {
            Some(l) if l == node => Role::Leader,
            Some(_) => Role::Follower,
            None => Role::Candidate,
        };
        Ok(NodeStatus {
            node: node.to_string(),
            role,
            // The monitoring endpoint does not give the stream's Raft term.
            term: 0,
            leader,
        })
    }
}

/// How a publish ended.
enum Put {
    Done,
    /// The expected revision was not the key's last: certainly not stored.
    Conflict,
    NotStored(String),
    Unknown(String),
}

impl Put {
    fn outcome(self, op: &OpSpec, what: &str) -> Outcome {
        match self {
            Put::Done => Outcome::Ok { read: None },
            Put::Conflict => Outcome::Fail {
                error: format!("{what}: wrong last sequence"),
            },
            Put::NotStored(e) => Outcome::Fail {
                error: format!("{what}: {e}"),
            },
            Put::Unknown(e) => unknown(op, format!("{what}: {e}")),
        }
    }
}

fn cas_failed() -> Outcome {
    Outcome::Fail {
        error: "cas_failed: the value was not the expected one".into(),
    }
}

fn stream_leader(jsz: &Jsz) -> Option<String> {
    let name = format!("KV_{BUCKET}");
    jsz.account_details
        .iter()
        .flat_map(|a| &a.stream_detail)
        .find(|s| s.name == name)
        .and_then(|s| s.cluster.as_ref()?.leader.clone())
        .filter(|l| !l.is_empty())
}

impl Client for NatsClient {
    fn names(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(self.server_status(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_the_kv_streams() {
        let jsz: Jsz = serde_json::from_str(
            r#"{"meta_cluster":{"leader":"n1"},"account_details":[{"stream_detail":[
                {"name":"OTHER","cluster":{"leader":"n3"}},
                {"name":"KV_lh","cluster":{"name":"lh","leader":"n2","replicas":[]}}]}]}"#,
        )
        .unwrap();
        assert_eq!(stream_leader(&jsz).as_deref(), Some("n2"));
        let electing: Jsz = serde_json::from_str(
            r#"{"account_details":[{"stream_detail":[{"name":"KV_lh","cluster":{"leader":""}}]}]}"#,
        )
        .unwrap();
        assert_eq!(stream_leader(&electing), None);
        assert_eq!(stream_leader(&Jsz::default()), None);
    }
}
