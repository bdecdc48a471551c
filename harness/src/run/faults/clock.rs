//! The clock fault: slow the leader's clock beyond the drift bound and isolate it; undone by healing the
//! partition, then resetting the clock.

use super::{FaultRecord, FaultRunner, Undo};
use nemesis::family::clock;
use nemesis::{FaultKind, Partition};
use node::api::ClockRequest;
use serde_json::json;

/// A clock running at real time.
const REAL_TIME: ClockRequest = ClockRequest {
    offset_ms: 0.0,
    rate: 1.0,
};

impl FaultRunner<'_> {
    pub(super) async fn start_clock_skew(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> anyhow::Result<Undo> {
        // A skewed clock is only visible when a new leader can emerge while the old one still trusts
        // its lease: slow the leader's clock beyond the drift bound, then cut it off from its peers.
        let target = leader.unwrap().to_string();
        self.probe
            .set_clock(
                &target,
                ClockRequest {
                    offset_ms: 0.0,
                    rate: self.skew_rate,
                },
            )
            .await?;
        let p = Partition::isolate(&target, nodes);
        self.event(
            clock::START,
            json!({"nodes": [target], "role": "leader", "rate": self.skew_rate, "term": rec.term}),
        );
        if let Err(e) = self.partition(kind, &p, std::slice::from_ref(&target), leader, rec) {
            let _ = self.probe.set_clock(&target, REAL_TIME).await;
            return Err(e);
        }
        rec.detail = format!(
            "{target} clock rate {} and isolated; {}",
            self.skew_rate, rec.detail
        );
        Ok(Undo::UnskewAndHeal(target))
    }

    /// Undo [`Undo::UnskewAndHeal`]: heal first, then give `node` its real-time clock back.
    pub(super) async fn unskew_and_heal(&mut self, node: String) -> anyhow::Result<()> {
        self.heal()?;
        self.probe.set_clock(&node, REAL_TIME).await?;
        self.event(clock::STOP, json!({"nodes": [node]}));
        Ok(())
    }
}
