//! A client of PostgreSQL under Patroni (`tokio-postgres`): every op goes to the primary, as a load
//! balancer checking Patroni's health endpoints routes it. The primary is the member holding the leader
//! key in Patroni's `GET /cluster` (port 8008, asked of the members in turn), cached for a second and
//! asked again after any failure; connections are opened with `target_session_attrs=read-write`, so one
//! to a server that is no longer the primary is refused rather than served from a standby.
//!
//! Outcomes: a connection that was never made, or an error PostgreSQL raised for the statement itself, is
//! a certain `fail`; a timeout, a dropped connection or a server shutting down is unknown (`info` for
//! writes), as the commit may have happened. See [`sql`] for the statements and transactions.

mod rest;
mod sql;

pub use rest::REST_PORT;

use crate::client::{
    attempt, unknown, Attempt, Client, ClientError, NodeStatus, Outcome, ReadValue, CONNECT_ERROR,
    TIMEOUT_ERROR,
};
use crate::generator::{OpKind, OpSpec};
use futures::future::BoxFuture;
use protocol::Role;
use rest::ClusterView;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::config::TargetSessionAttrs;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

/// The superuser the client connects as, and its password (set by Patroni at bootstrap).
pub const USER: &str = "postgres";
pub const PASSWORD: &str = "lh";
/// How long a primary found through `/cluster` is used before asking again.
const PRIMARY_CACHE: Duration = Duration::from_secs(1);
/// Connections per member: workers share them (a connection runs one statement at a time).
const POOL: usize = 8;

type Conn = Arc<tokio_postgres::Client>;

pub struct PatroniClient {
    /// Each member's name and PostgreSQL address.
    members: Vec<(String, SocketAddr)>,
    timeout: Duration,
    http: reqwest::Client,
    /// Read-write connections per member, made on first use and again once closed.
    pools: Vec<Vec<tokio::sync::Mutex<Option<Conn>>>>,
    next: AtomicUsize,
    /// The primary's index and when it was found.
    primary: Mutex<Option<(Instant, usize)>>,
    schema: tokio::sync::OnceCell<()>,
}

