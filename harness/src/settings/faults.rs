//! The faults: which, when, and how they shape what they hit.

use nemesis::FaultKind;
use serde::Serialize;
use std::time::Duration;

/// The faults of a run. Keys keep their option names in `config.json` (`faults`, `nemesis_interval_s`).
#[derive(Debug, Clone, Serialize)]
pub struct FaultSettings {
    #[serde(rename = "faults")]
    pub kinds: Vec<FaultKind>,
    pub partition_scope: nemesis::PartitionScope,
    /// The pause between one fault's heal and the next fault.
    #[serde(rename = "nemesis_interval_s", with = "crate::duration::secs")]
    pub interval: Duration,
    /// How long each fault lasts.
    #[serde(rename = "fault_duration_s", with = "crate::duration::secs")]
    pub duration: Duration,
    pub skew_rate: f64,
    pub packets: PacketSettings,
    /// `--replay` (or a hunt's run): these windows, not a seeded schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<nemesis::ScheduleFile>,
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
