//! A client of MariaDB Galera (`mysql_async`): a pool of connections per server, pinned to it, so each
//! session's statements run on its home node. Every key is a row of one table (`lh.kv`, made on first
//! use of each server) holding a decimal integer (register) or a JSON array (append), each op one
//! autocommit statement:
//!
//! - read: `SELECT`; write: `INSERT ... ON DUPLICATE KEY UPDATE`;
//! - compare-and-set: `UPDATE ... WHERE v = from`, done when it changed a row, certainly not when none;
//! - append: `INSERT ... ON DUPLICATE KEY UPDATE v = JSON_ARRAY_APPEND(v, '$', x)`;
//! - transaction (the txn workloads): those statements, one per micro-op, between `START TRANSACTION` at
//!   REPEATABLE READ (InnoDB's default, and the level Galera certifies across nodes; its SERIALIZABLE
//!   holds on one node only) and `COMMIT`. An error before the commit was sent leaves nothing committed
//!   (`fail`); the commit's own error is judged as a statement's.
//!
//! How fresh a read is comes from the server's `wsrep_sync_wait` (the mode, set on the servers). A
//! statement Galera refused (certification conflict, lock wait timeout, node not ready) was rolled back:
//! `fail`; a dropped connection or a timeout after the statement was sent: `info`.
//!
//! Galera has no leader: every server that is Primary and Synced reports itself a follower of nobody.

use crate::client::{
    attempt, unknown, Attempt, Client, ClientError, NodeStatus, Outcome, ReadValue, CONNECT_ERROR,
    TIMEOUT_ERROR,
};
use crate::generator::{OpKind, OpSpec};
use crate::stored;
use futures::future::BoxFuture;
use mysql_async::prelude::Queryable;
use mysql_async::{
    Conn, IsolationLevel, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, TxOpts,
};
use protocol::{MicroOp, Role, TxnRead};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The table every op uses (database `lh`).
pub const TABLE: &str = "lh.kv";
const SCHEMA: [&str; 2] = [
    "CREATE DATABASE IF NOT EXISTS lh",
    "CREATE TABLE IF NOT EXISTS lh.kv (k VARCHAR(64) NOT NULL PRIMARY KEY, v LONGTEXT NOT NULL) \
     ENGINE=InnoDB",
];
/// Server errors that mean the statement was rolled back, nothing written: a certification conflict or
/// a brute-force abort (1213 ER_LOCK_DEADLOCK), a lock wait timeout (1205), a node not ready for
/// statements (1047 ER_UNKNOWN_COM_ERROR, "WSREP has not yet prepared node"), no such table or database
/// (1146, 1049).
const NOT_DONE: [u16; 5] = [1213, 1205, 1047, 1146, 1049];
/// Connections one pool may hold: more than the workers, since a connection whose op timed out on a
/// paused server stays busy until the server answers.
const POOL_MAX: usize = 64;

struct Server {
    name: String,
    addr: SocketAddr,
    /// The workload's connections (the server's own `wsrep_sync_wait`).
    ops: Pool,
    /// Status and local reads: the node's own state, whatever the mode, even out of the primary
    /// component (`wsrep_dirty_reads`).
    admin: Pool,
    /// Set once this server has the table.
    schema: tokio::sync::OnceCell<()>,
}

pub struct GaleraClient {
    servers: Vec<Server>,
    timeout: Duration,
}

fn opts(addr: SocketAddr, init: Vec<String>, max: usize) -> Opts {
    let constraints = PoolConstraints::new(0, max).unwrap_or_default();
    let pool = PoolOpts::default()
        .with_constraints(constraints)
        // No COM_RESET_CONNECTION on return: it would drop the session settings of `init`.
        .with_reset_connection(false);
    OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .prefer_socket(false)
        // The servers run with --skip-grant-tables: any user name is let in.
        .user(Some("lh"))
        .init(init)
        .pool_opts(pool)
        .into()
}

