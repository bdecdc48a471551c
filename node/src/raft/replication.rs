//! Log replication (pipelined appends with a probe fallback), the commit rule, heartbeat rounds (the
//! tags that confirm leadership for ReadIndex and renew the lease) and CheckQuorum.

use super::{lease, Entry, MessageBody, RaftNode};
use crate::api::{ReadMode, Replication, Role};
use std::collections::VecDeque;
use std::time::Duration;

/// The leader's view of one follower.
#[derive(Debug, Clone)]
pub(super) struct Progress {
    pub(super) match_index: u64,
    pub(super) next_index: u64,
    /// Probe: one append at a time until the follower's log position is known; else pipelined.
    pub(super) probing: bool,
    /// Probe (or a snapshot in flight): no new append before this unless a response arrives.
    pub(super) probe_until: Duration,
    /// Last time `match_index` advanced (a stalled pipeline is retransmitted).
    pub(super) last_progress: Duration,
    /// Last response in this term (CheckQuorum).
    last_contact: Duration,
    /// Highest heartbeat round this follower acknowledged in this term.
    acked_round: u64,
}

/// Unconfirmed rounds remembered (a leader cut off without CheckQuorum must not grow without bound).
const MAX_OPEN_ROUNDS: usize = 4096;

/// Entries in flight per follower before the pipeline waits for acks.
const MAX_INFLIGHT_BATCHES: u64 = 8;

impl RaftNode {
    pub(super) fn init_progress(&mut self) {
        let next = self.log.last_index() + 1;
        let now = self.now;
        self.progress = self
            .peers
            .iter()
            .map(|p| {
                let pr = Progress {
                    match_index: 0,
                    next_index: next,
                    probing: true,
                    probe_until: Duration::ZERO,
                    last_progress: now,
                    last_contact: now,
                    acked_round: 0,
                };
                (p.clone(), pr)
            })
            .collect();
        self.round_starts.clear();
        self.confirmed_round = self.round;
    }

