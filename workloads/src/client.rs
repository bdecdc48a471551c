//! The HTTP client of our node protocol (`protocol`) and the outcome mapping a checker can trust:
//! `ok` when the server says it happened, `fail` only when it is certain it did not, `info` otherwise.

use crate::generator::{OpKind, OpSpec};
use futures::future::BoxFuture;
use protocol::{
    CasRequest, ClockRequest, ClockState, ErrorBody, ErrorCode, MicroOp, Role, TxnRequest,
    TxnResponse, WriteRequest,
};
use reqwest::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What a read returned: a register's integer, or the list at an append key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ReadValue {
    Int(i64),
    List(Vec<i64>),
    /// A transaction's micro-ops, reads filled in (the txn workloads).
    Txn(Vec<MicroOp>),
}

impl ReadValue {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ReadValue::Int(v) => Some(*v),
            ReadValue::List(_) | ReadValue::Txn(_) => None,
        }
    }
}

/// A successful read's body: `{"value": 5 | [3, 7] | null, "node": "n1"}`.
#[derive(serde::Deserialize)]
struct ReadAnswer {
    value: Option<ReadValue>,
    node: String,
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It happened; `read` is the value read (reads only; `None` = absent).
    Ok { read: Option<ReadValue> },
    /// It certainly did not happen.
    Fail { error: String },
    /// It may or may not have happened.
    Info { error: String },
}

/// One request to one node, and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    /// The node the request went to.
    pub node: String,
    /// The server's error code, when it sent one.
    pub code: Option<ErrorCode>,
    /// The leader the server named (with `not_leader`).
    pub leader: Option<String>,
}

/// What the nemesis needs to know of a node to aim a fault: its role and term, and whom it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: String,
    pub role: Role,
    pub term: u64,
    pub leader: Option<String>,
}

/// A client of one system under test: every system (our node, etcd, any binary that speaks our protocol)
/// answers the same ops, and maps its answers to the same outcomes.
pub trait Client: Send + Sync {
    /// Node names, in the order `execute` numbers them.
    fn names(&self) -> Vec<String>;
    /// Run `op` on node number `i`.
    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt>;
    /// Run `op` on node number `i` for a session whose home is node number `home` (clients that place
    /// sessions on their home's side of the network, for partitions that reach clients, override this).
    fn execute_from<'a>(&'a self, home: usize, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        let _ = home;
        self.execute(i, op)
    }
    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>>;
    /// Skew a node's clock (offset and rate), for systems that let a test do that.
    fn set_clock<'a>(
        &'a self,
        node: &'a str,
        req: &'a ClockRequest,
    ) -> BoxFuture<'a, Result<ClockState, ClientError>> {
        let _ = req;
        Box::pin(async move { Err(ClientError::Unsupported(format!("{node}: clock skew"))) })
    }
    /// The node's own applied state of `key`, bypassing its read mode: what the convergence check
    /// compares across nodes. Systems without such a read answer `Unsupported`.
    fn local_read<'a>(
        &'a self,
        node: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
        Box::pin(async move {
            Err(ClientError::Unsupported(format!(
                "{node}: local reads of {key}"
            )))
        })
    }
    /// Whether the system serves `append` (asked once before an append workload starts).
    fn probe_append(&self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async { Ok(()) })
    }
    /// Run `op` once on node number `i` before the workload, to learn whether the system serves it at
    /// all. Clients that see HTTP statuses override this to report them; by default the answer is read
    /// from [`Client::execute`].
    fn probe_op<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, ProbeAnswer> {
        Box::pin(async move {
            let a = self.execute(i, op).await;
            let error = match &a.outcome {
                Outcome::Ok { .. } => None,
                Outcome::Fail { error } | Outcome::Info { error } => Some(error.clone()),
            };
            ProbeAnswer {
                node: a.node,
                status: None,
                code: a.code,
                leader: a.leader,
                error,
            }
        })
    }
}

/// What one probe request got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub node: String,
    /// The HTTP status, when the client speaks HTTP.
    pub status: Option<u16>,
    /// The server's error code, when it sent one.
    pub code: Option<ErrorCode>,
    /// The leader the server named (with `not_leader`).
    pub leader: Option<String>,
    /// What went wrong, in the server's or client's words (`None`: it succeeded).
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0} is not supported by this system")]
    Unsupported(String),
    #[error("no node named {0}")]
    UnknownNode(String),
    #[error("the cluster has no nodes")]
    NoNodes,
    #[error("{node}: {source}")]
    Http {
        node: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{node}: HTTP {status}: {body}")]
    Status {
        node: String,
        status: u16,
        body: String,
    },
}

