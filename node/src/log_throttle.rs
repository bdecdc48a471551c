//! Rate-limited log lines: a flood of refused requests or connections must say so without flooding the
//! log (one line per event would be written as fast as an attacker sends).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events and says when a line about them is due: at the first, then at most once per `period`.
pub struct Throttle {
    period: Duration,
    /// When the last line was due, and the events since (this one included).
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    pub const fn new(period: Duration) -> Self {
        Throttle {
            period,
            state: Mutex::new((None, 0)),
        }
    }

    /// Count one event; `Some(n)` when a line is due, with the events it covers (this one included).
    pub fn hit(&self) -> Option<u64> {
        self.hit_at(Instant::now())
    }

    fn hit_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 += 1;
        let due =
            s.0.is_none_or(|last| now.duration_since(last) >= self.period);
        if !due {
            return None;
        }
        s.0 = Some(now);
        Some(std::mem::take(&mut s.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_event_logs_then_at_most_once_per_period_with_the_count() {
        let t = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(t.hit_at(start), Some(1));
        for i in 1..100 {
            assert_eq!(t.hit_at(start + Duration::from_millis(i)), None);
        }
        assert_eq!(t.hit_at(start + Duration::from_secs(10)), Some(100));
    }
}
