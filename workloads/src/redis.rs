//! A client of Redis under Sentinel (the `redis` crate, 1.x): every op asks Sentinel for the master
//! (`SENTINEL MASTERS`, then `ROLE` at the master named, as the crate's `master_for` does), the session's
//! home node's sentinel first and the others after it, and runs on a connection to that master. Reads
//! therefore go to the master, as the Sentinel client does by default; no op is sent to a replica.
//!
//! Registers are strings holding a decimal integer (`SET`/`GET`); compare-and-set is a Lua script (`GET`,
//! compare, `SET`, atomic on the master); append keys are lists (`RPUSH`, read with `LRANGE 0 -1`, which
//! is the list as Elle's list-append reads it). A read tries `GET` and falls back to `LRANGE` on a
//! `WRONGTYPE` answer, so one read serves both workloads.
//!
//! Writes: `async` acknowledges what the master acknowledged (replication is asynchronous); `wait` sends
//! `WAIT 1 <ms>` after each write on the same connection and acknowledges only when at least one replica
//! confirmed it. `WAIT` answering 0 leaves the write applied on the master but on no replica: it may
//! survive or be lost at the next failover, so it is `info` (unknown), never `fail`.
//!
//! Outcomes: no master found, or no connection to it, means nothing was sent (`fail`); an error reply
//! means Redis refused the command, which it runs whole or not at all (`fail`); a dropped connection or
//! no answer in time after the command was sent is `info` for writes.
//!
//! A node's status: its sentinel's view (`SENTINEL MASTER`: the master's address and config epoch, the
//! epoch serving as the term) and its server's `ROLE`; it leads when its sentinel names it and it says
//! it is a master.

use crate::client::{
    attempt, unknown, Attempt, Client, ClientError, NodeStatus, Outcome, ReadValue, CONNECT_ERROR,
    TIMEOUT_ERROR,
};
use crate::generator::{OpKind, OpSpec};
use futures::future::BoxFuture;
use protocol::Role;
use redis::aio::MultiplexedConnection;
use redis::sentinel::Sentinel;
use redis::{AsyncConnectionConfig, RedisError, Script};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// The name Sentinel monitors the master under.
pub const MASTER_NAME: &str = "lh";
/// Each member's sentinel port.
pub const SENTINEL_PORT: u16 = 26379;

/// `GET`, compare with the expected value, `SET`: 1 when it set, 0 when the value was another.
const CAS: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                   redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0";

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisWrites {
    /// When the master has it.
    Async,
    /// When `WAIT 1` says a replica has it too.
    Wait,
}

pub struct RedisClient {
    members: Vec<(String, SocketAddr)>,
    timeout: Duration,
    writes: RedisWrites,
    /// Per home node: a Sentinel asking that node's sentinel first.
    sentinels: Vec<tokio::sync::Mutex<Sentinel>>,
    /// Idle connections to each server, used by one op at a time (`WAIT` blocks its connection).
    idle: Vec<std::sync::Mutex<Vec<MultiplexedConnection>>>,
    /// For status: one connection to each member's sentinel and one to its server.
    status_conns: Vec<[tokio::sync::Mutex<Option<MultiplexedConnection>>; 2]>,
    cas: Script,
}

fn sentinel_addr(server: SocketAddr) -> SocketAddr {
    SocketAddr::new(server.ip(), SENTINEL_PORT)
}

impl RedisClient {
    pub fn new(
        members: Vec<(String, SocketAddr)>,
        timeout: Duration,
        writes: RedisWrites,
    ) -> Result<RedisClient, String> {
        let urls: Vec<String> = members
            .iter()
            .map(|(_, a)| format!("redis://{}", sentinel_addr(*a)))
            .collect();
        let sentinels = (0..members.len())
            .map(|home| {
                let mut order = urls.clone();
                order.rotate_left(home);
                Sentinel::build(order)
                    .map(tokio::sync::Mutex::new)
                    .map_err(|e| format!("sentinel addresses: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(RedisClient {
            idle: members.iter().map(|_| Default::default()).collect(),
            status_conns: members.iter().map(|_| Default::default()).collect(),
            members,
            timeout,
            writes,
            sentinels,
            cas: Script::new(CAS),
        })
    }

    fn index(&self, node: &str) -> Result<usize, ClientError> {
        self.members
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))
    }

    fn by_ip(&self, ip: &str) -> Option<usize> {
        let ip: IpAddr = ip.parse().ok()?;
        self.members.iter().position(|(_, a)| a.ip() == ip)
    }

    fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
    }

    /// The member Sentinel names master, asking `home`'s sentinel first.
    async fn master(&self, home: usize) -> Result<usize, String> {
        let client = self.sentinels[home]
            .lock()
            .await
            .async_master_for(MASTER_NAME, None)
            .await
            .map_err(|e| format!("no master from Sentinel: {e}"))?;
        match client.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(host, _) => self.by_ip(host),
            _ => None,
        }
        .ok_or_else(|| format!("Sentinel named a master that is no member: {client:?}"))
    }

    /// An idle connection to server `i`, or a new one.
    async fn connection(&self, i: usize) -> Result<MultiplexedConnection, String> {
        if let Some(c) = self.idle[i].lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        let addr = self.members[i].1;
        let client = redis::Client::open(format!("redis://{addr}"))
            .map_err(|e| format!("{CONNECT_ERROR}{addr}: {e}"))?;
        client
            .get_multiplexed_async_connection_with_config(&self.config())
            .await
            .map_err(|e| format!("{CONNECT_ERROR}{addr}: {e}"))
    }

    fn give_back(&self, i: usize, c: MultiplexedConnection) {
        if let Ok(mut v) = self.idle[i].lock() {
            v.push(c);
        }
    }

    async fn run_op(&self, home: usize, op: &OpSpec) -> Attempt {
        let n = self.members.len();
        if n == 0 {
            let error = ClientError::NoNodes.to_string();
            return attempt("", Outcome::Fail { error });
        }
        let home = home % n;
        let deadline = Instant::now() + self.timeout;
        let not_sent = |node: &str, error: String| attempt(node, Outcome::Fail { error });
        let master = match timeout_at(deadline, self.master(home)).await {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => return not_sent(&self.members[home].0, e),
            Err(_) => {
                let e = format!("{TIMEOUT_ERROR} (asking Sentinel for the master)");
                return not_sent(&self.members[home].0, e);
            }
        };
        let node = self.members[master].0.clone();
        let mut conn = match timeout_at(deadline, self.connection(master)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return not_sent(&node, e),
            Err(_) => return not_sent(&node, format!("{CONNECT_ERROR}{node}: not in time")),
        };
        let outcome = match timeout_at(deadline, self.run(&mut conn, op)).await {
            Ok(Ran::Answered(o)) => {
                self.give_back(master, conn);
                o
            }
            // The connection may be broken or still busy with the command: it is not used again.
            Ok(Ran::Lost(e)) => unknown(op, e),
            Err(_) => unknown(op, TIMEOUT_ERROR.to_string()),
        };
        attempt(&node, outcome)
    }

    async fn run(&self, c: &mut MultiplexedConnection, op: &OpSpec) -> Ran {
        let written = match op.kind {
            OpKind::Txn(_) => return Ran::Answered(crate::client::no_txn("redis")),
            OpKind::Read => return read(c, &op.key).await,
            OpKind::Write(v) => redis::cmd("SET").arg(&op.key).arg(v).exec_async(c).await,
            OpKind::Append(v) => redis::cmd("RPUSH").arg(&op.key).arg(v).exec_async(c).await,
            OpKind::Cas { from, to } => {
                let set: Result<i64, _> = self
                    .cas
                    .key(&op.key)
                    .arg(from)
                    .arg(to)
                    .invoke_async(c)
                    .await;
                match set {
                    Ok(1) => Ok(()),
                    Ok(_) => return Ran::Answered(cas_failed()),
                    Err(e) => Err(e),
                }
            }
        };
        match written {
            Ok(()) if self.writes == RedisWrites::Wait => self.wait(c, op).await,
            Ok(()) => Ran::Answered(Outcome::Ok { read: None }),
            Err(e) => refused_or_lost(op, e),
        }
    }

    /// `WAIT 1` within half the op's timeout: acknowledged once a replica has the write.
    async fn wait(&self, c: &mut MultiplexedConnection, op: &OpSpec) -> Ran {
        let ms = (self.timeout / 2).as_millis().max(1) as u64;
        let acked: Result<i64, _> = redis::cmd("WAIT").arg(1).arg(ms).query_async(c).await;
        match acked {
            Ok(n) if n >= 1 => Ran::Answered(Outcome::Ok { read: None }),
            Ok(_) => Ran::Answered(unknown(
                op,
                format!("WAIT 1 {ms}: no replica confirmed the write (on the master only)"),
            )),
            Err(e) if e.code().is_some() => Ran::Answered(unknown(op, format!("WAIT: {e}"))),
            Err(e) => Ran::Lost(format!("WAIT: {e}")),
        }
    }

    /// A cached connection to member `i`'s sentinel (`which` 0) or server (1), made when missing.
    async fn status_query<T: redis::FromRedisValue>(
        &self,
        i: usize,
        which: usize,
        cmd: &redis::Cmd,
    ) -> Result<T, String> {
        let mut slot = self.status_conns[i][which].lock().await;
        let addr = match which {
            0 => sentinel_addr(self.members[i].1),
            _ => self.members[i].1,
        };
        let conn = match slot.as_mut() {
            Some(c) => c,
            None => {
                let client = redis::Client::open(format!("redis://{addr}"))
                    .map_err(|e| format!("{addr}: {e}"))?;
                let c = client
                    .get_multiplexed_async_connection_with_config(&self.config())
                    .await
                    .map_err(|e| format!("{addr}: {e}"))?;
                slot.insert(c)
            }
        };
        let answer = tokio::time::timeout(self.timeout, cmd.query_async(conn)).await;
        match answer {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                *slot = None;
                Err(format!("{addr}: {e}"))
            }
            Err(_) => {
                *slot = None;
                Err(format!("{addr}: no answer in time"))
            }
        }
    }

    async fn node_status(&self, node: &str) -> Result<NodeStatus, ClientError> {
        let i = self.index(node)?;
        let failed = |body: String| ClientError::Status {
            node: node.to_string(),
            status: 0,
            body,
        };
        let mut ask = redis::cmd("SENTINEL");
        ask.arg("MASTER").arg(MASTER_NAME);
        let view: HashMap<String, String> = self.status_query(i, 0, &ask).await.map_err(failed)?;
        let (leader, term) = sentinel_view(&view);
        let leader = leader.and_then(|ip| self.by_ip(&ip));
        let role: redis::Role = self
            .status_query(i, 1, &redis::cmd("ROLE"))
            .await
            .map_err(failed)?;
        let master = matches!(role, redis::Role::Primary { .. });
        let role = match leader {
            Some(l) if l == i && master => Role::Leader,
            _ => Role::Follower,
        };
        Ok(NodeStatus {
            node: node.to_string(),
            role,
            term,
            leader: leader.map(|l| self.members[l].0.clone()),
        })
    }
}