/// Talks to every node of one cluster.
pub struct NodeClient {
    http: reqwest::Client,
    /// One client per home node, bound to that home's session address (empty: all use `http`).
    by_home: Vec<reqwest::Client>,
    nodes: Vec<(String, SocketAddr)>,
    timeout: Duration,
}

impl NodeClient {
    /// `timeout` bounds each request, connection included.
    pub fn new(nodes: Vec<(String, SocketAddr)>, timeout: Duration) -> reqwest::Result<NodeClient> {
        Ok(NodeClient {
            http: http_client(timeout, None)?,
            by_home: Vec::new(),
            nodes,
            timeout,
        })
    }

    /// Sessions homed on node *i* send from `addrs[i]`, so a partition can cut them off with their home.
    pub fn with_session_addrs(mut self, addrs: &[IpAddr]) -> reqwest::Result<NodeClient> {
        self.by_home = addrs
            .iter()
            .map(|a| http_client(self.timeout, Some(*a)))
            .collect::<reqwest::Result<_>>()?;
        Ok(self)
    }

    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|(n, _)| n.clone()).collect()
    }

    fn url(&self, node: &str, path: &str) -> Result<String, ClientError> {
        let addr = self
            .nodes
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, a)| a)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))?;
        Ok(format!("http://{addr}{path}"))
    }

    /// Run `op` on node number `i` (index into the node list).
    pub async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        self.run_op_from(None, i, op).await
    }

    /// Run `op` on node number `i` for a session homed on node number `home`.
    pub async fn run_op_from(&self, home: Option<usize>, i: usize, op: &OpSpec) -> Attempt {
        let http = home.and_then(|h| self.by_home.get(h)).unwrap_or(&self.http);
        let node = self.nodes[i % self.nodes.len()].0.clone();
        let url = self.url(&node, &path_of(op));
        let url = match url {
            Ok(u) => u,
            Err(e) => {
                return attempt(
                    &node,
                    Outcome::Fail {
                        error: e.to_string(),
                    },
                )
            }
        };
        let sent = request(http, url, op).timeout(self.timeout).send().await;
        match sent {
            Ok(resp) => self.answer(node, op, resp).await,
            Err(e) => attempt(&node, transport_outcome(op, &e)),
        }
    }

    async fn answer(&self, node: String, op: &OpSpec, resp: reqwest::Response) -> Attempt {
        let status = resp.status();
        let body = resp.bytes().await;
        let body = match body {
            Ok(b) => b,
            // The status line came but the body did not: the server may well have acted.
            Err(e) => return attempt(&node, unknown(op, format!("reading the answer: {e}"))),
        };
        if status == StatusCode::OK {
            return match op.kind {
                OpKind::Read => match serde_json::from_slice::<ReadAnswer>(&body) {
                    Ok(r) => Attempt {
                        node: r.node,
                        ..attempt(&node, Outcome::Ok { read: r.value })
                    },
                    Err(e) => attempt(&node, unknown(op, format!("unreadable answer: {e}"))),
                },
                OpKind::Txn(_) => match serde_json::from_slice::<TxnResponse>(&body) {
                    Ok(r) => Attempt {
                        node: r.node,
                        ..attempt(
                            &node,
                            Outcome::Ok {
                                read: Some(ReadValue::Txn(r.txn)),
                            },
                        )
                    },
                    Err(e) => attempt(&node, unknown(op, format!("unreadable answer: {e}"))),
                },
                _ => attempt(&node, Outcome::Ok { read: None }),
            };
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(err) => {
                let error = format!("{}: {}", code_name(err.code), err.message);
                // Trust `definite` only together with a code that means it: a confused server must not
                // turn an unknown outcome into a failure the checker would drop.
                let outcome = if err.definite && err.code.is_definite() {
                    Outcome::Fail { error }
                } else {
                    unknown(op, error)
                };
                Attempt {
                    outcome,
                    node,
                    code: Some(err.code),
                    leader: err.leader,
                }
            }
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let error = format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                );
                attempt(&node, unknown(op, error))
            }
        }
    }

    /// `op` once at node number `i`, keeping the HTTP status (see [`Client::probe_op`]).
    pub async fn probe(&self, i: usize, op: &OpSpec) -> ProbeAnswer {
        let node = self.nodes[i % self.nodes.len()].0.clone();
        let mut answer = ProbeAnswer {
            node: node.clone(),
            status: None,
            code: None,
            leader: None,
            error: None,
        };
        let url = match self.url(&node, &path_of(op)) {
            Ok(u) => u,
            Err(e) => {
                answer.error = Some(e.to_string());
                return answer;
            }
        };
        let resp = match request(&self.http, url, op)
            .timeout(self.timeout)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                answer.error = Some(format!("request failed: {e}"));
                return answer;
            }
        };
        let status = resp.status();
        answer.status = Some(status.as_u16());
        let body = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            return answer;
        }
        let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(err) => {
                answer.error = Some(format!("{}: {}", code_name(err.code), err.message));
                answer.code = Some(err.code);
                answer.leader = err.leader;
            }
            Err(_) => answer.error = Some(format!("HTTP {status}: {text}")),
        }
        answer
    }

    /// `/status`, decoded as much as `T` asks for.
    async fn get_status<T: serde::de::DeserializeOwned>(
        &self,
        node: &str,
    ) -> Result<T, ClientError> {
        let resp = self
            .http
            .get(self.url(node, "/status")?)
            .timeout(self.timeout)
            .send()
            .await;
        json_answer(node, resp).await
    }

    /// `GET /kv/{key}?local=true`: the node's own applied state. 400, 404 and `not_leader` mean the
    /// system has no such read (docs/protocol.md, "Local reads").
    pub async fn local(&self, node: &str, key: &str) -> Result<Option<ReadValue>, ClientError> {
        let resp = self
            .http
            .get(self.url(node, &format!("/kv/{key}"))?)
            .query(&[("local", "true")])
            .timeout(self.timeout)
            .send()
            .await;
        let r: ReadAnswer = json_answer(node, resp).await.map_err(no_local_reads)?;
        Ok(r.value)
    }

    /// One append to a key no workload uses: a 404 says the system has no `append`.
    pub async fn append_probe(&self) -> Result<(), ClientError> {
        let node = &self.nodes.first().ok_or(ClientError::NoNodes)?.0;
        let resp = self
            .http
            .post(self.url(node, "/kv/lh-append-probe/append")?)
            .json(&WriteRequest { value: 0 })
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|source| ClientError::Http {
                node: node.clone(),
                source,
            })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(ClientError::Unsupported(format!(
                "{node} answered 404 to POST /kv/{{key}}/append: append"
            )));
        }
        Ok(())
    }

    pub async fn clock(&self, node: &str, req: &ClockRequest) -> Result<ClockState, ClientError> {
        let resp = self
            .http
            .post(self.url(node, "/admin/clock")?)
            .json(req)
            .timeout(self.timeout)
            .send()
            .await;
        json_answer(node, resp).await
    }
}

