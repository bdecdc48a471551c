//! The leader's view of its followers: how far each one's log matches ours, what to send it next, when it
//! last answered and which heartbeat round it acknowledged; and the quorum arithmetic over those views
//! (commit index, confirmed round, CheckQuorum).

use super::types::NodeId;
use std::collections::BTreeMap;
use std::time::Duration;

/// The leader's view of one follower.
#[derive(Debug, Clone)]
pub(super) struct Progress {
    match_index: u64,
    next_index: u64,
    /// Probe: one append at a time until the follower's log position is known; else pipelined.
    probing: bool,
    /// Probe (or a snapshot in flight): no new append before this unless a response arrives.
    probe_until: Duration,
    /// Last time `match_index` advanced (a stalled pipeline is retransmitted).
    last_progress: Duration,
    /// Last response in this term (CheckQuorum).
    last_contact: Duration,
    /// Highest heartbeat round this follower acknowledged in this term.
    acked_round: u64,
}

impl Progress {
    /// A new leadership: nothing known to match; probe from `next`.
    fn new(next: u64, now: Duration) -> Self {
        Progress {
            match_index: 0,
            next_index: next,
            probing: true,
            probe_until: Duration::ZERO,
            last_progress: now,
            last_contact: now,
            acked_round: 0,
        }
    }

    pub fn match_index(&self) -> u64 {
        self.match_index
    }

    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    pub fn is_probing(&self) -> bool {
        self.probing
    }

    /// Whether no append may go out now: a probe waits for its answer (or `probe_until`); a pipeline
    /// waits when it has sent everything up to `last` or `window` entries are unacknowledged.
    pub fn is_paused(&self, now: Duration, last: u64, window: u64) -> bool {
        if self.probing {
            now < self.probe_until
        } else {
            self.next_index > last || self.next_index > self.match_index + window
        }
    }

    /// An append of `count` entries from `next` went out: a probe waits `wait` for its answer, a pipeline
    /// moves on past them.
    pub fn sent(&mut self, next: u64, count: u64, now: Duration, wait: Duration) {
        if self.probing {
            self.probe_until = now + wait;
        } else {
            self.next_index = next + count;
        }
    }

    /// Our whole state went out instead of entries: probe, waiting `wait` for the answer.
    pub fn snapshot_sent(&mut self, now: Duration, wait: Duration) {
        self.probing = true;
        self.probe_until = now + wait;
        self.last_progress = now;
    }

    /// Any answer for heartbeat round `round` (the leader is at `current`): the follower is alive and
    /// acknowledged that round. Returns whether the answer is not older than the newest one seen (a
    /// reordered or duplicated reject cannot pass for lost state).
    pub fn recv_response(&mut self, now: Duration, round: u64, current: u64) -> bool {
        self.last_contact = now;
        let fresh = round >= self.acked_round;
        self.acked_round = self.acked_round.max(round.min(current));
        fresh
    }

    /// The follower has everything up to `match_index`: the match only moves forward (a late or duplicated
    /// answer cannot move it back). Returns whether it moved.
    pub fn maybe_update(&mut self, match_index: u64, now: Duration) -> bool {
        let moved = match_index > self.match_index;
        if moved {
            self.match_index = match_index;
            self.last_progress = now;
        }
        self.next_index = self.next_index.max(self.match_index + 1);
        moved
    }

    /// Its log position is known: pipeline from now on.
    pub fn become_replicate(&mut self) {
        self.probing = false;
    }

    /// Probe again from `next`, at once.
    fn become_probe(&mut self, next: u64) {
        self.probing = true;
        self.probe_until = Duration::ZERO;
        self.next_index = next;
    }

    /// The follower refused an append after `reject_index` (it suggests retrying after `hint`). Returns
    /// whether to send again: false for a stale refusal (one already dealt with).
    pub fn recv_reject(&mut self, fresh: bool, reject_index: u64, hint: u64) -> bool {
        if fresh && reject_index > 0 && reject_index <= self.match_index {
            // It refuses what it once acknowledged: it lost state (a cut WAL, a replaced disk). Forget
            // what it had and probe back from its hint to where the logs agree, repairing it.
            self.match_index = 0;
            self.probing = true;
            self.next_index = reject_index + 1;
        }
        let stale = if self.probing {
            reject_index.saturating_add(1) != self.next_index
        } else {
            reject_index <= self.match_index
        };
        if stale || reject_index == 0 {
            return false;
        }
        let next = hint
            .saturating_add(1)
            .min(reject_index)
            .max(self.match_index + 1);
        self.become_probe(next);
        true
    }

