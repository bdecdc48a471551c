//! Hunting plans: which faults a hunt mixes and how it times them. Pure: a plan and a seed give one run's
//! schedule.

use clap::ValueEnum;
use nemesis::family::process;
use nemesis::{FaultKind, FaultWindow, ScheduleFile};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// `--plan`: where to aim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Plan {
    /// The leader paused for 1–3 s again and again, 1–3 s apart, with the sessions pinned to every
    /// member (etcd #20418's shape).
    PauseLeader,
    /// Every partition the system allows.
    Partitions,
    /// Every crash (kill) the system allows.
    Crashes,
    /// Every fault the system allows (what a hunt mixes without --plan or --nemesis).
    Mixed,
}

impl Plan {
    /// The faults of this plan among those the system allows.
    pub fn faults(self, allowed: &[FaultKind]) -> Vec<FaultKind> {
        allowed
            .iter()
            .copied()
            .filter(|k| match self {
                Plan::PauseLeader => *k == process::PAUSE_LEADER,
                Plan::Partitions => k.is_partition(),
                Plan::Crashes => k.name().starts_with("kill-"),
                Plan::Mixed => true,
            })
            .collect()
    }
}

/// How a hunt times its faults: each length, gap and the warm-up drawn uniformly from these ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub length: (Duration, Duration),
    pub gap: (Duration, Duration),
    pub warmup: (Duration, Duration),
}

impl Timing {
    /// `pause-leader`: short pauses, again and again. Otherwise from the run options: lengths from 1 s to
    /// twice `--fault-duration`, gaps from 1 s (room for a heal's landing check) to `--nemesis-interval`.
    pub fn for_plan(plan: Option<Plan>, fault_duration: Duration, interval: Duration) -> Timing {
        let s = Duration::from_secs;
        if plan == Some(Plan::PauseLeader) {
            return Timing {
                length: (s(1), s(3)),
                gap: (s(1), s(3)),
                warmup: (s(1), s(2)),
            };
        }
        Timing {
            length: (s(1), (fault_duration * 2).max(s(1))),
            gap: (s(1), interval.max(s(1))),
            warmup: (s(1), s(3)),
        }
    }
}

/// One run's schedule: faults drawn from `faults` with lengths, gaps and a warm-up drawn from `timing`,
/// one after another, every one ending at least a second before `time_limit`; a third of them (where the
/// mix has a fault that composes with it: a partition or packet fault with a kill or pause) get a second
/// fault starting inside them. Offsets are whole milliseconds, so the file says them exactly.
pub fn draw(
    faults: &[FaultKind],
    timing: &Timing,
    time_limit: Duration,
    seed: u64,
    rng: &mut ChaCha8Rng,
) -> ScheduleFile {
    let mut windows = Vec::new();
    let mut t = between(rng, timing.warmup);
    let last_end = time_limit.saturating_sub(Duration::from_secs(1));
    while !faults.is_empty() {
        let kind = faults[rng.gen_range(0..faults.len())];
        // A fault that would run past the last second is cut to fit, while a landing check still fits: a
        // run of a short hunt (8 s) may otherwise draw no fault at all, and teach nothing.
        let end = (t + between(rng, timing.length)).min(last_end);
        if end < t + nemesis::MIN_FAULT {
            break;
        }
        windows.push(FaultWindow {
            kind,
            start: t,
            end,
        });
        let mut until = end;
        if let Some(w) = overlapping(faults, kind, (t, end), last_end, timing, rng) {
            until = until.max(w.end);
            windows.push(w);
        }
        t = until + between(rng, timing.gap);
    }
    ScheduleFile::from_windows(seed, time_limit, &windows)
}

/// A second fault inside the window `(start, end)` of `kind`, one time in three, if `faults` has one that
/// composes with it: it starts at least a second in and ends by `last_end`.
fn overlapping(
    faults: &[FaultKind],
    kind: FaultKind,
    (start, end): (Duration, Duration),
    last_end: Duration,
    timing: &Timing,
    rng: &mut ChaCha8Rng,
) -> Option<FaultWindow> {
    let partners: Vec<FaultKind> = faults
        .iter()
        .copied()
        .filter(|k| k.composes_with(kind))
        .collect();
    // Drawn only when a partner exists, so single-layer mixes keep their schedules.
    if partners.is_empty() || rng.gen_range(0..3) != 0 {
        return None;
    }
    let second = partners[rng.gen_range(0..partners.len())];
    let from = start + Duration::from_secs(1);
    if from >= end {
        return None;
    }
    let at = between(rng, (from, end));
    let until = (at + between(rng, timing.length)).min(last_end);
    (until >= at + nemesis::MIN_FAULT).then_some(FaultWindow {
        kind: second,
        start: at,
        end: until,
    })
}

