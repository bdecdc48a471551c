//! The driven part of a run, as phases of one [`Drive`] value: warm up (healthy, start checks), drive
//! (the workload with its faults), heal, recover, settle, final reads, convergence. What goes wrong is
//! collected in the value (`problems`, `refused`), so it is there whether the drive ends or is interrupted.

use super::cluster::NodeCluster;
use super::faults::{FaultRecord, FaultRunner, FaultSettings};
use super::probe::Probe;
use super::progress::{self, Progress};
use super::sampler::{self, Sampler};
use super::{bounds, convergence, guarantees, start_checks, RunProblems};
use crate::settings::RunConfig;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workloads::{Client, Recorder, WorkloadConfig};

/// What the phases use: the run's options, its client and probe, the history and the progress line.
pub struct DriveContext<'a> {
    pub cfg: &'a RunConfig,
    pub probe: &'a Probe,
    pub client: &'a Arc<dyn Client>,
    pub recorder: &'a Arc<Recorder>,
    pub client_rt: &'a tokio::runtime::Runtime,
    pub progress: &'a Progress,
    /// The faults on now, shown in the progress line.
    pub current_fault: Arc<Mutex<String>>,
}

/// One drive, from waiting for a healthy cluster to the convergence check.
pub struct Drive<'a> {
    ctx: DriveContext<'a>,
    wcfg: WorkloadConfig,
    /// Problems that make the run itself invalid (exit 3) unless the checker found an anomaly anyway.
    pub problems: RunProblems,
    /// Why the start checks refused the run (a bad argument, said once the cluster is up).
    pub refused: Option<String>,
}

/// What warm-up leaves for the rest of the drive.
struct Warm {
    /// Every node reported no leader at the start: faults are aimed without waiting for one.
    leaderless: bool,
    /// Samples every node's status into the history until the drive ends.
    _status_samples: Sampler,
}

/// The convergence measurement started at the heal, ended once the final reads are over.
struct Converging {
    task: JoinHandle<guarantees::ConvergenceRecord>,
    reads_done: watch::Sender<bool>,
}

impl<'a> Drive<'a> {
    pub fn new(ctx: DriveContext<'a>) -> Self {
        let wcfg = ctx.cfg.workload_config();
        Drive {
            ctx,
            wcfg,
            problems: RunProblems::new(),
            refused: None,
        }
    }

    /// Healthy → workload with faults → heal → recovery → final reads. Returns the fault records; a phase
    /// that fails says why in `problems` (or `refused`) and ends the drive there.
    pub async fn run(
        &mut self,
        cluster: &mut NodeCluster,
        net: &dyn nemesis::Net,
    ) -> Vec<FaultRecord> {
        let Some(warm) = self.warm_up(cluster).await else {
            return Vec::new();
        };
        let settings = FaultSettings::of(self.ctx.cfg, warm.leaderless);
        let runner = FaultRunner::new(
            cluster,
            net,
            self.ctx.probe.clone(),
            self.ctx.recorder.clone(),
            self.ctx.current_fault.clone(),
            settings,
        );
        let runner = self.drive(runner).await;
        let (records, converging) = self.heal(runner);
        if !self.recover(warm.leaderless).await {
            return records;
        }
        self.settle().await;
        self.final_reads().await;
        self.converge(converging).await;
        records
    }

    /// Wait for a healthy cluster (or for every node to have exited), run the start checks and the
    /// workload's own, and start sampling the nodes' status. `None`: the drive ends here.
    async fn warm_up(&mut self, cluster: &mut NodeCluster) -> Option<Warm> {
        let (cfg, probe) = (self.ctx.cfg, self.ctx.probe);
        self.ctx.progress.phase(
            "starting",
            &format!(
                "waiting for the cluster to become healthy (up to {})",
                progress::secs(cfg.cluster.health_timeout)
            ),
        );
        // A system leaderless by design need not show it for a while first.
        let leaderless_after = if cfg.cluster.system.is_leaderless() {
            Some(Duration::ZERO)
        } else {
            cfg.may_be_leaderless()
                .then_some(start_checks::LEADERLESS_AFTER)
        };
        let healthy = tokio::select! {
            r = probe.wait_healthy(cfg.cluster.health_timeout, leaderless_after) => r,
            dead = every_node_exited(cluster) => Err(anyhow::anyhow!(
                "every node process exited (see {})", dead.join(", ")
            )),
        };
        let leaderless = match healthy {
            Err(e) => {
                self.problems
                    .push(format!("the cluster never became healthy: {e}"));
                return None;
            }
            Ok(leader) => leader.is_none(),
        };
        // When the cluster was first healthy, for results.json's `startup` (time to healthy per system).
        self.ctx
            .recorder
            .observe("harness", "healthy", serde_json::Value::Null);
        if let Some(why) = start_checks::refusal(&cfg.faults.kinds, leaderless, probe).await {
            self.refused = Some(why);
            return None;
        }
        let status_samples = sampler::spawn(self.ctx.client, self.ctx.recorder, self.ctx.client_rt);
        if let Err(e) = probe.workload(&self.wcfg).await {
            self.problems.push(e);
            return None;
        }
        Some(Warm {
            leaderless,
            _status_samples: status_samples,
        })
    }

