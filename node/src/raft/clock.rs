//! Internal time: the node's clock readings made monotonic. A backward jump counts as no time passing;
//! a forward jump counts in full.

use std::time::Duration;

#[derive(Debug)]
pub(super) struct Clock {
    /// The latest internal time: a reading plus `offset`.
    now: Duration,
    /// Grows when the clock jumps backwards, so internal time never does.
    offset: Duration,
}

impl Clock {
    pub fn new(reading: Duration) -> Self {
        Clock {
            now: reading,
            offset: Duration::ZERO,
        }
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    /// Fold a clock reading into internal time.
    pub fn observe(&mut self, reading: Duration) {
        let t = reading.saturating_add(self.offset);
        if t < self.now {
            self.offset += self.now - t;
        } else {
            self.now = t;
        }
    }

    /// The internal time `reading` stands for, without folding it in.
    pub fn at(&self, reading: Duration) -> Duration {
        reading.saturating_add(self.offset).max(self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_backward_jump_counts_as_no_time() {
        let mut c = Clock::new(10 * MS);
        c.observe(4 * MS);
        assert_eq!(c.now(), 10 * MS);
        // Time goes on from where it was, not from where the clock jumped.
        c.observe(7 * MS);
        assert_eq!(c.now(), 13 * MS);
        assert_eq!(c.at(8 * MS), 14 * MS);
        assert_eq!(c.at(MS), 13 * MS);
        c.observe(20 * MS);
        assert_eq!(c.now(), 26 * MS);
    }
}
