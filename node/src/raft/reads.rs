//! Read modes (read-modes.md): log reads, ReadIndex rounds, leases, follower reads and the unsafe modes.

use super::read_only::{ForwardAnswer, Origin};
use super::{Command, MessageBody, RaftNode, ReadQuery, RequestId};
use crate::api::{ErrorCode, ReadMode, Replication, Role};
use std::time::Duration;

impl RaftNode {
    pub(super) fn client_read(&mut self, id: RequestId, query: ReadQuery) {
        let leader = self.role == Role::Leader;
        match self.cfg.read_mode {
            ReadMode::AnyLocal => self.answer_local(id, &query, None),
            ReadMode::LeaderLocal if leader => self.answer_local(id, &query, None),
            ReadMode::FollowerRead if !leader => self.forward_read(id, query),
            _ if !leader => self.refuse_not_leader(id),
            _ if self.in_lease_wait() => self.fail(
                id,
                ErrorCode::Unavailable,
                "new leader waiting for the previous leader's lease to expire",
            ),
            ReadMode::Log => {
                let cmd = match query {
                    ReadQuery::Key(key) => Command::Get { key },
                    ReadQuery::Txn(ops) => Command::Txn { ops },
                };
                self.propose_for(id, cmd, true)
            }
            ReadMode::Lease | ReadMode::LeaseNoWait
                if self.lease_read_allowed(self.clock.now()) =>
            {
                let term = self.term;
                self.answer_local(id, &query, Some(term))
            }
            _ => self.start_read_index(Origin::Local { id, query }),
        }
    }

    /// Lease reads: leader, own-term entry committed, everything committed applied, lease running now.
    pub(super) fn lease_read_allowed(&self, now: Duration) -> bool {
        self.role == Role::Leader
            && self.own_term_committed()
            && self.log.applied() >= self.read_floor()
            && self.lease.valid(now)
            && !(self.cfg.read_mode == ReadMode::Lease && self.lease.waiting(now))
    }

    /// What a safe read must have applied: the commit index.
    fn read_floor(&self) -> u64 {
        self.log.committed()
    }

    fn answer_local(&mut self, id: RequestId, query: &ReadQuery, term: Option<u64>) {
        // With async replication the leader acknowledged writes it has not committed yet, so it answers
        // from its latest log, as an asynchronous primary does: consistent while it stays leader, and its
        // unreplicated writes are lost only when it fails.
        let reply = if self.cfg.replication == Replication::Async && self.role == Role::Leader {
            let keys: Vec<&str> = match query {
                ReadQuery::Key(k) => vec![k.as_str()],
                ReadQuery::Txn(ops) => ops.iter().map(|o| o.key()).collect(),
            };
            Self::read_in(&self.latest_view(keys.into_iter()), query)
        } else {
            Self::read_in(&self.kv, query)
        };
        self.outbox.respond(id, Ok(reply), term);
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
        if self.read_only.needs_round() {
            self.new_round();
        }
        let deadline = self.clock.now() + self.cfg.election_timeout;
        self.read_only.add_request(origin, read_index, deadline);
        self.check_rounds(); // a one-node cluster confirms at once
        self.release_confirmed_reads();
    }

    /// Rounds acknowledged by a quorum release their reads.
    pub(super) fn release_confirmed_reads(&mut self) {
        let mut notified = std::collections::BTreeSet::new();
        for (from, id, read_index) in self.read_only.release(self.term) {
            // A heartbeat first (same queue, so it arrives first) tells the follower the commit index, so
            // it can apply up to the read index without waiting for the next tick.
            if notified.insert(from.clone()) {
                self.send_heartbeat(&from);
            }
            self.reply_read_index(&from, id, Some(read_index))
        }
        self.serve_applied_reads();
    }

    /// Answer reads whose index is applied.
    pub(super) fn serve_applied_reads(&mut self) {
        for r in self.read_only.take_applied(self.log.applied()) {
            self.answer_local(r.id, &r.query, r.term);
        }
    }

    /// Leadership lost: fail leader reads, including answers not yet handed out (a leader change wins
    /// over a ready answer), and refuse forwarded requests.
    pub(super) fn fail_leader_reads(&mut self) {
        let term = self.term;
        let lost = self.read_only.step_down();
        for r in lost.rounds {
            self.refuse_read(r.origin, "leadership lost");
        }
        for r in lost.applies {
            self.fail(r.id, ErrorCode::Unavailable, "leadership lost");
        }
        let lost = super::proposals::unavailable("leadership lost before the read was answered");
        self.outbox.withdraw_reads(term, lost);
    }

    /// A leader read that cannot be confirmed: fail it, or refuse the follower that forwarded it.
    fn refuse_read(&mut self, origin: Origin, why: &str) {
        match origin {
            Origin::Local { id, .. } => self.fail(id, ErrorCode::Unavailable, why),
            Origin::Remote { from, id } => self.reply_read_index(&from, id, None),
        }
    }

    fn reply_read_index(&mut self, to: &str, id: u64, read_index: Option<u64>) {
        let term = self.term;
        self.send(to, term, MessageBody::ReadIndexResp { id, read_index });
    }

    /// follower-read on a follower: ask the leader for a read index (never use our own commit index).
    fn forward_read(&mut self, id: RequestId, query: ReadQuery) {
        let Some(leader) = self.leader.clone() else {
            return self.fail(
                id,
                ErrorCode::Unavailable,
                "no leader known to ask for a read index",
            );
        };
        let deadline = self.clock.now() + self.cfg.election_timeout;
        let fid = self.read_only.forward(id, query, deadline);
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
        match self.read_only.recv_read_index(id, read_index) {
            ForwardAnswer::Unknown => {} // timed out already, or not ours
            ForwardAnswer::Waiting => self.serve_applied_reads(),
            ForwardAnswer::Refused(id) => self.fail(
                id,
                ErrorCode::Unavailable,
                "the leader refused the read index",
            ),
        }
    }

    /// Reads without a quorum, a read index or catching up for an election timeout fail.
    pub(super) fn expire_forwarded_reads(&mut self) {
        let expired = self.read_only.expire(self.clock.now());
        for r in expired.rounds {
            self.refuse_read(r.origin, "no quorum confirmed leadership in time");
        }
        for id in expired.forwarded {
            let why = "no read index from the leader in time";
            self.fail(id, ErrorCode::Unavailable, why);
        }
        for r in expired.applies {
            let why = "could not catch up to the read index in time";
            self.fail(r.id, ErrorCode::Unavailable, why);
        }
    }
}
