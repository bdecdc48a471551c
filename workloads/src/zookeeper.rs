//! A client of ZooKeeper (`zookeeper-client`): one session per server, pinned to it, so a read is answered
//! where the session is connected. Each key is a znode (`/k0`) holding a decimal integer (register) or a
//! JSON array (append). Writes are `setData` (creating the znode the first time); compare-and-set and
//! append are a read and a `setData` on the version read, so a concurrent change makes it fail certainly
//! (`BadVersion`); an append retries until the op's timeout.
//!
//! Reads: `plain` reads the session's server as it is (ZooKeeper promises sequential consistency, not
//! linearizable reads: "a client will see a system view that is at least as up-to-date as any it has
//! seen"), `sync` calls `sync()` first ("the server ... catches up with the leader before the read").
//!
//! The leader is read from each server's `srvr` four-letter word (`Mode:`; the epoch of its `Zxid` is the
//! term). A follower does not say whom it follows; it is taken to follow the server that says it leads.

use crate::client::{
    attempt, unknown, Attempt, Client, ClientError, NodeStatus, Outcome, ReadValue, CONNECT_ERROR,
    TIMEOUT_ERROR,
};
use crate::generator::{OpKind, OpSpec};
use crate::stored;
use futures::future::BoxFuture;
use protocol::Role;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zookeeper_client as zk;

/// How reads are served: ZooKeeper's documented knob is whether the client calls `sync()` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZkReads {
    Plain,
    Sync,
}

/// A session expires this long after its server stops hearing from it (within the servers' bounds of 2
/// and 20 ticks).
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
/// How long a follower's leader, found by asking every server, is taken as known.
const LEADER_CACHE: Duration = Duration::from_millis(250);

pub struct ZkClient {
    members: Vec<(String, SocketAddr)>,
    timeout: Duration,
    reads: ZkReads,
    /// One session per server, made on first use (on the client runtime, inside the client namespace)
    /// and made again once it is closed or expired.
    sessions: Vec<tokio::sync::Mutex<Option<zk::Client>>>,
    /// When the leader was last asked of every server, and the answer.
    leader_cache: Mutex<Option<(Instant, Option<String>)>>,
}

/// What a server's `srvr` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Srvr {
    role: Role,
    epoch: u64,
}

impl ZkClient {
    pub fn new(members: Vec<(String, SocketAddr)>, timeout: Duration, reads: ZkReads) -> ZkClient {
        let sessions = members
            .iter()
            .map(|_| tokio::sync::Mutex::new(None))
            .collect();
        ZkClient {
            members,
            timeout,
            reads,
            sessions,
            leader_cache: Mutex::new(None),
        }
    }

