//! Read modes (read-modes.md): log reads, ReadIndex rounds, leases, follower reads and the unsafe modes.

use super::{ClientReply, Command, MessageBody, RaftNode, RequestId};
use crate::api::{ErrorCode, ReadMode, Replication, Role};
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// Who asked for a read index.
enum Origin {
    Local {
        id: RequestId,
        key: String,
    },
    /// A follower's forwarded request (follower-read).
    Remote {
        from: String,
        id: u64,
    },
}

/// A leader read waiting for its heartbeat round to be acknowledged by a quorum.
struct RoundRead {
    origin: Origin,
    read_index: u64,
    round: u64,
    /// Without a quorum for this long (an isolated leader without CheckQuorum) the read fails.
    deadline: Duration,
}

/// A read whose index is confirmed, waiting for `applied >= read_index`.
struct ApplyRead {
    id: RequestId,
    key: String,
    read_index: u64,
    /// Leader reads: the term they were confirmed in (a leader change fails them).
    term: Option<u64>,
    /// Follower reads: fail after this (an isolated follower is unavailable, never stale).
    deadline: Option<Duration>,
}

/// A follower read waiting for the leader's read index.
struct Forwarded {
    id: RequestId,
    key: String,
    deadline: Duration,
}

pub(super) struct ReadState {
    by_round: Vec<RoundRead>,
    by_apply: Vec<ApplyRead>,
    forwarded: BTreeMap<u64, Forwarded>,
    next_forward_id: u64,
}

impl ReadState {
    pub fn new(rng: &mut impl Rng) -> Self {
        ReadState {
            by_round: Vec::new(),
            by_apply: Vec::new(),
            forwarded: BTreeMap::new(),
            // A random start: ids must not repeat across restarts (see `RaftNode::new`).
            next_forward_id: rng.gen::<u64>() >> 1,
        }
    }

    /// Removes and returns the round reads `done` picks, keeping the others in order.
    fn take_rounds(&mut self, done: impl Fn(&RoundRead) -> bool) -> Vec<RoundRead> {
        take_where(&mut self.by_round, done)
    }

    /// Removes and returns the apply-waiting reads `done` picks, keeping the others in order.
    fn take_applies(&mut self, done: impl Fn(&ApplyRead) -> bool) -> Vec<ApplyRead> {
        take_where(&mut self.by_apply, done)
    }
}

fn take_where<T>(v: &mut Vec<T>, done: impl Fn(&T) -> bool) -> Vec<T> {
    let (taken, kept): (Vec<T>, Vec<T>) = std::mem::take(v).into_iter().partition(|x| done(x));
    *v = kept;
    taken
}

impl RaftNode {
    pub(super) fn client_read(&mut self, id: RequestId, key: String) {
        let leader = self.role == Role::Leader;
        match self.cfg.read_mode {
            ReadMode::AnyLocal => self.answer_local(id, &key, None),
            ReadMode::LeaderLocal if leader => self.answer_local(id, &key, None),
            ReadMode::FollowerRead if !leader => self.forward_read(id, key),
            _ if !leader => self.refuse_not_leader(id),
            _ if self.in_lease_wait() => self.fail(
                id,
                ErrorCode::Unavailable,
                "new leader waiting for the previous leader's lease to expire",
            ),
            ReadMode::Log => self.propose_for(id, Command::Get { key }, true),
            ReadMode::Lease | ReadMode::LeaseNoWait if self.lease_read_allowed(self.now) => {
                let term = self.term;
                self.answer_local(id, &key, Some(term))
            }
            _ => self.start_read_index(Origin::Local { id, key }),
        }
    }

    /// Lease reads: leader, own-term entry committed, everything committed applied, lease running now.
    pub(super) fn lease_read_allowed(&self, now: Duration) -> bool {
        self.role == Role::Leader
            && self.own_term_committed()
            && self.log.applied() >= self.read_floor()
            && self.lease.valid(now)
            && !(self.cfg.read_mode == ReadMode::Lease && now < self.lease.serve_after)
    }

    /// What a safe read must have applied: the commit index.
    fn read_floor(&self) -> u64 {
        self.log.committed()
    }

    fn answer_local(&mut self, id: RequestId, key: &str, term: Option<u64>) {
        // With async replication the leader acknowledged writes it has not committed yet, so it answers
        // from its latest log, as an asynchronous primary does: consistent while it stays leader, and its
        // unreplicated writes are lost only when it fails.
        let value = if self.cfg.replication == Replication::Async && self.role == Role::Leader {
            self.kv
                .speculate(key, self.log.tail_after(self.log.applied()))
        } else {
            self.kv.get(key).cloned()
        };
        self.responses
            .push((id, Ok(ClientReply::of_read(value)), term));
    }

    /// ReadIndex steps 1-3: refuse until ready, record the commit index, then join this turn's round or
    /// start one (its messages leave after the index was recorded).
    fn start_read_index(&mut self, origin: Origin) {
        if !self.own_term_committed() {
            return match origin {
                Origin::Local { id, .. } => self.fail(
                    id,
                    ErrorCode::Unavailable,
                    "leader not ready: no entry of its term committed yet",
                ),
                Origin::Remote { from, id } => self.reply_read_index(&from, id, None),
            };
        }
        let read_index = self.read_floor();
        if !self.round_fresh {
            self.new_round();
        }
        let round = self.round;
        let deadline = self.now + self.cfg.election_timeout;
        self.reads.by_round.push(RoundRead {
            origin,
            read_index,
            round,
            deadline,
        });
        self.check_rounds(); // a one-node cluster confirms at once
        self.release_confirmed_reads();
    }

