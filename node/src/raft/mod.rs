//! The Raft core: a pure, deterministic state machine.
//!
//! Messages, ticks and client requests go in (each with the node's current clock reading `now`);
//! persistent state to write, messages to send and client responses come out of [`RaftNode::ready`].
//! No I/O, no threads, no wall clock: the shell (`server`) and the simulation tests drive it the same way.
//!
//! The shell's contract for every [`Ready`]:
//! 1. persist `hard_state` (if any), then truncate the log from `truncate_from` (if any), then append `append`,
//!    and fsync, all before step 2;
//! 2. send `messages`;
//! 3. deliver `responses` to the waiting clients.

mod types;

pub use types::*;

use crate::api::{self, Role};
use std::time::Duration;

/// One Raft participant plus its key-value state machine.
pub struct RaftNode {
    _config: Config,
}

impl RaftNode {
    /// Start from persisted state (empty on first start). `now` is the node's clock reading.
    /// A restarted node assumes it acknowledged a full lease just before dying (see read-modes.md).
    pub fn new(config: Config, restored: Restored, now: Duration) -> Self {
        let _ = (restored, now);
        RaftNode { _config: config }
    }

    /// Advance timers to `now` (elections, heartbeats, CheckQuorum, lease expiry). Call every few ms.
    pub fn tick(&mut self, now: Duration) {
        let _ = now;
        unimplemented!("raft core")
    }

    /// Handle a message from a peer.
    pub fn step(&mut self, msg: Message, now: Duration) {
        let _ = (msg, now);
        unimplemented!("raft core")
    }

    /// Handle a client request. The answer comes back later in `Ready::responses` under `id`.
    pub fn client(&mut self, id: RequestId, req: ClientRequest, now: Duration) {
        let _ = (id, req, now);
        unimplemented!("raft core")
    }

    /// Take everything produced since the last call.
    pub fn ready(&mut self) -> Ready {
        unimplemented!("raft core")
    }

    /// A snapshot for `GET /status` (the shell fills in `clock`).
    pub fn status(&self, now: Duration) -> api::Status {
        let _ = (now, Role::Follower);
        unimplemented!("raft core")
    }
}