impl GaleraClient {
    /// Pools are made here but connect on first use (on the client runtime, inside the client namespace).
    pub fn new(members: Vec<(String, SocketAddr)>, timeout: Duration) -> GaleraClient {
        let servers = members
            .into_iter()
            .map(|(name, addr)| {
                let dirty = vec![
                    "SET SESSION wsrep_sync_wait = 0".to_string(),
                    "SET SESSION wsrep_dirty_reads = ON".to_string(),
                ];
                Server {
                    ops: Pool::new(opts(addr, vec![], POOL_MAX)),
                    admin: Pool::new(opts(addr, dirty, 4)),
                    name,
                    addr,
                    schema: tokio::sync::OnceCell::new(),
                }
            })
            .collect();
        GaleraClient { servers, timeout }
    }

    fn index(&self, node: &str) -> Result<usize, ClientError> {
        self.servers
            .iter()
            .position(|s| s.name == node)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))
    }

    /// A connection from `pool`, or why none could be had (nothing was sent: a certain failure).
    async fn conn(&self, s: &Server, pool: &Pool) -> Result<Conn, String> {
        match tokio::time::timeout(self.timeout, pool.get_conn()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!("{CONNECT_ERROR}{}: {e}", s.addr)),
            Err(_) => Err(format!("{CONNECT_ERROR}{}: not connected in time", s.addr)),
        }
    }

    /// Make the table on server `i` once (DDL is replicated in total order; `IF NOT EXISTS` makes a
    /// second server's attempt a no-op).
    async fn ensure_schema(&self, s: &Server, c: &mut Conn) -> Result<(), mysql_async::Error> {
        s.schema
            .get_or_try_init(|| async {
                for q in SCHEMA {
                    c.query_drop(q).await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    async fn run(&self, c: &mut Conn, op: &OpSpec) -> Result<Outcome, mysql_async::Error> {
        let key = op.key.as_str();
        Ok(match op.kind {
            OpKind::Txn(ref mops) => return self.txn(c, op, mops).await,
            OpKind::Read => match read(c, key).await? {
                Ok(read) => Outcome::Ok { read },
                Err(error) => Outcome::Fail { error },
            },
            OpKind::Write(v) => {
                write(c, key, v).await?;
                Outcome::Ok { read: None }
            }
            OpKind::Cas { from, to } => {
                let q = format!("UPDATE {TABLE} SET v = ? WHERE k = ? AND v = ?");
                c.exec_drop(q, (to.to_string(), key, from.to_string()))
                    .await?;
                // Written values are unique, so a matched row is a changed row.
                if c.affected_rows() == 1 {
                    Outcome::Ok { read: None }
                } else {
                    Outcome::Fail {
                        error: "cas_failed: the value was not the expected one".into(),
                    }
                }
            }
            OpKind::Append(v) => {
                append(c, key, v).await?;
                Outcome::Ok { read: None }
            }
        })
    }

    /// A transaction of micro-ops, each one statement, committed at the end (see the module doc).
    async fn txn(
        &self,
        c: &mut Conn,
        op: &OpSpec,
        mops: &[MicroOp],
    ) -> Result<Outcome, mysql_async::Error> {
        let mut opts = TxOpts::default();
        opts.with_isolation_level(IsolationLevel::RepeatableRead);
        let before_commit = |e: mysql_async::Error| Outcome::Fail {
            error: format!("mariadb: {e}"),
        };
        let mut tx = match c.start_transaction(opts).await {
            Ok(tx) => tx,
            Err(e) => return Ok(before_commit(e)),
        };
        let mut done = Vec::with_capacity(mops.len());
        for m in mops {
            // Dropping `tx` on an early return rolls it back.
            let ran = match m {
                MicroOp::Read { key, .. } => match read(&mut tx, key).await {
                    Ok(Ok(value)) => {
                        let value = value.and_then(txn_read);
                        done.push(MicroOp::Read {
                            key: key.clone(),
                            value,
                        });
                        Ok(())
                    }
                    Ok(Err(error)) => return Ok(Outcome::Fail { error }),
                    Err(e) => Err(e),
                },
                MicroOp::Append { key, value } => append(&mut tx, key, *value).await,
                MicroOp::Write { key, value } => write(&mut tx, key, *value).await,
            };
            match ran {
                Ok(()) if !m.is_read() => done.push(m.clone()),
                Ok(()) => {}
                Err(e) => return Ok(before_commit(e)),
            }
        }
        Ok(match tx.commit().await {
            Ok(()) => Outcome::Ok {
                read: Some(ReadValue::Txn(done)),
            },
            Err(e) => outcome_of_error(op, &e),
        })
    }

    async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        let s = &self.servers[i % self.servers.len()];
        let deadline = Instant::now() + self.timeout;
        let mut c = match self.conn(s, &s.ops).await {
            Ok(c) => c,
            Err(error) => return attempt(&s.name, Outcome::Fail { error }),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let ran = tokio::time::timeout(left, async {
            if let Err(e) = self.ensure_schema(s, &mut c).await {
                return Outcome::Fail {
                    error: format!("creating {TABLE}: {e}"),
                };
            }
            match self.run(&mut c, op).await {
                Ok(o) => o,
                Err(e) => outcome_of_error(op, &e),
            }
        })
        .await;
        attempt(
            &s.name,
            ran.unwrap_or_else(|_| unknown(op, TIMEOUT_ERROR.to_string())),
        )
    }

    /// `wsrep_%` status variables of server `i`, read on an admin connection.
    async fn wsrep_status(&self, i: usize) -> Result<Vec<(String, String)>, String> {
        let s = &self.servers[i];
        let asked = tokio::time::timeout(self.timeout, async {
            let mut c = self.conn(s, &s.admin).await?;
            c.query::<(String, String), _>(
                "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', \
                 'wsrep_local_state_comment', 'wsrep_ready', 'wsrep_cluster_conf_id')",
            )
            .await
            .map_err(|e| format!("SHOW STATUS: {e}"))
        })
        .await;
        asked.unwrap_or_else(|_| Err(format!("SHOW STATUS: {TIMEOUT_ERROR}")))
    }

    async fn server_status(&self, node: &str) -> Result<NodeStatus, ClientError> {
        let i = self.index(node)?;
        let vars = self
            .wsrep_status(i)
            .await
            .map_err(|body| ClientError::Status {
                node: node.to_string(),
                status: 0,
                body,
            })?;
        let (role, term) = role_of(&vars);
        Ok(NodeStatus {
            node: node.to_string(),
            role,
            term,
            leader: None,
        })
    }

    async fn local(&self, node: &str, key: &str) -> Result<Option<ReadValue>, ClientError> {
        let i = self.index(node)?;
        let s = &self.servers[i];
        let status = |body: String| ClientError::Status {
            node: node.to_string(),
            status: 0,
            body,
        };
        let read = tokio::time::timeout(self.timeout, async {
            let mut c = self.conn(s, &s.admin).await?;
            let q = format!("SELECT v FROM {TABLE} WHERE k = ?");
            match c.exec_first::<String, _, _>(q, (key,)).await {
                Ok(v) => v.map(|v| stored::decode(v.as_bytes())).transpose(),
                // No table yet on this node: nothing written here.
                Err(e) if server_code(&e).is_some_and(|c| c == 1146 || c == 1049) => Ok(None),
                Err(e) => Err(format!("local read: {e}")),
            }
        })
        .await;
        read.map_err(|_| status(TIMEOUT_ERROR.into()))?
            .map_err(status)
    }
}

/// The stored value at `key` (`Err` inside: a value no workload wrote).
async fn read(
    c: &mut impl Queryable,
    key: &str,
) -> Result<Result<Option<ReadValue>, String>, mysql_async::Error> {
    let got: Option<String> = c
        .exec_first(format!("SELECT v FROM {TABLE} WHERE k = ?"), (key,))
        .await?;
    Ok(got.map(|v| stored::decode(v.as_bytes())).transpose())
}

async fn write(c: &mut impl Queryable, key: &str, v: i64) -> Result<(), mysql_async::Error> {
    let q =
        format!("INSERT INTO {TABLE} (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)");
    c.exec_drop(q, (key, v.to_string())).await
}

async fn append(c: &mut impl Queryable, key: &str, v: i64) -> Result<(), mysql_async::Error> {
    let q = format!(
        "INSERT INTO {TABLE} (k, v) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE v = JSON_ARRAY_APPEND(v, '$', ?)"
    );
    let first = String::from_utf8_lossy(&stored::encode_list(&[v])).into_owned();
    c.exec_drop(q, (key, first, v)).await
}

/// A stored value as a transaction's read saw it.
pub(crate) fn txn_read(v: ReadValue) -> Option<TxnRead> {
    match v {
        ReadValue::Int(v) => Some(TxnRead::Int(v)),
        ReadValue::List(l) => Some(TxnRead::List(l)),
        ReadValue::Txn(_) => None,
    }
}

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

/// A statement the server refused in a way that rolled it back is a certain failure; anything else
/// (a connection lost mid-statement, an error after it may have committed) is unknown.
fn outcome_of_error(op: &OpSpec, e: &mysql_async::Error) -> Outcome {
    let error = format!("mariadb: {e}");
    match server_code(e) {
        Some(code) if NOT_DONE.contains(&code) => Outcome::Fail { error },
        _ => unknown(op, error),
    }
}

/// A node serves when it is in the primary component, synced and ready; its term is the cluster
/// configuration id (it grows with every membership change).
fn role_of(vars: &[(String, String)]) -> (Role, u64) {
    let var = |name: &str| {
        vars.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let serving = var("wsrep_cluster_status") == Some("Primary")
        && var("wsrep_local_state_comment") == Some("Synced")
        && var("wsrep_ready") == Some("ON");
    let term = var("wsrep_cluster_conf_id")
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(0, |v| v.max(0) as u64);
    let role = if serving {
        Role::Follower
    } else {
        Role::Candidate
    };
    (role, term)
}

impl Client for GaleraClient {
    fn names(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.name.clone()).collect()
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(self.server_status(node))
    }

    /// A read with `wsrep_sync_wait = 0` and dirty reads on: what this node has applied.
    fn local_read<'a>(
        &'a self,
        node: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
        Box::pin(self.local(node, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(status: &str, state: &str, ready: &str) -> Vec<(String, String)> {
        [
            ("wsrep_cluster_status", status),
            ("wsrep_local_state_comment", state),
            ("wsrep_ready", ready),
            ("wsrep_cluster_conf_id", "3"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn only_a_synced_primary_ready_node_serves() {
        assert_eq!(
            role_of(&vars("Primary", "Synced", "ON")),
            (Role::Follower, 3)
        );
        for (s, st, r) in [
            ("non-Primary", "Synced", "OFF"),
            ("Primary", "Joining", "ON"),
            ("Primary", "Donor/Desynced", "ON"),
            ("Primary", "Synced", "OFF"),
        ] {
            assert_eq!(role_of(&vars(s, st, r)).0, Role::Candidate, "{s} {st} {r}");
        }
        assert_eq!(role_of(&[]), (Role::Candidate, 0));
    }

    #[test]
    fn only_refusals_that_roll_back_are_certain_failures() {
        let op = OpSpec {
            key: "k".into(),
            kind: OpKind::Write(1),
        };
        let server = |code| {
            mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: "m".into(),
                state: "40001".into(),
            })
        };
        assert!(matches!(
            outcome_of_error(&op, &server(1213)),
            Outcome::Fail { .. }
        ));
        assert!(matches!(
            outcome_of_error(&op, &server(2013)),
            Outcome::Info { .. }
        ));
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::other("reset")));
        assert!(matches!(outcome_of_error(&op, &io), Outcome::Info { .. }));
    }
}
