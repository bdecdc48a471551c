//! Packet faults: delay, drop or duplicate a share of the packets one node sends ([`crate::PacketFault`]);
//! undone by removing the shaping. Not in `all`: they need `nft` and `iptables`. Landing is checked by
//! measuring the effect.

use super::kind::{Aim, Channel, Events, Family, Kind, Layer};
use super::run::{Active, Ops, Run};
use super::settings::{PacketSettings, PacketTarget};
use crate::fault_kind::FaultKind;
use crate::PacketFault;
use anyhow::{bail, Context, Result};
use futures::future::LocalBoxFuture;
use rand::seq::SliceRandom;
use serde_json::json;

mod probe;
use probe::{check, check_health};

pub const START: &str = "start-packet-fault";
pub const STOP: &str = "stop-packet-fault";

/// Delay the packets a node sends (NFQUEUE in namespaces, NFQUEUE and `harness nemesis-delay` on hosts).
pub const DELAY: FaultKind = FaultKind::new(&kind("packet-delay", 13));
/// Drop a share of the packets a node sends (nftables in namespaces, the same helper on hosts).
pub const LOSS: FaultKind = FaultKind::new(&kind("packet-loss", 14));
/// Duplicate a share of the packets a node sends (nftables in namespaces, an nftables egress table on hosts).
pub const DUPLICATE: FaultKind = FaultKind::new(&kind("packet-duplicate", 15));

pub const FAMILY: Family = Family {
    name: "packet",
    kinds: &[DELAY, LOSS, DUPLICATE],
    events: &[Events {
        start: START,
        stop: STOP,
        channel: Channel::PerNode("packet"),
        // Not recovered from a stored history (the report draws the harness's own windows).
        span: None,
    }],
    start_needs: &[],
    layer: Layer::Packets,
    ops: &Packets,
};

const fn kind(name: &'static str, order: u8) -> Kind {
    Kind {
        name,
        order,
        in_all: false,
        aim: Aim::Any,
        leader_fault: false,
        color: None,
        min_nodes: 1,
    }
}

#[derive(Debug)]
struct Packets;

impl Ops for Packets {
    fn apply<'a>(
        &'a self,
        run: &'a mut Run<'_>,
        kind: FaultKind,
    ) -> LocalBoxFuture<'a, Result<Box<dyn Active>>> {
        Box::pin(async move { start(run, kind) })
    }
}

fn start(run: &mut Run<'_>, kind: FaultKind) -> Result<Box<dyn Active>> {
    let nodes = run.nodes.names();
    let random = nodes.choose(run.rng).context("no nodes")?.clone();
    let fault = fault(run, kind);
    let target = target(run, &nodes, random)?;
    let aim = run.settings.packet.aim;
    let how = run.net.shape(&target, &fault, aim)?;
    run.out.targets = vec![target.clone()];
    run.out.detail = format!("{} on what {target} sends ({how})", describe(&fault));
    run.event(
        START,
        json!({"fault": kind.name(), "nodes": [&target], "role": run.out.role, "term": run.term, "spec": fault, "aim": aim, "mechanism": how}),
    );
    check(run, kind.name(), &target, &fault, true);
    Ok(Box::new(Unshape(target, fault)))
}

/// A packet fault as people say it (`delay 200ms ± 50ms`, `loss 30%`).
fn describe(f: &PacketFault) -> String {
    match f {
        PacketFault::Delay {
            delay_ms,
            jitter_ms,
        } => format!("delay {delay_ms}ms ± {jitter_ms}ms"),
        PacketFault::Loss { pct } => format!("loss {pct}%"),
        PacketFault::Duplicate { pct } => format!("duplicate {pct}%"),
    }
}

/// The packet fault `kind` with the run's `--packet-*` settings.
fn fault(run: &Run<'_>, kind: FaultKind) -> PacketFault {
    fault_of(kind, &run.settings.packet)
}

/// The packet fault `kind` (one of this family's) with settings `s`; with the default settings, only
/// which fault it is (and so which tools it needs) is meant.
pub fn fault_of(kind: FaultKind, s: &PacketSettings) -> PacketFault {
    match kind {
        DELAY => PacketFault::Delay {
            delay_ms: s.delay_ms,
            jitter_ms: s.jitter_ms,
        },
        LOSS => PacketFault::Loss { pct: s.loss_pct },
        _ => PacketFault::Duplicate {
            pct: s.duplicate_pct,
        },
    }
}

/// The node whose sent packets the fault hits (`--packet-target`); sets the record's role.
fn target(run: &mut Run<'_>, nodes: &[String], random: String) -> Result<String> {
    let leader = run.leader.clone();
    let target = match (run.settings.packet.target, leader.as_deref()) {
        (PacketTarget::Random, _) => random,
        (_, None) => bail!("no leader found to aim --packet-target at"),
        (PacketTarget::Leader, Some(l)) => l.to_string(),
        (PacketTarget::Follower, Some(l)) => nodes
            .iter()
            .filter(|n| n.as_str() != l)
            .collect::<Vec<_>>()
            .choose(run.rng)
            .map(|n| n.to_string())
            .context("no follower to aim at")?,
    };
    run.out.role = match leader {
        Some(l) if l == target => "leader",
        Some(_) => "follower",
        None => "any",
    }
    .into();
    Ok(target)
}

/// A packet fault that is on; undone by removing the shaping.
struct Unshape(String, PacketFault);

impl Active for Unshape {
    fn undo<'a>(self: Box<Self>, run: &'a mut Run<'_>) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Unshape(node, fault) = *self;
            // Before the removal: a delay thread that died mid-fault makes the run invalid.
            check_health(run, &node);
            run.net.unshape(&node)?;
            run.event(STOP, json!({"nodes": [&node]}));
            check(run, "heal", &node, &fault, false);
            Ok(())
        })
    }
}
