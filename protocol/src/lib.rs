//! The client-facing HTTP/JSON protocol of `node` (docs/protocol.md): request and response bodies, error codes
//! and `/status`. Its own crate so clients (`workloads`) need not build the Raft server.
//!
//! Endpoints (all JSON):
//! - `GET  /kv/{key}`            -> 200 `ReadResponse` (an integer key) or `ListReadResponse` (a list key)
//! - `GET  /kv/{key}?local=true` -> the same, from this node's own applied state (any role, any read mode)
//! - `PUT  /kv/{key}`            body `WriteRequest` -> 200 `WriteResponse`
//! - `POST /kv/{key}/cas`        body `CasRequest`   -> 200 `WriteResponse`, 409 `ErrorBody{code: cas_failed}`
//! - `POST /kv/{key}/append`     body `AppendRequest` -> 200 `WriteResponse`
//! - `POST /txn`                 body `TxnRequest` -> 200 `TxnResponse` (optional for exec systems)
//! - `GET  /status`              -> 200 `Status`
//! - `POST /admin/clock`         body `ClockRequest` -> 200 `ClockState`
//! - `POST /raft`                peer messages (internal)
//!
//! Errors are `ErrorBody`. `definite: true` means the operation certainly did not take effect (record `fail`);
//! `definite: false` means it may or may not have (record `info`). HTTP status: 400 bad request,
//! 409 cas precondition failed (definite), 503 unavailable (definite), 504 timeout / unknown (indefinite).

mod txn;

pub use txn::{MicroOp, TxnRead, TxnRequest, TxnResponse, MAX_TXN_OPS};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Register values are integers; `None` (JSON `null`) is "absent".
pub type Value = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadResponse {
    pub value: Option<Value>,
    /// The node that answered.
    pub node: String,
}

/// A read of a list key (one built by appends): the whole list, in append order. An absent key reads as
/// `{"value": null}` (a `ReadResponse`); clients of the append workload take that as the empty list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReadResponse {
    pub value: Option<Vec<Value>>,
    pub node: String,
}

