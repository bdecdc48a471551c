//! Terms, PreVote, votes and role changes; the message dispatcher that applies the term rules.

use super::replication::AppendReq;
use super::types::{Message, MessageBody};
use super::{lease, RaftNode};
use crate::api::{LeaseVotes, ReadMode, Role};
use std::collections::BTreeMap;
use std::time::Duration;
use MessageBody::*;

impl RaftNode {
    /// Route a message after the term rules (etcd's `Step`).
    pub(super) fn dispatch(&mut self, msg: Message) {
        match &msg.body {
            // Forwarded reads are valid whatever the terms: the leader confirms itself after receiving them.
            ReadIndexReq { id } => return self.handle_read_index_req(&msg.from, *id),
            ReadIndexResp { id, read_index } => {
                return self.handle_read_index_resp(*id, *read_index)
            }
            _ => {}
        }
        let goes_on = if msg.term > self.term {
            self.see_higher_term(&msg)
        } else if msg.term < self.term {
            self.refuse_lower_term(&msg);
            false
        } else {
            true
        };
        if goes_on {
            self.route(msg);
        }
    }

    /// A message of a higher term: adopt it (pre-votes and their grants do not change terms). False if
    /// the message is answered here.
    fn see_higher_term(&mut self, msg: &Message) -> bool {
        match &msg.body {
            PreVote { .. } => {}
            PreVoteResp { granted: true, .. } => {}
            Vote { .. } if self.refuses_votes() => {
                // Do not adopt the term: that would depose the leader we still follow.
                let rem = self.lease_remaining_us();
                let term = self.term;
                let body = VoteResp {
                    granted: false,
                    lease_remaining_us: rem,
                };
                self.send(&msg.from, term, body);
                return false;
            }
            Append { .. } | InstallSnapshot { .. } => {
                self.become_follower(msg.term, Some(msg.from.clone()))
            }
            _ => self.become_follower(msg.term, None),
        }
        true
    }

    /// A message of a lower term: tell a stale leader or candidate about our term so it steps down.
    fn refuse_lower_term(&mut self, msg: &Message) {
        let term = self.term;
        let body = match &msg.body {
            Append { .. } | InstallSnapshot { .. } => AppendResp {
                success: false,
                match_index: 0,
                reject_index: 0,
                hint: 0,
                last_index: 0,
                round: 0,
            },
            PreVote { .. } => PreVoteResp {
                granted: false,
                lease_remaining_us: 0,
            },
            Vote { .. } => VoteResp {
                granted: false,
                lease_remaining_us: 0,
            },
            _ => return,
        };
        self.send(&msg.from, term, body);
    }

    /// A message of our term, to its handler.
    fn route(&mut self, msg: Message) {
        let from = msg.from;
        match msg.body {
            PreVote {
                last_index,
                last_term,
            } => self.handle_pre_vote(&from, msg.term, last_index, last_term),
            Vote {
                last_index,
                last_term,
            } => self.handle_vote(&from, last_index, last_term),
            PreVoteResp {
                granted,
                lease_remaining_us,
            } => {
                if self.role == Role::PreCandidate && msg.term == self.term + 1 {
                    self.record_vote(&from, granted, lease_remaining_us);
                }
            }
            VoteResp {
                granted,
                lease_remaining_us,
            } => {
                if self.role == Role::Candidate && msg.term == self.term {
                    self.record_vote(&from, granted, lease_remaining_us);
                }
            }
            Append {
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            } => self.handle_append(
                &from,
                AppendReq {
                    prev_index,
                    prev_term,
                    entries,
                    commit,
                    round,
                },
            ),
            AppendResp {
                success,
                match_index,
                reject_index,
                hint,
                round,
                ..
            } => self.handle_append_resp(&from, success, match_index, reject_index, hint, round),
            InstallSnapshot { snapshot, round } => {
                self.handle_install_snapshot(&from, snapshot, round)
            }
            ReadIndexReq { .. } | ReadIndexResp { .. } => {}
        }
    }

    /// Draw a new randomized timeout in [min, 2*min) and restart the election timer with it.
    pub(super) fn reset_election_timer(&mut self) {
        let (now, min) = (self.clock.now(), self.cfg.election_timeout);
        self.election_timer.reset(now, min, &mut self.rng);
    }

    /// Restart the timer with the current randomized timeout (on every message from the leader).
    pub(super) fn restart_election_timer(&mut self) {
        self.election_timer.restart(self.clock.now());
    }

    /// Lease mode with `--lease-votes refuse`: while the countdown of a leader's lease runs, no campaign
    /// and no votes. With `report` votes follow the normal rules and carry the remainder instead.
    pub(super) fn countdown_blocks(&self) -> bool {
        self.cfg.read_mode == ReadMode::Lease
            && self.cfg.lease_votes == LeaseVotes::Refuse
            && self.lease.counting_down(self.clock.now())
    }

    /// Refuse (pre-)votes: lease countdown running (`--lease-votes refuse`), or (CheckQuorum) we heard from
    /// a live leader within an election timeout, or we are that leader.
    fn refuses_votes(&self) -> bool {
        if self.countdown_blocks() {
            return true;
        }
        if !self.cfg.check_quorum {
            return false;
        }
        match self.role {
            Role::Leader => true,
            _ => {
                self.leader.is_some()
                    && self.leader_contact.is_some_and(|t| {
                        self.clock.now().saturating_sub(t) < self.cfg.election_timeout
                    })
            }
        }
    }

