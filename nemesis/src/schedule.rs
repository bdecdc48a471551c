//! The fault schedule: a pure function from the options and a seed to timed fault windows.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::FaultKind;

/// Inputs of [`schedule`]. The same inputs always give the same windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// The faults to draw from (`--nemesis`); empty means no windows.
    pub faults: Vec<FaultKind>,
    /// The run's seed.
    pub seed: u64,
    /// The test's length; every window has healed by then.
    pub time_limit: Duration,
    /// The quiet time between one fault's end and the next fault's start (`--nemesis-interval`),
    /// jittered by up to ±20% from the seed.
    pub interval: Duration,
    /// How long each fault lasts (`--fault-duration`).
    pub duration: Duration,
}

/// One fault, active from `start` until `end` (offsets from the test's start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// Which fault.
    pub kind: FaultKind,
    /// When to inject it.
    pub start: Duration,
    /// When to heal it.
    pub end: Duration,
}

/// The longest warm-up before the first fault, so the cluster elects a leader and serves a few ops first.
const MAX_WARMUP: Duration = Duration::from_secs(2);

/// Lays out fault windows for a run.
///
/// Windows do not overlap and are in time order; the first starts after a warm-up of
/// `min(interval, 2 s)`, each next one an interval (±20%) after the previous heal, and every window ends
/// strictly before `time_limit`. Faults are drawn from a seeded shuffle of `faults`, reshuffled each
/// pass, so every listed fault appears before any repeats. Zero `duration` or no faults gives no windows.
pub fn schedule(cfg: &ScheduleConfig) -> Vec<FaultWindow> {
    let mut windows = Vec::new();
    if cfg.faults.is_empty() || cfg.duration.is_zero() {
        return windows;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut bag: Vec<FaultKind> = Vec::new();
    let mut t = cfg.interval.min(MAX_WARMUP);
    loop {
        let end = t + cfg.duration;
        if end >= cfg.time_limit {
            break;
        }
        if bag.is_empty() {
            bag = cfg.faults.clone();
            bag.shuffle(&mut rng);
        }
        let kind = bag.pop().expect("refilled above");
        windows.push(FaultWindow {
            kind,
            start: t,
            end,
        });
        t = end + jitter(cfg.interval, &mut rng);
    }
    windows
}

/// `d` scaled by a random factor in [0.8, 1.2].
fn jitter(d: Duration, rng: &mut impl Rng) -> Duration {
    d.mul_f64(rng.gen_range(0.8..=1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> ScheduleConfig {
        ScheduleConfig {
            faults: FaultKind::ALL.to_vec(),
            seed,
            time_limit: Duration::from_secs(120),
            interval: Duration::from_secs(5),
            duration: Duration::from_secs(3),
        }
    }

    fn check_shape(c: &ScheduleConfig, w: &[FaultWindow]) {
        for win in w {
            assert!(win.start < win.end);
            assert_eq!(win.end - win.start, c.duration);
            assert!(
                win.end < c.time_limit,
                "{win:?} ends after {:?}",
                c.time_limit
            );
            assert!(c.faults.contains(&win.kind));
        }
        for pair in w.windows(2) {
            assert!(pair[0].end <= pair[1].start, "overlap: {pair:?}");
            let gap = pair[1].start - pair[0].end;
            assert!(
                gap >= c.interval.mul_f64(0.79) && gap <= c.interval.mul_f64(1.21),
                "{gap:?}"
            );
        }
    }

    #[test]
    fn same_seed_same_schedule_other_seed_differs() {
        let a = schedule(&cfg(42));
        assert_eq!(a, schedule(&cfg(42)));
        assert_ne!(a, schedule(&cfg(43)));
        assert!(a.len() > 5);
        check_shape(&cfg(42), &a);
    }

    #[test]
    fn windows_never_overlap_and_end_in_time() {
        for seed in 0..200 {
            let mut c = cfg(seed);
            c.time_limit = Duration::from_millis(1_000 + seed * 397);
            c.interval = Duration::from_millis(50 + seed * 13);
            c.duration = Duration::from_millis(100 + seed * 7);
            check_shape(&c, &schedule(&c));
        }
    }

    #[test]
    fn first_fault_after_warmup_and_every_fault_used() {
        let c = cfg(9);
        let w = schedule(&c);
        assert_eq!(w[0].start, Duration::from_secs(2));
        let first_pass: std::collections::BTreeSet<_> = w[..8].iter().map(|x| x.kind).collect();
        assert_eq!(first_pass.len(), 8, "each fault once before repeats");

        let mut short = c.clone();
        short.interval = Duration::from_millis(500);
        assert_eq!(schedule(&short)[0].start, Duration::from_millis(500));
    }

    #[test]
    fn degenerate_inputs_give_no_windows() {
        let mut c = cfg(1);
        c.faults.clear();
        assert!(schedule(&c).is_empty());
        let mut c = cfg(1);
        c.duration = Duration::ZERO;
        assert!(schedule(&c).is_empty());
        let mut c = cfg(1);
        c.time_limit = Duration::from_secs(4);
        assert!(
            schedule(&c).is_empty(),
            "2 s warm-up + 3 s fault does not fit in 4 s"
        );
        let mut c = cfg(1);
        c.interval = Duration::ZERO;
        let w = schedule(&c);
        check_shape(&c, &w);
        assert_eq!(w[0].start, Duration::ZERO);
    }
}
