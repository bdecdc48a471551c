//! Packet faults: delay, drop or duplicate a share of what one node sends (`--packet-*` settings); undone
//! by removing the shaping. Landing is checked by measuring the effect.

use super::{FaultRecord, FaultRunner, Undo};
use crate::settings::PacketTarget;
use anyhow::{bail, Context, Result};
use nemesis::family::packet;
use nemesis::{FaultKind, PacketFault};
use rand::seq::SliceRandom;
use serde_json::json;

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

impl FaultRunner<'_> {
    pub(super) fn start_packet_fault(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let random = nodes.choose(&mut self.rng).context("no nodes")?.clone();
        let fault = self.packet_fault(kind);
        let target = self.packet_target(nodes, leader, random, rec)?;
        let aim = self.packets.aim();
        let how = self.net.shape(&target, &fault, aim)?;
        rec.targets = vec![target.clone()];
        rec.detail = format!("{} on what {target} sends ({how})", describe(&fault));
        self.event(
            packet::START,
            json!({"fault": kind.name(), "nodes": [&target], "role": rec.role, "term": rec.term, "spec": fault, "aim": aim, "mechanism": how}),
        );
        self.check_packets(kind.name(), &target, &fault, true);
        Ok(Undo::Unshape(target, fault))
    }

    /// Undo [`Undo::Unshape`].
    pub(super) fn unshape(&mut self, node: String, fault: PacketFault) -> Result<()> {
        // Before the removal: a delay thread that died mid-fault makes the run invalid.
        self.check_packet_health(&node);
        self.net.unshape(&node)?;
        self.event(packet::STOP, json!({"nodes": [&node]}));
        self.check_packets("heal", &node, &fault, false);
        Ok(())
    }

    /// The packet fault `kind` with the run's `--packet-*` settings.
    fn packet_fault(&self, kind: FaultKind) -> PacketFault {
        let s = &self.packets;
        match kind {
            FaultKind::PacketDelay => PacketFault::Delay {
                delay_ms: s.delay_ms,
                jitter_ms: s.jitter_ms,
            },
            FaultKind::PacketLoss => PacketFault::Loss { pct: s.loss_pct },
            _ => PacketFault::Duplicate {
                pct: s.duplicate_pct,
            },
        }
    }

    /// The node whose sent packets the fault hits (`--packet-target`); sets the record's role.
    fn packet_target(
        &mut self,
        nodes: &[String],
        leader: Option<&str>,
        random: String,
        rec: &mut FaultRecord,
    ) -> Result<String> {
        let target = match (self.packets.target, leader) {
            (PacketTarget::Random, _) => random,
            (_, None) => bail!("no leader found to aim --packet-target at"),
            (PacketTarget::Leader, Some(l)) => l.to_string(),
            (PacketTarget::Follower, Some(l)) => nodes
                .iter()
                .filter(|n| n.as_str() != l)
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .map(|n| n.to_string())
                .context("no follower to aim at")?,
        };
        rec.role = match leader {
            Some(l) if l == target => "leader",
            Some(_) => "follower",
            None => "any",
        }
        .into();
        Ok(target)
    }
}
