//! Fault families, each in one module that owns what the family knows: its kinds (name, whether `all`
//! includes it, how it is aimed), the nemesis event names it writes into the history and how a stored
//! history's events pair into fault windows, its drawing colour, what it needs at the start of a run, and
//! how its faults are applied, checked for landing and undone ([`Ops`], in the context of a [`Run`]).
//! As Jepsen's `nemesis/combined.clj` keeps each family as one package, composed.
//!
//! The harness, the report and compare read these descriptions instead of matching on fault names.
//! Adding a family is one file here, declaring its kinds as constants ([`FaultKind::new`]) and its
//! [`Family`], plus its name in the `families!` line below; [`FaultKind::EVERY`] is collected from
//! the families. Options it reads go in [`settings`], filled by the harness.

use crate::fault_kind::FaultKind;

mod kind;
pub mod run;
pub mod settings;

pub use kind::{Aim, Channel, Events, Family, Kind, Layer, SpanKind, StartNeed};
pub use run::{Active, Applied, Cluster, Nodes, Ops, Record, Run};
pub use settings::Settings;

/// Declares each family's module (`pub mod <name>`, whose `FAMILY` it lists) and [`FAMILIES`], in the
/// order given, so that a new family is one name here.
macro_rules! families {
    ($($family:ident),+ $(,)?) => {
        $(pub mod $family;)+

        /// Every family, composed.
        pub const FAMILIES: [&Family; [$(stringify!($family)),+].len()] = [$(&$family::FAMILY),+];
    };
}

families![partition, process, clock, packet, disk];

/// How many kinds there are: every family's, counted.
const COUNT: usize = {
    let (mut f, mut n) = (0, 0);
    while f < FAMILIES.len() {
        n += FAMILIES[f].kinds.len();
        f += 1;
    }
    n
};

impl FaultKind {
    /// Every fault kind, once each, in the order help text lists them ([`Kind::order`]);
    /// [`FaultKind::ALL`] is derived from it. Collected from the families, so a new kind is listed only
    /// in its family; a kind two families own (or two kinds with one order or one name), or a gap in
    /// the orders, fails to compile.
    pub const EVERY: [FaultKind; COUNT] = {
        let mut out = [FAMILIES[0].kinds[0]; COUNT];
        let mut filled = [false; COUNT];
        let mut f = 0;
        while f < FAMILIES.len() {
            let kinds = FAMILIES[f].kinds;
            let mut i = 0;
            while i < kinds.len() {
                let at = kinds[i].describe().order as usize;
                assert!(
                    at < COUNT && !filled[at],
                    "a fault kind owned by two families, two kinds with one order, or a gap in the orders"
                );
                out[at] = kinds[i];
                filled[at] = true;
                i += 1;
            }
            f += 1;
        }
        let mut a = 0;
        while a < COUNT {
            let mut b = a + 1;
            while b < COUNT {
                assert!(
                    !same_str(out[a].name(), out[b].name()),
                    "two fault kinds with one name"
                );
                b += 1;
            }
            a += 1;
        }
        out
    };

    /// Whether this fault is a network partition (built with [`crate::partition_for`]).
    pub fn is_partition(self) -> bool {
        self.family().name == partition::FAMILY.name
    }

    /// Whether this fault delays, drops or duplicates packets.
    pub fn is_packet(self) -> bool {
        self.family().name == packet::FAMILY.name
    }

    /// Whether the harness must know the leader to aim this fault (a follower is "not the leader"; the
    /// clock fault slows the leader's clock). These are refused against a system that reports no leader.
    pub fn needs_leader(self) -> bool {
        self.describe().aim.needs_leader()
    }

    /// Whether undoing this fault restarts nodes (a kill's, corrupt-data's), so its undo may wait for
    /// them to rejoin.
    pub fn restarts(self) -> bool {
        self.family().ops.restarts(self)
    }

    /// What a fault acts on, for [`FaultKind::composes_with`]: its family's layer.
    fn layer(self) -> Layer {
        self.family().layer
    }

