//! Partitions: cut links between node groups (blackhole routes, [`partition_for`] draws the shape;
//! with `--partition-scope all` also the client sessions homed across the cut); healed by restoring every
//! link. Landing is checked by probing every pair.

use super::kind::{Aim, Channel, Events, Family, Kind, Layer, SpanKind};
use super::run::{Active, Ops, Run};
use crate::fault_kind::FaultKind;
use crate::Partition;
use futures::future::LocalBoxFuture;
use serde_json::json;

mod probe;
mod shapes;
use probe::check;
pub use shapes::partition_for;

/// Written when a partition (or the clock fault's isolation) is applied; its `fault` names the kind.
pub const START: &str = "start-partition";
/// Written when every link is restored.
pub const STOP: &str = "stop-partition";

/// Isolate the current leader from every other node.
pub const LEADER: FaultKind = FaultKind::new(&Kind::in_all(
    "partition-leader",
    0,
    Aim::Leader,
    true,
    Some("#e15759"),
));
/// Isolate one follower from every other node.
pub const FOLLOWER: FaultKind = FaultKind::new(&Kind::in_all(
    "partition-follower",
    1,
    Aim::Follower,
    false,
    Some("#f28e2b"),
)
.needs_nodes(3));
/// Isolate one random node (leader or not) from every other node; needs no leader.
pub const RANDOM: FaultKind =
    FaultKind::new(&Kind::in_all("partition-random", 2, Aim::AnyPlaced, false, None).needs_nodes(2));
/// Split the nodes in two, the leader on the minority side.
pub const HALVES: FaultKind = FaultKind::new(&Kind::in_all(
    "partition-halves",
    3,
    Aim::LeaderIfKnown,
    false,
    Some("#edc948"),
)
.needs_nodes(3));
/// Each node reaches only its two ring neighbours.
pub const RING: FaultKind = FaultKind::new(&Kind::in_all(
    "partition-ring",
    4,
    Aim::AllPlaced,
    false,
    Some("#b07aa1"),
)
.needs_nodes(4));
/// Cut one direction only between the leader and the rest (it can send but not receive, or the
/// reverse); TCP needs both, so its connections break while the routes differ.
pub const ONE_WAY: FaultKind =
    FaultKind::new(&Kind::in_all("partition-one-way", 9, Aim::Leader, false, None));

pub const FAMILY: Family = Family {
    name: "partition",
    kinds: &[LEADER, FOLLOWER, RANDOM, HALVES, RING, ONE_WAY],
    events: &[Events {
        start: START,
        stop: STOP,
        channel: Channel::Cluster("partition"),
        span: Some(SpanKind::Field("partition")),
    }],
    start_needs: &[],
    layer: Layer::Network,
    ops: &Partitions,
};

#[derive(Debug)]
struct Partitions;

impl Ops for Partitions {
    fn apply<'a>(
        &'a self,
        run: &'a mut Run<'_>,
        kind: FaultKind,
    ) -> LocalBoxFuture<'a, anyhow::Result<Box<dyn Active>>> {
        Box::pin(async move { start(run, kind).map(|()| Box::new(Heal) as Box<dyn Active>) })
    }
}

/// Cuts the shape `kind` names around the leader (when aimed at it).
fn start(run: &mut Run<'_>, kind: FaultKind) -> anyhow::Result<()> {
    let nodes = run.nodes.names();
    let leader = run.leader.clone();
    let (p, targets) = partition_for(kind, &nodes, leader.as_deref(), run.rng)
        .ok_or_else(|| anyhow::anyhow!("no partition of that shape for {} nodes", nodes.len()))?;
    if kind == RANDOM && leader.is_some() {
        run.out.role = if leader.as_ref() == targets.first() {
            "leader"
        } else {
            "follower"
        }
        .into();
    }
    cut(run, kind, &p, &targets)
}

/// Applies `p` (also for the clock fault's isolation), checks it landed and records it.
pub fn cut(
    run: &mut Run<'_>,
    kind: FaultKind,
    p: &Partition,
    targets: &[String],
) -> anyhow::Result<()> {
    let cut_clients = run.settings.partition.cut_clients;
    run.net.apply(p)?;
    if cut_clients {
        if let Err(e) = run.net.cut_clients(p) {
            let _ = run.net.heal();
            return Err(e.into());
        }
    }
    check(run, kind.name(), p);
    run.out.targets = targets.to_vec();
    let scope = if cut_clients { "all" } else { "peers" };
    run.out.detail = format!("partition {} (scope {scope})", p.describe());
    run.event(
        START,
        json!({
            "fault": kind.name(),
            "isolated": targets,
            "role": run.out.role,
            "leader": run.leader,
            "term": run.term,
            "partition": p.describe(),
            "scope": scope,
        }),
    );
    Ok(())
}

/// Restores every link and checks that every pair connects again.
pub fn heal(run: &mut Run<'_>) -> anyhow::Result<()> {
    run.net.heal()?;
    run.event(STOP, json!({}));
    check(run, "heal", &Partition::default());
    Ok(())
}

/// A partition that is on; undone by [`heal`].
struct Heal;

impl Active for Heal {
    fn undo<'a>(self: Box<Self>, run: &'a mut Run<'_>) -> LocalBoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { heal(run) })
    }
}
