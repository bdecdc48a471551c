//! The election timer: it fires a randomized timeout after the last sign of a live leader, drawn anew for
//! each term or vote so that candidates rarely collide.

use rand::Rng;
use std::time::Duration;

#[derive(Debug)]
pub(super) struct ElectionTimer {
    deadline: Duration,
    /// This term's randomized timeout.
    timeout: Duration,
}

impl ElectionTimer {
    /// Already due at `now` until the first reset.
    pub fn new(now: Duration) -> Self {
        ElectionTimer {
            deadline: now,
            timeout: Duration::ZERO,
        }
    }

    /// Draw a new timeout in [min, 2*min) and restart the timer with it at `now`.
    pub fn reset(&mut self, now: Duration, min: Duration, rng: &mut impl Rng) {
        let extra = rng.gen_range(0..min.as_micros().max(1) as u64);
        self.timeout = min + Duration::from_micros(extra);
        self.restart(now);
    }

    /// Restart with the current timeout at `now` (on every message from the leader).
    pub fn restart(&mut self, now: Duration) {
        self.deadline = now + self.timeout;
    }

    pub fn expired(&self, now: Duration) -> bool {
        now >= self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fires_between_one_and_two_minimum_timeouts_after_the_last_restart() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut t = ElectionTimer::new(Duration::ZERO);
        assert!(t.expired(Duration::ZERO));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            t.reset(Duration::ZERO, 10 * MS, &mut rng);
            assert!(!t.expired(10 * MS - Duration::from_micros(1)));
            assert!(t.expired(20 * MS));
            seen.insert(t.timeout);
        }
        assert!(seen.len() > 1, "timeouts are randomized");
        let timeout = t.timeout;
        t.restart(100 * MS);
        assert!(!t.expired(100 * MS + timeout - Duration::from_micros(1)));
        assert!(t.expired(100 * MS + timeout));
        assert_eq!(t.timeout, timeout, "a restart keeps the term's timeout");
    }
}
