//! A run's settings: its options once validated, as every part of the run reads them and `config.json`
//! records them. Plain data that knows nothing of how a run goes, so the systems, the cluster, the faults
//! and the option parsing can all stand on it.

mod expect;
mod system_kind;

pub use expect::Expect;
pub use system_kind::SystemKind;

use nemesis::{FaultKind, Subnet};
use node::api::{LeaseVotes, Replication};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use workloads::{Routing, WorkloadKind};

/// A validated run configuration: everything recorded in `config.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    pub name: String,
    pub seed: u64,
    pub faults: Vec<FaultKind>,
    pub system: SystemKind,
    /// The consistency mode, checked against the system.
    pub mode: String,
    pub node_cmd: Option<String>,
    #[serde(skip)]
    pub replication: Replication,
    /// The write path, recorded only for our node (the one system it configures).
    #[serde(rename = "replication", skip_serializing_if = "Option::is_none")]
    pub replication_recorded: Option<Replication>,
    pub workload: WorkloadKind,
    pub expect: Expect,
    /// The txn workloads: the model transactions are checked against (strict-serializable by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<checker::txn::Consistency>,
    pub settle_s: f64,
    pub keys: usize,
    pub nodes: Vec<String>,
    pub time_limit_s: f64,
    pub routing: Routing,
    pub concurrency: usize,
    pub rate: f64,
    pub op_timeout_ms: u64,
    pub health_timeout_s: f64,
    pub partition_scope: nemesis::PartitionScope,
    pub nemesis_interval_s: f64,
    pub fault_duration_s: f64,
    pub skew_rate: f64,
    pub subnet: String,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    pub lease_ms: u64,
    pub max_drift: f64,
    pub lease_votes: LeaseVotes,
    pub check_time_limit_s: f64,
    pub packets: PacketSettings,
    pub harness_version: &'static str,
    #[serde(skip)]
    pub store: PathBuf,
    #[serde(skip)]
    pub node_bin: Option<PathBuf>,
    #[serde(skip)]
    pub subnet_parsed: Subnet,
    /// `--hosts`: where the nodes run (recorded as the file's path).
    pub hosts: Option<PathBuf>,
    #[serde(skip)]
    pub hosts_file: Option<nemesis::hosts::HostsFile>,
    /// The longest this run can take, phase by phase (computed from the options by `run::bounds`).
    pub run_bound: Option<RunBound>,
    /// `--replay` (or a hunt's run): these windows, not a seeded schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<nemesis::ScheduleFile>,
}

/// The longest each phase of a run may take, in order; the run's bound is their sum.
#[derive(Debug, Clone, Serialize)]
pub struct RunBound {
    pub total_s: f64,
    pub phases: Vec<(&'static str, f64)>,
}

impl RunBound {
    pub fn new(phases: Vec<(&'static str, Duration)>) -> RunBound {
        let phases: Vec<(&'static str, f64)> = phases
            .into_iter()
            .map(|(p, d)| (p, d.as_secs_f64()))
            .collect();
        RunBound {
            total_s: phases.iter().map(|(_, s)| s).sum(),
            phases,
        }
    }
}

impl RunConfig {
    /// The mode as the summary shows it: our node also names its write path.
    pub fn mode_label(&self) -> String {
        match self.replication_recorded {
            Some(r) => format!("{} (replication {r})", self.mode),
            None => self.mode.clone(),
        }
    }

    /// Any binary may be leaderless (docs/protocol.md allows `"leader": null` everywhere), and Galera is;
    /// our node and etcd always elect one, so for them a cluster with no leader is still electing.
    pub fn may_be_leaderless(&self) -> bool {
        self.system == SystemKind::Exec || self.system.is_leaderless()
    }

    pub fn health_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.health_timeout_s)
    }

    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(self.time_limit_s)
    }

    pub fn workload_config(&self) -> workloads::WorkloadConfig {
        workloads::WorkloadConfig {
            kind: self.workload,
            keys: self.keys,
            concurrency: self.concurrency,
            rate: self.rate,
            seed: self.seed,
            op_timeout: Duration::from_millis(self.op_timeout_ms),
            routing: self.routing,
            ..workloads::WorkloadConfig::default()
        }
    }

    pub fn schedule(&self) -> Vec<nemesis::FaultWindow> {
        if let Some(r) = &self.replay {
            return r.windows();
        }
        nemesis::schedule(&nemesis::ScheduleConfig {
            faults: self.faults.clone(),
            seed: self.seed,
            time_limit: self.time_limit(),
            interval: Duration::from_secs_f64(self.nemesis_interval_s),
            duration: Duration::from_secs_f64(self.fault_duration_s),
        })
    }

    /// The checker model for this workload: our register is a cas-register; kv is checked per key.
    pub fn model(&self) -> checker::ModelKind {
        match self.workload {
            WorkloadKind::Register => checker::ModelKind::CasRegister,
            WorkloadKind::Kv => checker::ModelKind::Kv,
            WorkloadKind::Append | WorkloadKind::TxnAppend => checker::ModelKind::ListAppend,
            // Checked by checker::txn (run/txn.rs); this names the model for anything that asks.
            WorkloadKind::TxnRegister => checker::ModelKind::RwRegister,
        }
    }
}

/// How the packet faults shape a link (from the run's options).
#[derive(Debug, Clone, Serialize)]
pub struct PacketSettings {
    pub delay_ms: u64,
    pub jitter_ms: u64,
    pub loss_pct: f64,
    pub duplicate_pct: f64,
    /// Whose packets: a random node (default), the leader or a follower.
    pub target: PacketTarget,
    /// `--packet-direction both`: also the packets the target receives.
    pub both_ways: bool,
    /// `--packet-scope peers`: only packets between nodes; clients untouched.
    pub peers_only: bool,
}

impl PacketSettings {
    /// Which of the target's packets the faults hit.
    pub fn aim(&self) -> nemesis::PacketAim {
        nemesis::PacketAim {
            both_ways: self.both_ways,
            peers_only: self.peers_only,
        }
    }
}

/// `--packet-direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PacketDirection {
    Out,
    Both,
}

/// `--packet-scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PacketScope {
    All,
    Peers,
}

/// `--packet-target`: which node's sent packets a packet fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PacketTarget {
    #[default]
    Random,
    Leader,
    Follower,
}

impl Default for PacketSettings {
    fn default() -> Self {
        PacketSettings {
            delay_ms: 200,
            jitter_ms: 50,
            loss_pct: 30.0,
            duplicate_pct: 30.0,
            target: PacketTarget::Random,
            both_ways: false,
            peers_only: false,
        }
    }
}
