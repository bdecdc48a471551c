//! Executes the fault schedule: resolves each fault's target from live cluster state just before it starts,
//! applies it, records it in the history, and undoes it when its window ends.

use super::cluster::NodeCluster;
use super::place::Place;
use super::probe::Probe;
use crate::settings::PacketSettings;
use nemesis::{FaultKind, PacketFault, Partition};
use node::api::ClockRequest;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::Recorder;

pub mod landing;
mod more;

use landing::ProcState::{Down, Paused, Running};

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

/// How a fault that is on is ended: one arm per distinct undo action, all undone in [`FaultRunner::stop`].
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
    pub net: &'a Place,
    pub probe: Probe,
    pub recorder: Arc<Recorder>,
    pub rng: ChaCha8Rng,
    pub skew_rate: f64,
    /// Shown in the progress bar.
    pub current: Arc<Mutex<String>>,
    pub records: Vec<FaultRecord>,
    /// `--partition-scope all`: partitions also cut client sessions homed on the other side.
    pub cut_clients: bool,
    /// Every node reported no leader at the start: faults are aimed without waiting for one.
    pub leaderless: bool,
    /// The faults on now (two at once where they compose), each with its record's index.
    active: Vec<(usize, Undo)>,
    /// Faults (or heals) that did not land: each makes the run invalid, naming the pair or node.
    pub not_landed: Vec<String>,
    probes: Option<nemesis::Probes>,
    /// Packet fault settings (`--packet-*`).
    pub packets: PacketSettings,
}

/// How long a fault waits for a leader to aim at before it counts as missed.
pub const LEADER_WAIT: Duration = Duration::from_secs(3);