impl Client for NodeClient {
    fn names(&self) -> Vec<String> {
        NodeClient::names(self)
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn execute_from<'a>(&'a self, home: usize, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op_from(Some(home), i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(async move {
            // Only the fields docs/protocol.md asks of every system, so other binaries qualify too.
            #[derive(serde::Deserialize)]
            struct Minimal {
                id: String,
                role: Role,
                term: u64,
                #[serde(default)]
                leader: Option<String>,
            }
            let s: Minimal = self.get_status(node).await?;
            Ok(NodeStatus {
                node: s.id,
                role: s.role,
                term: s.term,
                leader: s.leader,
            })
        })
    }

    fn set_clock<'a>(
        &'a self,
        node: &'a str,
        req: &'a ClockRequest,
    ) -> BoxFuture<'a, Result<ClockState, ClientError>> {
        Box::pin(self.clock(node, req))
    }

    fn local_read<'a>(
        &'a self,
        node: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
        Box::pin(self.local(node, key))
    }

    fn probe_append(&self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(self.append_probe())
    }

    fn probe_op<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, ProbeAnswer> {
        Box::pin(self.probe(i, op))
    }
}

/// A local read answered 400 or 404 (no such request), or `not_leader` (only the leader serves reads):
/// the system has no local reads, so convergence is not checkable.
fn no_local_reads(e: ClientError) -> ClientError {
    let ClientError::Status { node, status, body } = e else {
        return e;
    };
    let code = serde_json::from_slice::<ErrorBody>(body.as_bytes())
        .ok()
        .map(|b| b.code);
    match (status, code) {
        (400 | 404, _) | (_, Some(ErrorCode::NotLeader)) => {
            let code = code
                .map(|c| format!(" {}", code_name(c)))
                .unwrap_or_default();
            ClientError::Unsupported(format!(
                "{node} answered HTTP {status}{code} to GET /kv/{{key}}?local=true, so local reads"
            ))
        }
        _ => ClientError::Status { node, status, body },
    }
}

/// The path an op goes to.
fn path_of(op: &OpSpec) -> String {
    match op.kind {
        OpKind::Txn(_) => "/txn".to_string(),
        _ => format!("/kv/{}", op.key),
    }
}

