//! Snapshots and log compaction: every `snapshot_every` applied entries the state machine is handed to the
//! shell to make durable and the log before it is dropped; a follower that needs compacted entries gets the
//! leader's whole state (InstallSnapshot) instead.

use super::HardState;
use super::{MessageBody, RaftNode, Snapshot, SnapshotWrite};
use std::time::Duration;

impl RaftNode {
    /// The state machine as of `applied`.
    fn snapshot_now(&self) -> Snapshot {
        Snapshot {
            last_index: self.log.applied(),
            last_term: self
                .log
                .term_at(self.log.applied())
                .expect("applied entries are in the log or the snapshot"),
            state: self.kv.clone(),
        }
    }

    /// Called by `ready()` after the log's new entries were taken: a snapshot to write, if one is due (or
    /// a leader's was installed), with the log compacted up to it.
    pub(super) fn take_snapshot_write(&mut self) -> Option<SnapshotWrite> {
        let every = self.cfg.snapshot_every;
        let applied = self.log.applied();
        let due = every > 0 && applied >= self.log.snapshot_index() + every;
        if !(self.log.take_installed() || due) {
            return None;
        }
        let snapshot = self.snapshot_now();
        self.log.compact(applied);
        Some(SnapshotWrite {
            tail: self.log.slice(applied + 1, usize::MAX),
            hard_state: HardState {
                term: self.term,
                voted_for: self.voted_for.clone(),
            },
            snapshot,
        })
    }

    /// Leader: `peer` needs entries we compacted: send our state as of `applied`, then wait for its answer
    /// (or an election timeout) before sending it anything more.
    pub(super) fn send_snapshot(&mut self, peer: &str) {
        let snapshot = self.snapshot_now();
        let round = self.read_only.round();
        let term = self.term;
        self.send(peer, term, MessageBody::InstallSnapshot { snapshot, round });
        let wait = self.cfg.election_timeout.max(Duration::from_millis(1));
        let now = self.clock.now();
        if let Some(pr) = self.lead.progress.get_mut(peer) {
            pr.snapshot_sent(now, wait);
        }
    }

    /// Follower: replace state and log with the leader's snapshot (unless we already have all of it) and
    /// acknowledge it as an append up to its last index; the `Ready` persists it before the answer leaves.
    pub(super) fn handle_install_snapshot(&mut self, from: &str, snapshot: Snapshot, round: u64) {
        if !self.follow_leader(from) {
            return;
        }
        if snapshot.last_index > self.log.committed() {
            self.log.install(snapshot.last_index, snapshot.last_term);
            self.kv = snapshot.state;
            self.serve_applied_reads();
        }
        let term = self.term;
        let body = MessageBody::AppendResp {
            success: true,
            match_index: self.log.committed(),
            reject_index: 0,
            hint: 0,
            last_index: self.log.last_index(),
            round,
        };
        self.send(from, term, body);
    }
}
