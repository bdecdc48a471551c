//! The disk fault (corrupt-data): SIGKILL a random node, damage the tail of its largest data file
//! ([`nemesis::family::disk::corrupt_tail`]); restarted when undone, as a kill is.

use super::landing::ProcState::Down;
use super::{FaultRecord, FaultRunner, Undo};
use anyhow::{Context, Result};
use nemesis::family::disk;
use nemesis::FaultKind;
use rand::seq::SliceRandom;
use serde_json::json;

impl FaultRunner<'_> {
    /// SIGKILL a random node, then damage the tail of its largest data file; restarted when undone.
    pub(super) fn corrupt_data(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let random = nodes.choose(&mut self.rng).context("no nodes")?.clone();
        self.cluster.kill(&random)?;
        self.check_processes(kind.name(), std::slice::from_ref(&random), Down);
        let dir = self.cluster.data_dir(&random).context("no data dir")?;
        let damage = disk::corrupt_tail(&dir, &mut self.rng)
            .with_context(|| format!("corrupting {random}'s data in {}", dir.display()))?;
        rec.targets = vec![random.clone()];
        rec.detail = format!("SIGKILL {random}, then {}", damage.describe());
        self.event(
            disk::CORRUPT,
            json!({"nodes": [&random], "file": damage.file, "how": damage.how, "offset": damage.offset, "bytes": damage.bytes}),
        );
        Ok(Undo::Restart(random))
    }
}