    /// What our votes report: the remaining lease of any old leader we know (lease mode only).
    fn lease_remaining_us(&self) -> u64 {
        if self.cfg.read_mode == ReadMode::Lease {
            lease::micros(self.lease.countdown_remaining(self.clock.now()))
        } else {
            0
        }
    }

    fn handle_pre_vote(&mut self, from: &str, term: u64, last_index: u64, last_term: u64) {
        let granted = term > self.term
            && !self.refuses_votes()
            && self.log.is_up_to_date(last_index, last_term);
        let rem = self.lease_remaining_us();
        let reply_term = if granted { term } else { self.term };
        let body = MessageBody::PreVoteResp {
            granted,
            lease_remaining_us: rem,
        };
        self.send(from, reply_term, body);
    }

    fn handle_vote(&mut self, from: &str, last_index: u64, last_term: u64) {
        let can_vote = match &self.voted_for {
            Some(v) => v == from,
            None => self.leader.is_none(),
        };
        let granted =
            can_vote && !self.countdown_blocks() && self.log.is_up_to_date(last_index, last_term);
        if granted {
            if self.voted_for.is_none() {
                self.voted_for = Some(from.to_string());
                self.hard_state_dirty = true; // persisted before the grant is sent
            }
            self.reset_election_timer();
        }
        let rem = self.lease_remaining_us();
        let term = self.term;
        self.send(
            from,
            term,
            MessageBody::VoteResp {
                granted,
                lease_remaining_us: rem,
            },
        );
    }

    fn record_vote(&mut self, from: &str, granted: bool, lease_remaining_us: u64) {
        if granted && lease_remaining_us > 0 {
            // No voter can honestly report more than a restarted node's full guard; cap bogus values.
            let rem =
                Duration::from_micros(lease_remaining_us).min(lease::restart_guard(&self.cfg));
            let wait = lease::wait_for_remainder(&self.cfg, rem);
            self.lease.wait_for_voter(self.clock.now() + wait);
        }
        self.votes.insert(from.to_string(), granted);
        self.check_votes();
    }

    fn check_votes(&mut self) {
        let yes = self.votes.values().filter(|g| **g).count();
        if yes < self.quorum() {
            return;
        }
        match self.role {
            Role::PreCandidate => self.become_candidate(),
            Role::Candidate => self.become_leader(),
            _ => {}
        }
    }

    /// The election timer fired: start a pre-vote (or a vote without PreVote).
    pub(super) fn campaign(&mut self) {
        if self.term >= super::MAX_TERM {
            // No term after this one may be used (only a WAL written before the ceiling existed gets here).
            self.reset_election_timer();
            return;
        }
        self.lease
            .start_campaign(self.clock.now() + self.countdown_wait());
        if self.cfg.pre_vote {
            self.role = Role::PreCandidate;
            self.leader = None;
            self.start_poll(self.term + 1, true);
        } else {
            self.become_candidate();
        }
    }

    /// Our own remainder counts like a voter's.
    fn countdown_wait(&self) -> Duration {
        if self.cfg.read_mode == ReadMode::Lease {
            lease::wait_for_remainder(&self.cfg, self.lease.countdown_remaining(self.clock.now()))
        } else {
            Duration::ZERO
        }
    }

    fn start_poll(&mut self, term: u64, pre: bool) {
        self.reset_election_timer();
        self.votes = BTreeMap::from([(self.cfg.id.clone(), true)]);
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for peer in self.peers.clone() {
            let body = if pre {
                MessageBody::PreVote {
                    last_index,
                    last_term,
                }
            } else {
                MessageBody::Vote {
                    last_index,
                    last_term,
                }
            };
            self.send(&peer, term, body);
        }
        self.check_votes();
    }

    fn become_candidate(&mut self) {
        self.step_down_cleanup();
        self.term += 1;
        self.voted_for = Some(self.cfg.id.clone());
        self.hard_state_dirty = true;
        self.role = Role::Candidate;
        self.leader = None;
        let term = self.term;
        self.start_poll(term, false);
    }

    pub(super) fn become_follower(&mut self, term: u64, leader: Option<String>) {
        self.step_down_cleanup();
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.hard_state_dirty = true;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.reset_election_timer();
    }

    /// Leaving leadership (or a term): drop the lease and fail what depended on being leader.
    fn step_down_cleanup(&mut self) {
        if self.role == Role::Leader {
            self.lease.drop_lease();
            let abandoned = self.lead.step_down();
            self.fail_proposals(abandoned.proposals);
            for (id, result) in abandoned.acks {
                self.respond(id, result);
            }
            self.fail_leader_reads();
        }
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id.clone());
        self.votes.clear();
        let wait = self.cfg.read_mode == ReadMode::Lease;
        self.lease.start_leading(wait, self.clock.now());
        self.init_progress();
        // The empty entry: the leader is not ready until an entry of its term commits.
        self.propose(super::Command::Noop);
        // It ships at once, with what earlier leaders wrote: only client writes wait out the async lag.
        let first_heartbeat = self.clock.now() + self.cfg.heartbeat_interval;
        self.lead
            .start_shipping(self.log.last_index(), first_heartbeat);
        self.new_round();
    }
}
