//! The names users type for workloads and routing, and the workload's settings.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `register`: one key with read/write/cas. `kv`: many keys, each checked as its own register.
/// `append`: many keys holding lists (Elle's list-append): appends of unique values, reads of whole lists.
/// `txn-append`, `txn-register`: transactions of 2–4 micro-ops over many keys (Elle's list-append and
/// rw-register), checked for transactional consistency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    Register,
    Kv,
    Append,
    TxnAppend,
    TxnRegister,
}

impl WorkloadKind {
    /// Whether the workload issues transactions (`POST /txn`) and is judged by the transactional checker.
    pub fn is_txn(self) -> bool {
        matches!(self, WorkloadKind::TxnAppend | WorkloadKind::TxnRegister)
    }
}

/// Which node a client sends each request to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// Follow the leader: start at the worker's node, follow `not_leader` hints and stay where the leader
    /// was found, move on after a timeout.
    Leader,
    /// Sticky sessions (the default): worker i's home is node i mod n; a `not_leader` hint is retried
    /// once, the next op goes home again; fail over to the next node when home is down.
    Sticky,
    /// Every request goes to the next node in turn; a `not_leader` hint is retried once.
    RoundRobin,
}

macro_rules! names {
    ($ty:ty, $what:literal, $($variant:path => $name:literal),+) => {
        impl $ty {
            pub fn name(self) -> &'static str {
                match self { $($variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($variant),)+
                    _ => Err(format!(concat!("unknown ", $what, " '{}'; expected one of: {}"), s,
                        [$($name),+].join(", "))),
                }
            }
        }
    };
}

names!(WorkloadKind, "workload", WorkloadKind::Register => "register", WorkloadKind::Kv => "kv",
    WorkloadKind::Append => "append", WorkloadKind::TxnAppend => "txn-append",
    WorkloadKind::TxnRegister => "txn-register");
names!(Routing, "routing", Routing::Leader => "leader", Routing::Sticky => "sticky",
    Routing::RoundRobin => "round-robin");

/// Everything the workers need to know.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadConfig {
    pub kind: WorkloadKind,
    /// Keys used by `kv` and `append` (the register workload uses one key).
    pub keys: usize,
    /// Concurrent workers (each runs one process at a time).
    pub concurrency: usize,
    /// Operations per second across all workers.
    pub rate: f64,
    pub seed: u64,
    /// Client-side timeout of one request.
    pub op_timeout: Duration,
    pub routing: Routing,
    /// Share of reads; the rest is split between writes and cas by `cas_share`.
    pub read_share: f64,
    /// Share of the non-reads that are cas.
    pub cas_share: f64,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            kind: WorkloadKind::Register,
            keys: 1,
            concurrency: 10,
            rate: 100.0,
            seed: 0,
            op_timeout: Duration::from_millis(1500),
            routing: Routing::Sticky,
            read_share: 0.5,
            cas_share: 0.3,
        }
    }
}

impl WorkloadConfig {
    /// The keys ops go to: `r` for the register, `k0..` for kv.
    pub fn key_names(&self) -> Vec<String> {
        match self.kind {
            WorkloadKind::Register => vec!["r".to_string()],
            WorkloadKind::Kv
            | WorkloadKind::Append
            | WorkloadKind::TxnAppend
            | WorkloadKind::TxnRegister => (0..self.keys.max(1)).map(|i| format!("k{i}")).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_the_choices() {
        for r in [Routing::Leader, Routing::Sticky, Routing::RoundRobin] {
            assert_eq!(r.name().parse::<Routing>().unwrap(), r);
        }
        assert_eq!("kv".parse::<WorkloadKind>().unwrap(), WorkloadKind::Kv);
        let e = "nearest".parse::<Routing>().unwrap_err();
        assert!(e.contains("nearest") && e.contains("round-robin"), "{e}");
    }
}
