//! Consistency models and the anomalies each rules out (after Adya, and Elle's `elle.consistency-model`),
//! restricted to the models `--consistency` names.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A consistency model, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    StrictSerializable,
    Serializable,
    SnapshotIsolation,
    RepeatableRead,
    ReadCommitted,
    ReadUncommitted,
}

impl Consistency {
    pub const ALL: [Consistency; 6] = [
        Consistency::StrictSerializable,
        Consistency::Serializable,
        Consistency::SnapshotIsolation,
        Consistency::RepeatableRead,
        Consistency::ReadCommitted,
        Consistency::ReadUncommitted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::StrictSerializable => "strict-serializable",
            Consistency::Serializable => "serializable",
            Consistency::SnapshotIsolation => "snapshot-isolation",
            Consistency::RepeatableRead => "repeatable-read",
            Consistency::ReadCommitted => "read-committed",
            Consistency::ReadUncommitted => "read-uncommitted",
        }
    }

    /// The models this one directly implies (snapshot isolation and repeatable read are incomparable).
    fn weaker(self) -> &'static [Consistency] {
        use Consistency::*;
        match self {
            StrictSerializable => &[Serializable],
            Serializable => &[SnapshotIsolation, RepeatableRead],
            SnapshotIsolation | RepeatableRead => &[ReadCommitted],
            ReadCommitted => &[ReadUncommitted],
            ReadUncommitted => &[],
        }
    }

    /// Whether `self` implies `other` (every history `self` allows, `other` allows).
    pub fn implies(self, other: Consistency) -> bool {
        self == other || self.weaker().iter().any(|w| w.implies(other))
    }

    /// The weakest models an anomaly rules out (everything implying them is ruled out too).
    pub fn ruled_out_by(anomaly: &str) -> &'static [Consistency] {
        use Consistency::*;
        if anomaly.ends_with("-process") || anomaly.ends_with("-realtime") {
            // Process order is real-time order for a process that waits for each transaction.
            return &[StrictSerializable];
        }
        match anomaly {
            "G0" => &[ReadUncommitted],
            "G1a" | "G1b" | "G1c" => &[ReadCommitted],
            "G-single" => &[SnapshotIsolation, RepeatableRead],
            "lost-update" => &[SnapshotIsolation, RepeatableRead],
            "G2-item" => &[RepeatableRead],
            // A history no database could have produced under any isolation level.
            _ => &[ReadUncommitted],
        }
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `--consistency` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consistency model {0:?}: expected strict-serializable, serializable, snapshot-isolation, repeatable-read, read-committed or read-uncommitted")]
pub struct UnknownConsistency(pub String);

impl FromStr for Consistency {
    type Err = UnknownConsistency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Consistency::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.as_str().replace('-', "_") == s)
            .ok_or_else(|| UnknownConsistency(s.to_string()))
    }
}

/// Which models the anomalies rule out: `not` the weakest ruled out, `also_not` those implying them;
/// `strongest` the strongest models still allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub not: Vec<Consistency>,
    pub also_not: Vec<Consistency>,
    pub strongest: Vec<Consistency>,
}

pub fn verdict<'a>(anomalies: impl Iterator<Item = &'a str>) -> Verdict {
    let mut base: Vec<Consistency> = anomalies
        .flat_map(|a| Consistency::ruled_out_by(a).iter().copied())
        .collect();
    base.sort();
    base.dedup();
    let out = |c: Consistency| base.iter().any(|&b| c.implies(b));
    let not: Vec<Consistency> = base
        .iter()
        .copied()
        .filter(|&b| !base.iter().any(|&o| o != b && b.implies(o)))
        .collect();
    let also_not = Consistency::ALL
        .into_iter()
        .filter(|&c| out(c) && !not.contains(&c))
        .collect();
    let allowed: Vec<Consistency> = Consistency::ALL.into_iter().filter(|&c| !out(c)).collect();
    let strongest = allowed
        .iter()
        .copied()
        .filter(|&c| !allowed.iter().any(|&o| o != c && o.implies(c)))
        .collect();
    Verdict {
        not,
        also_not,
        strongest,
    }
}
