//! Reads in flight (read-modes.md) and the leader's heartbeat rounds that confirm them: a ReadIndex read
//! waits for a round a quorum acknowledges, then for its index to be applied; a follower read waits for
//! the leader's read index first. A confirmed round also renews the lease from its send time.

use super::types::{NodeId, RequestId};
use super::ReadQuery;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Unconfirmed rounds remembered (a leader cut off without CheckQuorum must not grow without bound).
const MAX_OPEN_ROUNDS: usize = 4096;

/// Who asked for a read index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    Local {
        id: RequestId,
        query: ReadQuery,
    },
    /// A follower's forwarded request (follower-read).
    Remote {
        from: NodeId,
        id: u64,
    },
}

/// A leader read waiting for its heartbeat round to be acknowledged by a quorum.
#[derive(Debug)]
pub(super) struct RoundRead {
    pub origin: Origin,
    read_index: u64,
    round: u64,
    /// Without a quorum for this long (an isolated leader without CheckQuorum) the read fails.
    deadline: Duration,
}

/// A read whose index is confirmed, waiting for `applied >= read_index`.
#[derive(Debug)]
pub(super) struct ApplyRead {
    pub id: RequestId,
    pub query: ReadQuery,
    read_index: u64,
    /// Leader reads: the term they were confirmed in (a leader change fails them).
    pub term: Option<u64>,
    /// Follower reads: fail after this (an isolated follower is unavailable, never stale).
    deadline: Option<Duration>,
}

/// A follower read waiting for the leader's read index.
#[derive(Debug)]
struct Forwarded {
    id: RequestId,
    query: ReadQuery,
    deadline: Duration,
}

/// Rounds newly confirmed by a quorum.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Confirmed {
    /// Send time of the newest round confirmed now (the lease runs from it), if it was remembered.
    pub lease_start: Option<Duration>,
}

/// A forwarded read's answer from the leader, as it lands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ForwardAnswer {
    /// Not waiting (it timed out already, or it is not ours).
    Unknown,
    /// It waits for its index to be applied.
    Waiting,
    /// The leader refused: fail request `id`.
    Refused(RequestId),
}

/// Reads that ran out of time.
#[derive(Debug, Default)]
pub(super) struct Expired {
    pub rounds: Vec<RoundRead>,
    /// Follower reads the leader never answered.
    pub forwarded: Vec<RequestId>,
    pub applies: Vec<ApplyRead>,
}

/// Leader reads that lose their leader.
#[derive(Debug, Default)]
pub(super) struct Lost {
    pub rounds: Vec<RoundRead>,
    pub applies: Vec<ApplyRead>,
}

pub(super) struct ReadOnly {
    /// Id of the latest heartbeat round; every Append carries it.
    round: u64,
    /// The latest round was created in this turn (its messages are not out yet): new reads may join it.
    round_fresh: bool,
    /// Unconfirmed rounds with their send times.
    round_starts: VecDeque<(u64, Duration)>,
    /// The highest round a quorum acknowledged.
    confirmed_round: u64,
    by_round: Vec<RoundRead>,
    by_apply: Vec<ApplyRead>,
    forwarded: BTreeMap<u64, Forwarded>,
    next_forward_id: u64,
}

impl ReadOnly {
    pub fn new(rng: &mut impl Rng) -> Self {
        ReadOnly {
            round: 0,
            round_fresh: false,
            round_starts: VecDeque::new(),
            confirmed_round: 0,
            by_round: Vec::new(),
            by_apply: Vec::new(),
            forwarded: BTreeMap::new(),
            // A random start: ids must not repeat across restarts (see `RaftNode::new`).
            next_forward_id: rng.gen::<u64>() >> 1,
        }
    }

    /// The latest round's id.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// A new leadership: earlier rounds confirm nothing in this term.
    pub fn reset_rounds(&mut self) {
        self.round_starts.clear();
        self.confirmed_round = self.round;
    }

    /// Start a heartbeat round sent at `now`; returns its id.
    pub fn new_round(&mut self, now: Duration) -> u64 {
        self.round += 1;
        self.round_fresh = true;
        self.round_starts.push_back((self.round, now));
        if self.round_starts.len() > MAX_OPEN_ROUNDS {
            // Dropping the oldest start times only ever makes a later lease shorter.
            self.round_starts.pop_front();
        }
        self.round
    }

    /// Whether a new read needs a new round: the latest one's messages already left, so acks for it may
    /// predate the read.
    pub fn needs_round(&self) -> bool {
        !self.round_fresh
    }

    /// The turn ends: this turn's round leaves with its messages.
    pub fn end_turn(&mut self) {
        self.round_fresh = false;
    }

