//! Types crossing the boundary of the Raft core.

use super::entry::Entry;
use super::state_machine::{KvState, Stored};
use crate::api::{ErrorCode, LeaseVotes, MicroOp, ReadMode, Replication, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Node ids are the names users see: `n1`, `n2`, ...
pub type NodeId = String;

/// Chosen by the shell; echoed back in `Ready::responses`.
pub type RequestId = u64;

/// The largest term a node adopts or campaigns for. A term grows by one per election: 2^48 of them at one
/// per millisecond take 8,900 years, so a larger term never comes from an honest peer. It was forged (one
/// message with term u64::MAX used to wedge every node for good: no term after it), and it is ignored.
/// The ceiling leaves room below u64::MAX, so `term + 1` never overflows.
pub const MAX_TERM: u64 = 1 << 48;

#[derive(Debug, Clone)]
pub struct Config {
    pub id: NodeId,
    /// Every member, including this node.
    pub members: Vec<NodeId>,
    pub read_mode: ReadMode,
    pub replication: Replication,
    pub heartbeat_interval: Duration,
    /// Minimum election timeout; the actual one is drawn from [min, 2*min).
    pub election_timeout: Duration,
    /// `L_follower`: how long followers count down the leader's lease. The leader serves for
    /// `L_leader = lease * (1 - max_drift) / (1 + max_drift)`.
    pub lease: Duration,
    /// Lease mode: followers report remainders in votes (default) or refuse votes while counting down.
    pub lease_votes: LeaseVotes,
    /// `e`: the clock rate bound the lease arithmetic assumes (0.05 = rates within [0.95, 1.05]).
    pub max_drift: f64,
    pub pre_vote: bool,
    pub check_quorum: bool,
    /// Most entries in one append message.
    pub max_batch: usize,
    /// Snapshot the state machine and drop the log before it every this many applied entries (0: never).
    pub snapshot_every: u64,
    /// With async replication: how long a new entry waits on the leader before it is shipped.
    pub async_lag: Duration,
    /// Seeds the randomized election timeouts (deterministic simulation).
    pub seed: u64,
}

/// Term and vote: written and fsynced before voting or answering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    pub voted_for: Option<NodeId>,
}

/// What the shell read back from storage at start.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    pub hard_state: HardState,
    /// The latest durable snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log after the snapshot (or from index 1 without one), in order.
    pub entries: Vec<Entry>,
}

/// The state machine with every entry up to `last_index` (of term `last_term`) applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub last_index: u64,
    pub last_term: u64,
    pub state: KvState,
}

/// A snapshot to make durable and the log it leaves. After step 1 of the `Ready` contract the shell writes
/// the snapshot durably (temp file, fsync, rename, fsync the directory), then replaces its WAL with
/// `hard_state` and `tail` (the entries after the snapshot), again atomically.
#[derive(Debug, Clone)]
pub struct SnapshotWrite {
    pub snapshot: Snapshot,
    pub hard_state: HardState,
    pub tail: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientRequest {
    Read {
        key: String,
    },
    Write {
        key: String,
        value: Value,
    },
    Cas {
        key: String,
        from: Option<Value>,
        to: Value,
    },
    Append {
        key: String,
        value: Value,
    },
    /// This node's own applied state, whatever the read mode (convergence checks).
    LocalRead {
        key: String,
    },
    /// `POST /txn`: reads carry `None`.
    Txn {
        ops: Vec<MicroOp>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientReply {
    /// An integer key, or an absent one (`None`).
    Read {
        value: Option<Value>,
    },
    /// A list key (built by appends).
    List {
        value: Vec<Value>,
    },
    Written,
    /// A transaction's micro-ops, reads filled in.
    Txn {
        ops: Vec<MicroOp>,
    },
}

impl ClientReply {
    pub(super) fn of_read(stored: Option<Stored>) -> ClientReply {
        match stored {
            None => ClientReply::Read { value: None },
            Some(Stored::Int(v)) => ClientReply::Read { value: Some(v) },
            Some(Stored::List(value)) => ClientReply::List { value },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientError {
    pub code: ErrorCode,
    pub message: String,
    /// Known leader, for `NotLeader`.
    pub leader: Option<NodeId>,
}

pub type ClientResult = Result<ClientReply, ClientError>;

/// A peer message. The body is the core's business; the shell only routes on `to` and serializes with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: u64,
    pub body: MessageBody,
}

/// Message bodies. `Message::term` is the sender's term, except for `PreVote` (the term the sender would
/// campaign in) and a granted `PreVoteResp` (echoes that term). Durations cross the wire as microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MessageBody {
    /// "Would you vote for me in `term`?" Changes nobody's term.
    PreVote {
        last_index: u64,
        last_term: u64,
    },
    /// `lease_remaining_us`: the largest remaining lease of any old leader the voter knows (lease mode).
    PreVoteResp {
        granted: bool,
        lease_remaining_us: u64,
    },
    Vote {
        last_index: u64,
        last_term: u64,
    },
    VoteResp {
        granted: bool,
        lease_remaining_us: u64,
    },
    /// Log replication and heartbeats (no entries). `round` tags the leader's heartbeat round for
    /// ReadIndex confirmation and lease renewal; the follower echoes it.
    Append {
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        round: u64,
    },
    /// On success `match_index` is the last index known to match the leader's log. On rejection
    /// `reject_index` is the `prev_index` that did not match and `hint` the index to retry after.
    AppendResp {
        success: bool,
        match_index: u64,
        reject_index: u64,
        hint: u64,
        last_index: u64,
        round: u64,
    },
    /// The leader no longer has the entries a follower needs: its whole state instead. Answered with
    /// `AppendResp` (`match_index` = the snapshot's last index) once the follower made it durable.
    InstallSnapshot {
        snapshot: Snapshot,
        round: u64,
    },
    /// follower-read: a follower asks the leader for a confirmed read index.
    ReadIndexReq {
        id: u64,
    },
    /// `read_index: None` = refused (not leader, not ready, leadership lost).
    ReadIndexResp {
        id: u64,
        read_index: Option<u64>,
    },
}

/// Everything the core produced since the last `ready()`.
#[derive(Debug, Clone, Default)]
pub struct Ready {
    pub hard_state: Option<HardState>,
    /// Drop log entries with index >= this before appending.
    pub truncate_from: Option<u64>,
    pub append: Vec<Entry>,
    pub messages: Vec<Message>,
    pub responses: Vec<(RequestId, ClientResult)>,
    /// Written after the log (step 1), before messages and responses.
    pub snapshot: Option<SnapshotWrite>,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.truncate_from.is_none()
            && self.append.is_empty()
            && self.messages.is_empty()
            && self.responses.is_empty()
            && self.snapshot.is_none()
    }

    /// Whether the shell must write (and fsync) before sending or answering.
    pub fn must_persist(&self) -> bool {
        self.hard_state.is_some()
            || self.truncate_from.is_some()
            || !self.append.is_empty()
            || self.snapshot.is_some()
    }
}
