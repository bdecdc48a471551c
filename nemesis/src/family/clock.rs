//! The clock fault: slow the leader's clock (offset and rate, `POST /admin/clock`) beyond the drift bound
//! and isolate it; undone by healing the partition, then resetting the clock.

use super::kind::{Aim, Channel, Events, Family, Kind, Layer, SpanKind, StartNeed};
use super::partition;
use super::run::{Active, Ops, Run};
use crate::fault_kind::FaultKind;
use crate::Partition;
use anyhow::Result;
use futures::future::LocalBoxFuture;
use serde_json::json;

pub const START: &str = "start-clock-skew";
pub const STOP: &str = "stop-clock-skew";

/// Skew a node's clock (offset and rate); reset it when the window ends.
pub const SKEW: FaultKind = FaultKind::new(&Kind::in_all(
    "clock-skew",
    8,
    Aim::Leader,
    true,
    Some("#ff9da7"),
));

pub const FAMILY: Family = Family {
    name: "clock",
    kinds: &[SKEW],
    events: &[Events {
        start: START,
        stop: STOP,
        channel: Channel::PerNode("clock"),
        span: Some(SpanKind::Fixed("clock-skew")),
    }],
    start_needs: &[StartNeed::ClockEndpoint],
    // Its isolation is a partition: it cannot be on with another partition.
    layer: Layer::Network,
    ops: &Clock,
};

#[derive(Debug)]
struct Clock;

impl Ops for Clock {
    fn apply<'a>(
        &'a self,
        run: &'a mut Run<'_>,
        kind: FaultKind,
    ) -> LocalBoxFuture<'a, Result<Box<dyn Active>>> {
        Box::pin(start(run, kind))
    }
}

async fn start(run: &mut Run<'_>, kind: FaultKind) -> Result<Box<dyn Active>> {
    // A skewed clock is only visible when a new leader can emerge while the old one still trusts its
    // lease: slow the leader's clock beyond the drift bound, then cut it off from its peers.
    let target = run.leader.clone().unwrap();
    let rate = run.settings.clock.skew_rate;
    run.cluster.set_clock(&target, 0.0, rate).await?;
    let p = Partition::isolate(&target, &run.nodes.names());
    run.event(
        START,
        json!({"nodes": [target], "role": "leader", "rate": rate, "term": run.term}),
    );
    if let Err(e) = partition::cut(run, kind, &p, std::slice::from_ref(&target)) {
        let _ = real_time(run, &target).await;
        return Err(e);
    }
    run.out.detail = format!(
        "{target} clock rate {rate} and isolated; {}",
        run.out.detail
    );
    Ok(Box::new(Unskew(target)))
}

/// Gives `node` a clock running at real time.
async fn real_time(run: &Run<'_>, node: &str) -> Result<()> {
    run.cluster.set_clock(node, 0.0, 1.0).await
}

/// A skewed, isolated node; undone by healing first, then giving it its real-time clock back.
struct Unskew(String);

impl Active for Unskew {
    fn undo<'a>(self: Box<Self>, run: &'a mut Run<'_>) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let node = self.0;
            partition::heal(run)?;
            real_time(run, &node).await?;
            run.event(STOP, json!({"nodes": [node]}));
            Ok(())
        })
    }
}
