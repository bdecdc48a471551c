//! `--system`: which system a run tests, and the consistency modes each one takes. The adapters that
//! start and reach them are in [`crate::system`].

use nemesis::family::{clock, process};
use nemesis::FaultKind;
use node::api::ReadMode;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The systems users can name with `--system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    Node,
    Etcd,
    Exec,
    Zookeeper,
    Nats,
    Redis,
    Galera,
    Patroni,
}

impl SystemKind {
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Node => "node",
            SystemKind::Etcd => "etcd",
            SystemKind::Exec => "exec",
            SystemKind::Zookeeper => "zookeeper",
            SystemKind::Nats => "nats",
            SystemKind::Redis => "redis",
            SystemKind::Galera => "galera",
            SystemKind::Patroni => "patroni",
        }
    }

    /// The mode to run in: the one given, checked against the system, or the system's default.
    pub fn check_mode(self, mode: Option<&str>) -> Result<String, String> {
        match self {
            SystemKind::Node => Ok(mode.unwrap_or("lease").parse::<ReadMode>()?.to_string()),
            SystemKind::Etcd => match mode.unwrap_or("linearizable") {
                m @ ("linearizable" | "serializable") => Ok(m.to_string()),
                m => Err(format!(
                    "unknown etcd mode '{m}'; expected linearizable or serializable"
                )),
            },
            SystemKind::Exec => Ok(mode.unwrap_or("default").to_string()),
            SystemKind::Zookeeper
            | SystemKind::Nats
            | SystemKind::Redis
            | SystemKind::Galera
            | SystemKind::Patroni => {
                let modes = self.knob_modes();
                match mode {
                    None => Ok(modes[0].to_string()),
                    Some(m) if modes.contains(&m) => Ok(m.to_string()),
                    Some(m) => Err(format!(
                        "unknown {self} mode '{m}'; expected {}",
                        modes.join(" or ")
                    )),
                }
            }
        }
    }

    /// The systems users run (not ours, not etcd or exec), each with a mode per documented knob: what
    /// `harness compare --preset systems` runs.
    pub const REAL: [SystemKind; 5] = [
        SystemKind::Zookeeper,
        SystemKind::Nats,
        SystemKind::Redis,
        SystemKind::Galera,
        SystemKind::Patroni,
    ];

    /// A real system's modes, one per setting of its documented consistency knob; the first is the
    /// system's own default. Empty for the others.
    pub fn knob_modes(self) -> &'static [&'static str] {
        match self {
            SystemKind::Zookeeper => &["plain", "sync"],
            SystemKind::Nats => &["direct", "leader"],
            SystemKind::Redis => &["async", "wait"],
            SystemKind::Galera => &["sync-wait-0", "sync-wait-1"],
            SystemKind::Patroni => &["async", "sync"],
            SystemKind::Node | SystemKind::Etcd | SystemKind::Exec => &[],
        }
    }

    /// How long a fault must last for the system to fail over, where its default fault (3 s) is too
    /// short: Patroni promotes a standby only once the primary's leader key expires (about 9 s into a
    /// partition here), so a shorter fault shows nothing of its replication mode.
    pub fn failover_fault_duration(self) -> Option<&'static str> {
        match self {
            SystemKind::Patroni => Some("12s"),
            _ => None,
        }
    }

    /// How long the heal of a kill waits for the restarted member to serve again before the run goes on.
    /// Galera's documentation: a joining member aborts if the member it takes its state from (its donor)
    /// leaves before the transfer ends, and a restarted member joins by such a transfer; operators restart
    /// members one at a time. Elsewhere a restart's heal ends once the process runs.
    pub fn rejoin_wait(self) -> Option<std::time::Duration> {
        match self {
            SystemKind::Galera => Some(std::time::Duration::from_secs(30)),
            _ => None,
        }
    }

    /// Whether the system elects a leader that faults can be aimed at (its own default setup).
    pub fn has_leader(self) -> bool {
        self != SystemKind::Galera
    }

    /// Whether the harness can skew its clock (`POST /admin/clock`): only systems speaking our protocol.
    pub fn has_clock_hook(self) -> bool {
        matches!(self, SystemKind::Node | SystemKind::Exec)
    }

    /// Whether the system has no leader by design (every member takes writes), so the harness need not
    /// wait to learn that from the nodes.
    pub fn is_leaderless(self) -> bool {
        self == SystemKind::Galera
    }

    /// Why the system cannot take some of `faults`, if it cannot: faults aimed at a leader where there
    /// is none, and crashing every member of a Galera cluster (it needs a manual bootstrap afterwards).
    pub fn fault_refusal(self, faults: &[FaultKind]) -> Option<String> {
        if !self.is_leaderless() {
            return None;
        }
        let aimed: Vec<&str> = faults
            .iter()
            .filter(|f| f.needs_leader() && **f != clock::SKEW)
            .map(|f| f.name())
            .collect();
        if !aimed.is_empty() {
            return Some(format!(
                "refusing --nemesis {}: {self} has no leader (every member takes writes), so there is \
                 none to aim at; use partition-random, kill-random or pause-random",
                aimed.join(",")
            ));
        }
        if faults.contains(&process::KILL_ALL) {
            return Some(format!(
                "refusing --nemesis kill-all: a {self} cluster whose every member crashed does not \
                 restart on its own (it needs a manual bootstrap of the most advanced member); use \
                 kill-random"
            ));
        }
        None
    }

    /// Whether its client can bind a source address per session (`--partition-scope all`).
    pub fn binds_session_addrs(self) -> bool {
        matches!(self, SystemKind::Node | SystemKind::Exec)
    }
}

impl fmt::Display for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SystemKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "node" => Ok(SystemKind::Node),
            "etcd" => Ok(SystemKind::Etcd),
            "exec" => Ok(SystemKind::Exec),
            "zookeeper" => Ok(SystemKind::Zookeeper),
            "nats" => Ok(SystemKind::Nats),
            "redis" => Ok(SystemKind::Redis),
            "galera" => Ok(SystemKind::Galera),
            "patroni" => Ok(SystemKind::Patroni),
            _ => Err(format!(
                "unknown system '{s}'; expected node, etcd, exec, zookeeper, nats, redis, galera or patroni"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Galera takes the faults that need no leader and can be recovered from by itself; systems with a
    /// leader are not judged here.
    #[test]
    fn galera_refuses_leader_faults_and_kill_all_only() {
        use nemesis::family::{partition, process};
        for ok in [
            partition::RANDOM,
            process::KILL_RANDOM,
            process::PAUSE_RANDOM,
            partition::HALVES,
        ] {
            assert_eq!(SystemKind::Galera.fault_refusal(&[ok]), None, "{ok}");
        }
        let why = SystemKind::Galera.fault_refusal(&[
            process::KILL_RANDOM,
            partition::LEADER,
            process::KILL_LEADER,
        ]);
        assert!(why.unwrap().contains("partition-leader,kill-leader"));
        assert!(SystemKind::Galera
            .fault_refusal(&[process::KILL_ALL])
            .unwrap()
            .contains("manual bootstrap"));
        assert_eq!(
            SystemKind::Node.fault_refusal(&[partition::LEADER, process::KILL_ALL]),
            None
        );
        assert_eq!(
            SystemKind::Galera.check_mode(None).as_deref(),
            Ok("sync-wait-0")
        );
    }
}