/// The HTTP request of one op.
fn request(http: &reqwest::Client, url: String, op: &OpSpec) -> reqwest::RequestBuilder {
    match op.kind {
        OpKind::Read => http.get(url),
        OpKind::Write(value) => http.put(url).json(&WriteRequest { value }),
        OpKind::Cas { from, to } => http.post(format!("{url}/cas")).json(&CasRequest {
            from: Some(from),
            to,
        }),
        OpKind::Append(value) => http
            .post(format!("{url}/append"))
            .json(&WriteRequest { value }),
        OpKind::Txn(ref ops) => http.post(url).json(&TxnRequest { txn: ops.clone() }),
    }
}

fn http_client(timeout: Duration, local: Option<IpAddr>) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(5))
        .local_address(local)
        .no_proxy()
        .build()
}

/// Decode a JSON answer, or say what came instead. Shared by every HTTP client of a system.
pub async fn json_answer<T: serde::de::DeserializeOwned>(
    node: &str,
    resp: reqwest::Result<reqwest::Response>,
) -> Result<T, ClientError> {
    let http = |source| ClientError::Http {
        node: node.to_string(),
        source,
    };
    let resp = resp.map_err(http)?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(ClientError::Status {
            node: node.to_string(),
            status: status.as_u16(),
            body,
        });
    }
    resp.json().await.map_err(http)
}

pub fn attempt(node: &str, outcome: Outcome) -> Attempt {
    Attempt {
        outcome,
        node: node.to_string(),
        code: None,
        leader: None,
    }
}

/// An outcome nobody can vouch for. Reads have no effect, so an unknown read is a failed read.
pub fn unknown(op: &OpSpec, error: String) -> Outcome {
    if op.is_read() {
        Outcome::Fail { error }
    } else {
        Outcome::Info { error }
    }
}

/// What a system without transactions answers a transaction: a definite failure (nothing was sent).
/// The harness runs the txn workloads only on systems that serve `POST /txn`, so this is a guard.
pub fn no_txn(system: &str) -> Outcome {
    Outcome::Fail {
        error: format!(
            "bad_request: {system} runs no transactions (the txn workloads need POST /txn)"
        ),
    }
}

/// How a transport failure's error text starts, so routing can tell a node that is down.
pub const CONNECT_ERROR: &str = "could not connect: ";
pub const TIMEOUT_ERROR: &str = "timeout: no answer in time";

/// Why a request got no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// No connection could be made (refused, unreachable, connect timed out).
    Connect,
    /// Connected (or connecting) but no answer in time.
    Timeout,
}

/// Whether `a` got no answer, and why (None: the node answered, maybe with an error).
pub fn transport_failure(a: &Attempt) -> Option<TransportFailure> {
    let error = match &a.outcome {
        Outcome::Ok { .. } => return None,
        Outcome::Fail { error } | Outcome::Info { error } => error,
    };
    if a.code.is_some() {
        None
    } else if error.starts_with(CONNECT_ERROR) {
        Some(TransportFailure::Connect)
    } else if error.starts_with(TIMEOUT_ERROR) {
        Some(TransportFailure::Timeout)
    } else {
        None
    }
}

/// A request that failed in transport: only a connection that was never made proves nothing happened.
pub fn transport_outcome(op: &OpSpec, e: &reqwest::Error) -> Outcome {
    if e.is_connect() {
        Outcome::Fail {
            error: format!("{CONNECT_ERROR}{}", root_cause(e)),
        }
    } else if e.is_timeout() {
        unknown(op, TIMEOUT_ERROR.to_string())
    } else {
        unknown(op, format!("request failed: {}", root_cause(e)))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{code:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::OpKind;
    use std::io::{Read, Write};

    /// Every kind of op a session sends leaves from its home's address: a partition that cuts that
    /// address off must cut off all of the session's requests, appends included.
    #[tokio::test]
    async fn each_op_kind_leaves_from_the_session_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut peers = Vec::new();
            for _ in 0..4 {
                let (mut s, peer) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).unwrap();
                peers.push(peer.ip());
                let body = r#"{"value":null,"node":"n1"}"#;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
            peers
        });
        let client = NodeClient::new(vec![("n1".into(), addr)], Duration::from_secs(5))
            .unwrap()
            .with_session_addrs(&["127.0.0.2".parse().unwrap()])
            .unwrap();
        for kind in [
            OpKind::Read,
            OpKind::Write(1),
            OpKind::Cas { from: 1, to: 2 },
            OpKind::Append(3),
        ] {
            let op = OpSpec {
                key: "k".into(),
                kind,
            };
            let a = client.run_op_from(Some(0), 0, &op).await;
            assert!(matches!(a.outcome, Outcome::Ok { .. }), "{op:?}: {a:?}");
        }
        let peers = server.join().unwrap();
        let want: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(peers, vec![want; 4]);
    }
}
