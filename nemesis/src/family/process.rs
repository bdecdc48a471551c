//! Process faults: SIGKILL (restarted when the window ends) and SIGSTOP (resumed), of the leader, a
//! random node or every node ([`crate::ManagedProcess`]). Landing is checked from the process states.

use super::kind::{Aim, Channel, Events, Family, Kind, Layer, SpanKind};
use super::run::{Active, Ops, Run};
use crate::fault_kind::FaultKind;
use anyhow::{Context, Result};
use futures::future::LocalBoxFuture;
use rand::seq::SliceRandom;
use serde_json::json;
use std::time::Duration;

mod probe;
pub use probe::{check, ProcState, PROCESS_CHECK};
use ProcState::{Down, Paused, Running};

pub const KILL: &str = "kill";
pub const RESTART: &str = "restart";
pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";

/// SIGKILL the leader; restart it when the window ends.
pub const KILL_LEADER: FaultKind = FaultKind::new(&Kind::in_all(
    "kill-leader",
    5,
    Aim::Leader,
    true,
    Some("#4e79a7"),
));
/// SIGKILL a random node; restart it when the window ends.
pub const KILL_RANDOM: FaultKind = FaultKind::new(&Kind::in_all(
    "kill-random",
    6,
    Aim::Any,
    false,
    Some("#9c755f"),
));
/// SIGKILL every node at once; restart them all when the window ends (durability of acknowledged
/// writes).
pub const KILL_ALL: FaultKind = FaultKind::new(&Kind::in_all("kill-all", 11, Aim::All, false, None));
/// SIGSTOP the leader; SIGCONT it when the window ends.
pub const PAUSE_LEADER: FaultKind = FaultKind::new(&Kind::in_all(
    "pause-leader",
    7,
    Aim::Leader,
    true,
    Some("#76b7b2"),
));
/// SIGSTOP a random node; SIGCONT it when the window ends.
pub const PAUSE_RANDOM: FaultKind =
    FaultKind::new(&Kind::in_all("pause-random", 10, Aim::Any, false, None));

pub const FAMILY: Family = Family {
    name: "process",
    kinds: &[KILL_LEADER, KILL_RANDOM, KILL_ALL, PAUSE_LEADER, PAUSE_RANDOM],
    events: &[
        Events {
            start: KILL,
            stop: RESTART,
            channel: Channel::PerNode("kill"),
            span: Some(SpanKind::ByRole("kill")),
        },
        Events {
            start: PAUSE,
            stop: RESUME,
            channel: Channel::PerNode("pause"),
            span: Some(SpanKind::ByRole("pause")),
        },
    ],
    start_needs: &[],
    layer: Layer::Processes,
    ops: &Processes,
};

#[derive(Debug)]
struct Processes;

impl Ops for Processes {
    fn apply<'a>(
        &'a self,
        run: &'a mut Run<'_>,
        kind: FaultKind,
    ) -> LocalBoxFuture<'a, Result<Box<dyn Active>>> {
        Box::pin(async move {
            let nodes = run.nodes.names();
            // The constants are this family's own kinds; what each does is said once, here.
            match kind {
                KILL_LEADER | KILL_RANDOM => kill_one(run, kind, &nodes),
                PAUSE_LEADER => pause_leader(run, kind),
                KILL_ALL => kill_all(run, kind, &nodes),
                _ => pause_random(run, kind, &nodes),
            }
        })
    }

    fn restarts(&self, kind: FaultKind) -> bool {
        matches!(
            kind,
            KILL_LEADER | KILL_RANDOM | KILL_ALL
        )
    }
}

/// kill-leader and kill-random: SIGKILL one node.
fn kill_one(run: &mut Run<'_>, kind: FaultKind, nodes: &[String]) -> Result<Box<dyn Active>> {
    let target = match kind {
        KILL_LEADER => run.leader.clone().unwrap(),
        _ => nodes.choose(run.rng).unwrap().clone(),
    };
    run.nodes.kill(&target)?;
    check(run, kind.name(), std::slice::from_ref(&target), Down);
    let role = if Some(target.as_str()) == run.leader() {
        "leader"
    } else {
        "follower"
    };
    run.out.targets = vec![target.clone()];
    run.out.detail = format!("SIGKILL {target} ({role})");
    run.event(
        KILL,
        json!({"nodes": [target], "role": role, "term": run.term}),
    );
    Ok(Box::new(Restart(vec![target])))
}