/// `POST /kv/{key}/append`: append `value` to the list at `key` (created empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendRequest {
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRequest {
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasRequest {
    pub from: Option<Value>,
    pub to: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResponse {
    pub node: String,
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// This node is not the leader (hint in `leader`); nothing was proposed. Definite.
    NotLeader,
    /// No leader known, or the leader is not ready yet (own-term entry not committed, lease wait). Definite.
    Unavailable,
    /// cas precondition did not hold. Definite.
    CasFailed,
    /// The outcome is unknown (proposed but not known to be committed, leadership lost mid-flight). Indefinite.
    Timeout,
    /// The request was malformed. Definite.
    BadRequest,
}

impl ErrorCode {
    /// Whether an error with this code guarantees the operation did not take effect.
    pub fn is_definite(self) -> bool {
        !matches!(self, ErrorCode::Timeout)
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::CasFailed => 409,
            ErrorCode::NotLeader | ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 504,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub definite: bool,
    /// Known leader id, if any (for `not_leader`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Known leader's client address `ip:port`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_addr: Option<String>,
    /// The node that answered.
    pub node: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// `GET /status`: what the harness uses to find the leader and to explain a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub role: Role,
    pub term: u64,
    pub leader: Option<String>,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_log_index: u64,
    pub read_mode: ReadMode,
    pub replication: Replication,
    pub lease: LeaseStatus,
    /// New leader (lease mode): milliseconds it must still wait out old leases before serving anything.
    #[serde(default)]
    pub lease_wait_ms: f64,
    pub clock: ClockState,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LeaseStatus {
    /// Leader: it may serve lease reads now.
    pub held: bool,
    /// Leader: milliseconds left on its lease (0 if none).
    pub remaining_ms: f64,
    /// Follower: milliseconds left on the countdown of the leader's lease during which it refuses votes.
    pub follower_countdown_ms: f64,
    /// New leader: milliseconds it must still wait (old leader's lease) before serving.
    pub wait_ms: f64,
}

/// `POST /admin/clock`: skew the node's clock used for all lease and timeout arithmetic.
/// `offset_ms` jumps the clock by that much (added once); `rate` sets its speed from now on (1.2 = 20% fast).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockRequest {
    #[serde(default)]
    pub offset_ms: f64,
    #[serde(default = "one")]
    pub rate: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClockState {
    /// Total offset added by jumps so far, in milliseconds.
    pub offset_ms: f64,
    pub rate: f64,
    /// The node's clock reading, in milliseconds since it started.
    pub now_ms: f64,
}

/// How reads are served. Names are the ones users type (`--read-mode`, `harness --mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    Log,
    ReadIndex,
    Lease,
    FollowerRead,
    LeaderLocal,
    AnyLocal,
    LeaseNoWait,
}

impl ReadMode {
    pub const ALL: [ReadMode; 7] = [
        ReadMode::Log,
        ReadMode::ReadIndex,
        ReadMode::Lease,
        ReadMode::FollowerRead,
        ReadMode::LeaderLocal,
        ReadMode::AnyLocal,
        ReadMode::LeaseNoWait,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Log => "log",
            ReadMode::ReadIndex => "read-index",
            ReadMode::Lease => "lease",
            ReadMode::FollowerRead => "follower-read",
            ReadMode::LeaderLocal => "leader-local",
            ReadMode::AnyLocal => "any-local",
            ReadMode::LeaseNoWait => "lease-no-wait",
        }
    }

    /// Safe modes must never produce an anomaly (within their clock assumptions).
    pub fn is_safe(self) -> bool {
        matches!(
            self,
            ReadMode::Log | ReadMode::ReadIndex | ReadMode::Lease | ReadMode::FollowerRead
        )
    }
}

impl fmt::Display for ReadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReadMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReadMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ReadMode::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown read mode '{s}'; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// How lease-mode followers treat votes while the countdown of a leader's lease runs.
/// `report` (the seed's design): vote by the normal rules and report the remainder, which the new leader
/// waits out. `refuse` (stricter): refuse (pre-)votes and do not campaign until the countdown ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseVotes {
    #[default]
    Report,
    Refuse,
}

impl LeaseVotes {
    pub fn name(self) -> &'static str {
        match self {
            LeaseVotes::Report => "report",
            LeaseVotes::Refuse => "refuse",
        }
    }
}

impl fmt::Display for LeaseVotes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LeaseVotes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [LeaseVotes::Report, LeaseVotes::Refuse]
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("unknown lease-votes '{s}'; expected report or refuse"))
    }
}

/// Write path: `quorum` acks after Raft commit; `sync-all` acks once every node has the write durable;
/// `async` acks once in the leader's own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    Quorum,
    SyncAll,
    Async,
}

impl Replication {
    pub const ALL: [Replication; 3] = [
        Replication::Quorum,
        Replication::SyncAll,
        Replication::Async,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Replication::Quorum => "quorum",
            Replication::SyncAll => "sync-all",
            Replication::Async => "async",
        }
    }
}

impl fmt::Display for Replication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Replication {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Replication::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown replication '{s}'; expected quorum, sync-all or async"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_mode_names_round_trip() {
        for m in ReadMode::ALL {
            assert_eq!(m.name().parse::<ReadMode>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert!("bogus"
            .parse::<ReadMode>()
            .unwrap_err()
            .contains("read-index"));
    }

    #[test]
    fn replication_names_round_trip() {
        for r in Replication::ALL {
            assert_eq!(r.name().parse::<Replication>().unwrap(), r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.name())
            );
        }
        assert!("sync"
            .parse::<Replication>()
            .unwrap_err()
            .contains("sync-all"));
    }

    #[test]
    fn only_timeouts_are_indefinite() {
        assert!(!ErrorCode::Timeout.is_definite());
        assert!(ErrorCode::NotLeader.is_definite());
        assert_eq!(ErrorCode::Timeout.http_status(), 504);
    }
}
