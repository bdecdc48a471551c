//! Executes the fault schedule: resolves each fault's target from live cluster state just before it starts,
//! applies it, records it in the history, and undoes it when its window ends.

use super::cluster::NodeCluster;
use super::probe::Probe;
use crate::settings::{PacketSettings, RunConfig};
use nemesis::{FaultKind, PacketFault};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::Recorder;

// One module per fault family, each with its faults' apply and undo; this file aims and dispatches.
mod clock;
mod disk;
pub mod landing;
mod packet;
mod partition;
mod process;

/// What happened to one scheduled fault, for results.json and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    pub kind: FaultKind,
    pub start_s: f64,
    pub end_s: Option<f64>,
    /// The nodes the fault hit.
    pub targets: Vec<String>,
    /// The role the fault was meant to hit (leader, follower, any), and whether it did.
    pub role: String,
    pub hit: bool,
    pub term: Option<u64>,
    pub detail: String,
}

/// How a fault that is on is ended: one arm per distinct undo action, dispatched by [`FaultRunner::stop`] to
/// the family that applied it.
enum Undo {
    Heal,
    Restart(String),
    RestartAll(Vec<String>),
    Resume(String),
    UnskewAndHeal(String),
    Unshape(String, PacketFault),
}

pub struct FaultRunner<'a> {
    pub cluster: &'a mut NodeCluster,
    pub net: &'a dyn nemesis::Net,
    probe: Probe,
    recorder: Arc<Recorder>,
    rng: ChaCha8Rng,
    skew_rate: f64,
    /// Shown in the progress bar.
    current: Arc<Mutex<String>>,
    pub records: Vec<FaultRecord>,
    /// `--partition-scope all`: partitions also cut client sessions homed on the other side.
    cut_clients: bool,
    /// Every node reported no leader at the start: faults are aimed without waiting for one.
    leaderless: bool,
    /// The faults on now (two at once where they compose), each with its record's index.
    active: Vec<(usize, Undo)>,
    /// Faults (or heals) that did not land: each makes the run invalid, naming the pair or node.
    pub not_landed: Vec<String>,
    /// Packet fault settings (`--packet-*`).
    packets: PacketSettings,
    /// How long a restart's heal waits for the member to serve again ([`crate::settings::SystemKind::rejoin_wait`]).
    rejoin_wait: Option<Duration>,
}

/// How faults are drawn, aimed and shaped: from the run's options, and what warm-up found.
pub struct FaultSettings {
    /// Draws targets; seeded from the run's seed.
    pub rng: ChaCha8Rng,
    pub skew_rate: f64,
    /// `--partition-scope all`: partitions also cut client sessions homed on the other side.
    pub cut_clients: bool,
    /// Every node reported no leader at the start: faults are aimed without waiting for one.
    pub leaderless: bool,
    /// Packet fault settings (`--packet-*`).
    pub packets: PacketSettings,
    /// How long a restart's heal waits for the member to serve again ([`crate::settings::SystemKind::rejoin_wait`]).
    pub rejoin_wait: Option<Duration>,
}

impl FaultSettings {
    /// The settings of a run with `cfg`, whose cluster was `leaderless` when it first became healthy.
    pub fn of(cfg: &RunConfig, leaderless: bool) -> Self {
        FaultSettings {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6e656d65),
            skew_rate: cfg.faults.skew_rate,
            cut_clients: cfg.faults.partition_scope == nemesis::PartitionScope::All,
            leaderless,
            packets: cfg.faults.packets.clone(),
            rejoin_wait: cfg.cluster.system.rejoin_wait(),
        }
    }
}

/// How long a fault waits for a leader to aim at before it counts as missed.
pub const LEADER_WAIT: Duration = Duration::from_secs(3);

impl<'a> FaultRunner<'a> {
    pub fn new(
        cluster: &'a mut NodeCluster,
        net: &'a dyn nemesis::Net,
        probe: Probe,
        recorder: Arc<Recorder>,
        current: Arc<Mutex<String>>,
        settings: FaultSettings,
    ) -> Self {
        let FaultSettings {
            rng,
            skew_rate,
            cut_clients,
            leaderless,
            packets,
            rejoin_wait,
        } = settings;
        FaultRunner {
            cluster,
            net,
            probe,
            recorder,
            rng,
            skew_rate,
            current,
            records: Vec::new(),
            cut_clients,
            leaderless,
            active: Vec::new(),
            not_landed: Vec::new(),
            packets,
            rejoin_wait,
        }
    }

    fn event(&self, f: &str, value: Value) {
        self.recorder.nemesis(f, value);
    }

