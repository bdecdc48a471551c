//! The outcome each (mode, fault) cell should get, with the reason: `shared/read-modes.md`'s table, adjusted
//! to how this harness builds its faults (clock-skew slows the leader's clock beyond the bound and then
//! isolates it, so it also exposes what partition-leader exposes).

use nemesis::FaultKind;
use node::api::Replication;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Valid,
    Invalid,
    /// The anomaly is possible but not reliably shown; either verdict is accepted.
    Either,
}

impl Expect {
    pub fn name(self) -> &'static str {
        match self {
            Expect::Valid => "valid",
            Expect::Invalid => "invalid",
            Expect::Either => "either",
        }
    }

    /// Whether a run's exit code is what this cell expects. An invalid run (3) or unknown (2) never is.
    pub fn accepts(self, code: u8) -> bool {
        matches!(
            (self, code),
            (Expect::Valid, 0) | (Expect::Invalid, 1) | (Expect::Either, 0 | 1)
        )
    }
}

/// What a cell should show, and why.
pub fn expected(
    system: &str,
    mode: &str,
    replication: Replication,
    fault: FaultKind,
) -> (Expect, &'static str) {
    use Expect::*;
    use FaultKind::*;
    if system == "etcd" {
        return match (mode, fault) {
            ("serializable", PartitionFollower | PartitionLeader | PartitionHalves) => (
                Invalid,
                "serializable reads answer from a member's local state, stale when it is cut off",
            ),
            ("serializable", _) => (
                Either,
                "serializable reads are stale only while a member lags",
            ),
            _ => (
                Valid,
                "linearizable reads go through the leader's ReadIndex",
            ),
        };
    }
    if replication == Replication::Async {
        return match fault {
            KillLeader | KillRandom => (Invalid, "the leader acknowledged writes no follower had; they are lost on failover"),
            PartitionFollower => (Valid, "the leader keeps the quorum; nothing acknowledged is lost"),
            _ => (Either, "acknowledged writes are lost only if the leader is replaced before it replicates them"),
        };
    }
    match (mode, fault) {
        ("log" | "read-index" | "follower-read", _) => (Valid, "reads are confirmed by a quorum"),
        ("lease", ClockSkew) => (
            Invalid,
            "by design: the leader's clock runs slower than the drift bound allows, so its lease outlives the followers' countdown",
        ),
        ("lease", _) => (Valid, "the lease is waited out before a new leader serves"),
        ("any-local", _) => (Invalid, "any node answers from its applied state, which lags the commit index"),
        ("leader-local", PartitionLeader | ClockSkew | PartitionHalves) => (
            Invalid,
            "the cut-off leader answers reads with no check while a new leader takes writes",
        ),
        ("leader-local", PartitionFollower) => (Valid, "PreVote keeps the leader; only it answers"),
        ("leader-local", _) => (Either, "stale only in the moments two nodes think they lead"),
        ("lease-no-wait", PartitionLeader | ClockSkew | PartitionHalves) => (
            Invalid,
            "the new leader serves at once while the old one still holds its lease",
        ),
        ("lease-no-wait", PauseLeader) => (
            Either,
            "stale only if the pause ends before the old lease does",
        ),
        ("lease-no-wait", _) => (Valid, "no second leader exists while the old lease runs"),
        _ => (Either, "no expectation recorded for this cell"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_modes_expect_valid_and_unsafe_ones_are_caught_where_the_design_says() {
        let q = Replication::Quorum;
        for mode in ["log", "read-index", "follower-read"] {
            for f in [
                FaultKind::PartitionLeader,
                FaultKind::KillLeader,
                FaultKind::ClockSkew,
            ] {
                assert_eq!(expected("node", mode, q, f).0, Expect::Valid);
            }
        }
        assert_eq!(
            expected("node", "lease", q, FaultKind::ClockSkew).0,
            Expect::Invalid
        );
        assert_eq!(
            expected("node", "lease", q, FaultKind::PartitionLeader).0,
            Expect::Valid
        );
        assert_eq!(
            expected("node", "leader-local", q, FaultKind::PartitionLeader).0,
            Expect::Invalid
        );
        let a = Replication::Async;
        assert_eq!(
            expected("node", "read-index", a, FaultKind::KillLeader).0,
            Expect::Invalid
        );
        assert!(
            Expect::Either.accepts(0) && Expect::Either.accepts(1) && !Expect::Either.accepts(3)
        );
        assert!(!Expect::Valid.accepts(2));
    }
}