    /// Rounds acknowledged by a quorum release their reads.
    pub(super) fn release_confirmed_reads(&mut self) {
        let confirmed = self.confirmed_round;
        let done = self.reads.take_rounds(|r| r.round <= confirmed);
        let term = self.term;
        let mut notified = std::collections::BTreeSet::new();
        for r in done {
            match r.origin {
                Origin::Local { id, key } => self.reads.by_apply.push(ApplyRead {
                    id,
                    key,
                    read_index: r.read_index,
                    term: Some(term),
                    deadline: None,
                }),
                Origin::Remote { from, id } => {
                    // A heartbeat first (same queue, so it arrives first) tells the follower the commit
                    // index, so it can apply up to the read index without waiting for the next tick.
                    if notified.insert(from.clone()) {
                        self.send_heartbeat(&from);
                    }
                    self.reply_read_index(&from, id, Some(r.read_index))
                }
            }
        }
        self.serve_applied_reads();
    }

    /// Answer reads whose index is applied.
    pub(super) fn serve_applied_reads(&mut self) {
        if self.reads.by_apply.is_empty() {
            return;
        }
        let applied = self.log.applied();
        let done = self.reads.take_applies(|r| r.read_index <= applied);
        for r in done {
            self.answer_local(r.id, &r.key, r.term);
        }
    }

    /// Leadership lost: fail leader reads, including answers not yet handed out (a leader change wins
    /// over a ready answer), and refuse forwarded requests.
    pub(super) fn fail_leader_reads(&mut self) {
        let term = self.term;
        for r in self.reads.take_rounds(|_| true) {
            match r.origin {
                Origin::Local { id, .. } => {
                    self.fail(id, ErrorCode::Unavailable, "leadership lost")
                }
                Origin::Remote { from, id } => self.reply_read_index(&from, id, None),
            }
        }
        let lost = self.reads.take_applies(|r| r.term.is_some());
        for r in lost {
            self.fail(r.id, ErrorCode::Unavailable, "leadership lost");
        }
        for (_, result, t) in self.responses.iter_mut() {
            if *t == Some(term) {
                *result = Err(super::proposals::unavailable(
                    "leadership lost before the read was answered",
                ));
                *t = None;
            }
        }
    }

    fn reply_read_index(&mut self, to: &str, id: u64, read_index: Option<u64>) {
        let term = self.term;
        self.send(to, term, MessageBody::ReadIndexResp { id, read_index });
    }

    /// follower-read on a follower: ask the leader for a read index (never use our own commit index).
    fn forward_read(&mut self, id: RequestId, key: String) {
        let Some(leader) = self.leader.clone() else {
            return self.fail(
                id,
                ErrorCode::Unavailable,
                "no leader known to ask for a read index",
            );
        };
        let fid = self.reads.next_forward_id;
        self.reads.next_forward_id = fid.wrapping_add(1);
        let deadline = self.now + self.cfg.election_timeout;
        self.reads
            .forwarded
            .insert(fid, Forwarded { id, key, deadline });
        let term = self.term;
        self.send(&leader, term, MessageBody::ReadIndexReq { id: fid });
    }

    pub(super) fn handle_read_index_req(&mut self, from: &str, id: u64) {
        if self.role == Role::Leader && !self.in_lease_wait() {
            self.start_read_index(Origin::Remote {
                from: from.to_string(),
                id,
            });
        } else {
            self.reply_read_index(from, id, None);
        }
    }

    pub(super) fn handle_read_index_resp(&mut self, id: u64, read_index: Option<u64>) {
        let Some(f) = self.reads.forwarded.remove(&id) else {
            return; // timed out already, or not ours
        };
        match read_index {
            Some(read_index) => {
                self.reads.by_apply.push(ApplyRead {
                    id: f.id,
                    key: f.key,
                    read_index,
                    term: None,
                    deadline: Some(f.deadline),
                });
                self.serve_applied_reads();
            }
            None => self.fail(
                f.id,
                ErrorCode::Unavailable,
                "the leader refused the read index",
            ),
        }
    }

    /// Forwarded reads without an answer (or without catching up) for an election timeout fail.
    pub(super) fn expire_forwarded_reads(&mut self) {
        let now = self.now;
        let expired: Vec<u64> = self
            .reads
            .forwarded
            .iter()
            .filter(|(_, f)| now >= f.deadline)
            .map(|(k, _)| *k)
            .collect();
        let stuck = self.reads.take_rounds(|r| now >= r.deadline);
        for r in stuck {
            match r.origin {
                Origin::Local { id, .. } => self.fail(
                    id,
                    ErrorCode::Unavailable,
                    "no quorum confirmed leadership in time",
                ),
                Origin::Remote { from, id } => self.reply_read_index(&from, id, None),
            }
        }
        for k in expired {
            if let Some(f) = self.reads.forwarded.remove(&k) {
                self.fail(
                    f.id,
                    ErrorCode::Unavailable,
                    "no read index from the leader in time",
                );
            }
        }
        let late = self
            .reads
            .take_applies(|r| r.deadline.is_some_and(|d| now >= d));
        for r in late {
            self.fail(
                r.id,
                ErrorCode::Unavailable,
                "could not catch up to the read index in time",
            );
        }
    }
}