    fn index(&self, node: &str) -> Result<usize, ClientError> {
        self.members
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))
    }

    /// The session pinned to server `i`, connecting it if there is none.
    async fn session(&self, i: usize) -> Result<zk::Client, String> {
        let mut slot = self.sessions[i].lock().await;
        if let Some(c) = slot.as_ref() {
            if !matches!(
                c.state(),
                zk::SessionState::Closed | zk::SessionState::Expired | zk::SessionState::AuthFailed
            ) {
                return Ok(c.clone());
            }
        }
        let addr = self.members[i].1.to_string();
        let connect = zk::Client::connector()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connection_timeout(self.timeout)
            .connect(&addr);
        let c = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("{CONNECT_ERROR}{addr}: {e}")),
            Err(_) => return Err(format!("{CONNECT_ERROR}{addr}: no session in time")),
        };
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Forget server `i`'s session if ZooKeeper ended it, so the next op makes a new one.
    async fn drop_if_ended(&self, i: usize, e: &zk::Error) {
        if matches!(e, zk::Error::SessionExpired | zk::Error::ClientClosed) {
            *self.sessions[i].lock().await = None;
        }
    }

    /// The znode's bytes and version as this session sees it (after `sync()` in that mode).
    async fn get(&self, c: &zk::Client, path: &str) -> Result<Option<(Vec<u8>, i32)>, zk::Error> {
        if self.reads == ZkReads::Sync {
            c.sync(path).await.or_else(ignore_no_node)?;
        }
        match c.get_data(path).await {
            Ok((data, stat)) => Ok(Some((data, stat.version))),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn write(&self, c: &zk::Client, path: &str, data: &[u8]) -> Result<(), zk::Error> {
        loop {
            match c.set_data(path, data, None).await {
                Err(zk::Error::NoNode) => match create(c, path, data).await {
                    // Created by someone else meanwhile: set it.
                    Err(zk::Error::NodeExists) => continue,
                    r => return r,
                },
                r => return r.map(|_| ()),
            }
        }
    }

    /// Conditional on the version read: `Ok(false)` is a certain conflict (nothing was written).
    async fn put_if(
        &self,
        c: &zk::Client,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> Result<bool, zk::Error> {
        let put = match version {
            Some(v) => c.set_data(path, data, Some(v)).await.map(|_| ()),
            None => create(c, path, data).await,
        };
        match put {
            Ok(()) => Ok(true),
            Err(zk::Error::BadVersion | zk::Error::NodeExists | zk::Error::NoNode) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn run(&self, c: &zk::Client, op: &OpSpec) -> Result<Outcome, zk::Error> {
        let path = format!("/{}", op.key);
        let read_failed = |e: zk::Error| Outcome::Fail {
            error: format!("read: {e}"),
        };
        match op.kind {
            OpKind::Txn(_) => Ok(crate::client::no_txn("zookeeper")),
            OpKind::Read => {
                let got = self.get(c, &path).await?;
                Ok(match got.map(|(d, _)| stored::decode(&d)).transpose() {
                    Ok(read) => Outcome::Ok { read },
                    Err(error) => Outcome::Fail { error },
                })
            }
            OpKind::Write(v) => {
                self.write(c, &path, &stored::encode_int(v)).await?;
                Ok(Outcome::Ok { read: None })
            }
            OpKind::Cas { from, to } => {
                let got = match self.get(c, &path).await {
                    Ok(g) => g,
                    Err(e) => return Ok(read_failed(e)),
                };
                let Some((data, version)) = got else {
                    return Ok(cas_failed());
                };
                if stored::decode(&data).ok().and_then(|v| v.as_int()) != Some(from) {
                    return Ok(cas_failed());
                }
                let put = self
                    .put_if(c, &path, &stored::encode_int(to), Some(version))
                    .await?;
                Ok(if put {
                    Outcome::Ok { read: None }
                } else {
                    cas_failed()
                })
            }
            OpKind::Append(v) => self.append(c, &path, v).await,
        }
    }

    /// Read the list and its version, then write the longer list on that version; again on a conflict,
    /// until the op's timeout (every conflict is certain, so running out of time after them is a `fail`).
    async fn append(&self, c: &zk::Client, path: &str, value: i64) -> Result<Outcome, zk::Error> {
        let deadline = Instant::now() + self.timeout;
        let mut conflicts = 0;
        while Instant::now() < deadline {
            let got = match self.get(c, path).await {
                Ok(g) => g,
                Err(e) => {
                    return Ok(Outcome::Fail {
                        error: format!("read: {e}"),
                    })
                }
            };
            let (bytes, version) = match got {
                Some((d, v)) => (Some(d), Some(v)),
                None => (None, None),
            };
            let mut list = match stored::as_list(bytes.as_deref()) {
                Ok(l) => l,
                Err(error) => return Ok(Outcome::Fail { error }),
            };
            list.push(value);
            if self
                .put_if(c, path, &stored::encode_list(&list), version)
                .await?
            {
                return Ok(Outcome::Ok { read: None });
            }
            conflicts += 1;
        }
        Ok(Outcome::Fail {
            error: format!("append: {conflicts} conflicting updates, out of time"),
        })
    }

    async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        let i = i % self.members.len();
        let name = self.members[i].0.clone();
        let ran = tokio::time::timeout(self.timeout, async {
            let c = match self.session(i).await {
                Ok(c) => c,
                Err(error) => return Outcome::Fail { error },
            };
            match self.run(&c, op).await {
                Ok(o) => o,
                Err(e) => {
                    self.drop_if_ended(i, &e).await;
                    unknown(op, format!("zookeeper: {e}"))
                }
            }
        })
        .await;
        attempt(
            &name,
            ran.unwrap_or_else(|_| unknown(op, TIMEOUT_ERROR.to_string())),
        )
    }

    /// Ask server `i` for `srvr` (whitelisted in its configuration).
    async fn srvr(&self, i: usize) -> Result<Srvr, ClientError> {
        let (node, addr) = &self.members[i];
        let status = |body: String| ClientError::Status {
            node: node.clone(),
            status: 0,
            body,
        };
        let asked = tokio::time::timeout(self.timeout, async {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.write_all(b"srvr").await?;
            let mut out = String::new();
            s.read_to_string(&mut out).await?;
            Ok::<_, std::io::Error>(out)
        })
        .await;
        let text = match asked {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(status(format!("srvr: {e}"))),
            Err(_) => return Err(status(format!("srvr: {TIMEOUT_ERROR}"))),
        };
        parse_srvr(&text).map_err(status)
    }

    async fn server_status(&self, node: &str) -> Result<NodeStatus, ClientError> {
        let i = self.index(node)?;
        let me = self.srvr(i).await?;
        let leader = match me.role {
            Role::Leader => Some(node.to_string()),
            Role::Follower => self.current_leader().await,
            _ => None,
        };
        Ok(NodeStatus {
            node: node.to_string(),
            role: me.role,
            term: me.epoch,
            leader,
        })
    }

    /// The server that says it leads (in the highest epoch, if several do), asked of every server at most
    /// every [`LEADER_CACHE`]: a follower's `srvr` does not name its leader, and right after an election
    /// a follower's own Zxid may still be in the old epoch.
    async fn current_leader(&self) -> Option<String> {
        if let Some((at, leader)) = self.leader_cache.lock().unwrap().clone() {
            if at.elapsed() < LEADER_CACHE {
                return leader;
            }
        }
        let asks = (0..self.members.len()).map(|j| self.srvr(j));
        let answers = futures::future::join_all(asks).await;
        let leader = answers
            .into_iter()
            .zip(&self.members)
            .filter_map(|(s, (name, _))| {
                s.ok()
                    .filter(|s| s.role == Role::Leader)
                    .map(|s| (s.epoch, name.clone()))
            })
            .max()
            .map(|(_, name)| name);
        *self.leader_cache.lock().unwrap() = Some((Instant::now(), leader.clone()));
        leader
    }
}

fn cas_failed() -> Outcome {
    Outcome::Fail {
        error: "cas_failed: the value was not the expected one".into(),
    }
}

/// `sync()` on a znode that does not exist yet is no reason to fail the read that follows.
fn ignore_no_node(e: zk::Error) -> Result<(), zk::Error> {
    match e {
        zk::Error::NoNode => Ok(()),
        e => Err(e),
    }
}

fn create<'a>(
    c: &'a zk::Client,
    path: &'a str,
    data: &'a [u8],
) -> impl Future<Output = Result<(), zk::Error>> + Send + 'a {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let created = c.create(path, data, &options);
    async move { created.await.map(|_| ()) }
}

/// `srvr`'s answer: `Mode: leader|follower|standalone` and `Zxid: 0x...` (epoch in the high 32 bits);
/// a server without a quorum says it "is not currently serving requests".
fn parse_srvr(text: &str) -> Result<Srvr, String> {
    if text.contains("not currently serving requests") {
        return Ok(Srvr {
            role: Role::Candidate,
            epoch: 0,
        });
    }
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .ok_or_else(|| format!("srvr: no {name:?} in {:?}", text.trim()))
    };
    let role = match field("Mode:")? {
        "leader" | "standalone" => Role::Leader,
        "follower" | "observer" => Role::Follower,
        other => return Err(format!("srvr: unknown mode {other:?}")),
    };
    let zxid = field("Zxid:")?;
    let zxid = u64::from_str_radix(zxid.trim_start_matches("0x"), 16)
        .map_err(|e| format!("srvr: Zxid {zxid:?}: {e}"))?;
    Ok(Srvr {
        role,
        epoch: zxid >> 32,
    })
}

