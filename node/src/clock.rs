//! The node's skewable clock: the only time source for the core's lease and timeout arithmetic.
//!
//! Underneath is the monotonic `Instant` (so a SIGSTOP does not freeze it and wall-clock changes do not
//! move it); on top, the nemesis can jump it (`offset_ms`) and change its speed (`rate`) through
//! `POST /admin/clock`. Readings are durations since the node started.

use crate::api::{ClockRequest, ClockState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rates outside this range are refused: 0 would stop time, and huge rates are typos, not tests.
pub const MIN_RATE: f64 = 0.01;
pub const MAX_RATE: f64 = 100.0;
/// Jumps beyond a day are refused as typos.
const MAX_JUMP_MS: f64 = 86_400_000.0;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClockError {
    #[error("rate must be a number in [{MIN_RATE}, {MAX_RATE}] (1.0 = real time, 1.2 = 20% fast), got {0}")]
    BadRate(f64),
    #[error("offset_ms must be a finite number of milliseconds within ±{MAX_JUMP_MS}, got {0}")]
    BadOffset(f64),
}

/// The pure part: readings as a function of the underlying instant. Piecewise linear: each adjustment
/// starts a new segment at the current reading, so a rate change never rewrites past readings.
#[derive(Debug, Clone)]
pub struct SkewedClock {
    start: Instant,
    /// Underlying instant at which the current segment began.
    anchor: Instant,
    /// Reading at `anchor`.
    base: Duration,
    rate: f64,
    /// Sum of all jumps requested, for `/status`.
    offset_ms: f64,
}

impl SkewedClock {
    pub fn new(start: Instant) -> Self {
        SkewedClock {
            start,
            anchor: start,
            base: Duration::ZERO,
            rate: 1.0,
            offset_ms: 0.0,
        }
    }

    /// The reading at underlying instant `at` (instants before the current segment read as its start).
    pub fn reading(&self, at: Instant) -> Duration {
        let real = at.saturating_duration_since(self.anchor);
        self.base + real.mul_f64(self.rate)
    }

    /// Jump by `offset_ms` and run at `rate` from `at` on. A backward jump stops at the clock's zero.
    pub fn adjust(&mut self, req: &ClockRequest, at: Instant) -> Result<(), ClockError> {
        if !(req.rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&req.rate)) {
            return Err(ClockError::BadRate(req.rate));
        }
        if !(req.offset_ms.is_finite() && req.offset_ms.abs() <= MAX_JUMP_MS) {
            return Err(ClockError::BadOffset(req.offset_ms));
        }
        let now = self.reading(at);
        let jump = Duration::from_secs_f64(req.offset_ms.abs() / 1000.0);
        self.base = if req.offset_ms >= 0.0 {
            now + jump
        } else {
            now.saturating_sub(jump)
        };
        self.anchor = at.max(self.anchor);
        self.rate = req.rate;
        self.offset_ms += req.offset_ms;
        Ok(())
    }

    pub fn state(&self, at: Instant) -> ClockState {
        ClockState {
            offset_ms: self.offset_ms,
            rate: self.rate,
            now_ms: self.reading(at).as_secs_f64() * 1000.0,
        }
    }

    /// Real time elapsed since the clock was created (for logs).
    pub fn real_elapsed(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }
}

/// The shared clock: read by the driver thread, adjusted by the admin endpoint.
#[derive(Debug)]
pub struct Clock {
    inner: Mutex<SkewedClock>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            inner: Mutex::new(SkewedClock::new(Instant::now())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SkewedClock> {
        // The guarded data is plain numbers, always consistent: a panic elsewhere cannot leave it torn.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reading passed to the core as `now`.
    pub fn now(&self) -> Duration {
        self.lock().reading(Instant::now())
    }

    pub fn adjust(&self, req: &ClockRequest) -> Result<ClockState, ClockError> {
        let mut c = self.lock();
        let at = Instant::now();
        c.adjust(req, at)?;
        Ok(c.state(at))
    }

    pub fn state(&self) -> ClockState {
        self.lock().state(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn req(offset_ms: f64, rate: f64) -> ClockRequest {
        ClockRequest { offset_ms, rate }
    }

    #[test]
    fn runs_at_real_speed_by_default() {
        let t0 = Instant::now();
        let c = SkewedClock::new(t0);
        assert_eq!(c.reading(t0), Duration::ZERO);
        assert_eq!(c.reading(t0 + ms(250)), ms(250));
    }

    #[test]
    fn rate_applies_from_the_change_on() {
        let t0 = Instant::now();
        let mut c = SkewedClock::new(t0);
        c.adjust(&req(0.0, 2.0), t0 + ms(100)).unwrap();
        // The first 100 ms stay as they were; afterwards twice as fast.
        assert_eq!(c.reading(t0 + ms(100)), ms(100));
        assert_eq!(c.reading(t0 + ms(150)), ms(200));
        c.adjust(&req(0.0, 0.5), t0 + ms(150)).unwrap();
        assert_eq!(c.reading(t0 + ms(350)), ms(300));
        let st = c.state(t0 + ms(350));
        assert_eq!(st.rate, 0.5);
        assert!((st.now_ms - 300.0).abs() < 1e-6);
    }

    #[test]
    fn offsets_jump_once_and_accumulate() {
        let t0 = Instant::now();
        let mut c = SkewedClock::new(t0);
        c.adjust(&req(500.0, 1.0), t0 + ms(10)).unwrap();
        assert_eq!(c.reading(t0 + ms(10)), ms(510));
        assert_eq!(c.reading(t0 + ms(20)), ms(520));
        c.adjust(&req(-200.0, 1.0), t0 + ms(20)).unwrap();
        assert_eq!(c.reading(t0 + ms(20)), ms(320));
        assert!((c.state(t0 + ms(20)).offset_ms - 300.0).abs() < 1e-9);
    }

    #[test]
    fn backward_jump_stops_at_zero() {
        let t0 = Instant::now();
        let mut c = SkewedClock::new(t0);
        c.adjust(&req(-10_000.0, 1.0), t0 + ms(5)).unwrap();
        assert_eq!(c.reading(t0 + ms(5)), Duration::ZERO);
        assert_eq!(c.reading(t0 + ms(7)), ms(2));
    }

    #[test]
    fn bad_rates_and_offsets_are_refused_without_effect() {
        let t0 = Instant::now();
        let mut c = SkewedClock::new(t0);
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1000.0] {
            let err = c.adjust(&req(0.0, rate), t0).unwrap_err();
            assert!(matches!(err, ClockError::BadRate(_)), "{err}");
            assert!(err.to_string().contains("rate must be"), "{err}");
        }
        assert!(matches!(
            c.adjust(&req(f64::NAN, 1.0), t0),
            Err(ClockError::BadOffset(_))
        ));
        assert!(c.adjust(&req(1e12, 1.0), t0).is_err());
        assert_eq!(c.reading(t0 + ms(40)), ms(40));
        assert_eq!(c.state(t0).rate, 1.0);
    }

    #[test]
    fn shared_clock_reports_its_state() {
        let c = Clock::new();
        let st = c.adjust(&req(1000.0, 1.5)).unwrap();
        assert_eq!(st.rate, 1.5);
        assert!(st.now_ms >= 1000.0);
        assert!(c.now() >= ms(1000));
        assert!(c.adjust(&req(0.0, 0.0)).is_err());
        assert_eq!(c.state().rate, 1.5);
    }
}
