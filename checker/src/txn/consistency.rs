//! Consistency models and the anomalies each rules out (after Adya, and Elle's `elle.consistency-model`),
//! restricted to the models `--consistency` names. The `strong-session-` models add each session's own
//! order to the plain model (a session sees its earlier transactions); `strict-serializable` adds real
//! time, and implies `strong-session-serializable`.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A consistency model, strongest first (a partial order: see `implies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    StrictSerializable,
    StrongSessionSerializable,
    Serializable,
    StrongSessionSnapshotIsolation,
    SnapshotIsolation,
    RepeatableRead,
    StrongSessionReadCommitted,
    ReadCommitted,
    StrongSessionReadUncommitted,
    ReadUncommitted,
}

impl Consistency {
    pub const ALL: [Consistency; 10] = [
        Consistency::StrictSerializable,
        Consistency::StrongSessionSerializable,
        Consistency::Serializable,
        Consistency::StrongSessionSnapshotIsolation,
        Consistency::SnapshotIsolation,
        Consistency::RepeatableRead,
        Consistency::StrongSessionReadCommitted,
        Consistency::ReadCommitted,
        Consistency::StrongSessionReadUncommitted,
        Consistency::ReadUncommitted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::StrictSerializable => "strict-serializable",
            Consistency::StrongSessionSerializable => "strong-session-serializable",
            Consistency::Serializable => "serializable",
            Consistency::StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
            Consistency::SnapshotIsolation => "snapshot-isolation",
            Consistency::RepeatableRead => "repeatable-read",
            Consistency::StrongSessionReadCommitted => "strong-session-read-committed",
            Consistency::ReadCommitted => "read-committed",
            Consistency::StrongSessionReadUncommitted => "strong-session-read-uncommitted",
            Consistency::ReadUncommitted => "read-uncommitted",
        }
    }

    /// The models this one directly implies (snapshot isolation and repeatable read are incomparable;
    /// a strong-session model implies its plain model and the next weaker strong-session one).
    fn weaker(self) -> &'static [Consistency] {
        use Consistency::*;
        match self {
            StrictSerializable => &[StrongSessionSerializable],
            StrongSessionSerializable => &[Serializable, StrongSessionSnapshotIsolation],
            Serializable => &[SnapshotIsolation, RepeatableRead],
            StrongSessionSnapshotIsolation => &[SnapshotIsolation, StrongSessionReadCommitted],
            SnapshotIsolation | RepeatableRead => &[ReadCommitted],
            StrongSessionReadCommitted => &[ReadCommitted, StrongSessionReadUncommitted],
            ReadCommitted => &[ReadUncommitted],
            StrongSessionReadUncommitted => &[ReadUncommitted],
            ReadUncommitted => &[],
        }
    }

    /// Whether the model adds a session's own order to a plain model.
    pub fn is_strong_session(self) -> bool {
        self.as_str().starts_with("strong-session-")
    }

    /// Whether `self` implies `other` (every history `self` allows, `other` allows).
    pub fn implies(self, other: Consistency) -> bool {
        self == other || self.weaker().iter().any(|w| w.implies(other))
    }

    /// The weakest models an anomaly rules out (everything implying them is ruled out too).
    pub fn ruled_out_by(anomaly: &str) -> &'static [Consistency] {
        use Consistency::*;
        if anomaly.ends_with("-realtime") {
            return &[StrictSerializable];
        }
        // A cycle that needs a session's own order rules out the strong-session form of what the plain
        // cycle would rule out (Elle's table; there is no strong-session repeatable read).
        if let Some(base) = anomaly.strip_suffix("-process") {
            return match base {
                "G0" => &[StrongSessionReadUncommitted],
                "G1a" | "G1b" | "G1c" => &[StrongSessionReadCommitted],
                "G-single" | "lost-update" => &[StrongSessionSnapshotIsolation],
                _ => &[StrongSessionSerializable],
            };
        }
        match anomaly {
            "G0" => &[ReadUncommitted],
            "G1a" | "G1b" | "G1c" => &[ReadCommitted],
            "G-single" => &[SnapshotIsolation, RepeatableRead],
            "lost-update" => &[SnapshotIsolation, RepeatableRead],
            "G2-item" => &[RepeatableRead],
            // A read that contradicts its own transaction's writes: snapshot isolation (and so
            // serializability) forbids it; Adya's repeatable read and read committed say nothing of
            // it (Elle's table). InnoDB's repeatable read shows it: a write works on the latest row.
            "internal" => &[SnapshotIsolation],
            // Reads no single version order explains imply a dirty read (G1a), as in Elle.
            "incompatible-order" => &[ReadCommitted],
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
#[error("unknown consistency model {0:?}: expected strict-serializable, serializable, snapshot-isolation, repeatable-read, read-committed, read-uncommitted, or strong-session- before serializable, snapshot-isolation, read-committed or read-uncommitted")]
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
/// `strongest` the strongest models still allowed. Without sessions in the history (no `:process`),
/// `strongest` names no strong-session model: it would hold only because nothing could break it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub not: Vec<Consistency>,
    pub also_not: Vec<Consistency>,
    pub strongest: Vec<Consistency>,
}

pub fn verdict<'a>(anomalies: impl Iterator<Item = &'a str>, sessions: bool) -> Verdict {
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
    let allowed: Vec<Consistency> = Consistency::ALL
        .into_iter()
        .filter(|&c| !out(c) && (sessions || !c.is_strong_session()))
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_order_is_a_partial_order() {
        for c in Consistency::ALL {
            assert_eq!(c.as_str().parse::<Consistency>(), Ok(c));
            assert!(c.implies(c));
            // Strongest first: nothing implies a model listed before it.
            for d in Consistency::ALL {
                if d != c && c.implies(d) {
                    assert!(c < d, "{c} implies {d} but is listed after it");
                    assert!(!d.implies(c), "{c} and {d} imply each other");
                }
            }
        }
        assert!(Consistency::StrictSerializable.implies(Consistency::ReadUncommitted));
        assert!(!Consistency::Serializable.implies(Consistency::StrongSessionReadUncommitted));
        assert!(!Consistency::SnapshotIsolation.implies(Consistency::RepeatableRead));
    }

    #[test]
    fn process_cycles_rule_out_the_strong_session_form_only() {
        let v = verdict(["G1c-process"].into_iter(), true);
        assert_eq!(v.not, vec![Consistency::StrongSessionReadCommitted]);
        assert!(v.also_not.contains(&Consistency::StrictSerializable));
        assert!(v.also_not.contains(&Consistency::StrongSessionSerializable));
        assert!(!v.also_not.contains(&Consistency::Serializable));
        assert_eq!(
            v.strongest,
            vec![
                Consistency::Serializable,
                Consistency::StrongSessionReadUncommitted
            ]
        );
        let v = verdict(["internal", "lost-update"].into_iter(), true);
        assert_eq!(
            v.not,
            vec![Consistency::SnapshotIsolation, Consistency::RepeatableRead]
        );
        assert_eq!(v.strongest, vec![Consistency::StrongSessionReadCommitted]);
        let v = verdict(["G2-item-process"].into_iter(), true);
        assert_eq!(v.not, vec![Consistency::StrongSessionSerializable]);
        assert_eq!(
            v.strongest,
            vec![
                Consistency::Serializable,
                Consistency::StrongSessionSnapshotIsolation
            ]
        );
    }
}
