//! `--system`: which system a run tests, and the consistency modes each one takes. The adapters that
//! start and reach them are in [`crate::system`].

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
            SystemKind::Zookeeper => match mode.unwrap_or("plain") {
                m @ ("plain" | "sync") => Ok(m.to_string()),
                m => Err(format!(
                    "unknown zookeeper mode '{m}'; expected plain or sync"
                )),
            },
            SystemKind::Nats => match mode.unwrap_or("direct") {
                m @ ("direct" | "leader") => Ok(m.to_string()),
                m => Err(format!(
                    "unknown nats mode '{m}'; expected direct or leader"
                )),
            },
            SystemKind::Patroni => match mode.unwrap_or("async") {
                m @ ("async" | "sync") => Ok(m.to_string()),
                m => Err(format!(
                    "unknown patroni mode '{m}'; expected async or sync"
                )),
            },
        }
    }

    /// Whether the harness can skew its clock (`POST /admin/clock`): only systems speaking our protocol.
    pub fn has_clock_hook(self) -> bool {
        matches!(self, SystemKind::Node | SystemKind::Exec)
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
            "patroni" => Ok(SystemKind::Patroni),
            _ => Err(format!(
                "unknown system '{s}'; expected node, etcd, exec, zookeeper, nats or patroni"
            )),
        }
    }
}