/// What a sentinel says of the master: its address and the config epoch of that configuration.
fn sentinel_view(view: &HashMap<String, String>) -> (Option<String>, u64) {
    let epoch = view
        .get("config-epoch")
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    (view.get("ip").cloned(), epoch)
}

/// How an op's commands ended.
enum Ran {
    /// Redis answered; the connection can be used again.
    Answered(Outcome),
    /// The connection failed after the command was sent.
    Lost(String),
}

/// An error reply means Redis refused the command (it runs whole or not at all); anything else
/// happened after the command was sent.
fn refused_or_lost(op: &OpSpec, e: RedisError) -> Ran {
    if e.code().is_some() {
        Ran::Answered(Outcome::Fail {
            error: format!("{}: {e}", op.f()),
        })
    } else {
        Ran::Lost(format!("{}: {e}", op.f()))
    }
}

/// `GET`, or `LRANGE` when the key holds a list.
async fn read(c: &mut MultiplexedConnection, key: &str) -> Ran {
    let got: Result<Option<String>, RedisError> = redis::cmd("GET").arg(key).query_async(c).await;
    let value = match got {
        Ok(None) => return Ran::Answered(Outcome::Ok { read: None }),
        Ok(Some(s)) => s
            .parse()
            .map(ReadValue::Int)
            .map_err(|_| format!("value {s:?} is not one this workload wrote")),
        Err(e) if e.code() == Some("WRONGTYPE") => {
            let list: Result<Vec<i64>, RedisError> = redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(c)
                .await;
            match list {
                Ok(l) => Ok(ReadValue::List(l)),
                Err(e) => return read_failed(e),
            }
        }
        Err(e) => return read_failed(e),
    };
    Ran::Answered(match value {
        Ok(v) => Outcome::Ok { read: Some(v) },
        Err(error) => Outcome::Fail { error },
    })
}

/// A read has no effect, so whatever went wrong it failed; only the connection's fate differs.
fn read_failed(e: RedisError) -> Ran {
    let error = format!("read: {e}");
    if e.code().is_some() {
        Ran::Answered(Outcome::Fail { error })
    } else {
        Ran::Lost(error)
    }
}

fn cas_failed() -> Outcome {
    Outcome::Fail {
        error: "cas_failed: the value was not the expected one".into(),
    }
}

