//! What a family is made of: its kinds and how each is aimed, its events, its layer, its start needs and
//! its operations. Apart from the composer ([`super::FAMILIES`]) so that each family can name these
//! types without using the module that lists it.

use super::run::Ops;
use crate::fault::FaultKind;

/// One fault family: the kinds it owns and what they share.
#[derive(Debug)]
pub struct Family {
    /// `partition`, `process`, `clock`, `packet`, `disk`.
    pub name: &'static str,
    pub kinds: &'static [Kind],
    /// The nemesis events the family writes, each start with the stop that ends it.
    pub events: &'static [Events],
    /// What the family needs of the system at the start of a run, beyond a leader for the kinds aimed
    /// at one (those are refused at the start otherwise, exit 254).
    pub start_needs: &'static [StartNeed],
    /// What the family acts on, for [`FaultKind::composes_with`].
    pub layer: Layer,
    /// How its kinds are applied and undone (with their landing probes), for the harness to compose.
    pub ops: &'static dyn Ops,
}

/// One fault kind, described.
#[derive(Debug)]
pub struct Kind {
    pub kind: FaultKind,
    /// The name users type (`partition-leader`, ...), also its serde name.
    pub name: &'static str,
    /// Whether `all` includes it: every fault that runs on any Linux machine and keeps the data.
    pub in_all: bool,
    /// Whom it is aimed at; the role recorded for it.
    pub aim: Aim,
    /// Whether it is drawn in the report as a fault after which a new leader must be found (its
    /// unavailability window is measured).
    pub leader_fault: bool,
    /// Its fixed colour in every plot and table; `None`: a colour hashed from the name.
    pub color: Option<&'static str>,
}

impl Kind {
    /// A kind that `all` includes (every family's but packet and disk faults).
    pub(crate) const fn in_all(
        kind: FaultKind,
        name: &'static str,
        aim: Aim,
        leader_fault: bool,
        color: Option<&'static str>,
    ) -> Kind {
        Kind {
            kind,
            name,
            in_all: true,
            aim,
            leader_fault,
            color,
        }
    }
}

/// Whom a fault is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aim {
    /// The leader (needed: refused against a leaderless system).
    Leader,
    /// A node that is not the leader (so the leader must be known).
    Follower,
    /// Any node, the leader placed when the system has one (partition shapes).
    AnyPlaced,
    /// The leader's side when there is a leader, any node otherwise (partition-halves).
    LeaderIfKnown,
    /// Every node, the leader placed when the system has one (the ring).
    AllPlaced,
    /// Any node drawn at random; no leader needed or waited for.
    Any,
    /// Every node; no leader needed or waited for.
    All,
}

impl Aim {
    /// Whether the harness must know the leader to aim the fault at all.
    pub const fn needs_leader(self) -> bool {
        matches!(self, Aim::Leader | Aim::Follower)
    }

    /// Whether the fault waits for the leader (to place it) when the system has one.
    pub const fn waits_for_leader(self) -> bool {
        !matches!(self, Aim::Any | Aim::All)
    }

    /// The role recorded for the fault, given whether a leader was found.
    pub const fn role(self, leader_known: bool) -> &'static str {
        match self {
            Aim::Leader => "leader",
            Aim::Follower => "follower",
            Aim::LeaderIfKnown if leader_known => "leader",
            Aim::AnyPlaced | Aim::LeaderIfKnown | Aim::Any => "any",
            Aim::AllPlaced | Aim::All => "all",
        }
    }
}

/// What a fault acts on: the network (a partition, or the clock fault's isolation), packets on one node's
/// links, or the node processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Network,
    Packets,
    Processes,
}

/// A start event and the stop event that ends it, and how a stored history's pair becomes a fault window.
#[derive(Debug)]
pub struct Events {
    pub start: &'static str,
    pub stop: &'static str,
    /// What one start opens and its stop closes.
    pub channel: Channel,
    /// The window's kind, read from the start event; `None`: the pair is not drawn from a history.
    pub span: Option<SpanKind>,
}

/// What a start event opens: one channel for the whole cluster, or one per node.
#[derive(Debug, Clone, Copy)]
pub enum Channel {
    Cluster(&'static str),
    /// `<prefix> <node>`, the event's first node.
    PerNode(&'static str),
}

/// How a window's kind is read from its start event.
#[derive(Debug, Clone, Copy)]
pub enum SpanKind {
    /// The event's `fault` field, else this name; windows whose `fault` names a kind of another family
    /// (the clock fault's isolation) belong to that family's window and are skipped.
    Field(&'static str),
    /// This base, with `-leader` appended when the event's `role` is `leader`.
    ByRole(&'static str),
    /// Always this kind.
    Fixed(&'static str),
}

/// What a family needs of the system under test, checked at the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartNeed {
    /// `POST /admin/clock` on every node (probed with a no-op).
    ClockEndpoint,
}