    /// A leader read at `read_index` joins the latest round; it fails at `deadline` without a quorum.
    pub fn add_request(&mut self, origin: Origin, read_index: u64, deadline: Duration) {
        self.by_round.push(RoundRead {
            origin,
            read_index,
            round: self.round,
            deadline,
        });
    }

    /// A quorum acknowledged every round up to `round`. None if that confirms nothing new.
    pub fn advance(&mut self, round: u64) -> Option<Confirmed> {
        if round <= self.confirmed_round {
            return None;
        }
        self.confirmed_round = round;
        let mut lease_start = None;
        while let Some(&(r, t)) = self.round_starts.front() {
            if r > round {
                break;
            }
            lease_start = Some(t);
            self.round_starts.pop_front();
        }
        Some(Confirmed { lease_start })
    }

    /// Reads of confirmed rounds go on: local ones (confirmed in `term`) wait for their index to apply;
    /// forwarded ones are returned, (follower, request, read index), to be answered.
    pub fn release(&mut self, term: u64) -> Vec<(NodeId, u64, u64)> {
        let confirmed = self.confirmed_round;
        let mut answers = Vec::new();
        for r in take_where(&mut self.by_round, |r| r.round <= confirmed) {
            match r.origin {
                Origin::Local { id, query } => self.by_apply.push(ApplyRead {
                    id,
                    query,
                    read_index: r.read_index,
                    term: Some(term),
                    deadline: None,
                }),
                Origin::Remote { from, id } => answers.push((from, id, r.read_index)),
            }
        }
        answers
    }

    /// Reads whose index is applied (at or below `applied`), to be answered.
    pub fn take_applied(&mut self, applied: u64) -> Vec<ApplyRead> {
        take_where(&mut self.by_apply, |r| r.read_index <= applied)
    }

    /// follower-read: request `id` for `query` asks the leader; returns the id of that question. It fails at
    /// `deadline` without an answer or without catching up.
    pub fn forward(&mut self, id: RequestId, query: ReadQuery, deadline: Duration) -> u64 {
        let fid = self.next_forward_id;
        self.next_forward_id = fid.wrapping_add(1);
        self.forwarded.insert(
            fid,
            Forwarded {
                id,
                query,
                deadline,
            },
        );
        fid
    }

    /// The leader answered question `fid` with `read_index` (None: refused).
    pub fn recv_read_index(&mut self, fid: u64, read_index: Option<u64>) -> ForwardAnswer {
        let Some(f) = self.forwarded.remove(&fid) else {
            return ForwardAnswer::Unknown;
        };
        let Some(read_index) = read_index else {
            return ForwardAnswer::Refused(f.id);
        };
        self.by_apply.push(ApplyRead {
            id: f.id,
            query: f.query,
            read_index,
            term: None,
            deadline: Some(f.deadline),
        });
        ForwardAnswer::Waiting
    }

    /// Everything whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Duration) -> Expired {
        let rounds = take_where(&mut self.by_round, |r| now >= r.deadline);
        let late: Vec<u64> = self
            .forwarded
            .iter()
            .filter(|(_, f)| now >= f.deadline)
            .map(|(k, _)| *k)
            .collect();
        let forwarded = late
            .into_iter()
            .filter_map(|k| self.forwarded.remove(&k))
            .map(|f| f.id)
            .collect();
        let applies = take_where(&mut self.by_apply, |r| r.deadline.is_some_and(|d| now >= d));
        Expired {
            rounds,
            forwarded,
            applies,
        }
    }

    /// Leadership lost: every leader read, waiting for a round or for its index, is returned to fail.
    pub fn step_down(&mut self) -> Lost {
        self.round_starts.clear();
        Lost {
            rounds: take_where(&mut self.by_round, |_| true),
            applies: take_where(&mut self.by_apply, |r| r.term.is_some()),
        }
    }
}

