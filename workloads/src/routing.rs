//! Where each worker sends its requests, as a load balancer would (docs/protocol.md, "Client routing"):
//!
//! - `sticky` (default): worker *i* is a session whose home is node *i mod n*. Every op goes home first; a
//!   `not_leader` answer that names a leader is retried once there (the answering node decides, as a proxy
//!   would), and the next op goes home again. Home is down when a connection to it cannot be made or two
//!   requests in a row time out: the session then fails over to the next node and keeps it as its home.
//! - `leader`: start at node *i mod n*, follow `not_leader` hints (up to two hops) and stay where the leader
//!   was found; after a timeout, an unreachable node or no known leader, move on to the next node.
//! - `round-robin`: op *k* of worker *i* goes to node *(i + k) mod n*; a `not_leader` hint is retried once.

use crate::client::{transport_failure, Attempt, Outcome, TransportFailure};
use crate::settings::Routing;
use protocol::ErrorCode;
use serde::Serialize;

/// Timeouts in a row at home after which a sticky session gives home up.
const TIMEOUTS_TO_FAIL_OVER: u32 = 2;

/// A sticky session moving to a new home: recorded in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failover {
    pub session: usize,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// What to do after one attempt.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Next {
    /// Send the same op again, to this node (a `not_leader` hint).
    pub retry: Option<usize>,
    /// The session changed its home.
    pub failover: Option<Failover>,
}

/// Where one worker sends its next request.
#[derive(Debug)]
pub struct Route {
    routing: Routing,
    nodes: usize,
    /// The worker (session) this route belongs to.
    pub session: usize,
    /// sticky: home; leader: where the leader was last found; round-robin: the next node in turn.
    cursor: usize,
    /// The node the current op was sent to first.
    first: usize,
    /// Timeouts in a row at home (sticky).
    timeouts: u32,
}

impl Route {
    pub fn new(routing: Routing, nodes: usize, worker: usize) -> Route {
        let nodes = nodes.max(1);
        Route {
            routing,
            nodes,
            session: worker,
            cursor: worker % nodes,
            first: worker % nodes,
            timeouts: 0,
        }
    }

    /// The node whose side of a partition the session's client is on: the one it started on (*worker mod
    /// n*), whatever its home is now. Partitions that reach clients cut a session off with that side.
    /// Failing over changes where a session sends, not where its client is: a client on the cut-off side
    /// that moves to a node across the cut is still cut off, as it would be on a real network.
    pub fn side(&self) -> usize {
        self.session % self.nodes
    }

    /// Most hops one op follows `not_leader` hints.
    pub fn max_hops(&self) -> usize {
        match self.routing {
            Routing::Leader => 2,
            Routing::Sticky | Routing::RoundRobin => 1,
        }
    }

    /// The node the next op goes to first.
    pub fn target(&mut self) -> usize {
        self.first = self.cursor;
        if self.routing == Routing::RoundRobin {
            self.cursor = (self.cursor + 1) % self.nodes;
        }
        self.first
    }

    /// After an attempt at node `at`: whether to retry the op elsewhere, and where later ops go.
    pub fn after(&mut self, at: usize, a: &Attempt, names: &[String]) -> Next {
        let hint = a
            .leader
            .as_ref()
            .and_then(|l| names.iter().position(|n| n == l))
            .filter(|h| *h != at);
        let not_leader = matches!(
            (&a.outcome, a.code),
            (Outcome::Fail { .. }, Some(ErrorCode::NotLeader))
        );
        match self.routing {
            Routing::Leader => self.after_leader(a, not_leader, hint),
            Routing::RoundRobin => Next {
                retry: hint.filter(|_| not_leader),
                failover: None,
            },
            Routing::Sticky => {
                let failover = if at == self.first {
                    self.sticky_home(a, names)
                } else {
                    None
                };
                Next {
                    retry: hint.filter(|_| not_leader),
                    failover,
                }
            }
        }
    }

    fn after_leader(&mut self, a: &Attempt, not_leader: bool, hint: Option<usize>) -> Next {
        match (&a.outcome, a.code, hint) {
            (_, _, Some(h)) if not_leader => {
                self.cursor = h;
                Next {
                    retry: Some(h),
                    failover: None,
                }
            }
            (Outcome::Ok { .. }, _, _) | (_, Some(ErrorCode::CasFailed), _) => Next::default(),
            // Unreachable, timed out, or no leader known there: try the next node next time.
            _ => {
                self.cursor = (self.cursor + 1) % self.nodes;
                Next::default()
            }
        }
    }

