//! Process faults: kill (one node or all), pause and corrupt-data (a kill, then damage to the node's
//! data); undone by restarting or resuming. Landing is checked from the process states.

use super::landing::ProcState::{Down, Paused, Running};
use super::{FaultRecord, FaultRunner, Undo};
use anyhow::{Context, Result};
use nemesis::family::process;
use nemesis::FaultKind;
use rand::seq::SliceRandom;
use serde_json::json;
use std::time::Duration;

impl FaultRunner<'_> {
    /// kill-leader and kill-random: SIGKILL one node.
    pub(super) fn kill_one(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let target = match kind {
            FaultKind::KillLeader => leader.unwrap().to_string(),
            _ => nodes.choose(&mut self.rng).unwrap().clone(),
        };
        self.cluster.kill(&target)?;
        self.check_processes(kind.name(), std::slice::from_ref(&target), Down);
        let role = if Some(target.as_str()) == leader {
            "leader"
        } else {
            "follower"
        };
        rec.targets = vec![target.clone()];
        rec.detail = format!("SIGKILL {target} ({role})");
        self.event(
            process::KILL,
            json!({"nodes": [target], "role": role, "term": rec.term}),
        );
        Ok(Undo::Restart(target))
    }

    pub(super) fn pause_leader(
        &mut self,
        kind: FaultKind,
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let target = leader.unwrap().to_string();
        self.cluster.pause(&target)?;
        self.check_processes(kind.name(), std::slice::from_ref(&target), Paused);
        rec.targets = vec![target.clone()];
        rec.detail = format!("SIGSTOP {target} (leader)");
        self.event(
            process::PAUSE,
            json!({"nodes": [target], "role": "leader", "term": rec.term}),
        );
        Ok(Undo::Resume(target))
    }

    pub(super) fn pause_random(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let random = nodes.choose(&mut self.rng).context("no nodes")?.clone();
        self.cluster.pause(&random)?;
        rec.targets = vec![random.clone()];
        rec.detail = format!("SIGSTOP {random}");
        self.event(process::PAUSE, json!({"nodes": [&random], "role": "any"}));
        self.check_processes(kind.name(), &rec.targets, Paused);
        Ok(Undo::Resume(random))
    }

    pub(super) fn kill_all(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        // Drawn though unused, so that the targets later faults draw from the seed stay what they were.
        nodes.choose(&mut self.rng).context("no nodes")?;
        for n in nodes {
            self.cluster.kill(n)?;
        }
        rec.targets = nodes.to_vec();
        rec.detail = format!("SIGKILL {}", nodes.join(" "));
        self.event(process::KILL, json!({"nodes": nodes, "role": "all"}));
        self.check_processes(kind.name(), nodes, Down);
        Ok(Undo::RestartAll(nodes.to_vec()))
    }

    /// Undo [`Undo::Restart`].
    pub(super) fn restart(&mut self, node: String) -> Result<()> {
        self.cluster.restart(&node)?;
        self.event(process::RESTART, json!({"nodes": [&node]}));
        self.check_processes(process::RESTART, &[node], Running);
        Ok(())
    }

    /// Where the system needs it ([`FaultRunner::rejoin_wait`]), waits until the restarted `nodes` serve
    /// again (they answer and are not still joining), so the next fault does not take away the member a
    /// joiner copies its state from (a Galera joiner then aborts). Recorded as `rejoined` with the wait,
    /// or `rejoin-timeout`; a member that never rejoins is caught by the recovery check after the run.
    pub(super) async fn await_rejoin(&mut self, nodes: &[String]) {
        let Some(wait) = self.rejoin_wait else {
            return;
        };
        let start = std::time::Instant::now();
        loop {
            let statuses = self.probe.statuses().await;
            let serving = |n: &String| {
                statuses.iter().any(|(name, s)| {
                    name == n
                        && s.as_ref().is_some_and(|s| {
                            matches!(s.role, node::api::Role::Follower | node::api::Role::Leader)
                        })
                })
            };
            if nodes.iter().all(serving) {
                let after_s = start.elapsed().as_secs_f64();
                self.event("rejoined", json!({"nodes": nodes, "after_s": after_s}));
                return;
            }
            if start.elapsed() >= wait {
                self.event(
                    "rejoin-timeout",
                    json!({"nodes": nodes, "wait_s": wait.as_secs_f64()}),
                );
                tracing::warn!("{nodes:?} did not serve again within {wait:?} of the restart");
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Undo [`Undo::RestartAll`].
    pub(super) fn restart_all(&mut self, nodes: Vec<String>) -> Result<()> {
        for n in &nodes {
            self.cluster.restart(n)?;
        }
        self.event(process::RESTART, json!({"nodes": &nodes}));
        self.check_processes(process::RESTART, &nodes, Running);
        Ok(())
    }

    /// Undo [`Undo::Resume`].
    pub(super) fn resume(&mut self, node: String) -> Result<()> {
        self.cluster.resume(&node)?;
        self.event(process::RESUME, json!({"nodes": [&node]}));
        self.check_processes(process::RESUME, &[node], Running);
        Ok(())
    }
}