impl Client for ZkClient {
    fn names(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(self.server_status(node))
    }

    /// A plain read on the server's own session is its local state, whatever the mode.
    fn local_read<'a>(
        &'a self,
        node: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
        Box::pin(async move {
            let i = self.index(node)?;
            let status = |body: String| ClientError::Status {
                node: node.to_string(),
                status: 0,
                body,
            };
            let read = tokio::time::timeout(self.timeout, async {
                let c = self.session(i).await?;
                match c.get_data(&format!("/{key}")).await {
                    Ok((d, _)) => stored::decode(&d).map(Some),
                    Err(zk::Error::NoNode) => Ok(None),
                    Err(e) => Err(format!("zookeeper: {e}")),
                }
            })
            .await;
            read.map_err(|_| status(TIMEOUT_ERROR.into()))?
                .map_err(status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_gives_the_role_and_the_epoch() {
        let leader = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x300000007\n\
                      Mode: leader\nNode count: 5\n";
        assert_eq!(
            parse_srvr(leader),
            Ok(Srvr {
                role: Role::Leader,
                epoch: 3
            })
        );
        let follower = leader.replace("Mode: leader", "Mode: follower");
        assert_eq!(parse_srvr(&follower).unwrap().role, Role::Follower);
        let electing = "This ZooKeeper instance is not currently serving requests\n";
        assert_eq!(parse_srvr(electing).unwrap().role, Role::Candidate);
        assert!(parse_srvr("Mode: leader\n").unwrap_err().contains("Zxid"));
        assert!(parse_srvr("").unwrap_err().contains("Mode"));
    }
}
