//! Partitions: cut links between node groups (and, with `--partition-scope all`, the client sessions
//! homed across the cut); healed by restoring every link. Landing is checked by probing every pair.

use super::{FaultRecord, FaultRunner, Undo};
use nemesis::family::partition;
use nemesis::{FaultKind, Partition};
use serde_json::json;

impl FaultRunner<'_> {
    /// The partition faults: cut the shape `kind` names around the leader (when aimed at it).
    pub(super) fn start_partition(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> anyhow::Result<Undo> {
        let (p, targets) =
            nemesis::partition_for(kind, nodes, leader, &mut self.rng).ok_or_else(|| {
                anyhow::anyhow!("no partition of that shape for {} nodes", nodes.len())
            })?;
        if kind == FaultKind::PartitionRandom && leader.is_some() {
            rec.role = if leader == targets.first().map(String::as_str) {
                "leader"
            } else {
                "follower"
            }
            .into();
        }
        self.partition(kind, &p, &targets, leader, rec)?;
        Ok(Undo::Heal)
    }

    /// Apply `p` (also for the clock fault's isolation), check it landed and record it.
    pub(super) fn partition(
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
            partition::START,
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

    /// Undo [`Undo::Heal`]: restore every link and check that every pair connects again.
    pub(super) fn heal(&mut self) -> anyhow::Result<()> {
        self.net.heal()?;
        self.event(partition::STOP, json!({}));
        self.check_landing("heal", &Partition::default());
        Ok(())
    }
}