    /// Start one fault now; returns what [`FaultRunner::stop`] ends it with, `None` if it was missed. Never
    /// fails the run: a fault that cannot be applied is recorded as a miss.
    pub async fn start(&mut self, kind: FaultKind) -> Option<usize> {
        let start_s = self.recorder.elapsed().as_secs_f64();
        let mut rec = FaultRecord {
            kind,
            start_s,
            end_s: None,
            targets: vec![],
            role: String::new(),
            hit: false,
            term: None,
            detail: String::new(),
        };
        let id = self.records.len();
        let started = match self.apply(kind, &mut rec).await {
            Ok(undo) => {
                rec.hit = true;
                self.active.push((id, undo));
                Some(id)
            }
            Err(e) => {
                rec.detail = format!("not applied: {e}");
                self.event(
                    "fault-missed",
                    json!({"fault": kind.name(), "role": rec.role, "reason": rec.detail}),
                );
                tracing::warn!("{} {}", kind.name(), rec.detail);
                None
            }
        };
        self.records.push(rec);
        self.show_current();
        started
    }

    /// The faults on now, for the live line.
    fn show_current(&self) {
        let on: Vec<String> = self
            .active
            .iter()
            .map(|(id, _)| {
                let r = &self.records[*id];
                format!("{} {}", r.kind.name(), r.targets.join(","))
            })
            .collect();
        *self.current.lock().unwrap() = on.join(" + ");
    }

    /// End every fault still on (the end of the workload).
    pub async fn stop_all(&mut self) {
        while let Some(&(id, _)) = self.active.last() {
            self.stop(id).await;
        }
    }

    async fn apply(&mut self, kind: FaultKind, rec: &mut FaultRecord) -> anyhow::Result<Undo> {
        let nodes = self.cluster.names();
        let leader = if self.leaderless {
            None
        } else {
            self.probe.wait_leader(LEADER_WAIT).await
        };
        rec.term = leader.as_ref().map(|(_, t)| *t);
        let leader_name = leader.as_ref().map(|(l, _)| l.as_str());
        // How a fault is aimed is its family's: faults that need no leader still place it
        // (partition-halves puts it in the minority) when the system has one; the kill-leader-style
        // faults cannot be aimed without it.
        let aim = kind.describe().aim;
        let needs_leader = aim.needs_leader() || (!self.leaderless && aim.waits_for_leader());
        rec.role = aim.role(leader_name.is_some()).into();
        if needs_leader && leader_name.is_none() {
            anyhow::bail!("no leader found within {:?}", LEADER_WAIT);
        }
        match kind {
            FaultKind::PartitionLeader
            | FaultKind::PartitionFollower
            | FaultKind::PartitionRandom
            | FaultKind::PartitionHalves
            | FaultKind::PartitionRing
            | FaultKind::PartitionOneWay => self.start_partition(kind, &nodes, leader_name, rec),
            FaultKind::ClockSkew => self.start_clock_skew(kind, &nodes, leader_name, rec).await,
            FaultKind::KillLeader | FaultKind::KillRandom => {
                self.kill_one(kind, &nodes, leader_name, rec)
            }
            FaultKind::PauseLeader => self.pause_leader(kind, leader_name, rec),
            FaultKind::PauseRandom => self.pause_random(kind, &nodes, rec),
            FaultKind::KillAll => self.kill_all(kind, &nodes, rec),
            FaultKind::CorruptData => self.corrupt_data(kind, &nodes, rec),
            FaultKind::PacketDelay | FaultKind::PacketLoss | FaultKind::PacketDuplicate => {
                self.start_packet_fault(kind, &nodes, leader_name, rec)
            }
        }
    }

    /// End the fault [`FaultRunner::start`] returned `id` for, if it is still on.
    pub async fn stop(&mut self, id: usize) {
        let Some(at) = self.active.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let (_, undo) = self.active.remove(at);
        self.records[id].end_s = Some(self.recorder.elapsed().as_secs_f64());
        let result = match undo {
            Undo::Heal => self.heal(),
            Undo::Restart(n) => {
                let restarted = self.restart(n.clone());
                if restarted.is_ok() {
                    self.await_rejoin(&[n]).await;
                }
                restarted
            }
            Undo::RestartAll(nodes) => {
                let restarted = self.restart_all(nodes.clone());
                if restarted.is_ok() {
                    self.await_rejoin(&nodes).await;
                }
                restarted
            }
            Undo::Resume(n) => self.resume(n),
            Undo::UnskewAndHeal(n) => self.unskew_and_heal(n).await,
            Undo::Unshape(n, fault) => self.unshape(n, fault),
        };
        if let Err(e) = result {
            tracing::warn!("undoing fault: {e:#}");
        }
        self.show_current();
    }
}
