//! The fault kinds users name with `--nemesis`, and parsing of that option.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// One kind of fault the nemesis can inject. Targets are resolved by the harness at fault time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Isolate the current leader from every other node.
    PartitionLeader,
    /// Isolate one follower from every other node.
    PartitionFollower,
    /// Isolate one random node (leader or not) from every other node; needs no leader.
    PartitionRandom,
    /// Split the nodes in two, the leader on the minority side.
    PartitionHalves,
    /// Each node reaches only its two ring neighbours.
    PartitionRing,
    /// SIGKILL the leader; restart it when the window ends.
    KillLeader,
    /// SIGKILL a random node; restart it when the window ends.
    KillRandom,
    /// SIGSTOP the leader; SIGCONT it when the window ends.
    PauseLeader,
    /// Skew a node's clock (offset and rate); reset it when the window ends.
    ClockSkew,
    /// Cut one direction only between the leader and the rest (it can send but not receive, or the
    /// reverse); TCP needs both, so its connections break while the routes differ.
    PartitionOneWay,
    /// SIGSTOP a random node; SIGCONT it when the window ends.
    PauseRandom,
    /// SIGKILL every node at once; restart them all when the window ends (durability of acknowledged
    /// writes).
    KillAll,
    /// SIGKILL a random node, truncate or bit-flip the tail of a file in its data directory, restart it
    /// when the window ends.
    CorruptData,
    /// Delay the packets a node sends (NFQUEUE in namespaces, NFQUEUE and `harness nemesis-delay` on hosts).
    PacketDelay,
    /// Drop a share of the packets a node sends (nftables in namespaces, the same helper on hosts).
    PacketLoss,
    /// Duplicate a share of the packets a node sends (nftables in namespaces, an nftables egress table on hosts).
    PacketDuplicate,
}

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
    // EVERY, every kind in the order help text lists them, is collected from the families
    // (crate::family), which own the kinds.

    /// What `all` expands to, in order: the kinds of [`FaultKind::EVERY`] that [`FaultKind::in_all`]
    /// keeps. Derived, so a new kind is listed once and only classified here.
    pub const ALL: [FaultKind; ALL_LEN] = {
        let mut out = [FaultKind::PartitionLeader; ALL_LEN];
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

    /// Whether `all` includes this kind: every fault that runs on any Linux machine and keeps the data.
    /// Not in it: `corrupt-data` (destroys data on purpose) and the packet faults (they need `nft` and
    /// `iptables`, on the hosts too with `--hosts`). Each family decides for its kinds.
    pub const fn in_all(self) -> bool {
        self.describe().in_all
    }

    /// The name users type (`partition-leader`, ...).
    pub fn name(self) -> &'static str {
        self.describe().name
    }

    // is_partition, is_packet, needs_leader and composes_with are read from the kind's family
    // (crate::family), which owns them.

    /// Parses one name (not `none` or `all`).
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::EVERY.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

    #[test]
    fn faults_compose_only_across_layers_with_processes() {
        assert!(K::PartitionLeader.composes_with(K::KillRandom));
        assert!(K::PauseLeader.composes_with(K::ClockSkew));
        assert!(K::PacketLoss.composes_with(K::PauseRandom));
        assert!(!K::PartitionLeader.composes_with(K::PartitionRandom));
        assert!(!K::ClockSkew.composes_with(K::PartitionHalves));
        assert!(!K::KillRandom.composes_with(K::PauseLeader));
        assert!(!K::PacketDelay.composes_with(K::PartitionLeader));
        assert!(!K::PacketDelay.composes_with(K::PacketLoss));
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
    fn every_lists_the_variants_in_order() {
        use FaultKind::*;
        assert_eq!(
            FaultKind::EVERY,
            [
                PartitionLeader,
                PartitionFollower,
                PartitionRandom,
                PartitionHalves,
                PartitionRing,
                KillLeader,
                KillRandom,
                PauseLeader,
                ClockSkew,
                PartitionOneWay,
                PauseRandom,
                KillAll,
                CorruptData,
                PacketDelay,
                PacketLoss,
                PacketDuplicate,
            ]
        );
    }

    #[test]
    fn all_is_every_kind_that_keeps_data_and_needs_no_netem() {
        use FaultKind::*;
        assert_eq!(
            FaultKind::ALL,
            [
                PartitionLeader,
                PartitionFollower,
                PartitionRandom,
                PartitionHalves,
                PartitionRing,
                KillLeader,
                KillRandom,
                PauseLeader,
                ClockSkew,
                PartitionOneWay,
                PauseRandom,
                KillAll,
            ]
        );
        for k in FaultKind::EVERY {
            assert_eq!(k.in_all(), !(k.is_packet() || k == CorruptData), "{k}");
        }
    }

    #[test]
    fn parses_lists_all_and_none() {
        assert_eq!(parse_nemeses("none").unwrap(), vec![]);
        assert_eq!(
            parse_nemeses("kill-leader, partition-ring").unwrap(),
            vec![FaultKind::KillLeader, FaultKind::PartitionRing]
        );
        assert_eq!(parse_nemeses("all").unwrap(), FaultKind::ALL.to_vec());
        assert_eq!(
            parse_nemeses("clock-skew,all,clock-skew").unwrap().len(),
            FaultKind::ALL.len()
        );
        assert_eq!(
            parse_nemeses("clock-skew,all").unwrap()[0],
            FaultKind::ClockSkew
        );
        assert_eq!(
            parse_nemeses("Pause-Leader").unwrap(),
            vec![FaultKind::PauseLeader]
        );
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
