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
//!
//! `RaftNode` keeps the role, the term and vote, and the dispatcher; its behaviour is spread over
//! `election` (term rules, PreVote, votes, role changes), `replication` (appends, the commit rule,
//! CheckQuorum, heartbeat rounds), `reads` (read modes), `proposals` (writes, apply, answers) and
//! `snapshot`. The state they act on lives in types that change only themselves, below `RaftNode` (none
//! of them imports it): `log` (entries, commit and apply indexes, what storage still lacks), `progress`
//! (each follower as the leader sees it, quorum arithmetic), `read_only` (reads in flight, heartbeat
//! rounds), `leader_state` (all a leader drops when it steps down), `lease`, `sync_all`, `outbox`,
//! `clock`, `election_timer` and `state_machine` (the kv map).
//!
//! Choices worth knowing:
//! - A leader accepts writes before its empty entry commits (they commit after it, in log order); only
//!   reads wait for "ready". In `lease` mode a new leader refuses both until old leases have run out.
//! - `--replication async`: a write is answered in the `Ready` that appends it; a cas is judged at once
//!   against the leader's latest log (applied or not) and answered `cas_failed` or ok then. The leader
//!   answers safe reads from that latest log too (after the mode's own checks), so acknowledged writes are
//!   lost only when a leader fails, never on a healthy cluster.
//! - `lease-no-wait`: besides not waiting, its leader is not deposed by CheckQuorum while its lease
//!   runs (it "keeps its lease"), which is what makes it serve stale reads after a partition.
//! - `leader-local`: no quorum check of any kind, CheckQuorum included: a cut-off leader keeps answering
//!   reads from its own state while the others elect a new leader (the etcd 0.4 class of bug).
//! - `--replication async` ships a new entry only once it has waited `async_lag` on the leader (with the
//!   first heartbeat after that), so a leader that dies takes the writes of its last `async_lag` with it.
//! - Time is the clock reading made monotonic: a backward jump counts as no time passing.

mod clock;
mod election;
mod election_timer;
mod entry;
mod leader_state;
mod lease;
mod log;
mod outbox;
mod progress;
mod proposals;
mod read_only;
mod reads;
mod replication;
mod snapshot;
mod state_machine;
mod sync_all;
#[cfg(test)]
mod term_bound_tests;
#[cfg(test)]
mod tests;
mod txn;
mod types;

pub use entry::{Command, Entry};
pub use state_machine::{KvState, Stored};
pub(crate) use txn::ReadQuery;
pub use types::*;

use crate::api::{self, ErrorCode, ReadMode, Role};
use clock::Clock;
use election_timer::ElectionTimer;
use leader_state::LeaderState;
use log::RaftLog;
use outbox::Outbox;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use read_only::ReadOnly;
use std::collections::BTreeMap;
use std::time::Duration;

/// One Raft participant plus its key-value state machine.
pub struct RaftNode {
    cfg: Config,
    /// Members other than this node.
    peers: Vec<NodeId>,
    rng: ChaCha8Rng,
    /// Internal monotonic time.
    clock: Clock,

    term: u64,
    voted_for: Option<NodeId>,
    hard_state_dirty: bool,
    log: RaftLog,

    role: Role,
    leader: Option<NodeId>,
    kv: KvState,
    election_timer: ElectionTimer,
    /// When we last heard from the current leader (CheckQuorum-style vote refusal).
    leader_contact: Option<Duration>,
    /// Pre-vote or vote grants in the current campaign (self included).
    votes: BTreeMap<NodeId, bool>,

    /// Followers, timers and waiting clients of this node's leadership (empty while not leader).
    lead: LeaderState,

    /// Reads in flight and the heartbeat rounds that confirm them.
    read_only: ReadOnly,
    /// The leader's lease, a follower's countdown of it, a new leader's wait for old ones.
    lease: lease::LeaseState,

    /// Messages and answers until `ready()`.
    outbox: Outbox,
}

