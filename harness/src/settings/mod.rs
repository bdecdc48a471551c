//! A run's settings: its options once validated, as every part of the run reads them and `config.json`
//! records them. Plain data that knows nothing of how a run goes, so the systems, the cluster, the faults
//! and the option parsing can all stand on it. Grouped by concern; each group is flattened into
//! `config.json`, whose keys stay those of the options.

mod cluster;
mod expect;
mod faults;
mod system_kind;
mod workload;

pub use cluster::ClusterSettings;
pub use expect::Expect;
pub use faults::{FaultSettings, PacketDirection, PacketScope, PacketSettings, PacketTarget};
pub use system_kind::SystemKind;
pub use workload::WorkloadSettings;

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use workloads::WorkloadKind;

/// A validated run configuration: everything recorded in `config.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    pub seed: u64,
    #[serde(flatten)]
    pub cluster: ClusterSettings,
    #[serde(flatten)]
    pub workload: WorkloadSettings,
    #[serde(flatten)]
    pub faults: FaultSettings,
    #[serde(flatten)]
    pub check: CheckSettings,
    #[serde(flatten)]
    pub output: OutputSettings,
    /// The longest this run can take, phase by phase (computed from the options by `run::bounds`).
    pub run_bound: Option<RunBound>,
}

/// How the history is judged.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSettings {
    pub expect: Expect,
    /// The txn workloads: the model transactions are checked against (strict-serializable by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<checker::txn::Consistency>,
    /// The checker's time limit.
    #[serde(rename = "check_time_limit_s", with = "crate::duration::secs")]
    pub time_limit: Duration,
}

/// Where the run is stored and under which name.
#[derive(Debug, Clone, Serialize)]
pub struct OutputSettings {
    pub name: String,
    pub harness_version: &'static str,
    #[serde(skip)]
    pub store: PathBuf,
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
        match self.cluster.replication_recorded {
            Some(r) => format!("{} (replication {r})", self.cluster.mode),
            None => self.cluster.mode.clone(),
        }
    }

    /// Any binary may be leaderless (docs/protocol.md allows `"leader": null` everywhere), and Galera is;
    /// our node and etcd always elect one, so for them a cluster with no leader is still electing.
    pub fn may_be_leaderless(&self) -> bool {
        self.cluster.system == SystemKind::Exec || self.cluster.system.is_leaderless()
    }

    pub fn workload_config(&self) -> workloads::WorkloadConfig {
        workloads::WorkloadConfig {
            kind: self.workload.kind,
            keys: self.workload.keys,
            concurrency: self.workload.concurrency,
            rate: self.workload.rate,
            seed: self.seed,
            op_timeout: self.workload.op_timeout,
            routing: self.workload.routing,
            ..workloads::WorkloadConfig::default()
        }
    }

    pub fn schedule(&self) -> Vec<nemesis::FaultWindow> {
        if let Some(r) = &self.faults.replay {
            return r.windows();
        }
        nemesis::schedule(&nemesis::ScheduleConfig {
            faults: self.faults.kinds.clone(),
            seed: self.seed,
            time_limit: self.workload.time_limit,
            interval: self.faults.interval,
            duration: self.faults.duration,
        })
    }

    /// The checker model for this workload: our register is a cas-register; kv is checked per key.
    pub fn model(&self) -> checker::ModelKind {
        match self.workload.kind {
            WorkloadKind::Register => checker::ModelKind::CasRegister,
            WorkloadKind::Kv => checker::ModelKind::Kv,
            WorkloadKind::Append | WorkloadKind::TxnAppend => checker::ModelKind::ListAppend,
            // Checked by checker::txn (run/txn.rs); this names the model for anything that asks.
            WorkloadKind::TxnRegister => checker::ModelKind::RwRegister,
        }
    }
}