    /// Whether two faults may be on at once (overlapping windows in a schedule). They compose when they
    /// act on different things and neither hides the other's landing check: a partition or a packet fault
    /// with a kill or pause (whose landing is read from the process state). Two partitions cannot (one
    /// partition state), two process faults could aim at the same node, and a partition would cut the
    /// probes that measure a packet fault.
    pub fn composes_with(self, other: FaultKind) -> bool {
        matches!(
            (self.layer(), other.layer()),
            (Layer::Processes, Layer::Network | Layer::Packets)
                | (Layer::Network | Layer::Packets, Layer::Processes)
        )
    }

    /// The family that owns this kind.
    pub const fn family(self) -> &'static Family {
        let mut f = 0;
        while f < FAMILIES.len() {
            let kinds = FAMILIES[f].kinds;
            let mut i = 0;
            while i < kinds.len() {
                if kinds[i].describe().order == self.describe().order {
                    return FAMILIES[f];
                }
                i += 1;
            }
            f += 1;
        }
        panic!("a fault kind that no family owns")
    }
}

/// `a == b`, usable in a const (for [`FaultKind::EVERY`]'s check).
const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The kind named `name` (`partition-leader`, ...), if any family owns one.
pub fn kind_named(name: &str) -> Option<FaultKind> {
    FaultKind::EVERY.into_iter().find(|k| k.name() == name)
}

/// A fixed colour per known fault kind (so every plot and table agrees), a hashed one otherwise.
pub fn fault_color(name: &str) -> &'static str {
    const OTHERS: [&str; 4] = ["#8cd17d", "#d4a6c8", "#86bcb6", "#bab0ac"];
    kind_named(name)
        .and_then(|k| k.describe().color)
        .unwrap_or_else(|| OTHERS[name.bytes().map(usize::from).sum::<usize>() % OTHERS.len()])
}

/// Faults aimed at the leader after which a new leader must be found (the ones whose unavailability
/// window is measured), by name.
pub fn is_leader_fault(name: &str) -> bool {
    kind_named(name).is_some_and(|k| k.describe().leader_fault)
}

/// Every start/stop event pair of every family.
pub fn all_events() -> impl Iterator<Item = &'static Events> {
    FAMILIES.iter().flat_map(|f| f.events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_family_and_its_own_description() {
        for k in FaultKind::EVERY {
            assert_eq!(FaultKind::new(k.describe()), k);
            let owners = FAMILIES.iter().filter(|f| f.kinds.contains(&k)).count();
            assert_eq!(owners, 1, "{k}");
        }
        let described: usize = FAMILIES.iter().map(|f| f.kinds.len()).sum();
        assert_eq!(described, FaultKind::EVERY.len());
    }

    #[test]
    fn the_faults_that_restart_are_the_kills_and_corrupt_data() {
        for k in FaultKind::EVERY {
            let expected = k.name().starts_with("kill-") || k == disk::CORRUPT_DATA;
            assert_eq!(k.restarts(), expected, "{k}");
        }
    }

    #[test]
    fn colours_are_fixed_for_the_first_kinds_and_hashed_otherwise() {
        assert_eq!(fault_color("partition-leader"), "#e15759");
        assert_eq!(fault_color("clock-skew"), "#ff9da7");
        assert_eq!(fault_color("kill-random"), "#9c755f");
        let hashed = |k: &str| {
            ["#8cd17d", "#d4a6c8", "#86bcb6", "#bab0ac"]
                [k.bytes().map(usize::from).sum::<usize>() % 4]
        };
        for k in ["partition-random", "kill-all", "packet-loss", "whatever"] {
            assert_eq!(fault_color(k), hashed(k), "{k}");
        }
    }

    #[test]
    fn leader_faults_are_the_four_that_force_an_election() {
        let names: Vec<&str> = FaultKind::EVERY
            .iter()
            .map(|k| k.describe())
            .filter(|d| d.leader_fault)
            .map(|d| d.name)
            .collect();
        assert_eq!(
            names,
            [
                "partition-leader",
                "kill-leader",
                "pause-leader",
                "clock-skew"
            ]
        );
    }
}
