//! What each family needs from the run's options, apart from the families themselves so that the run
//! context ([`super::run::Run`]) and the families can both name them without using each other.

use crate::packet::Aim as PacketAim;
use std::time::Duration;

/// Every family's settings, composed; the harness fills it from the run's options.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub partition: PartitionSettings,
    pub process: ProcessSettings,
    pub clock: ClockSettings,
    pub packet: PacketSettings,
}

/// Partitions (and the clock fault's isolation).
#[derive(Debug, Clone, Default)]
pub struct PartitionSettings {
    /// `--partition-scope all`: partitions also cut client sessions homed on the other side.
    pub cut_clients: bool,
}

/// Process faults.
#[derive(Debug, Clone, Default)]
pub struct ProcessSettings {
    /// How long a restart's heal waits for the member to serve again; `None`: it does not wait.
    pub rejoin_wait: Option<Duration>,
}

/// The clock fault.
#[derive(Debug, Clone)]
pub struct ClockSettings {
    /// The clock rate given to the leader.
    pub skew_rate: f64,
}

impl Default for ClockSettings {
    fn default() -> Self {
        ClockSettings { skew_rate: 1.0 }
    }
}

/// Packet faults (`--packet-*`).
#[derive(Debug, Clone, Default)]
pub struct PacketSettings {
    pub delay_ms: u64,
    pub jitter_ms: u64,
    pub loss_pct: f64,
    pub duplicate_pct: f64,
    /// Whose sent packets each fault hits.
    pub target: PacketTarget,
    /// Which of the target's packets: both ways or out only, peers only or all.
    pub aim: PacketAim,
}

/// `--packet-target`: which node's sent packets a packet fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketTarget {
    #[default]
    Random,
    Leader,
    Follower,
}