impl Client for RedisClient {
    fn names(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(self.node_status(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentinel_view_is_the_masters_address_and_config_epoch() {
        let view: HashMap<String, String> = [
            ("name", "lh"),
            ("ip", "10.77.0.3"),
            ("port", "6379"),
            ("config-epoch", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(sentinel_view(&view), (Some("10.77.0.3".into()), 2));
        assert_eq!(sentinel_view(&HashMap::new()), (None, 0));
    }

    /// A stand-in server speaking just enough RESP: each command is answered by `reply` (raw RESP).
    fn fake_server(reply: fn(&[String]) -> String) -> SocketAddr {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut out = stream.try_clone().unwrap();
                    let mut lines = BufReader::new(stream).lines().map_while(Result::ok);
                    while let Some(head) = lines.next() {
                        let n: usize = head.trim_start_matches('*').parse().unwrap_or(0);
                        // Each argument is a `$len` line, then the argument.
                        let args: Vec<String> = (0..n).filter_map(|_| lines.nth(1)).collect();
                        let _ = out.write_all(reply(&args).as_bytes());
                    }
                });
            }
        });
        addr
    }

    async fn run_on(addr: SocketAddr, writes: RedisWrites, kind: OpKind) -> Outcome {
        let members = vec![("n1".to_string(), addr)];
        let c = RedisClient::new(members, Duration::from_secs(2), writes).unwrap();
        let mut conn = c.connection(0).await.unwrap();
        let op = OpSpec {
            key: "k".into(),
            kind,
        };
        match c.run(&mut conn, &op).await {
            Ran::Answered(o) => o,
            Ran::Lost(e) => panic!("connection lost: {e}"),
        }
    }

    /// `WAIT` answering 0: the write is on the master only, so its fate is unknown; 1 acknowledges it.
    #[tokio::test]
    async fn a_write_no_replica_confirmed_is_unknown_in_wait_mode() {
        let none = fake_server(|a| match a[0].as_str() {
            "WAIT" => ":0\r\n".into(),
            _ => "+OK\r\n".into(),
        });
        let out = run_on(none, RedisWrites::Wait, OpKind::Write(5)).await;
        assert!(
            matches!(&out, Outcome::Info { error } if error.contains("no replica")),
            "{out:?}"
        );
        let async_out = run_on(none, RedisWrites::Async, OpKind::Write(5)).await;
        assert_eq!(async_out, Outcome::Ok { read: None });
        let one = fake_server(|a| match a[0].as_str() {
            "WAIT" => ":1\r\n".into(),
            _ => "+OK\r\n".into(),
        });
        let out = run_on(one, RedisWrites::Wait, OpKind::Append(5)).await;
        assert_eq!(out, Outcome::Ok { read: None });
    }

    /// An error reply is a command Redis did not run: a certain failure, even for a write.
    #[tokio::test]
    async fn a_refused_write_failed_and_a_cas_on_another_value_failed() {
        let replica = fake_server(|a| match a[0].as_str() {
            "SET" => "-READONLY You can't write against a read only replica.\r\n".into(),
            "EVALSHA" => ":0\r\n".into(),
            _ => "+OK\r\n".into(),
        });
        let out = run_on(replica, RedisWrites::Async, OpKind::Write(5)).await;
        assert!(
            matches!(&out, Outcome::Fail { error } if error.contains("read only")),
            "{out:?}"
        );
        let cas = OpKind::Cas { from: 1, to: 2 };
        assert_eq!(run_on(replica, RedisWrites::Wait, cas).await, cas_failed());
    }

    /// One read serves both workloads: a list key answers `GET` with `WRONGTYPE`, then `LRANGE`.
    #[tokio::test]
    async fn a_read_of_a_list_key_returns_the_list() {
        let lists = fake_server(|a| match a[0].as_str() {
            "GET" => {
                "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n".into()
            }
            "LRANGE" => "*2\r\n$1\r\n3\r\n$1\r\n7\r\n".into(),
            _ => "+OK\r\n".into(),
        });
        let out = run_on(lists, RedisWrites::Async, OpKind::Read).await;
        let want = Some(ReadValue::List(vec![3, 7]));
        assert_eq!(out, Outcome::Ok { read: want });
        let ints = fake_server(|a| match a[0].as_str() {
            "GET" => "$2\r\n42\r\n".into(),
            _ => "+OK\r\n".into(),
        });
        let out = run_on(ints, RedisWrites::Async, OpKind::Read).await;
        assert_eq!(
            out,
            Outcome::Ok {
                read: Some(ReadValue::Int(42))
            }
        );
    }

    #[test]
    fn the_master_sentinel_names_is_found_among_the_members_by_ip() {
        let members: Vec<(String, SocketAddr)> = (1..=3)
            .map(|i| (format!("n{i}"), SocketAddr::from(([10, 9, 0, i], 6379))))
            .collect();
        let c = RedisClient::new(members, Duration::from_secs(1), RedisWrites::Async).unwrap();
        assert_eq!(c.by_ip("10.9.0.2"), Some(1));
        assert_eq!(c.by_ip("10.9.0.9"), None);
        assert_eq!(c.by_ip("not an ip"), None);
    }
}
