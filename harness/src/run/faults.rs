//! Executes the fault schedule: finds the leader just before each fault starts, has the fault's family
//! ([`nemesis::family`]) apply it, record it and check it landed, and undo it when its window ends. No
//! fault kind is named here: each family owns its kinds.

use super::cluster::NodeCluster;
use super::probe::Probe;
use crate::settings::{PacketTarget, RunConfig};
use nemesis::family::settings::{
    ClockSettings, PacketSettings, PacketTarget as Target, PartitionSettings, ProcessSettings,
};
use nemesis::family::{Active, Record, Run, Settings};
use nemesis::FaultKind;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::Recorder;

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

/// Runs the schedule's faults, each through its family's [`nemesis::family::Ops`].
pub struct FaultRunner<'a> {
    pub cluster: &'a mut NodeCluster,
    pub net: &'a dyn nemesis::Net,
    probe: Probe,
    recorder: Arc<Recorder>,
    /// Writes a nemesis event into the history; handed to the families.
    record: Box<Record>,
    rng: ChaCha8Rng,
    /// Shown in the progress bar.
    current: Arc<Mutex<String>>,
    pub records: Vec<FaultRecord>,
    /// Every node reported no leader at the start: faults are aimed without waiting for one.
    leaderless: bool,
    /// The faults on now (two at once where they compose), each with its record's index.
    active: Vec<(usize, Box<dyn Active>)>,
    /// Faults (or heals) that did not land: each makes the run invalid, naming the pair or node.
    pub not_landed: Vec<String>,
    /// What the families need from the run's options.
    settings: Settings,
}

/// How faults are drawn, aimed and shaped: from the run's options, and what warm-up found.
pub struct FaultSettings {
    /// Draws targets; seeded from the run's seed.
    pub rng: ChaCha8Rng,
    /// Every node reported no leader at the start: faults are aimed without waiting for one.
    pub leaderless: bool,
    /// Each family's settings.
    pub families: Settings,
}

impl FaultSettings {
    /// The settings of a run with `cfg`, whose cluster was `leaderless` when it first became healthy.
    pub fn of(cfg: &RunConfig, leaderless: bool) -> Self {
        let p = &cfg.faults.packets;
        FaultSettings {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6e656d65),
            leaderless,
            families: Settings {
                partition: PartitionSettings {
                    cut_clients: cfg.faults.partition_scope == nemesis::PartitionScope::All,
                },
                process: ProcessSettings {
                    rejoin_wait: cfg.cluster.system.rejoin_wait(),
                },
                clock: ClockSettings {
                    skew_rate: cfg.faults.skew_rate,
                },
                packet: PacketSettings {
                    delay_ms: p.delay_ms,
                    jitter_ms: p.jitter_ms,
                    loss_pct: p.loss_pct,
                    duplicate_pct: p.duplicate_pct,
                    // The option's enum is the CLI's; the family has its own.
                    target: match p.target {
                        PacketTarget::Random => Target::Random,
                        PacketTarget::Leader => Target::Leader,
                        PacketTarget::Follower => Target::Follower,
                    },
                    aim: p.aim(),
                },
            },
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
            leaderless,
            families,
        } = settings;
        let to_history = recorder.clone();
        FaultRunner {
            cluster,
            net,
            probe,
            recorder,
            record: Box::new(move |f, v| to_history.nemesis(f, v)),
            rng,
            current,
            records: Vec::new(),
            leaderless,
            active: Vec::new(),
            not_landed: Vec::new(),
            settings: families,
        }
    }

    fn event(&self, f: &str, value: Value) {
        self.recorder.nemesis(f, value);
    }

    /// The context a family applies or undoes a fault in.
    fn run(&mut self) -> Run<'_> {
        Run::new(
            self.net,
            &mut *self.cluster,
            &self.probe,
            &mut self.rng,
            &self.settings,
            &*self.record,
            &mut self.not_landed,
        )
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
            Ok(active) => {
                rec.hit = true;
                self.active.push((id, active));
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

    async fn apply(
        &mut self,
        kind: FaultKind,
        rec: &mut FaultRecord,
    ) -> anyhow::Result<Box<dyn Active>> {
        let leader = if self.leaderless {
            None
        } else {
            self.probe.wait_leader(LEADER_WAIT).await
        };
        rec.term = leader.as_ref().map(|(_, t)| *t);
        // How a fault is aimed is its family's: faults that need no leader still place it
        // (partition-halves puts it in the minority) when the system has one; the kill-leader-style
        // faults cannot be aimed without it.
        let aim = kind.describe().aim;
        let needs_leader = aim.needs_leader() || (!self.leaderless && aim.waits_for_leader());
        rec.role = aim.role(leader.is_some()).into();
        if needs_leader && leader.is_none() {
            anyhow::bail!("no leader found within {:?}", LEADER_WAIT);
        }
        let mut run = self.run();
        run.leader = leader.map(|(l, _)| l);
        run.term = rec.term;
        run.out.role = std::mem::take(&mut rec.role);
        let applied = kind.family().ops.apply(&mut run, kind).await;
        let out = run.out;
        rec.targets = out.targets;
        rec.role = out.role;
        rec.detail = out.detail;
        applied
    }

    /// End the fault [`FaultRunner::start`] returned `id` for, if it is still on.
    pub async fn stop(&mut self, id: usize) {
        let Some(at) = self.active.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let (_, active) = self.active.remove(at);
        self.records[id].end_s = Some(self.recorder.elapsed().as_secs_f64());
        if let Err(e) = active.undo(&mut self.run()).await {
            tracing::warn!("undoing fault: {e:#}");
        }
        self.show_current();
    }
}