    /// The workload for `--time-limit`, with each scheduled fault started and stopped at its offsets.
    async fn drive<'r>(&mut self, mut runner: FaultRunner<'r>) -> FaultRunner<'r> {
        let (cfg, recorder) = (self.ctx.cfg, self.ctx.recorder);
        let (stop_tx, stop_rx) = watch::channel(false);
        let workload = self.ctx.client_rt.spawn(workloads::run(
            self.wcfg.clone(),
            self.ctx.client.clone(),
            recorder.clone(),
            stop_rx,
        ));
        let t0 = tokio::time::Instant::now();
        self.ctx.progress.phase(
            "workload",
            &format!("for {}", progress::secs(cfg.workload.time_limit)),
        );
        let windows = cfg.schedule();
        // Each window's fault while it is on (windows overlap where their faults compose).
        let mut on: Vec<Option<usize>> = vec![None; windows.len()];
        for step in nemesis::timeline(&windows) {
            let w = &windows[step.window];
            // A window whose end has passed while the last fault overran is skipped (and said so), so the
            // faults are over by the time limit plus one fault's overrun (bounds::run_bound).
            if step.start && tokio::time::Instant::now() >= t0 + w.end {
                recorder.nemesis("fault-skipped", serde_json::json!({"fault": w.kind.name(), "start_s": w.start.as_secs_f64(), "reason": "the fault before it overran this window"}));
                continue;
            }
            tokio::time::sleep_until(t0 + step.at).await;
            if step.start {
                on[step.window] = runner.start(w.kind).await;
            } else if let Some(id) = on[step.window].take() {
                runner.stop(id).await;
            }
        }
        tokio::time::sleep_until(t0 + cfg.workload.time_limit).await;
        let _ = stop_tx.send(true);
        match workload.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.problems.push(format!("workload failed: {e}")),
            Err(e) => self.problems.push(format!("workload task failed: {e}")),
        }
        runner.stop_all().await;
        runner
    }

    /// End every fault, heal the network and start measuring convergence from here: every node's local
    /// state is polled while the cluster recovers and settles, and until the final reads are over
    /// ([`super::convergence`]). Returns the fault records.
    fn heal(&mut self, mut runner: FaultRunner<'_>) -> (Vec<FaultRecord>, Converging) {
        let cfg = self.ctx.cfg;
        self.problems.append(&mut runner.not_landed);
        if let Err(e) = runner.net.heal() {
            self.problems
                .push(format!("healing the network failed: {e}"));
        }
        let healed = tokio::time::Instant::now();
        let (reads_done, reads_done_rx) = watch::channel(false);
        let task = self.ctx.client_rt.spawn(convergence::measure(
            self.ctx.client.clone(),
            runner.cluster.names(),
            self.wcfg.key_names(),
            healed,
            cfg.workload.settle,
            reads_done_rx,
        ));
        for kind in &cfg.faults.kinds {
            if !runner.records.iter().any(|r| r.kind == *kind && r.hit) {
                self.problems.push(format!(
                    "fault {} never hit its intended target",
                    kind.name()
                ));
            }
        }
        (runner.records, Converging { task, reads_done })
    }

    /// Wait for the healed cluster to become healthy again; false (with the problem said) if it does not.
    async fn recover(&mut self, leaderless: bool) -> bool {
        self.ctx.progress.phase(
            "recovery",
            "healed; waiting for the cluster to become healthy (up to 20 s)",
        );
        let leaderless_ok = leaderless.then_some(Duration::ZERO);
        if let Err(e) = self
            .ctx
            .probe
            .wait_healthy(bounds::RECOVERY, leaderless_ok)
            .await
        {
            self.problems
                .push(format!("the cluster did not recover after healing: {e}"));
            return false;
        }
        true
    }

    /// The settle period comes before the final reads too: a read served by a follower still within the
    /// async lag would otherwise report appends the cluster still holds as lost.
    async fn settle(&self) {
        let settle = self.ctx.cfg.workload.settle;
        self.ctx.progress.phase(
            "settle",
            &format!("{} before the final reads", progress::secs(settle)),
        );
        tokio::time::sleep(settle).await;
    }

    /// Every key read once more, marked in the history so the checkers know where they start.
    async fn final_reads(&mut self) {
        self.ctx
            .progress
            .phase("final reads", "every key read once more (up to 10 s)");
        self.ctx.recorder.observe(
            guarantees::ACTOR,
            guarantees::FINAL_READS,
            serde_json::Value::Null,
        );
        let final_reads = workloads::final_reads(
            self.wcfg.clone(),
            self.ctx.client.clone(),
            self.ctx.recorder.clone(),
            bounds::FINAL_READS,
        );
        match self.ctx.client_rt.spawn(final_reads).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.problems.push(format!("final reads failed: {e}")),
            Err(e) => self.problems.push(format!("final reads task failed: {e}")),
        }
    }

    /// End the convergence measurement (its last round of local reads) and record what it found.
    async fn converge(&mut self, converging: Converging) {
        self.ctx.progress.phase(
            "convergence",
            "waiting for every node's own state to agree (up to 10 s)",
        );
        let _ = converging.reads_done.send(true);
        match converging.task.await {
            Ok(rec) => {
                let value = serde_json::to_value(&rec).unwrap_or_default();
                self.ctx
                    .recorder
                    .observe(guarantees::ACTOR, guarantees::CONVERGED, value);
            }
            Err(e) => self
                .problems
                .push(format!("the convergence check failed: {e}")),
        }
    }
}

/// Returns (with the logs to read) once no node process is left running: nothing can become healthy.
async fn every_node_exited(cluster: &mut NodeCluster) -> Vec<String> {
    loop {
        let exited = cluster.exited();
        if exited.len() == cluster.names().len() {
            return exited
                .iter()
                .map(|n| format!("nodes/{n}/node.log"))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