impl<'a> FaultRunner<'a> {
    pub fn new(
        cluster: &'a mut NodeCluster,
        net: &'a Place,
        probe: Probe,
        recorder: Arc<Recorder>,
        rng: ChaCha8Rng,
        skew_rate: f64,
        current: Arc<Mutex<String>>,
    ) -> Self {
        FaultRunner {
            cluster,
            net,
            probe,
            recorder,
            rng,
            skew_rate,
            current,
            records: Vec::new(),
            cut_clients: false,
            leaderless: false,
            active: Vec::new(),
            not_landed: Vec::new(),
            probes: None,
            packets: PacketSettings::default(),
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
        // Faults that need no leader still place it (partition-halves puts it in the minority) when the
        // system has one; the kill-leader-style faults cannot be aimed without it.
        let needs_leader = kind.needs_leader()
            || (!self.leaderless
                && !matches!(kind, FaultKind::KillRandom)
                && !more::any_node(kind));
        rec.role = match kind {
            FaultKind::PartitionFollower => "follower",
            FaultKind::KillRandom | FaultKind::PartitionRandom => "any",
            FaultKind::PartitionRing | FaultKind::KillAll => "all",
            FaultKind::PartitionHalves if leader_name.is_none() => "any",
            k if more::any_node(k) => "any",
            _ => "leader",
        }
        .into();
        if needs_leader && leader_name.is_none() {
            anyhow::bail!("no leader found within {:?}", LEADER_WAIT);
        }
        match kind {
            FaultKind::PartitionLeader
            | FaultKind::PartitionFollower
            | FaultKind::PartitionRandom
            | FaultKind::PartitionHalves
            | FaultKind::PartitionRing
            | FaultKind::PartitionOneWay => {
                let (p, targets) = nemesis::partition_for(kind, &nodes, leader_name, &mut self.rng)
                    .ok_or_else(|| {
                        anyhow::anyhow!("no partition of that shape for {} nodes", nodes.len())
                    })?;
                if kind == FaultKind::PartitionRandom && leader_name.is_some() {
                    rec.role = if leader_name == targets.first().map(String::as_str) {
                        "leader"
                    } else {
                        "follower"
                    }
                    .into();
                }
                self.partition(kind, &p, &targets, leader_name, rec)?;
                Ok(Undo::Heal)
            }
            FaultKind::KillLeader | FaultKind::KillRandom => {
                let target = match kind {
                    FaultKind::KillLeader => leader_name.unwrap().to_string(),
                    _ => nodes.choose(&mut self.rng).unwrap().clone(),
                };
                self.cluster.kill(&target)?;
                self.check_processes(kind.name(), std::slice::from_ref(&target), Down);
                let role = if Some(target.as_str()) == leader_name {
                    "leader"
                } else {
                    "follower"
                };
                rec.targets = vec![target.clone()];
                rec.detail = format!("SIGKILL {target} ({role})");
                self.event(
                    "kill",
                    json!({"nodes": [target], "role": role, "term": rec.term}),
                );
                Ok(Undo::Restart(target))
            }
            FaultKind::PauseLeader => {
                let target = leader_name.unwrap().to_string();
                self.cluster.pause(&target)?;
                self.check_processes(kind.name(), std::slice::from_ref(&target), Paused);
                rec.targets = vec![target.clone()];
                rec.detail = format!("SIGSTOP {target} (leader)");
                self.event(
                    "pause",
                    json!({"nodes": [target], "role": "leader", "term": rec.term}),
                );
                Ok(Undo::Resume(target))
            }
            FaultKind::ClockSkew => {
                // A skewed clock is only visible when a new leader can emerge while the old one still trusts
                // its lease: slow the leader's clock beyond the drift bound, then cut it off from its peers.
                let target = leader_name.unwrap().to_string();
                self.probe
                    .set_clock(
                        &target,
                        ClockRequest {
                            offset_ms: 0.0,
                            rate: self.skew_rate,
                        },
                    )
                    .await?;
                let p = Partition::isolate(&target, &nodes);
                self.event(
                    "start-clock-skew",
                    json!({"nodes": [target], "role": "leader", "rate": self.skew_rate, "term": rec.term}),
                );
                if let Err(e) =
                    self.partition(kind, &p, std::slice::from_ref(&target), leader_name, rec)
                {
                    let _ = self
                        .probe
                        .set_clock(
                            &target,
                            ClockRequest {
                                offset_ms: 0.0,
                                rate: 1.0,
                            },
                        )
                        .await;
                    return Err(e);
                }
                rec.detail = format!(
                    "{target} clock rate {} and isolated; {}",
                    self.skew_rate, rec.detail
                );
                Ok(Undo::UnskewAndHeal(target))
            }
            other => self.apply_more(other, leader_name, rec).await,
        }
    }

    fn partition(
        &mut self,
        kind: FaultKind,
        p: &Partition,
        targets: &[String],
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> anyhow::Result<()> {
        self.net.apply(p)?;
        if self.cut_clients {
            if let Err(e) = self.net.cut_clients(p) {
                let _ = self.net.heal();
                return Err(e.into());
            }
        }
        self.check_landing(kind.name(), p);
        rec.targets = targets.to_vec();
        let scope = if self.cut_clients { "all" } else { "peers" };
        rec.detail = format!("partition {} (scope {scope})", p.describe());
        self.event(
            "start-partition",
            json!({
                "fault": kind.name(),
                "isolated": targets,
                "role": rec.role,
                "leader": leader,
                "term": rec.term,
                "partition": p.describe(),
                "scope": scope,
            }),
        );
        Ok(())
    }

    /// End the fault [`FaultRunner::start`] returned `id` for, if it is still on.
    pub async fn stop(&mut self, id: usize) {
        let Some(at) = self.active.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let (_, undo) = self.active.remove(at);
        self.records[id].end_s = Some(self.recorder.elapsed().as_secs_f64());
        let result: anyhow::Result<()> = async {
            match undo {
                Undo::Heal => {
                    self.net.heal()?;
                    self.event("stop-partition", json!({}));
                    self.check_landing("heal", &Partition::default());
                }
                Undo::Restart(n) => {
                    self.cluster.restart(&n)?;
                    self.event("restart", json!({"nodes": [&n]}));
                    self.check_processes("restart", &[n], Running);
                }
                Undo::Resume(n) => {
                    self.cluster.resume(&n)?;
                    self.event("resume", json!({"nodes": [&n]}));
                    self.check_processes("resume", &[n], Running);
                }
                Undo::UnskewAndHeal(n) => {
                    self.net.heal()?;
                    self.event("stop-partition", json!({}));
                    self.check_landing("heal", &Partition::default());
                    self.probe
                        .set_clock(
                            &n,
                            ClockRequest {
                                offset_ms: 0.0,
                                rate: 1.0,
                            },
                        )
                        .await?;
                    self.event("stop-clock-skew", json!({"nodes": [n]}));
                }
                Undo::RestartAll(nodes) => {
                    for n in &nodes {
                        self.cluster.restart(n)?;
                    }
                    self.event("restart", json!({"nodes": &nodes}));
                    self.check_processes("restart", &nodes, Running);
                }
                Undo::Unshape(n, fault) => {
                    // Before the removal: a delay thread that died mid-fault makes the run invalid.
                    self.check_packet_health(&n);
                    self.net.unshape(&n)?;
                    self.event("stop-packet-fault", json!({"nodes": [&n]}));
                    self.check_packets("heal", &n, &fault, false);
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!("undoing fault: {e:#}");
        }
        self.show_current();
    }
}
