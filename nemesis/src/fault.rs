//! The fault kinds users name with `--nemesis`, and parsing of that option.

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::fault_kind::FaultKind;
use crate::Error;

/// How many kinds `all` expands to (the length of [`FaultKind::ALL`]).
const ALL_LEN: usize = {
    let (mut i, mut n) = (0, 0);
    while i < FaultKind::EVERY.len() {
        if FaultKind::EVERY[i].in_all() {
            n += 1;
        }
        i += 1;
    }
    n
};

impl FaultKind {
    // FaultKind itself is in crate::fault_kind; EVERY, every kind in the order help text lists them, is
    // collected from the families (crate::family), each of which declares its kinds in its own file.

    /// What `all` expands to, in order: the kinds of [`FaultKind::EVERY`] that [`FaultKind::in_all`]
    /// keeps. Derived, so a new kind is listed once and only classified here.
    pub const ALL: [FaultKind; ALL_LEN] = {
        let mut out = [FaultKind::EVERY[0]; ALL_LEN];
        let (mut i, mut n) = (0, 0);
        while i < FaultKind::EVERY.len() {
            if FaultKind::EVERY[i].in_all() {
                out[n] = FaultKind::EVERY[i];
                n += 1;
            }
            i += 1;
        }
        out
    };

    // in_all and name are the kind's description's (crate::fault_kind); is_partition, is_packet,
    // needs_leader and composes_with are read from the kind's family (crate::family), which owns them.

    /// Parses one name (not `none` or `all`).
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::EVERY.into_iter().find(|k| k.name() == name)
    }
}

/// Every kind's name, in [`FaultKind::EVERY`]'s order, for serde's error messages.
const NAMES: [&str; FaultKind::EVERY.len()] = {
    let mut out = [""; FaultKind::EVERY.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = FaultKind::EVERY[i].name();
        i += 1;
    }
    out
};

/// By name, with the errors a derived enum gave (`unknown variant ..., expected one of ...`).
impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = FaultKind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("variant identifier")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FaultKind, E> {
                FaultKind::from_name(v).ok_or_else(|| E::unknown_variant(v, &NAMES))
            }
        }
        d.deserialize_str(Name)
    }
}

/// Every name `--nemesis` accepts, comma separated, for error messages and help text.
pub fn valid_nemesis_names() -> String {
    let mut names = vec!["none"];
    names.extend(FaultKind::EVERY.iter().map(|k| k.name()));
    names.push("all");
    names.join(", ")
}

/// Parses a `--nemesis` value: a comma-separated list of names; `all` expands to every fault, `none`
/// contributes nothing. Duplicates are dropped, order of first mention is kept.
///
/// An empty value or an unknown name is an error listing the valid names.
pub fn parse_nemeses(s: &str) -> Result<Vec<FaultKind>, Error> {
    let mut out: Vec<FaultKind> = Vec::new();
    let push = |k: FaultKind, out: &mut Vec<FaultKind>| {
        if !out.contains(&k) {
            out.push(k);
        }
    };
    if s.trim().is_empty() {
        return Err(Error::UnknownNemesis {
            name: String::new(),
            valid: valid_nemesis_names(),
        });
    }
    for raw in s.split(',') {
        let name = raw.trim().to_ascii_lowercase();
        match name.as_str() {
            "none" => {}
            "all" => FaultKind::ALL.into_iter().for_each(|k| push(k, &mut out)),
            other => match FaultKind::from_name(other) {
                Some(k) => push(k, &mut out),
                None => {
                    return Err(Error::UnknownNemesis {
                        name: raw.trim().to_string(),
                        valid: valid_nemesis_names(),
                    })
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::FaultKind as K;
    use crate::family::{clock, disk, packet, partition, process};

    #[test]
    fn faults_compose_only_across_layers_with_processes() {
        assert!(partition::LEADER.composes_with(process::KILL_RANDOM));
        assert!(process::PAUSE_LEADER.composes_with(clock::SKEW));
        assert!(packet::LOSS.composes_with(process::PAUSE_RANDOM));
        assert!(!partition::LEADER.composes_with(partition::RANDOM));
        assert!(!clock::SKEW.composes_with(partition::HALVES));
        assert!(!process::KILL_RANDOM.composes_with(process::PAUSE_LEADER));
        assert!(!packet::DELAY.composes_with(partition::LEADER));
        assert!(!packet::DELAY.composes_with(packet::LOSS));
        for a in K::EVERY {
            for b in K::EVERY {
                assert_eq!(a.composes_with(b), b.composes_with(a), "{a} {b}");
            }
        }
    }
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for k in FaultKind::EVERY {
            assert_eq!(FaultKind::from_name(k.name()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
        }
    }

    #[test]
    fn debug_and_deserialize_are_the_old_enums() {
        assert_eq!(format!("{:?}", partition::ONE_WAY), "PartitionOneWay");
        assert_eq!(format!("{:?}", process::KILL_ALL), "KillAll");
        for k in FaultKind::EVERY {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<FaultKind>(&json).unwrap(), k);
        }
        let err = serde_json::from_str::<FaultKind>("\"kill-everything\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "unknown variant `kill-everything`, expected one of `partition-leader`"
            ),
            "{err}"
        );
    }

    #[test]
    fn every_lists_the_variants_in_order() {
        assert_eq!(
            FaultKind::EVERY,
            [
                partition::LEADER,
                partition::FOLLOWER,
                partition::RANDOM,
                partition::HALVES,
                partition::RING,
                process::KILL_LEADER,
                process::KILL_RANDOM,
                process::PAUSE_LEADER,
                clock::SKEW,
                partition::ONE_WAY,
                process::PAUSE_RANDOM,
                process::KILL_ALL,
                disk::CORRUPT_DATA,
                packet::DELAY,
                packet::LOSS,
                packet::DUPLICATE,
            ]
        );
    }

    #[test]
    fn all_is_every_kind_that_keeps_data_and_needs_no_netem() {
        // EVERY is pinned above: `all` is its first twelve, up to kill-all; none after is in `all`.
        assert_eq!(FaultKind::ALL[..], FaultKind::EVERY[..12]);
        assert_eq!(FaultKind::ALL.last(), Some(&process::KILL_ALL));
        assert!(FaultKind::EVERY[12..].iter().all(|k| !k.in_all()));
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = parse_nemeses("kill-leader,partition-everything")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`partition-everything`"), "{err}");
        for k in FaultKind::EVERY {
            assert!(err.contains(k.name()), "{err}");
        }
        assert!(err.contains("none") && err.contains("all"), "{err}");
        assert!(parse_nemeses("").is_err());
        assert!(parse_nemeses("kill-leader,").is_err());
    }
}