    /// A pipeline whose acks stopped coming for `stall` while it lacks entries up to `last`: something was
    /// lost; probe again from what the follower has. Returns whether it did.
    pub fn maybe_restart_stalled(&mut self, now: Duration, last: u64, stall: Duration) -> bool {
        let stalled = !self.probing
            && now >= self.probe_until
            && self.match_index < last
            && now.saturating_sub(self.last_progress) >= stall;
        if stalled {
            self.become_probe(self.match_index + 1);
            self.last_progress = now;
        }
        stalled
    }

    /// Whether it answered within `window` before `now`.
    fn is_active(&self, now: Duration, window: Duration) -> bool {
        now.saturating_sub(self.last_contact) < window
    }
}

/// Every follower's [`Progress`] while this node leads (empty otherwise).
#[derive(Debug, Default)]
pub(super) struct ProgressTracker {
    peers: BTreeMap<NodeId, Progress>,
}

impl ProgressTracker {
    /// A new leadership: every peer probes from `next`, counted as heard from `now`.
    pub fn reset(&mut self, peers: &[NodeId], next: u64, now: Duration) {
        self.peers = peers
            .iter()
            .map(|p| (p.clone(), Progress::new(next, now)))
            .collect();
    }

    /// Leadership lost.
    pub fn clear(&mut self) {
        self.peers.clear();
    }

    pub fn get(&self, peer: &str) -> Option<&Progress> {
        self.peers.get(peer)
    }

    pub fn get_mut(&mut self, peer: &str) -> Option<&mut Progress> {
        self.peers.get_mut(peer)
    }

    /// The highest index stored on a quorum of `quorum`, counting our own durable last index `own`.
    pub fn quorum_match(&self, own: u64, quorum: usize) -> u64 {
        quorum_value(self.peers.values().map(|p| p.match_index), own, quorum)
    }

    /// The highest heartbeat round acknowledged by a quorum, counting our own latest round `own`.
    pub fn quorum_round(&self, own: u64, quorum: usize) -> u64 {
        quorum_value(self.peers.values().map(|p| p.acked_round), own, quorum)
    }

    /// CheckQuorum: a quorum (counting us) answered within `window` before `now`.
    pub fn quorum_active(&self, now: Duration, window: Duration, quorum: usize) -> bool {
        let active = self
            .peers
            .values()
            .filter(|p| p.is_active(now, window))
            .count();
        active + 1 >= quorum
    }

    /// The lowest index every node has, counting our own durable last index `own`.
    pub fn all_matched(&self, own: u64) -> u64 {
        self.peers
            .values()
            .map(|p| p.match_index)
            .fold(own, u64::min)
    }

    /// A follower that has not answered within `window` before `now`.
    pub fn unreachable(&self, now: Duration, window: Duration) -> Option<&NodeId> {
        self.peers
            .iter()
            .find(|(_, p)| !p.is_active(now, window))
            .map(|(id, _)| id)
    }
}

