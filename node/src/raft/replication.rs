//! Log replication (pipelined appends with a probe fallback), the commit rule, heartbeat rounds (the
//! tags that confirm leadership for ReadIndex and renew the lease) and CheckQuorum.

use super::{lease, Entry, MessageBody, RaftNode};
use crate::api::{ReadMode, Replication, Role};

/// Entries in flight per follower before the pipeline waits for acks.
const MAX_INFLIGHT_BATCHES: u64 = 8;

/// The fields of a [`MessageBody::Append`] a follower acts on, as one value.
pub(super) struct AppendReq {
    pub prev_index: u64,
    pub prev_term: u64,
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub commit: u64,
    /// The leader's heartbeat round, echoed in the answer.
    pub round: u64,
}

impl RaftNode {
    pub(super) fn init_progress(&mut self) {
        let next = self.log.last_index() + 1;
        self.lead.start(&self.peers, next, self.clock.now());
        self.read_only.reset_rounds();
    }

    /// Send `peer` what it lacks: one probe, or pipelined batches of up to `max_batch` entries.
    pub(super) fn send_append(&mut self, peer: &str) {
        let max_batch = self.cfg.max_batch.max(1);
        let last = match self.cfg.replication {
            Replication::Quorum | Replication::SyncAll => self.log.last_index(),
            Replication::Async => self
                .lead
                .shippable(self.clock.now(), self.cfg.async_lag)
                .min(self.log.last_index()),
        };
        loop {
            let Some(pr) = self.lead.progress.get(peer) else {
                return;
            };
            let window = MAX_INFLIGHT_BATCHES * max_batch as u64;
            if pr.is_paused(self.clock.now(), last, window) {
                return;
            }
            if pr.next_index() <= self.log.snapshot_index() {
                // The entries it needs are compacted away: send the whole state instead.
                return self.send_snapshot(peer);
            }
            let next = pr.next_index().clamp(1, last + 1);
            let prev_index = next - 1;
            let prev_term = self.log.term_at(prev_index).unwrap_or(0);
            // Never past `last`: with async replication, younger entries wait out the lag.
            let count = max_batch.min((last + 1).saturating_sub(next) as usize);
            let entries = if count == 0 {
                Vec::new()
            } else {
                self.log.slice(next, count)
            };
            let sent = entries.len() as u64;
            let probing = pr.is_probing();
            let body = MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit: self.log.committed(),
                round: self.read_only.round(),
            };
            let term = self.term;
            self.send(peer, term, body);
            let hb = self.cfg.heartbeat_interval;
            let now = self.clock.now();
            let pr = self.lead.progress.get_mut(peer).expect("checked above");
            pr.sent(next, sent, now, hb);
            if probing {
                return;
            }
        }
    }

    /// A heartbeat: no entries, `prev` = what the follower surely has, so it always matches.
    pub(super) fn send_heartbeat(&mut self, peer: &str) {
        let Some(pr) = self.lead.progress.get(peer) else {
            return;
        };
        // Below the snapshot the term is gone; 0 always matches (the follower answers with its commit).
        let prev_index = if pr.match_index() >= self.log.snapshot_index() {
            pr.match_index()
        } else {
            0
        };
        let body = MessageBody::Append {
            prev_index,
            prev_term: self.log.term_at(prev_index).unwrap_or(0),
            entries: Vec::new(),
            commit: self.log.committed().min(prev_index),
            round: self.read_only.round(),
        };
        let term = self.term;
        self.send(peer, term, body);
    }

    /// Start a heartbeat round now: its acks confirm leadership after this instant (ReadIndex) and
    /// renew the lease from this instant (its send time; the messages leave after this turn's fsync).
    pub(super) fn new_round(&mut self) {
        self.read_only.new_round(self.clock.now());
        for peer in self.peers.clone() {
            self.send_heartbeat(&peer);
        }
        self.check_rounds();
    }

    pub(super) fn tick_leader(&mut self) {
        if self.cfg.check_quorum && !self.quorum_active() {
            // lease-no-wait keeps serving on its lease and leader-local never checks (those are their
            // flaws); every other mode steps down.
            let keep = match self.cfg.read_mode {
                ReadMode::LeaseNoWait => self.lease.valid(self.clock.now()),
                ReadMode::LeaderLocal => true,
                _ => false,
            };
            if !keep {
                let term = self.term;
                self.become_follower(term, None);
                return;
            }
        }
        if !self
            .lead
            .heartbeat_due(self.clock.now(), self.cfg.heartbeat_interval)
        {
            return;
        }
        self.new_round();
        let last = self.log.last_index();
        let stall = self.cfg.heartbeat_interval * 2;
        for peer in self.peers.clone() {
            let now = self.clock.now();
            if let Some(pr) = self.lead.progress.get_mut(&peer) {
                pr.maybe_restart_stalled(now, last, stall);
            }
            self.send_append(&peer);
        }
    }

    /// sync-all: a follower that has not answered within an election timeout (writes would only wait).
    pub(super) fn unreachable_peer(&self) -> Option<String> {
        self.lead
            .progress
            .unreachable(self.clock.now(), self.cfg.election_timeout)
            .cloned()
    }

    /// CheckQuorum: a quorum (counting us) responded within the last election timeout.
    fn quorum_active(&self) -> bool {
        self.lead
            .progress
            .quorum_active(self.clock.now(), self.cfg.election_timeout, self.quorum())
    }

    /// A current-term append or snapshot from `from`: follow it, refresh the lease countdown and the
    /// election timer. False if we are leader ourselves (two leaders in one term cannot happen; ignore).
    pub(super) fn follow_leader(&mut self, from: &str) -> bool {
        if self.role == Role::Leader {
            return false;
        }
        if self.role != Role::Follower || self.leader.as_deref() != Some(from) {
            let term = self.term;
            self.become_follower(term, Some(from.to_string()));
        }
        self.leader_contact = Some(self.clock.now());
        if matches!(self.cfg.read_mode, ReadMode::Lease) {
            let end = self.clock.now() + self.cfg.lease;
            self.lease.count_down_until(end);
        }
        self.restart_election_timer();
        true
    }

    pub(super) fn handle_append(&mut self, from: &str, append: AppendReq) {
        let AppendReq {
            prev_index,
            prev_term,
            entries,
            commit: leader_commit,
            round,
        } = append;
        if !self.follow_leader(from) {
            return;
        }
        let term = self.term;
        let reply =
            |success, match_index, reject_index, hint, last_index| MessageBody::AppendResp {
                success,
                match_index,
                reject_index,
                hint,
                last_index,
                round,
            };
        let committed = self.log.committed();
        if prev_index < committed {
            // Already committed here; the committed prefix matches the leader's log.
            let body = reply(true, committed, 0, 0, self.log.last_index());
            return self.send(from, term, body);
        }
        match self.log.maybe_append(prev_index, prev_term, entries) {
            Some(last_new) => {
                if self.log.commit_to(leader_commit.min(last_new)) {
                    self.apply();
                }
                let body = reply(true, last_new, 0, 0, self.log.last_index());
                self.send(from, term, body);
            }
            None => {
                let hint = self.log.conflict_hint(prev_index, prev_term);
                let body = reply(false, 0, prev_index, hint, self.log.last_index());
                self.send(from, term, body);
            }
        }
    }

    pub(super) fn handle_append_resp(
        &mut self,
        from: &str,
        success: bool,
        match_index: u64,
        reject_index: u64,
        hint: u64,
        round: u64,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let now = self.clock.now();
        let last = self.log.last_index();
        let Some(pr) = self.lead.progress.get_mut(from) else {
            return;
        };
        let fresh = pr.recv_response(now, round, self.read_only.round());
        let resend = if success {
            pr.maybe_update(match_index.min(last), now);
            pr.become_replicate();
            pr.next_index() <= last
        } else {
            pr.recv_reject(fresh, reject_index, hint)
        };
        if success {
            self.maybe_commit();
            self.release_sync_acks();
        }
        if resend {
            self.send_append(from);
        }
        self.check_rounds();
    }

    /// sync-all: the lowest index every node has durable (ourselves: what the shell persisted).
    pub(super) fn all_matched(&self) -> u64 {
        self.lead.progress.all_matched(self.log.stable_last())
    }

    /// sync-all: answer the applied writes every node now has.
    pub(super) fn release_sync_acks(&mut self) {
        let all = self.all_matched().min(self.log.applied());
        for (id, result) in self.lead.sync_acks.release(all) {
            self.respond(id, result);
        }
    }

    /// Commit rule: the highest index stored on a quorum, if it is of the current term.
    pub(super) fn maybe_commit(&mut self) {
        let n = self
            .lead
            .progress
            .quorum_match(self.log.stable_last(), self.quorum());
        if self.log.term_at(n) == Some(self.term) && self.log.commit_to(n) {
            self.apply();
        }
    }

    /// Advance the confirmed round (acked by a quorum, counting us) and renew the lease from its start.
    pub(super) fn check_rounds(&mut self) {
        let acked = self
            .lead
            .progress
            .quorum_round(self.read_only.round(), self.quorum());
        let Some(confirmed) = self.read_only.advance(acked) else {
            return;
        };
        if let Some(t) = confirmed.lease_start {
            self.lease.extend_to(t + lease::leader_lease(&self.cfg));
        }
        self.release_confirmed_reads();
    }
}
