//! What only a leader keeps, dropped when it steps down: its followers' progress, the heartbeat timer,
//! whether new entries wait to be sent, the entries async replication holds back, the client proposals
//! waiting for their entries, and (sync-all) the answers waiting for every follower.

use super::progress::ProgressTracker;
use super::sync_all::SyncAcks;
use super::types::{ClientResult, NodeId, RequestId};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// A client proposal waiting for its entry, matched by (term, index).
#[derive(Debug)]
pub(super) struct Proposal {
    pub term: u64,
    pub id: RequestId,
    pub is_read: bool,
}

/// What a leader owes its clients when it steps down.
#[derive(Debug, Default)]
pub(super) struct Abandoned {
    /// Pending proposals, in index order.
    pub proposals: Vec<Proposal>,
    /// sync-all answers that waited for every follower.
    pub acks: Vec<(RequestId, ClientResult)>,
}

#[derive(Debug, Default)]
pub(super) struct LeaderState {
    pub progress: ProgressTracker,
    /// sync-all: applied writes waiting for every node before they are answered.
    pub sync_acks: SyncAcks,
    next_heartbeat: Duration,
    /// New entries wait for the end of the turn, so one append per peer carries them all.
    need_flush: bool,
    /// Async replication: entries not yet old enough to ship.
    ship: ShipQueue,
    proposals: BTreeMap<u64, Proposal>,
}

impl LeaderState {
    /// Leadership starts at `now`: every peer probes from `next`.
    pub fn start(&mut self, peers: &[NodeId], next: u64, now: Duration) {
        self.progress.reset(peers, next, now);
    }

    /// The first heartbeat of a leadership goes out at `at`; everything up to `last` ships at once (only
    /// client writes wait out the async lag).
    pub fn start_shipping(&mut self, last: u64, at: Duration) {
        self.ship.reset(last);
        self.next_heartbeat = at;
    }

    /// Whether a heartbeat is due at `now`; if so the next one is due `interval` later.
    pub fn heartbeat_due(&mut self, now: Duration, interval: Duration) -> bool {
        if now < self.next_heartbeat {
            return false;
        }
        self.next_heartbeat = now + interval;
        true
    }

    /// A new entry at `index`, appended at `now`, goes out at the end of the turn; with `lag` (async
    /// replication) it is held back until it is that old.
    pub fn appended(&mut self, index: u64, now: Duration, lag: bool) {
        if lag {
            self.ship.push(index, now);
        }
        self.need_flush = true;
    }

    /// Whether entries were appended since the last call (the end of a turn sends them).
    pub fn take_flush(&mut self) -> bool {
        std::mem::replace(&mut self.need_flush, false)
    }

    /// The highest index old enough to ship at `now` under async replication's `lag`.
    pub fn shippable(&mut self, now: Duration, lag: Duration) -> u64 {
        self.ship.shippable(now, lag)
    }

    /// Client request `id` waits for the entry at `index` of `term`.
    pub fn track(&mut self, index: u64, proposal: Proposal) {
        self.proposals.insert(index, proposal);
    }

    /// The proposal waiting for the entry at `index`, if any.
    pub fn take_proposal(&mut self, index: u64) -> Option<Proposal> {
        self.proposals.remove(&index)
    }

    /// Leadership lost: forget the followers and hand back what clients still wait for.
    pub fn step_down(&mut self) -> Abandoned {
        self.progress.clear();
        Abandoned {
            proposals: std::mem::take(&mut self.proposals).into_values().collect(),
            acks: self.sync_acks.abandon(),
        }
    }
}

/// Async replication's lag: new entries of this leader, with when they were proposed. An entry ships once
/// it is `lag` old.
#[derive(Debug, Default)]
struct ShipQueue {
    waiting: VecDeque<(u64, Duration)>,
    shippable: u64,
}

impl ShipQueue {
    /// A new leadership: everything up to `last` may ship now.
    fn reset(&mut self, last: u64) {
        self.waiting.clear();
        self.shippable = last;
    }

    fn push(&mut self, index: u64, at: Duration) {
        self.waiting.push_back((index, at));
    }

    /// The highest index old enough to ship at `now`.
    fn shippable(&mut self, now: Duration, lag: Duration) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::ClientReply;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn held_back_entries_ship_once_old_enough() {
        let mut l = LeaderState::default();
        l.start_shipping(3, MS);
        l.appended(4, MS, true);
        l.appended(5, 2 * MS, true);
        assert_eq!(l.shippable(5 * MS, 5 * MS), 3);
        assert_eq!(l.shippable(6 * MS, 5 * MS), 4);
        assert_eq!(l.shippable(9 * MS, 5 * MS), 5);
        // Without the lag, an entry only waits for the end of the turn.
        l.appended(6, 9 * MS, false);
        assert_eq!(l.shippable(99 * MS, 5 * MS), 5);
        assert!(l.take_flush() && !l.take_flush());
    }

    #[test]
    fn heartbeats_fall_due_once_per_interval() {
        let mut l = LeaderState::default();
        l.start_shipping(0, 10 * MS);
        assert!(!l.heartbeat_due(9 * MS, 10 * MS));
        assert!(l.heartbeat_due(10 * MS, 10 * MS));
        assert!(!l.heartbeat_due(19 * MS, 10 * MS));
        assert!(l.heartbeat_due(25 * MS, 10 * MS));
        assert!(!l.heartbeat_due(34 * MS, 10 * MS));
    }

    #[test]
    fn stepping_down_hands_back_every_waiting_client() {
        let mut l = LeaderState::default();
        l.start(&["n2".to_string()], 1, MS);
        for (index, id) in [(3, 30), (2, 20), (4, 40)] {
            let p = Proposal {
                term: 1,
                id,
                is_read: false,
            };
            l.track(index, p);
        }
        assert_eq!(l.take_proposal(4).map(|p| p.id), Some(40));
        assert!(l.take_proposal(4).is_none());
        l.sync_acks.defer(1, 10, Ok(ClientReply::Written));
        let lost = l.step_down();
        let ids: Vec<RequestId> = lost.proposals.iter().map(|p| p.id).collect();
        assert_eq!(ids, [20, 30]);
        assert_eq!(lost.acks.iter().map(|a| a.0).collect::<Vec<_>>(), [10]);
        assert!(l.progress.get("n2").is_none());
        assert!(l.take_proposal(2).is_none());
    }
}