impl PatroniClient {
    pub fn new(
        members: Vec<(String, SocketAddr)>,
        timeout: Duration,
    ) -> reqwest::Result<PatroniClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .no_proxy()
            .build()?;
        let pools = members
            .iter()
            .map(|_| (0..POOL).map(|_| tokio::sync::Mutex::new(None)).collect())
            .collect();
        Ok(PatroniClient {
            members,
            timeout,
            http,
            pools,
            next: AtomicUsize::new(0),
            primary: Mutex::new(None),
            schema: tokio::sync::OnceCell::new(),
        })
    }

    fn index(&self, node: &str) -> Result<usize, ClientError> {
        self.members
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::UnknownNode(node.to_string()))
    }

    /// Member `i`'s view of the cluster.
    async fn cluster(&self, i: usize) -> Result<ClusterView, ClientError> {
        let (name, addr) = &self.members[i];
        let resp = self
            .http
            .get(format!("http://{}:{REST_PORT}/cluster", addr.ip()))
            .timeout(self.timeout)
            .send()
            .await;
        crate::client::json_answer(name, resp).await
    }

    /// The primary's index: cached, or asked of the members from `i` on.
    async fn find_primary(&self, i: usize) -> Result<usize, String> {
        if let Some((at, p)) = *self.primary.lock().unwrap() {
            if at.elapsed() < PRIMARY_CACHE {
                return Ok(p);
            }
        }
        let n = self.members.len();
        let mut why = Vec::new();
        for j in (i..i + n).map(|j| j % n) {
            match self.cluster(j).await {
                Ok(view) => match view.primary().and_then(|p| self.index(&p.name).ok()) {
                    Some(p) => {
                        *self.primary.lock().unwrap() = Some((Instant::now(), p));
                        return Ok(p);
                    }
                    None => why.push(format!("{} names no running leader", self.members[j].0)),
                },
                Err(e) => why.push(e.to_string()),
            }
        }
        Err(format!("no primary: {}", why.join("; ")))
    }

    fn forget_primary(&self) {
        *self.primary.lock().unwrap() = None;
    }

    async fn connect(&self, i: usize, attrs: TargetSessionAttrs) -> Result<Conn, String> {
        let addr = self.members[i].1;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(addr.ip().to_string())
            .port(addr.port())
            .user(USER)
            .password(PASSWORD)
            .dbname("postgres")
            .connect_timeout(self.timeout)
            .target_session_attrs(attrs);
        let made = tokio::time::timeout(self.timeout, cfg.connect(NoTls)).await;
        let (client, conn) = match made {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("{CONNECT_ERROR}{addr}: {}", sql::describe(&e))),
            Err(_) => return Err(format!("{CONNECT_ERROR}{addr}: not connected in time")),
        };
        // The connection's I/O runs on its own task until the client is dropped or the server goes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Arc::new(client))
    }

    /// A read-write connection to member `i` from its pool (slot `slot`), made if there is none.
    async fn pooled(&self, i: usize, slot: usize) -> Result<Conn, String> {
        let mut held = self.pools[i][slot].lock().await;
        if let Some(c) = held.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = self.connect(i, TargetSessionAttrs::ReadWrite).await?;
        *held = Some(c.clone());
        Ok(c)
    }

    async fn drop_conn(&self, i: usize, slot: usize) {
        *self.pools[i][slot].lock().await = None;
    }

    /// The table, made once through the primary (`CREATE ... IF NOT EXISTS`: harmless when repeated).
    async fn ensure_schema(&self, c: &tokio_postgres::Client) -> Result<(), String> {
        self.schema
            .get_or_try_init(|| async {
                c.batch_execute(sql::SCHEMA)
                    .await
                    .map_err(|e| format!("creating the table: {}", sql::describe(&e)))
            })
            .await
            .map(|_| ())
    }

    /// Run `op` on connection `c`: one statement.
    async fn run(
        &self,
        c: &tokio_postgres::Client,
        op: &OpSpec,
    ) -> Result<Outcome, tokio_postgres::Error> {
        if let OpKind::Txn(mops) = &op.kind {
            let msgs = c.simple_query(&sql::txn_batch(mops)).await?;
            // Committed: a reply we cannot read leaves only the reads unknown.
            return Ok(match sql::txn_result(mops, &msgs) {
                Ok(done) => Outcome::Ok {
                    read: Some(ReadValue::Txn(done)),
                },
                Err(error) => unknown(op, format!("unreadable reply: {error}")),
            });
        }
        let (stmt, values) = sql::statement(op);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&op.key];
        params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
        if let OpKind::Read = op.kind {
            let row = c.query_opt(stmt, &params).await?;
            return Ok(match sql::read_value(row.as_ref()) {
                Ok(read) => Outcome::Ok { read },
                Err(error) => Outcome::Fail { error },
            });
        }
        let rows = c.execute(stmt, &params).await?;
        Ok(sql::done(op, rows))
    }

    /// `op` at the primary: where it went, and how it ended (by `deadline`).
    async fn at_primary(
        &self,
        i: usize,
        op: &OpSpec,
        deadline: tokio::time::Instant,
    ) -> (usize, Outcome) {
        let p = match self.find_primary(i).await {
            Ok(p) => p,
            Err(error) => return (i, Outcome::Fail { error }),
        };
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % POOL;
        let c = match self.pooled(p, slot).await {
            Ok(c) => c,
            Err(error) => {
                self.forget_primary();
                return (p, Outcome::Fail { error });
            }
        };
        if let Err(error) = self.ensure_schema(&c).await {
            return (p, Outcome::Fail { error });
        }
        let outcome = match tokio::time::timeout_at(deadline, self.run(&c, op)).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                if sql::not_primary(&e) || c.is_closed() {
                    self.forget_primary();
                }
                sql::failed(op, &e)
            }
            Err(_) => {
                // A connection stuck on a paused or cut-off server would hold up every op behind it.
                self.drop_conn(p, slot).await;
                self.forget_primary();
                unknown(op, TIMEOUT_ERROR.to_string())
            }
        };
        (p, outcome)
    }

    async fn run_op(&self, i: usize, op: &OpSpec) -> Attempt {
        let i = i % self.members.len();
        let deadline = tokio::time::Instant::now() + self.timeout;
        // The statement's own timeout (above) comes first; this one bounds finding the primary and
        // connecting.
        match tokio::time::timeout_at(deadline, self.at_primary(i, op, deadline)).await {
            Ok((p, outcome)) => attempt(&self.members[p].0, outcome),
            Err(_) => {
                self.forget_primary();
                attempt(&self.members[i].0, unknown(op, TIMEOUT_ERROR.to_string()))
            }
        }
    }

    async fn member_status(&self, node: &str) -> Result<NodeStatus, ClientError> {
        let i = self.index(node)?;
        let view = self.cluster(i).await?;
        let me = view.member(node).filter(|m| rest::is_up(m));
        let leader = view.primary().map(|p| p.name.clone());
        let role = match (me, &leader) {
            (Some(_), Some(l)) if l == node => Role::Leader,
            (Some(_), Some(_)) => Role::Follower,
            // Not serving yet (starting, creating its replica), or nobody leads.
            _ => Role::Candidate,
        };
        Ok(NodeStatus {
            node: node.to_string(),
            role,
            term: view.term(),
            leader: me.and(leader),
        })
    }

    /// Member `node`'s own copy of `key` (a standby answers reads): what convergence compares.
    async fn local(&self, node: &str, key: &str) -> Result<Option<ReadValue>, ClientError> {
        let i = self.index(node)?;
        let status = |body: String| ClientError::Status {
            node: node.to_string(),
            status: 0,
            body,
        };
        let c = self
            .connect(i, TargetSessionAttrs::Any)
            .await
            .map_err(status)?;
        let row = tokio::time::timeout(self.timeout, c.query_opt(sql::READ, &[&key]))
            .await
            .map_err(|_| status(TIMEOUT_ERROR.to_string()))?
            .map_err(|e| status(sql::describe(&e)))?;
        sql::read_value(row.as_ref()).map_err(status)
    }
}

impl Client for PatroniClient {
    fn names(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    fn execute<'a>(&'a self, i: usize, op: &'a OpSpec) -> BoxFuture<'a, Attempt> {
        Box::pin(self.run_op(i, op))
    }

    fn status<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
        Box::pin(self.member_status(node))
    }

    fn local_read<'a>(
        &'a self,
        node: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
        Box::pin(self.local(node, key))
    }
}