impl RaftNode {
    /// Start from persisted state (empty on first start). `now` is the node's clock reading.
    /// A restarted node assumes it acknowledged a full lease just before dying (see read-modes.md).
    pub fn new(mut config: Config, restored: Restored, now: Duration) -> Self {
        // Absurd durations would overflow the time arithmetic; nothing sensible needs more than a day.
        const DAY: Duration = Duration::from_secs(86_400);
        config.heartbeat_interval = config
            .heartbeat_interval
            .clamp(Duration::from_micros(100), DAY);
        config.election_timeout = config.election_timeout.clamp(Duration::from_millis(1), DAY);
        config.lease = config.lease.min(DAY);
        let peers: Vec<NodeId> = {
            let mut p: Vec<NodeId> = config
                .members
                .iter()
                .filter(|m| **m != config.id)
                .cloned()
                .collect();
            p.sort();
            p.dedup();
            p
        };
        let (offset, offset_term, kv) = match restored.snapshot {
            Some(s) => (s.last_index, s.last_term, s.state),
            None => (0, 0, KvState::default()),
        };
        let log = RaftLog::restore(offset, offset_term, restored.entries);
        let hs = restored.hard_state;
        let fresh = hs.term == 0 && log.last_index() == 0;
        // Mix the restored state and start time into the seed: follower-read request ids must not repeat
        // across restarts (a late answer to a previous incarnation's request would be stale).
        let mix = config.seed
            ^ hs.term.rotate_left(17)
            ^ log.last_index().rotate_left(31)
            ^ (now.as_nanos() as u64).rotate_left(47);
        let mut rng = ChaCha8Rng::seed_from_u64(mix);
        let read_only = ReadOnly::new(&mut rng);
        let mut node = RaftNode {
            peers,
            rng,
            clock: Clock::new(now),
            term: hs.term,
            voted_for: hs.voted_for,
            hard_state_dirty: false,
            log,
            role: Role::Follower,
            leader: None,
            kv,
            election_timer: ElectionTimer::new(now),
            leader_contact: None,
            votes: BTreeMap::new(),
            lead: LeaderState::default(),
            read_only,
            lease: lease::LeaseState::default(),
            outbox: Outbox::default(),
            cfg: config,
        };
        if !fresh && node.cfg.read_mode == ReadMode::Lease {
            node.lease
                .count_down_until(now + lease::restart_guard(&node.cfg));
        }
        node.reset_election_timer();
        node
    }

    /// Advance timers to `now` (elections, heartbeats, CheckQuorum, lease expiry). Call every few ms.
    pub fn tick(&mut self, now: Duration) {
        self.clock.observe(now);
        if self.role == Role::Leader {
            self.tick_leader();
        } else if self.election_timer.expired(self.clock.now()) && !self.countdown_blocks() {
            self.campaign();
        }
        self.expire_forwarded_reads();
    }

    /// Handle a message from a peer.
    pub fn step(&mut self, msg: Message, now: Duration) {
        self.clock.observe(now);
        if msg.to != self.cfg.id || !self.peers.contains(&msg.from) {
            return; // not for us, or from a stranger: ignore
        }
        if msg.term > MAX_TERM {
            return; // forged (see MAX_TERM): never adopted; the shell logs it
        }
        self.dispatch(msg);
    }

    /// Handle a client request. The answer comes back later in `Ready::responses` under `id`.
    pub fn client(&mut self, id: RequestId, req: ClientRequest, now: Duration) {
        self.clock.observe(now);
        match req {
            ClientRequest::Read { key } => self.client_read(id, ReadQuery::Key(key)),
            ClientRequest::Txn { ops } => self.client_txn(id, ops),
            ClientRequest::Write { key, value } => {
                self.client_write(id, Command::Put { key, value }, None)
            }
            ClientRequest::Cas { key, from, to } => {
                let check = (key.clone(), from);
                self.client_write(id, Command::Cas { key, from, to }, Some(check))
            }
            ClientRequest::Append { key, value } => {
                self.client_write(id, Command::Append { key, value }, None)
            }
            ClientRequest::LocalRead { key } => {
                let reply = ClientReply::of_read(self.kv.get(&key).cloned());
                self.respond(id, Ok(reply))
            }
        }
    }

