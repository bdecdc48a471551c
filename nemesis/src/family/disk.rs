//! The disk fault: SIGKILL a random node, truncate or bit-flip the tail of a file in its data directory,
//! restart it when the window ends. Not in `all`: it destroys data on purpose.

use super::kind::{Aim, Channel, Events, Family, Kind, Layer};
use super::process::{self, ProcState, Restart};
use super::run::{Active, Ops, Run};
use crate::fault_kind::FaultKind;
use anyhow::Context;
use futures::future::LocalBoxFuture;
use rand::seq::SliceRandom;
use serde_json::json;

mod damage;
pub use damage::{corrupt_tail, Damage, TAIL};

/// Written after the damage; the restart that ends the window is the process family's.
pub const CORRUPT: &str = "corrupt";

/// SIGKILL a random node, truncate or bit-flip the tail of a file in its data directory, restart it
/// when the window ends.
pub const CORRUPT_DATA: FaultKind = FaultKind::new(&Kind {
    name: "corrupt-data",
    order: 12,
    in_all: false,
    aim: Aim::Any,
    leader_fault: false,
    color: None,
    min_nodes: 1,
});

pub const FAMILY: Family = Family {
    name: "disk",
    kinds: &[CORRUPT_DATA],
    events: &[Events {
        start: CORRUPT,
        stop: process::RESTART,
        channel: Channel::PerNode("kill"),
        // Not recovered from a stored history (its restart closes no window there).
        span: None,
    }],
    start_needs: &[],
    layer: Layer::Processes,
    ops: &Disk,
};

#[derive(Debug)]
struct Disk;

impl Ops for Disk {
    fn apply<'a>(
        &'a self,
        run: &'a mut Run<'_>,
        kind: FaultKind,
    ) -> LocalBoxFuture<'a, anyhow::Result<Box<dyn Active>>> {
        Box::pin(async move { corrupt(run, kind) })
    }

    fn restarts(&self, _kind: FaultKind) -> bool {
        true
    }
}

/// SIGKILL a random node, then damage the tail of its largest data file; restarted when undone, as a
/// kill is.
fn corrupt(run: &mut Run<'_>, kind: FaultKind) -> anyhow::Result<Box<dyn Active>> {
    let random = run
        .nodes
        .names()
        .choose(run.rng)
        .context("no nodes")?
        .clone();
    run.nodes.kill(&random)?;
    process::check(
        run,
        kind.name(),
        std::slice::from_ref(&random),
        ProcState::Down,
    );
    let dir = run.nodes.data_dir(&random).context("no data dir")?;
    let damage = corrupt_tail(&dir, run.rng)
        .with_context(|| format!("corrupting {random}'s data in {}", dir.display()))?;
    run.out.targets = vec![random.clone()];
    run.out.detail = format!("SIGKILL {random}, then {}", damage.describe());
    run.event(
        CORRUPT,
        json!({"nodes": [&random], "file": damage.file, "how": damage.how, "offset": damage.offset, "bytes": damage.bytes}),
    );
    Ok(Box::new(Restart(vec![random])))
}
