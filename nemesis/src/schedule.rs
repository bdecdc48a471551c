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

/// One step of driving a schedule: window `window` starts or ends `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: Duration,
    pub window: usize,
    pub start: bool,
}

/// The starts and ends of `windows` in time order (an end before a start at the same moment, so faults
/// that touch never overlap), which is how a run drives them, overlapping or not.
pub fn timeline(windows: &[FaultWindow]) -> Vec<Step> {
    let mut steps: Vec<Step> = windows
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            [
                Step {
                    at: w.start,
                    window: i,
                    start: true,
                },
                Step {
                    at: w.end,
                    window: i,
                    start: false,
                },
            ]
        })
        .collect();
    steps.sort_by_key(|s| (s.at, s.start, s.window));
    steps
}

/// The longest warm-up before the first fault, so the cluster elects a leader and serves a few ops first.
const MAX_WARMUP: Duration = Duration::from_secs(2);

/// The shortest quiet time between two windows: the interval at its lowest jitter.
fn min_gap(interval: Duration) -> Duration {
    interval.mul_f64(0.8)
}

/// The shortest time limit that gives each of `kinds` distinct faults a window, whatever the seed: the
/// warm-up, `kinds` windows and the gaps between them at their lowest jitter, plus the margin that the
/// last window must end strictly before the limit. [`schedule`] fits them whenever the limit is longer.
pub fn min_time_limit(kinds: usize, interval: Duration, duration: Duration) -> Duration {
    if kinds == 0 {
        return Duration::ZERO;
    }
    let n = kinds as u32;
    interval.min(MAX_WARMUP) + duration * n + min_gap(interval) * (n - 1)
}

/// Lays out fault windows for a run.
///
/// Windows do not overlap and are in time order; the first starts after a warm-up of
/// `min(interval, 2 s)`, each next one an interval (±20%) after the previous heal, and every window ends
/// strictly before `time_limit`. Faults are drawn from a seeded shuffle of `faults`, reshuffled each
/// pass, so every listed fault appears before any repeats. During that first pass a gap is shortened
/// (never below the interval's lowest jitter) when the jitter would leave no room for the faults still
/// to come, so whether every fault gets a window depends on the options only ([`min_time_limit`]), never
/// on the seed. Zero `duration` or no faults gives no windows.
pub fn schedule(cfg: &ScheduleConfig) -> Vec<FaultWindow> {
    let mut windows = Vec::new();
    if cfg.faults.is_empty() || cfg.duration.is_zero() {
        return windows;
    }
    // Each kind once, in the given order (so a seed keeps its shuffle): a repeat must not take the
    // first pass's room from another kind.
    let mut distinct: Vec<FaultKind> = Vec::new();
    for f in &cfg.faults {
        if !distinct.contains(f) {
            distinct.push(*f);
        }
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
            bag = distinct.clone();
            bag.shuffle(&mut rng);
        }
        let kind = bag.pop().expect("refilled above");
        windows.push(FaultWindow {
            kind,
            start: t,
            end,
        });
        let mut gap = jitter(cfg.interval, &mut rng);
        let left = distinct.len().saturating_sub(windows.len());
        if left > 0 {
            // The rest of the first pass, at the shortest gaps, must still end before the limit.
            let rest = cfg.duration * left as u32 + min_gap(cfg.interval) * (left as u32 - 1);
            let latest = cfg
                .time_limit
                .saturating_sub(rest)
                .saturating_sub(end)
                .saturating_sub(Duration::from_nanos(1));
            gap = gap.min(latest).max(min_gap(cfg.interval));
        }
        t = end + gap;
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
    use crate::family::{partition, process};

    #[test]
    fn a_timeline_interleaves_overlapping_windows_and_ends_before_starts() {
        let w = |kind, a: u64, b: u64| FaultWindow {
            kind,
            start: Duration::from_secs(a),
            end: Duration::from_secs(b),
        };
        let windows = [
            w(partition::LEADER, 2, 8),
            w(process::KILL_RANDOM, 4, 6),
            w(process::PAUSE_LEADER, 8, 9),
        ];
        let got: Vec<(u64, usize, bool)> = timeline(&windows)
            .iter()
            .map(|s| (s.at.as_secs(), s.window, s.start))
            .collect();
        assert_eq!(
            got,
            [
                (2, 0, true),
                (4, 1, true),
                (6, 1, false),
                (8, 0, false),
                (8, 2, true),
                (9, 2, false)
            ]
        );
    }

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

    /// Whether every named fault gets a window depends on the options, never on the seed's jitter:
    /// just above [`min_time_limit`] every seed fits them all, at it no seed does.
    #[test]
    fn every_named_fault_gets_a_window_for_every_seed_when_the_limit_allows() {
        let kinds = FaultKind::ALL;
        for n in 1..=kinds.len() {
            for (interval_ms, duration_ms) in
                [(6_000, 3_000), (1_000, 1_000), (500, 4_000), (3_000, 2_000)]
            {
                let mut c = cfg(0);
                c.faults = kinds[..n].to_vec();
                c.interval = Duration::from_millis(interval_ms);
                c.duration = Duration::from_millis(duration_ms);
                let min = min_time_limit(n, c.interval, c.duration);
                for seed in 0..300 {
                    c.seed = seed;
                    c.time_limit = min + Duration::from_millis(1 + seed % 7 * 300);
                    let w = schedule(&c);
                    check_shape(&c, &w);
                    for k in &c.faults {
                        assert!(
                            w.iter().any(|x| x.kind == *k),
                            "seed {seed}, {n} faults, limit {:?}: {k:?} has no window in {w:?}",
                            c.time_limit
                        );
                    }
                    c.time_limit = min;
                    assert!(
                        schedule(&c).len() < n,
                        "seed {seed}: {n} windows fit in {min:?}"
                    );
                }
            }
        }
    }

    /// The case: partition-leader,kill-leader in 15 s fit for seed 12 as for seed 11.
    #[test]
    fn two_faults_in_fifteen_seconds_fit_for_any_seed() {
        for seed in 0..1000 {
            let c = ScheduleConfig {
                faults: vec![partition::LEADER, process::KILL_LEADER],
                seed,
                time_limit: Duration::from_secs(15),
                interval: Duration::from_secs(6),
                duration: Duration::from_secs(3),
            };
            assert!(schedule(&c).len() >= 2, "seed {seed}");
        }
    }
}