    /// Take everything produced since the last call.
    pub fn ready(&mut self) -> Ready {
        let (truncate_from, append) = self.log.take_unstable();
        if self.role == Role::Leader {
            // Our own new entries count as persisted now: the shell writes them before acting.
            self.maybe_commit();
            if self.lead.take_flush() {
                for peer in self.peers.clone() {
                    self.send_append(&peer);
                }
            }
        }
        self.read_only.end_turn();
        // After the appends above took what they ship: compaction may drop those entries.
        let snapshot = self.take_snapshot_write();
        let hard_state = std::mem::take(&mut self.hard_state_dirty).then(|| HardState {
            term: self.term,
            voted_for: self.voted_for.clone(),
        });
        Ready {
            hard_state,
            truncate_from,
            append,
            messages: self.outbox.take_messages(),
            responses: self.outbox.take_responses(),
            snapshot,
        }
    }

    /// A snapshot for `GET /status` (the shell fills in `clock`).
    pub fn status(&self, now: Duration) -> api::Status {
        let now = self.clock.at(now);
        let is_leader = self.role == Role::Leader;
        let lease_mode = matches!(self.cfg.read_mode, ReadMode::Lease | ReadMode::LeaseNoWait);
        let lease = if lease_mode {
            api::LeaseStatus {
                held: is_leader && self.lease_read_allowed(now),
                remaining_ms: if is_leader {
                    lease::ms(self.lease.leader_remaining(now))
                } else {
                    0.0
                },
                follower_countdown_ms: if self.cfg.read_mode == ReadMode::Lease && !is_leader {
                    lease::ms(self.lease.countdown_remaining(now))
                } else {
                    0.0
                },
                wait_ms: if is_leader {
                    lease::ms(self.lease.wait_remaining(now))
                } else {
                    0.0
                },
            }
        } else {
            api::LeaseStatus::default()
        };
        api::Status {
            id: self.cfg.id.clone(),
            role: self.role,
            term: self.term,
            leader: self.leader.clone(),
            commit_index: self.log.committed(),
            applied_index: self.log.applied(),
            last_log_index: self.log.last_index(),
            read_mode: self.cfg.read_mode,
            replication: self.cfg.replication,
            lease_wait_ms: lease.wait_ms,
            lease,
            clock: api::ClockState::default(),
        }
    }

    // ---- shared helpers ----

    fn quorum(&self) -> usize {
        let members = self.peers.len() + 1;
        members / 2 + 1
    }

    fn send(&mut self, to: &str, term: u64, body: MessageBody) {
        self.outbox.send(Message {
            from: self.cfg.id.clone(),
            to: to.to_string(),
            term,
            body,
        });
    }

    fn respond(&mut self, id: RequestId, result: ClientResult) {
        self.outbox.respond(id, result, None);
    }

    fn fail(&mut self, id: RequestId, code: ErrorCode, message: impl Into<String>) {
        let leader = if code == ErrorCode::NotLeader {
            self.leader.clone()
        } else {
            None
        };
        self.respond(
            id,
            Err(ClientError {
                code,
                message: message.into(),
                leader,
            }),
        );
    }

    /// Refuse a request because this node is not the leader: NotLeader with a hint, or Unavailable.
    fn refuse_not_leader(&mut self, id: RequestId) {
        match &self.leader {
            Some(l) => {
                let msg = format!("not the leader; the leader is {l}");
                self.fail(id, ErrorCode::NotLeader, msg)
            }
            None => self.fail(
                id,
                ErrorCode::Unavailable,
                "no leader known (election running)",
            ),
        }
    }

    /// Lease mode: a new leader serves nothing until old leaders' leases have surely expired.
    fn in_lease_wait(&self) -> bool {
        self.cfg.read_mode == ReadMode::Lease && self.lease.waiting(self.clock.now())
    }

    /// Whether an entry of the current term is committed (the leader is "ready").
    fn own_term_committed(&self) -> bool {
        self.log.term_at(self.log.committed()) == Some(self.term)
    }
}