/// A duration uniformly in `[lo, hi]`, in whole milliseconds.
fn between(rng: &mut ChaCha8Rng, (lo, hi): (Duration, Duration)) -> Duration {
    let (lo, hi) = (
        lo.as_millis() as u64,
        hi.as_millis().max(lo.as_millis()) as u64,
    );
    Duration::from_millis(rng.gen_range(lo..=hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nemesis::family::partition;
    use rand::SeedableRng;

    #[test]
    fn plans_pick_their_faults_from_what_is_allowed() {
        let allowed = FaultKind::ALL.to_vec();
        assert_eq!(
            Plan::PauseLeader.faults(&allowed),
            vec![process::PAUSE_LEADER]
        );
        let p = Plan::Partitions.faults(&allowed);
        assert!(p.contains(&partition::LEADER) && p.contains(&partition::ONE_WAY));
        assert!(!p.contains(&process::KILL_LEADER));
        let c = Plan::Crashes.faults(&allowed);
        assert!(c.contains(&process::KILL_LEADER) && !c.contains(&process::PAUSE_LEADER));
        assert_eq!(Plan::Mixed.faults(&allowed), allowed);
        assert!(Plan::PauseLeader.faults(&[process::KILL_RANDOM]).is_empty());
    }

    /// Even a short run gets a fault: one that would run past the end is cut to fit.
    #[test]
    fn every_short_run_gets_a_fault() {
        let timing = Timing::for_plan(None, Duration::from_secs(3), Duration::from_secs(6));
        for seed in 0..300 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let s = draw(
                &[partition::LEADER],
                &timing,
                Duration::from_secs(8),
                seed,
                &mut rng,
            );
            s.check().unwrap();
            assert!(!s.faults.is_empty(), "seed {seed}: no fault in an 8 s run");
        }
    }

    /// Every drawn schedule is one the replay accepts, its faults within the plan's ranges.
    #[test]
    fn drawn_schedules_are_valid_and_vary_with_the_seed() {
        let timing = Timing::for_plan(None, Duration::from_secs(3), Duration::from_secs(6));
        let faults = [partition::LEADER, process::KILL_LEADER];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let s = draw(&faults, &timing, Duration::from_secs(20), seed, &mut rng);
            s.check().unwrap();
            assert!(!s.faults.is_empty(), "seed {seed}: no fault in 20 s");
            for f in &s.faults {
                assert!((1.0..=6.0).contains(&f.duration_s), "{f:?}");
                assert!(f.start_s + f.duration_s <= 19.0);
            }
            seen.insert(serde_json::to_string(&s.faults).unwrap());
        }
        assert!(seen.len() > 190, "schedules repeat: {}", seen.len());
    }

    /// Where the mix composes (a partition and a kill), some schedules overlap two faults, every one of
    /// them valid; the partition never overlaps another partition.
    #[test]
    fn composing_mixes_overlap_some_faults() {
        let timing = Timing::for_plan(None, Duration::from_secs(3), Duration::from_secs(6));
        let faults = [partition::LEADER, partition::RANDOM, process::KILL_RANDOM];
        let mut overlapped = 0;
        for seed in 0..100 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let s = draw(&faults, &timing, Duration::from_secs(30), seed, &mut rng);
            s.check().unwrap();
            let w = s.windows();
            overlapped += w.windows(2).filter(|p| p[1].start < p[0].end).count();
        }
        assert!(
            overlapped >= 10,
            "only {overlapped} overlaps in 100 schedules"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let one_layer = [partition::LEADER, partition::RANDOM];
        for seed in 0..50 {
            let s = draw(&one_layer, &timing, Duration::from_secs(30), seed, &mut rng);
            let w = s.windows();
            assert!(w.windows(2).all(|p| p[0].end <= p[1].start), "{w:?}");
        }
    }

    #[test]
    fn pause_leader_pauses_again_and_again() {
        let timing = Timing::for_plan(
            Some(Plan::PauseLeader),
            Duration::from_secs(3),
            Duration::from_secs(6),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = draw(
            &[process::PAUSE_LEADER],
            &timing,
            Duration::from_secs(20),
            1,
            &mut rng,
        );
        assert!(s.faults.len() >= 3, "{s:?}");
        assert!(s.faults.iter().all(|f| f.duration_s <= 3.0));
        let none = draw(&[], &timing, Duration::from_secs(20), 1, &mut rng);
        assert!(none.faults.is_empty());
    }
}
