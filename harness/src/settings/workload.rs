//! What the clients do, how hard and for how long.

use serde::Serialize;
use std::time::Duration;
use workloads::{Routing, WorkloadKind};

/// The workload of a run. Keys keep their option names in `config.json` (`workload`, `time_limit_s`).
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSettings {
    #[serde(rename = "workload")]
    pub kind: WorkloadKind,
    pub keys: usize,
    pub routing: Routing,
    pub concurrency: usize,
    pub rate: f64,
    /// Recorded in whole milliseconds, and held as recorded.
    #[serde(rename = "op_timeout_ms", with = "crate::duration::millis")]
    pub op_timeout: Duration,
    /// How long the workload runs.
    #[serde(rename = "time_limit_s", with = "crate::duration::secs")]
    pub time_limit: Duration,
    /// The wait after the final heal and the recovery, before the final reads.
    #[serde(rename = "settle_s", with = "crate::duration::secs")]
    pub settle: Duration,
}
