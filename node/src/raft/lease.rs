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

/// Lease bookkeeping on this node's clock, for every role it may hold.
#[derive(Debug, Default)]
pub(super) struct LeaseState {
    /// Leader: serve lease reads while `now < lease_end`.
    lease_end: Option<Duration>,
    /// Follower (lease mode): refuse votes and pre-votes and do not campaign before this.
    countdown_end: Duration,
    /// New leader (lease mode): serve no reads or writes before this (old leaders' leases).
    serve_after: Duration,
    /// Candidate: the largest `arrival + scaled remainder` reported by voters so far.
    campaign_wait: Duration,
}

impl LeaseState {
    /// Leader: a confirmed round lets it serve until `end` (a lease never shrinks here).
    pub fn extend_to(&mut self, end: Duration) {
        self.lease_end = Some(self.lease_end.map_or(end, |e| e.max(end)));
    }

    /// Leadership lost: no lease any more.
    pub fn drop_lease(&mut self) {
        self.lease_end = None;
    }

    /// Follower: some leader may serve until `end`; count down at least that long.
    pub fn count_down_until(&mut self, end: Duration) {
        self.countdown_end = self.countdown_end.max(end);
    }

    /// Whether the countdown of a leader's lease still runs at `now`.
    pub fn counting_down(&self, now: Duration) -> bool {
        now < self.countdown_end
    }

    /// A campaign starts: wait at least until `at` (our own countdown) once elected.
    pub fn start_campaign(&mut self, at: Duration) {
        self.campaign_wait = at;
    }

    /// A voter reported a lease that may run until `at`: wait at least that long once elected.
    pub fn wait_for_voter(&mut self, at: Duration) {
        self.campaign_wait = self.campaign_wait.max(at);
    }

    /// Elected at `now`: no lease yet; serve nothing before the campaign's wait if `wait` (lease mode).
    pub fn start_leading(&mut self, wait: bool, now: Duration) {
        self.lease_end = None;
        self.serve_after = if wait { self.campaign_wait } else { now };
    }

    /// New leader: whether it still waits out old leases at `now`.
    pub fn waiting(&self, now: Duration) -> bool {
        now < self.serve_after
    }

    pub fn wait_remaining(&self, now: Duration) -> Duration {
        self.serve_after.saturating_sub(now)
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn leases_and_waits_only_grow_until_leadership_changes() {
        let mut l = LeaseState::default();
        l.extend_to(10 * MS);
        l.extend_to(5 * MS);
        assert!(l.valid(9 * MS) && !l.valid(10 * MS));
        l.drop_lease();
        assert!(!l.valid(MS));
        l.count_down_until(8 * MS);
        l.count_down_until(3 * MS);
        assert!(l.counting_down(7 * MS) && !l.counting_down(8 * MS));
        l.start_campaign(4 * MS);
        l.wait_for_voter(9 * MS);
        l.wait_for_voter(6 * MS);
        l.extend_to(50 * MS);
        l.start_leading(true, 2 * MS);
        assert!(!l.valid(2 * MS), "a new leadership starts without a lease");
        assert!(l.waiting(8 * MS) && !l.waiting(9 * MS));
        assert_eq!(l.wait_remaining(7 * MS), 2 * MS);
        l.start_leading(false, 2 * MS);
        assert!(!l.waiting(2 * MS));
    }
}
