//! The cluster under test: which system, how its nodes are set up and where they run.

use super::SystemKind;
use nemesis::Subnet;
use node::api::{LeaseVotes, Replication};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The cluster of a run.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSettings {
    pub system: SystemKind,
    /// The consistency mode, checked against the system.
    pub mode: String,
    pub node_cmd: Option<String>,
    #[serde(skip)]
    pub replication: Replication,
    /// The write path, recorded only for our node (the one system it configures).
    #[serde(rename = "replication", skip_serializing_if = "Option::is_none")]
    pub replication_recorded: Option<Replication>,
    pub nodes: Vec<String>,
    /// Recorded as `10.77.0.0/24`.
    pub subnet: Subnet,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    pub lease_ms: u64,
    pub max_drift: f64,
    pub lease_votes: LeaseVotes,
    /// How long the cluster may take to become healthy at the start.
    #[serde(rename = "health_timeout_s", with = "crate::duration::secs")]
    pub health_timeout: Duration,
    #[serde(skip)]
    pub node_bin: Option<PathBuf>,
    /// `--hosts`: where the nodes run (recorded as the file's path).
    pub hosts: Option<PathBuf>,
    #[serde(skip)]
    pub hosts_file: Option<nemesis::hosts::HostsFile>,
}