/// Removes and returns the items `done` picks, keeping the others in order.
fn take_where<T>(v: &mut Vec<T>, done: impl Fn(&T) -> bool) -> Vec<T> {
    let (taken, kept): (Vec<T>, Vec<T>) = std::mem::take(v).into_iter().partition(|x| done(x));
    *v = kept;
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const MS: Duration = Duration::from_millis(1);

    fn read_only() -> ReadOnly {
        ReadOnly::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7))
    }

    fn local(id: RequestId) -> Origin {
        Origin::Local {
            id,
            query: ReadQuery::Key("k".into()),
        }
    }

    fn ids(reads: &[ApplyRead]) -> Vec<RequestId> {
        reads.iter().map(|r| r.id).collect()
    }

    #[test]
    fn a_read_is_released_only_when_a_quorum_acknowledges_its_round() {
        let mut ro = read_only();
        ro.reset_rounds();
        assert_eq!(ro.new_round(MS), 1);
        ro.end_turn();
        // The first round's messages left before this read: it needs its own round.
        assert!(ro.needs_round());
        assert_eq!(ro.new_round(2 * MS), 2);
        assert!(!ro.needs_round());
        ro.add_request(local(7), 5, 100 * MS);
        // Acks of the earlier round confirm leadership only before the read arrived.
        let confirmed = ro.advance(1);
        assert_eq!(confirmed.map(|c| c.lease_start), Some(Some(MS)));
        assert!(ro.release(3).is_empty());
        assert!(ro.take_applied(u64::MAX).is_empty());
        assert_eq!(ro.advance(1), None, "nothing new");
        let confirmed = ro.advance(2);
        assert_eq!(confirmed.map(|c| c.lease_start), Some(Some(2 * MS)));
        assert!(
            ro.release(3).is_empty(),
            "a local read is not answered here"
        );
        // Then it waits for its index to be applied.
        assert!(ro.take_applied(4).is_empty());
        let done = ro.take_applied(5);
        assert_eq!((ids(&done), done[0].term), (vec![7], Some(3)));
        assert!(ro.take_applied(u64::MAX).is_empty());
    }

    #[test]
    fn forwarded_reads_are_answered_with_their_index() {
        let mut ro = read_only();
        ro.new_round(MS);
        let from = Origin::Remote {
            from: "n2".into(),
            id: 11,
        };
        ro.add_request(from, 9, 100 * MS);
        ro.add_request(local(1), 9, 100 * MS);
        assert!(ro.advance(1).is_some());
        assert_eq!(ro.release(2), vec![("n2".to_string(), 11, 9)]);
        assert_eq!(ids(&ro.take_applied(9)), [1]);
    }

    #[test]
    fn a_new_leadership_does_not_count_old_rounds() {
        let mut ro = read_only();
        ro.new_round(MS);
        ro.new_round(2 * MS);
        ro.reset_rounds();
        assert_eq!(ro.advance(2), None);
        ro.new_round(3 * MS);
        assert_eq!(
            ro.advance(3),
            Some(Confirmed {
                lease_start: Some(3 * MS)
            })
        );
    }

    #[test]
    fn follower_reads_wait_for_the_leader_then_the_index() {
        let mut ro = read_only();
        let a = ro.forward(1, ReadQuery::Key("k".into()), 10 * MS);
        let b = ro.forward(2, ReadQuery::Key("k".into()), 20 * MS);
        let c = ro.forward(3, ReadQuery::Key("k".into()), 20 * MS);
        assert!(a != b && b != c && a != c);
        assert_eq!(ro.recv_read_index(b, None), ForwardAnswer::Refused(2));
        assert_eq!(ro.recv_read_index(b, Some(4)), ForwardAnswer::Unknown);
        assert_eq!(ro.recv_read_index(c, Some(4)), ForwardAnswer::Waiting);
        assert!(ro.take_applied(3).is_empty());
        let expired = ro.expire(10 * MS);
        assert_eq!((expired.forwarded, expired.applies.len()), (vec![1], 0));
        assert_eq!(ro.recv_read_index(a, Some(1)), ForwardAnswer::Unknown);
        // Still not applied at its deadline: it fails rather than answer late.
        assert_eq!(ids(&ro.expire(20 * MS).applies), [3]);
        assert!(ro.take_applied(u64::MAX).is_empty());
    }

    #[test]
    fn stepping_down_loses_leader_reads_but_not_follower_reads() {
        let mut ro = read_only();
        ro.new_round(MS);
        ro.add_request(local(1), 2, 100 * MS);
        ro.add_request(local(2), 2, 100 * MS);
        ro.advance(1);
        ro.release(1);
        let fid = ro.forward(3, ReadQuery::Key("k".into()), 100 * MS);
        ro.recv_read_index(fid, Some(2));
        ro.new_round(2 * MS);
        ro.add_request(local(4), 2, 100 * MS);
        let lost = ro.step_down();
        assert_eq!(lost.rounds.len(), 1);
        assert_eq!(lost.rounds[0].origin, local(4));
        assert_eq!(ids(&lost.applies), [1, 2]);
        assert_eq!(ids(&ro.take_applied(2)), [3]);
        // Its open rounds are gone: confirming them renews nothing.
        assert_eq!(ro.advance(2), Some(Confirmed { lease_start: None }));
    }

    #[test]
    fn a_round_without_a_quorum_fails_its_reads_at_the_deadline() {
        let mut ro = read_only();
        ro.new_round(MS);
        ro.add_request(local(1), 2, 5 * MS);
        assert!(ro.expire(4 * MS).rounds.is_empty());
        assert_eq!(ro.expire(5 * MS).rounds[0].origin, local(1));
        ro.advance(1);
        assert!(ro.release(1).is_empty());
        assert!(ro.take_applied(u64::MAX).is_empty());
    }
}