/// The `quorum`-th highest of the followers' `values` and our own `own`: a value a quorum has reached.
fn quorum_value(values: impl Iterator<Item = u64>, own: u64, quorum: usize) -> u64 {
    let mut all: Vec<u64> = values.chain([own]).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    all.get(quorum.saturating_sub(1)).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn maybe_update_only_moves_forward() {
        let mut p = Progress::new(4, Duration::ZERO);
        assert!(p.maybe_update(5, MS));
        assert_eq!((p.match_index(), p.next_index()), (5, 6));
        // A late answer for less changes nothing, and neither does a repeat.
        assert!(!p.maybe_update(3, 2 * MS) && !p.maybe_update(5, 2 * MS));
        assert_eq!((p.match_index(), p.next_index()), (5, 6));
        assert!(p.is_probing());
        p.become_replicate();
        p.sent(6, 4, 3 * MS, MS);
        assert_eq!(p.next_index(), 10);
        assert!(p.maybe_update(7, 3 * MS));
        assert_eq!(p.next_index(), 10, "acks never pull the pipeline back");
    }

    #[test]
    fn a_probe_waits_and_a_pipeline_stops_at_its_window() {
        let mut p = Progress::new(1, Duration::ZERO);
        assert!(!p.is_paused(Duration::ZERO, 5, 2));
        p.sent(1, 1, Duration::ZERO, 10 * MS);
        assert!(p.is_paused(9 * MS, 5, 2) && !p.is_paused(10 * MS, 5, 2));
        p.maybe_update(1, 10 * MS);
        p.become_replicate();
        p.sent(2, 2, 10 * MS, MS);
        // next 4 > match 1 + window 2.
        assert!(p.is_paused(10 * MS, 5, 2));
        assert!(!p.is_paused(10 * MS, 5, 3));
        p.sent(4, 2, 10 * MS, MS);
        assert!(p.is_paused(10 * MS, 5, 9), "nothing new past last");
    }

    #[test]
    fn rejects_probe_back_unless_stale() {
        let mut p = Progress::new(1, Duration::ZERO);
        p.maybe_update(6, MS);
        p.become_replicate();
        p.sent(7, 3, MS, MS);
        // A stale reject (below the match) from an old round is ignored.
        assert!(!p.recv_reject(false, 5, 2));
        assert_eq!(
            (p.match_index(), p.next_index(), p.is_probing()),
            (6, 10, false)
        );
        // A reject past the match probes back to its hint, not below the match.
        assert!(p.recv_reject(true, 8, 3));
        assert_eq!((p.next_index(), p.is_probing()), (7, true));
        // A fresh refusal of what it acknowledged: it lost state; forget the match.
        assert!(p.recv_reject(true, 6, 2));
        assert_eq!((p.match_index(), p.next_index()), (0, 3));
    }

    #[test]
    fn acked_rounds_only_grow_and_never_pass_ours() {
        let mut p = Progress::new(1, Duration::ZERO);
        assert!(p.recv_response(MS, 9, 4));
        assert_eq!(p.acked_round, 4);
        assert!(!p.recv_response(MS, 3, 4));
        assert_eq!(p.acked_round, 4);
    }

    #[test]
    fn a_stalled_pipeline_probes_again_from_the_match() {
        let mut p = Progress::new(1, Duration::ZERO);
        p.maybe_update(2, Duration::ZERO);
        p.become_replicate();
        p.sent(3, 4, Duration::ZERO, MS);
        assert!(!p.maybe_restart_stalled(MS, 6, 2 * MS));
        assert!(
            !p.maybe_restart_stalled(2 * MS, 2, 2 * MS),
            "nothing missing"
        );
        assert!(p.maybe_restart_stalled(2 * MS, 6, 2 * MS));
        assert_eq!((p.next_index(), p.is_probing()), (3, true));
    }

    #[test]
    fn quorums_count_the_leader() {
        let peers: Vec<NodeId> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let mut t = ProgressTracker::default();
        t.reset(&peers, 1, Duration::ZERO);
        for (peer, m) in [("a", 7), ("b", 3), ("c", 5)] {
            t.get_mut(peer).unwrap().maybe_update(m, MS);
            t.get_mut(peer).unwrap().recv_response(MS, m, 9);
        }
        // Five members: the third highest of 9 (us), 7, 5, 3, 0.
        assert_eq!(t.quorum_match(9, 3), 5);
        assert_eq!(t.quorum_match(4, 3), 4);
        assert_eq!(t.quorum_round(9, 3), 5);
        assert_eq!(t.all_matched(9), 0);
        assert!(
            t.quorum_active(2 * MS, 2 * MS, 3),
            "a, b, c answered at 1ms"
        );
        assert!(!t.quorum_active(3 * MS, 2 * MS, 3));
        assert_eq!(t.unreachable(2 * MS, 2 * MS).map(String::as_str), Some("d"));
        t.clear();
        assert!(t.get("a").is_none());
        assert_eq!(t.quorum_match(9, 3), 0);
    }
}