fn pause_leader(run: &mut Run<'_>, kind: FaultKind) -> Result<Box<dyn Active>> {
    let target = run.leader.clone().unwrap();
    run.nodes.pause(&target)?;
    check(run, kind.name(), std::slice::from_ref(&target), Paused);
    run.out.targets = vec![target.clone()];
    run.out.detail = format!("SIGSTOP {target} (leader)");
    run.event(
        PAUSE,
        json!({"nodes": [target], "role": "leader", "term": run.term}),
    );
    Ok(Box::new(Resume(target)))
}

fn pause_random(run: &mut Run<'_>, kind: FaultKind, nodes: &[String]) -> Result<Box<dyn Active>> {
    let random = nodes.choose(run.rng).context("no nodes")?.clone();
    run.nodes.pause(&random)?;
    run.out.targets = vec![random.clone()];
    run.out.detail = format!("SIGSTOP {random}");
    run.event(PAUSE, json!({"nodes": [&random], "role": "any"}));
    check(run, kind.name(), std::slice::from_ref(&random), Paused);
    Ok(Box::new(Resume(random)))
}

fn kill_all(run: &mut Run<'_>, kind: FaultKind, nodes: &[String]) -> Result<Box<dyn Active>> {
    // Drawn though unused, so that the targets later faults draw from the seed stay what they were.
    nodes.choose(run.rng).context("no nodes")?;
    for n in nodes {
        run.nodes.kill(n)?;
    }
    run.out.targets = nodes.to_vec();
    run.out.detail = format!("SIGKILL {}", nodes.join(" "));
    run.event(KILL, json!({"nodes": nodes, "role": "all"}));
    check(run, kind.name(), nodes, Down);
    Ok(Box::new(Restart(nodes.to_vec())))
}

/// Killed nodes (one, or all at once), restarted when undone; also the disk fault's undo.
pub struct Restart(pub Vec<String>);

impl Active for Restart {
    fn undo<'a>(self: Box<Self>, run: &'a mut Run<'_>) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let nodes = self.0;
            for n in &nodes {
                run.nodes.restart(n)?;
            }
            run.event(RESTART, json!({"nodes": &nodes}));
            check(run, RESTART, &nodes, Running);
            await_rejoin(run, &nodes).await;
            Ok(())
        })
    }
}

/// A paused node, resumed when undone.
struct Resume(String);

impl Active for Resume {
    fn undo<'a>(self: Box<Self>, run: &'a mut Run<'_>) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let node = self.0;
            run.nodes.resume(&node)?;
            run.event(RESUME, json!({"nodes": [&node]}));
            check(run, RESUME, &[node], Running);
            Ok(())
        })
    }
}

/// Where the system needs it ([`super::settings::ProcessSettings::rejoin_wait`]), waits until the
/// restarted `nodes` serve again (they answer and are not still joining), so the next fault does not take
/// away the member a joiner copies its state from (a Galera joiner then aborts). Recorded as `rejoined`
/// with the wait, or `rejoin-timeout`; a member that never rejoins is caught by the recovery check after
/// the run.
async fn await_rejoin(run: &mut Run<'_>, nodes: &[String]) {
    let Some(wait) = run.settings.process.rejoin_wait else {
        return;
    };
    let start = std::time::Instant::now();
    loop {
        let serving = run.cluster.serving().await;
        if nodes.iter().all(|n| serving.contains(n)) {
            let after_s = start.elapsed().as_secs_f64();
            run.event("rejoined", json!({"nodes": nodes, "after_s": after_s}));
            return;
        }
        if start.elapsed() >= wait {
            run.event(
                "rejoin-timeout",
                json!({"nodes": nodes, "wait_s": wait.as_secs_f64()}),
            );
            tracing::warn!("{nodes:?} did not serve again within {wait:?} of the restart");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
