//! Shrinking a failing schedule: faults removed, the run ended sooner, faults shortened and moved later,
//! each step kept only if the anomaly still shows. The candidates are pure; whether one still fails is
//! asked of a closure (the hunt runs real replays there).

use nemesis::{ScheduleFile, MIN_FAULT};
use serde::Serialize;

/// Quiet time kept after the last fault when the run is ended sooner: ops that meet the healed cluster.
const TAIL_S: f64 = 2.0;
/// Kept between two faults when one moves later: a heal's landing check.
const MIN_GAP_S: f64 = 1.0;
/// Steps smaller than this are not worth a replay.
const MIN_STEP_S: f64 = 0.5;

/// One step tried, for `shrink.json` and the live line.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub what: String,
    pub kept: bool,
}

/// `s` without its fault `i`.
pub fn without(s: &ScheduleFile, i: usize) -> ScheduleFile {
    let mut c = s.clone();
    c.faults.remove(i);
    c
}

/// `s` with its time limit cut to the last fault's end plus a short tail, when that saves a second.
pub fn ending_sooner(s: &ScheduleFile) -> Option<ScheduleFile> {
    // The latest end, not the last fault's: faults may overlap.
    let last = s
        .faults
        .iter()
        .map(|f| f.start_s + f.duration_s)
        .fold(0.0, f64::max);
    let limit = round_ms((last + TAIL_S).max(1.0));
    (limit <= s.time_limit_s - 1.0).then(|| {
        let mut c = s.clone();
        c.time_limit_s = limit;
        c
    })
}

/// `s` with fault `i` half as long (at least [`MIN_FAULT`]), when that is a real step.
pub fn shortened(s: &ScheduleFile, i: usize) -> Option<ScheduleFile> {
    let d = s.faults[i].duration_s;
    let half = round_ms((d / 2.0).max(MIN_FAULT.as_secs_f64()));
    (d - half >= MIN_STEP_S).then(|| {
        let mut c = s.clone();
        c.faults[i].duration_s = half;
        c
    })
}

/// `s` with fault `i` moved later by half the room before the next fault (or the time limit's last
/// second), when that is a real step.
pub fn later(s: &ScheduleFile, i: usize) -> Option<ScheduleFile> {
    let f = &s.faults[i];
    let bound = match s.faults.get(i + 1) {
        Some(next) => next.start_s - MIN_GAP_S,
        None => s.time_limit_s - 1.0,
    };
    let room = bound - (f.start_s + f.duration_s);
    let shift = round_ms(room / 2.0);
    (shift >= MIN_STEP_S).then(|| {
        let mut c = s.clone();
        c.faults[i].start_s = round_ms(f.start_s + shift);
        c
    })
}

fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Shrink `start` (which failed): every candidate is handed to `fails`, which says whether the anomaly
/// still shows; a candidate that fails becomes the schedule. Faults are removed first (latest first),
/// then the run ended sooner, then each fault halved while it still fails, then moved later.
pub fn shrink<E>(
    start: ScheduleFile,
    mut fails: impl FnMut(&str, &ScheduleFile) -> Result<bool, E>,
) -> Result<(ScheduleFile, Vec<Step>), E> {
    let mut cur = start;
    let mut steps = Vec::new();
    let mut attempt = |what: String, cand: ScheduleFile, cur: &mut ScheduleFile| {
        let kept = fails(&what, &cand)?;
        steps.push(Step { what, kept });
        if kept {
            *cur = cand;
        }
        Ok::<bool, E>(kept)
    };
    for i in (0..cur.faults.len()).rev() {
        let what = format!(
            "remove {} at {} s",
            cur.faults[i].fault.name(),
            cur.faults[i].start_s
        );
        attempt(what, without(&cur, i), &mut cur)?;
    }
    if let Some(c) = ending_sooner(&cur) {
        attempt(format!("end the run at {} s", c.time_limit_s), c, &mut cur)?;
    }
    for i in 0..cur.faults.len() {
        while let Some(c) = shortened(&cur, i) {
            let what = format!(
                "shorten {} to {} s",
                c.faults[i].fault.name(),
                c.faults[i].duration_s
            );
            if !attempt(what, c, &mut cur)? {
                break;
            }
        }
    }
    for i in (0..cur.faults.len()).rev() {
        if let Some(c) = later(&cur, i) {
            let what = format!(
                "move {} to {} s",
                c.faults[i].fault.name(),
                c.faults[i].start_s
            );
            attempt(what, c, &mut cur)?;
        }
    }
    if let Some(c) = ending_sooner(&cur) {
        attempt(format!("end the run at {} s", c.time_limit_s), c, &mut cur)?;
    }
    Ok((cur, steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nemesis::family::{partition, process};
    use nemesis::{FaultKind, FaultWindow};
    use std::time::Duration;

    fn sched(faults: &[(FaultKind, u64, u64)], limit: u64) -> ScheduleFile {
        let w: Vec<FaultWindow> = faults
            .iter()
            .map(|&(kind, start, len)| FaultWindow {
                kind,
                start: Duration::from_millis(start),
                end: Duration::from_millis(start + len),
            })
            .collect();
        ScheduleFile::from_windows(3, Duration::from_millis(limit), &w)
    }

    #[test]
    fn candidates_stay_valid_schedules() {
        let s = sched(
            &[
                (process::KILL_LEADER, 2_000, 3_000),
                (partition::LEADER, 7_000, 4_000),
            ],
            20_000,
        );
        for c in [
            Some(without(&s, 0)),
            ending_sooner(&s),
            shortened(&s, 1),
            later(&s, 0),
            later(&s, 1),
        ] {
            c.expect("a step").check().unwrap();
        }
        assert_eq!(ending_sooner(&s).unwrap().time_limit_s, 13.0);
        assert_eq!(shortened(&s, 1).unwrap().faults[1].duration_s, 2.0);
        assert_eq!(
            later(&s, 0).unwrap().faults[0].start_s,
            2.5,
            "half of 1 s of room"
        );
        assert_eq!(later(&s, 1).unwrap().faults[1].start_s, 11.0);
        let short = sched(&[(process::KILL_LEADER, 2_000, 1_200)], 5_000);
        assert!(
            shortened(&short, 0).is_none(),
            "1.2 s halves to 1 s: no real step"
        );
        assert!(
            ending_sooner(&short).is_none(),
            "3.2 s + 2 s of tail saves no second of 5 s"
        );
    }

    /// With a "system" that fails whenever a partition-leader of at least 1.5 s is in the schedule, the
    /// shrink ends at that one fault, as short and as late as still fails.
    #[test]
    fn shrinks_to_the_fault_that_matters() {
        let s = sched(
            &[
                (process::KILL_LEADER, 2_000, 3_000),
                (partition::LEADER, 7_000, 5_000),
                (process::PAUSE_LEADER, 14_000, 2_000),
            ],
            20_000,
        );
        let (out, steps) = shrink(s, |_, c: &ScheduleFile| {
            Ok::<bool, ()>(
                c.faults
                    .iter()
                    .any(|f| f.fault == partition::LEADER && f.duration_s >= 1.5),
            )
        })
        .unwrap();
        assert_eq!(out.faults.len(), 1, "{out:?}");
        assert_eq!(out.faults[0].fault, partition::LEADER);
        assert_eq!(
            out.faults[0].duration_s, 2.5,
            "5 s halved once; 1.25 s would not fail"
        );
        assert!(out.faults[0].start_s > 7.0, "moved later: {out:?}");
        assert!(out.time_limit_s < 20.0);
        out.check().unwrap();
        assert!(steps.iter().any(|s| !s.kept) && steps.iter().any(|s| s.kept));
    }

    #[test]
    fn an_error_stops_the_shrink() {
        let s = sched(&[(process::KILL_LEADER, 2_000, 3_000)], 20_000);
        assert_eq!(
            shrink(s, |_, _| Err::<bool, &str>("interrupted")).unwrap_err(),
            "interrupted"
        );
    }
}