    /// Send `peer` what it lacks: one probe, or pipelined batches of up to `max_batch` entries.
    pub(super) fn send_append(&mut self, peer: &str) {
        let max_batch = self.cfg.max_batch.max(1);
        let last = match self.cfg.replication {
            Replication::Quorum | Replication::SyncAll => self.log.last_index(),
            Replication::Async => self
                .ship
                .shippable(self.now, self.cfg.async_lag)
                .min(self.log.last_index()),
        };
        loop {
            let Some(pr) = self.progress.get(peer) else {
                return;
            };
            let window = MAX_INFLIGHT_BATCHES * max_batch as u64;
            if pr.probing {
                if self.now < pr.probe_until {
                    return;
                }
            } else if pr.next_index > last || pr.next_index > pr.match_index + window {
                return;
            }
            if pr.next_index <= self.log.snapshot_index() {
                // The entries it needs are compacted away: send the whole state instead.
                return self.send_snapshot(peer);
            }
            let next = pr.next_index.clamp(1, last + 1);
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
            let probing = pr.probing;
            let body = MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit: self.log.committed(),
                round: self.round,
            };
            let term = self.term;
            self.send(peer, term, body);
            let hb = self.cfg.heartbeat_interval;
            let now = self.now;
            let pr = self.progress.get_mut(peer).expect("checked above");
            if probing {
                pr.probe_until = now + hb;
                return;
            }
            pr.next_index = next + sent;
        }
    }

    /// A heartbeat: no entries, `prev` = what the follower surely has, so it always matches.
    pub(super) fn send_heartbeat(&mut self, peer: &str) {
        let Some(pr) = self.progress.get(peer) else {
            return;
        };
        // Below the snapshot the term is gone; 0 always matches (the follower answers with its commit).
        let prev_index = if pr.match_index >= self.log.snapshot_index() {
            pr.match_index
        } else {
            0
        };
        let body = MessageBody::Append {
            prev_index,
            prev_term: self.log.term_at(prev_index).unwrap_or(0),
            entries: Vec::new(),
            commit: self.log.committed().min(prev_index),
            round: self.round,
        };
        let term = self.term;
        self.send(peer, term, body);
    }

    /// Start a heartbeat round now: its acks confirm leadership after this instant (ReadIndex) and
    /// renew the lease from this instant (its send time; the messages leave after this turn's fsync).
    pub(super) fn new_round(&mut self) {
        self.round += 1;
        self.round_fresh = true;
        self.round_starts.push_back((self.round, self.now));
        if self.round_starts.len() > MAX_OPEN_ROUNDS {
            // Dropping the oldest start times only ever makes a later lease shorter.
            self.round_starts.pop_front();
        }
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
                ReadMode::LeaseNoWait => self.lease.valid(self.now),
                ReadMode::LeaderLocal => true,
                _ => false,
            };
            if !keep {
                let term = self.term;
                self.become_follower(term, None);
                return;
            }
        }
        if self.now < self.next_heartbeat {
            return;
        }
        self.next_heartbeat = self.now + self.cfg.heartbeat_interval;
        self.new_round();
        let last = self.log.last_index();
        let stall = self.cfg.heartbeat_interval * 2;
        for peer in self.peers.clone() {
            let now = self.now;
            if let Some(pr) = self.progress.get_mut(&peer) {
                if !pr.probing
                    && now >= pr.probe_until
                    && pr.match_index < last
                    && now.saturating_sub(pr.last_progress) >= stall
                {
                    // Acks stopped coming: something was lost; resend from what the follower has.
                    pr.probing = true;
                    pr.probe_until = Duration::ZERO;
                    pr.next_index = pr.match_index + 1;
                    pr.last_progress = now;
                }
            }
            self.send_append(&peer);
        }
    }

    /// sync-all: a follower that has not answered within an election timeout (writes would only wait).
    pub(super) fn unreachable_peer(&self) -> Option<String> {
        let et = self.cfg.election_timeout;
        self.progress
            .iter()
            .find(|(_, pr)| self.now.saturating_sub(pr.last_contact) >= et)
            .map(|(id, _)| id.clone())
    }

    /// CheckQuorum: a quorum (counting us) responded within the last election timeout.
    fn quorum_active(&self) -> bool {
        let et = self.cfg.election_timeout;
        let active = self
            .progress
            .values()
            .filter(|pr| self.now.saturating_sub(pr.last_contact) < et)
            .count();
        active + 1 >= self.quorum()
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
        self.leader_contact = Some(self.now);
        if matches!(self.cfg.read_mode, ReadMode::Lease) {
            let end = self.now + self.cfg.lease;
            self.lease.countdown_end = self.lease.countdown_end.max(end);
        }
        self.restart_election_timer();
        true
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_append(
        &mut self,
        from: &str,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
        round: u64,
    ) {
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
        let now = self.now;
        let last = self.log.last_index();
        let Some(pr) = self.progress.get_mut(from) else {
            return;
        };
        pr.last_contact = now;
        // Not older than the newest answer: a reordered or duplicated reject cannot pass for lost state.
        let fresh = round >= pr.acked_round;
        pr.acked_round = pr.acked_round.max(round.min(self.round));
        let mut resend = false;
        if success {
            let m = match_index.min(last);
            if m > pr.match_index {
                pr.match_index = m;
                pr.last_progress = now;
            }
            pr.next_index = pr.next_index.max(pr.match_index + 1);
            pr.probing = false;
            resend = pr.next_index <= last;
        } else {
            if fresh && reject_index > 0 && reject_index <= pr.match_index {
                // It refuses what it once acknowledged: it lost state (a cut WAL, a replaced disk). Forget
                // what it had and probe back from its hint to where the logs agree, repairing it.
                pr.match_index = 0;
                pr.probing = true;
                pr.next_index = reject_index + 1;
            }
            let stale = if pr.probing {
                reject_index.saturating_add(1) != pr.next_index
            } else {
                reject_index <= pr.match_index
            };
            if !stale && reject_index > 0 {
                pr.next_index = hint
                    .saturating_add(1)
                    .min(reject_index)
                    .max(pr.match_index + 1);
                pr.probing = true;
                pr.probe_until = Duration::ZERO;
                resend = true;
            }
        }
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
        self.progress
            .values()
            .map(|p| p.match_index)
            .fold(self.log.stable_last(), u64::min)
    }

    /// sync-all: answer the applied writes every node now has.
    pub(super) fn release_sync_acks(&mut self) {
        let all = self.all_matched().min(self.log.applied());
        for (id, result) in self.sync_acks.release(all) {
            self.respond(id, result);
        }
    }

    /// Commit rule: the highest index stored on a quorum, if it is of the current term.
    pub(super) fn maybe_commit(&mut self) {
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.match_index).collect();
        matched.push(self.log.stable_last());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched[self.quorum() - 1];
        if self.log.term_at(n) == Some(self.term) && self.log.commit_to(n) {
            self.apply();
        }
    }

    /// Advance the confirmed round (acked by a quorum, counting us) and renew the lease from its start.
    pub(super) fn check_rounds(&mut self) {
        let mut acked: Vec<u64> = self.progress.values().map(|p| p.acked_round).collect();
        acked.push(self.round);
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = acked[self.quorum() - 1];
        if confirmed <= self.confirmed_round {
            return;
        }
        self.confirmed_round = confirmed;
        let mut start = None;
        while let Some(&(r, t)) = self.round_starts.front() {
            if r > confirmed {
                break;
            }
            start = Some(t);
            self.round_starts.pop_front();
        }
        if let Some(t) = start {
            let end = t + lease::leader_lease(&self.cfg);
            self.lease.lease_end = Some(self.lease.lease_end.map_or(end, |e| e.max(end)));
        }
        self.release_confirmed_reads();
    }
}

/// Async replication's lag: new entries of this leader, with when they were proposed. An entry ships once
/// it is `lag` old.
#[derive(Debug, Default)]
pub(super) struct ShipQueue {
    waiting: VecDeque<(u64, Duration)>,
    shippable: u64,
}

impl ShipQueue {
    /// A new leadership: everything up to `last` may ship now.
    pub(super) fn reset(&mut self, last: u64) {
        self.waiting.clear();
        self.shippable = last;
    }

    pub(super) fn push(&mut self, index: u64, at: Duration) {
        self.waiting.push_back((index, at));
    }

    /// The highest index old enough to ship at `now`.
    pub(super) fn shippable(&mut self, now: Duration, lag: Duration) -> u64 {
        while let Some(&(index, at)) = self.waiting.front() {
            if at + lag > now {
                break;
            }
            self.shippable = self.shippable.max(index);
            self.waiting.pop_front();
        }
        self.shippable
    }
}