    /// A sticky session's answer from home: fail over when home is down.
    fn sticky_home(&mut self, a: &Attempt, names: &[String]) -> Option<Failover> {
        let reason = match transport_failure(a) {
            Some(TransportFailure::Connect) => Some("could not connect".to_string()),
            Some(TransportFailure::Timeout) => {
                self.timeouts += 1;
                (self.timeouts >= TIMEOUTS_TO_FAIL_OVER)
                    .then(|| format!("{} timeouts in a row", self.timeouts))
            }
            // Home answered (even with an error): it is up.
            None => {
                self.timeouts = 0;
                None
            }
        }?;
        let from = self.cursor;
        self.cursor = (self.cursor + 1) % self.nodes;
        self.timeouts = 0;
        let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        Some(Failover {
            session: self.session,
            from: name(from),
            to: name(self.cursor),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{attempt, CONNECT_ERROR, TIMEOUT_ERROR};

    fn with(outcome: Outcome, code: Option<ErrorCode>, leader: Option<&str>) -> Attempt {
        Attempt {
            code,
            leader: leader.map(str::to_string),
            ..attempt("n1", outcome)
        }
    }

    fn names() -> Vec<String> {
        vec!["n1".into(), "n2".into(), "n3".into()]
    }

    fn not_leader(hint: &str) -> Attempt {
        with(
            Outcome::Fail { error: "x".into() },
            Some(ErrorCode::NotLeader),
            Some(hint),
        )
    }

    fn timeout() -> Attempt {
        with(
            Outcome::Info {
                error: TIMEOUT_ERROR.into(),
            },
            None,
            None,
        )
    }

    fn ok() -> Attempt {
        with(Outcome::Ok { read: None }, None, None)
    }

    #[test]
    fn leader_routing_follows_hints_and_moves_on_after_timeouts() {
        let mut r = Route::new(Routing::Leader, 3, 0);
        assert_eq!(r.target(), 0);
        assert_eq!(r.after(0, &not_leader("n3"), &names()).retry, Some(2));
        assert_eq!(r.target(), 2, "later ops go to the hinted leader");
        assert_eq!(r.after(2, &ok(), &names()), Next::default());
        assert_eq!(r.target(), 2);
        assert_eq!(r.after(2, &timeout(), &names()), Next::default());
        assert_eq!(r.target(), 0, "after a timeout the next node is tried");
        assert_eq!(r.max_hops(), 2);
    }

    #[test]
    fn sticky_retries_a_hint_once_and_goes_home_again() {
        let mut s = Route::new(Routing::Sticky, 3, 4);
        assert_eq!(s.max_hops(), 1);
        for _ in 0..5 {
            assert_eq!(s.target(), 1, "worker 4 lives on node 4 mod 3");
            let next = s.after(1, &not_leader("n3"), &names());
            assert_eq!(next.retry, Some(2));
            assert_eq!(next.failover, None);
            // The retry at the hinted node timing out says nothing about home.
            assert_eq!(s.after(2, &timeout(), &names()), Next::default());
        }
        assert_eq!(s.target(), 1);
    }

    #[test]
    fn sticky_fails_over_on_refusal_or_two_timeouts_in_a_row() {
        let mut s = Route::new(Routing::Sticky, 3, 2);
        assert_eq!(s.target(), 2);
        let refused = with(
            Outcome::Fail {
                error: format!("{CONNECT_ERROR}connection refused"),
            },
            None,
            None,
        );
        let f = s.after(2, &refused, &names()).failover.unwrap();
        assert_eq!((f.session, f.from.as_str(), f.to.as_str()), (2, "n3", "n1"));
        assert_eq!(s.target(), 0, "the new home is kept");
        assert_eq!(s.target(), 0);
        // One timeout, then an answer, then one timeout: never two in a row.
        assert_eq!(s.after(0, &timeout(), &names()).failover, None);
        assert_eq!(s.after(0, &ok(), &names()).failover, None);
        assert_eq!(s.after(0, &timeout(), &names()).failover, None);
        let f = s.after(0, &timeout(), &names()).failover.unwrap();
        assert_eq!((f.from.as_str(), f.to.as_str()), ("n1", "n2"));
        assert!(f.reason.contains("2 timeouts"), "{}", f.reason);
        assert_eq!(s.target(), 1);
        // Its client has not moved: it still sends from the side of the node it started on.
        assert_eq!(s.side(), 2);
    }

    #[test]
    fn round_robin_turns_and_retries_a_hint_once() {
        let mut rr = Route::new(Routing::RoundRobin, 3, 0);
        let seq: Vec<usize> = (0..6).map(|_| rr.target()).collect();
        assert_eq!(seq, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(rr.after(0, &not_leader("n2"), &names()).retry, Some(1));
        assert_eq!(rr.after(0, &not_leader("n1"), &names()).retry, None);
        assert_eq!(rr.max_hops(), 1);
    }
}
