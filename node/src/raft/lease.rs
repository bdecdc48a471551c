//! Lease arithmetic (read-modes.md, "lease"). All instants are on this node's own clock.

use super::types::Config;
use std::time::Duration;

/// `L_leader = lease * (1 - e) / (1 + e)`: how long after a round's send time the leader may serve.
pub(super) fn leader_lease(cfg: &Config) -> Duration {
    let e = drift(cfg);
    cfg.lease.mul_f64((1.0 - e) / (1.0 + e))
}

/// How long a new leader waits for a reported remainder: scaled by `(1 + e) / (1 - e)`.
pub(super) fn wait_for_remainder(cfg: &Config, remainder: Duration) -> Duration {
    let e = drift(cfg);
    remainder.mul_f64((1.0 + e) / (1.0 - e))
}

/// A restarted node assumes it acknowledged a full lease just before dying: `lease * (1 + e)`.
pub(super) fn restart_guard(cfg: &Config) -> Duration {
    cfg.lease.mul_f64(1.0 + drift(cfg))
}

/// The configured bound, clamped so the arithmetic cannot produce NaN or a negative factor.
fn drift(cfg: &Config) -> f64 {
    if cfg.max_drift.is_finite() {
        cfg.max_drift.clamp(0.0, 0.99)
    } else {
        0.99
    }
}

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Debug, Default)]
pub(super) struct LeaseState {
    /// Leader: serve lease reads while `now < lease_end`.
    pub lease_end: Option<Duration>,
    /// Follower (lease mode): refuse votes and pre-votes and do not campaign before this.
    pub countdown_end: Duration,
    /// New leader (lease mode): serve no reads or writes before this (old leaders' leases).
    pub serve_after: Duration,
    /// Candidate: the largest `arrival + scaled remainder` reported by voters so far.
    pub campaign_wait: Duration,
}

impl LeaseState {
    /// Leader: a confirmed round lets it serve until `end` (a lease never shrinks here).
    pub fn extend_to(&mut self, end: Duration) {
        self.lease_end = Some(self.lease_end.map_or(end, |e| e.max(end)));
    }

    pub fn countdown_remaining(&self, now: Duration) -> Duration {
        self.countdown_end.saturating_sub(now)
    }

    pub fn leader_remaining(&self, now: Duration) -> Duration {
        self.lease_end
            .map_or(Duration::ZERO, |end| end.saturating_sub(now))
    }

    pub fn valid(&self, now: Duration) -> bool {
        self.lease_end.is_some_and(|end| now < end)
    }
}
