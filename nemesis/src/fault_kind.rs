//! A fault kind: a `Copy` handle to the description its family declares in its own file, so a new kind
//! needs no central list. Apart from the registry ([`crate::family`]) and parsing ([`crate::fault`]) so
//! that families, the registry and parsing can all name it without importing one another.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

/// One kind of fault the nemesis can inject (`partition-leader`, ...), as a family declares it:
/// `pub const LEADER: FaultKind = FaultKind::new(&Kind { .. })`. Targets are resolved by the harness at
/// fault time.
///
/// Equal when the descriptions are (names are unique, checked when [`FaultKind::EVERY`] is built);
/// derived structurally so the constants can be `match` patterns. Ordered by [`Kind::order`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultKind(&'static Kind);

/// One fault kind, described by the family that owns it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Kind {
    /// The name users type (`partition-leader`, ...), also its serde name.
    pub name: &'static str,
    /// Its place in [`FaultKind::EVERY`] (help lists, `all`, error messages, seeded schedules): the
    /// order the kinds were added in, not the family's, so seeds keep drawing the same faults. A new
    /// kind takes the next number; two kinds with one number fail to compile.
    pub order: u8,
    /// Whether `all` includes it: every fault that runs on any Linux machine and keeps the data.
    pub in_all: bool,
    /// Whom it is aimed at; the role recorded for it.
    pub aim: Aim,
    /// Whether it is drawn in the report as a fault after which a new leader must be found (its
    /// unavailability window is measured).
    pub leader_fault: bool,
    /// Its fixed colour in every plot and table; `None`: a colour hashed from the name.
    pub color: Option<&'static str>,
    /// The fewest nodes it means anything with (a ring of 3 is no partition): a smaller cluster drops
    /// it from `all` and refuses it by name.
    pub min_nodes: u8,
}

impl Kind {
    /// A kind that `all` includes (every family's but packet and disk faults).
    pub const fn in_all(
        name: &'static str,
        order: u8,
        aim: Aim,
        leader_fault: bool,
        color: Option<&'static str>,
    ) -> Kind {
        Kind {
            name,
            order,
            in_all: true,
            aim,
            leader_fault,
            color,
            min_nodes: 1,
        }
    }

    /// The same kind, needing at least `n` nodes.
    pub const fn needs_nodes(self, n: u8) -> Kind {
        Kind {
            min_nodes: n,
            ..self
        }
    }
}

/// Whom a fault is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl FaultKind {
    /// The handle to `kind`, for a family's constants.
    pub const fn new(kind: &'static Kind) -> FaultKind {
        FaultKind(kind)
    }

    /// This kind's description, from its family.
    pub const fn describe(self) -> &'static Kind {
        self.0
    }

    /// The name users type (`partition-leader`, ...).
    pub const fn name(self) -> &'static str {
        self.0.name
    }

    /// Whether `all` includes this kind: every fault that runs on any Linux machine and keeps the data.
    /// Not in it: `corrupt-data` (destroys data on purpose) and the packet faults (they need `nft` and
    /// `iptables`, on the hosts too with `--hosts`). Each family decides for its kinds.
    pub const fn in_all(self) -> bool {
        self.0.in_all
    }

    /// The fewest nodes this kind means anything with.
    pub const fn min_nodes(self) -> u8 {
        self.0.min_nodes
    }
}

impl PartialOrd for FaultKind {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FaultKind {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.order.cmp(&other.0.order)
    }
}

/// As the enum it replaced printed (`PartitionLeader`), so debug output is unchanged.
impl fmt::Debug for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for word in self.name().split('-') {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                write!(f, "{}{}", first.to_ascii_uppercase(), chars.as_str())?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// As its name (`"partition-leader"`); deserialized by name through the families ([`crate::fault`]).
impl Serialize for FaultKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
