//! A recorded fault schedule (`schedule.json`): the fault windows a run used, with exact offsets, and the
//! seed of its op mix, so `harness --replay` can run the same schedule again against any system.
//! Pure: parsing, checking and converting; the harness reads and writes the file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{FaultKind, FaultWindow};

/// The format's version, written as `"format": 1`; a file of another version is refused.
pub const SCHEDULE_FORMAT: u32 = 1;

/// The shortest fault a landing check can see (as `--fault-duration`'s lower bound).
pub const MIN_FAULT: Duration = Duration::from_secs(1);

/// A whole `schedule.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// [`SCHEDULE_FORMAT`].
    pub format: u32,
    /// The run's seed: op mix, values, and the draws of the `-random` faults' targets.
    pub seed: u64,
    /// How long the workload runs (`--time-limit`); every fault ends before it.
    pub time_limit_s: f64,
    /// The faults, in order of their starts; two overlap only where they compose
    /// ([`FaultKind::composes_with`]).
    pub faults: Vec<ScheduledFault>,
    /// Where the schedule came from (informational; replays ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_from: Option<serde_json::Value>,
}

/// One fault of a schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    /// The fault's name as `--nemesis` spells it; its target is aimed when it starts, as in any run.
    pub fault: FaultKind,
    /// Seconds from the start of the workload to the fault.
    pub start_s: f64,
    /// How long it lasts, at least 1 s.
    pub duration_s: f64,
    /// The nodes it hit in the recorded run (informational: a replay aims by the fault's kind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The role it was aimed at and whether it hit it, in the recorded run (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit: Option<bool>,
}

impl ScheduleFile {
    /// A schedule of `windows`, with nothing recorded about their targets yet.
    pub fn from_windows(seed: u64, time_limit: Duration, windows: &[FaultWindow]) -> ScheduleFile {
        ScheduleFile {
            format: SCHEDULE_FORMAT,
            seed,
            time_limit_s: time_limit.as_secs_f64(),
            faults: windows
                .iter()
                .map(|w| ScheduledFault {
                    fault: w.kind,
                    start_s: w.start.as_secs_f64(),
                    duration_s: (w.end - w.start).as_secs_f64(),
                    targets: vec![],
                    role: None,
                    hit: None,
                })
                .collect(),
            recorded_from: None,
        }
    }

    /// Parse and check a file's text; the error names what is wrong.
    pub fn parse(text: &str) -> Result<ScheduleFile, String> {
        let file: ScheduleFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        file.check()?;
        Ok(file)
    }

    /// The file's rules: its version, offsets that are numbers, faults of at least [`MIN_FAULT`] in order
    /// of their starts, overlapping only where they compose, every one ending before the time limit.
    pub fn check(&self) -> Result<(), String> {
        if self.format != SCHEDULE_FORMAT {
            return Err(format!(
                "format {} is not {SCHEDULE_FORMAT}, the one this harness reads",
                self.format
            ));
        }
        if !(1.0..=86_400.0).contains(&self.time_limit_s) {
            return Err(format!(
                "time_limit_s {} is outside 1 to 86400",
                self.time_limit_s
            ));
        }
        let mut prev_start = 0.0;
        for (i, f) in self.faults.iter().enumerate() {
            let at = format!("faults[{i}] ({})", f.fault.name());
            if !f.start_s.is_finite() || f.start_s < prev_start {
                return Err(format!(
                    "{at}: start_s {} is before the previous fault's start ({prev_start}); faults \
                     must be in time order",
                    f.start_s
                ));
            }
            prev_start = f.start_s;
            // Faults may overlap only where they compose (FaultKind::composes_with).
            let clash = self.faults[..i].iter().enumerate().find(|(_, e)| {
                e.start_s + e.duration_s > f.start_s && !e.fault.composes_with(f.fault)
            });
            if let Some((j, e)) = clash {
                return Err(format!(
                    "{at}: starts at {} s, before faults[{j}] ({}) ends at {} s, and the two cannot \
                     overlap (only a partition or a packet fault with a kill or pause can)",
                    f.start_s,
                    e.fault.name(),
                    e.start_s + e.duration_s
                ));
            }
            if !f.duration_s.is_finite() || f.duration_s < MIN_FAULT.as_secs_f64() {
                return Err(format!(
                    "{at}: duration_s {} is under 1 s, too short for a landing check",
                    f.duration_s
                ));
            }
            let end = f.start_s + f.duration_s;
            if end >= self.time_limit_s {
                return Err(format!(
                    "{at}: ends at {end} s, not before time_limit_s {}",
                    self.time_limit_s
                ));
            }
        }
        Ok(())
    }

    /// The windows a run drives (offsets from the workload's start).
    pub fn windows(&self) -> Vec<FaultWindow> {
        self.faults
            .iter()
            .map(|f| {
                let start = Duration::from_secs_f64(f.start_s);
                FaultWindow {
                    kind: f.fault,
                    start,
                    end: start + Duration::from_secs_f64(f.duration_s),
                }
            })
            .collect()
    }

    /// The distinct fault kinds, in order of first appearance (what `--nemesis` would name).
    pub fn kinds(&self) -> Vec<FaultKind> {
        let mut kinds = Vec::new();
        for f in &self.faults {
            if !kinds.contains(&f.fault) {
                kinds.push(f.fault);
            }
        }
        kinds
    }

    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(self.time_limit_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{partition, process};

    fn sample() -> ScheduleFile {
        let windows = [
            FaultWindow {
                kind: partition::LEADER,
                start: Duration::from_millis(2_000),
                end: Duration::from_millis(5_000),
            },
            FaultWindow {
                kind: process::PAUSE_LEADER,
                start: Duration::from_millis(6_250),
                end: Duration::from_millis(7_500),
            },
        ];
        ScheduleFile::from_windows(7, Duration::from_secs(10), &windows)
    }

    #[test]
    fn round_trips_through_json_with_exact_offsets() {
        let s = sample();
        let text = serde_json::to_string_pretty(&s).unwrap();
        assert!(text.contains("\"fault\": \"partition-leader\""), "{text}");
        let back = ScheduleFile::parse(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.windows()[1].start, Duration::from_millis(6_250));
        assert_eq!(back.windows()[1].end, Duration::from_millis(7_500));
        assert_eq!(back.kinds(), vec![partition::LEADER, process::PAUSE_LEADER]);
    }

    /// A partition with a pause inside it is a schedule (they compose); its windows overlap as written.
    #[test]
    fn composing_faults_may_overlap() {
        let mut s = sample();
        s.faults[1].start_s = 4.0;
        assert_eq!(s.faults[1].fault, process::PAUSE_LEADER);
        let back = ScheduleFile::parse(&serde_json::to_string(&s).unwrap()).unwrap();
        let w = back.windows();
        assert!(w[1].start < w[0].end, "{w:?}");
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let bad = |edit: fn(&mut ScheduleFile)| {
            let mut s = sample();
            edit(&mut s);
            ScheduleFile::parse(&serde_json::to_string(&s).unwrap()).unwrap_err()
        };
        assert!(bad(|s| s.format = 2).contains("format 2"));
        assert!(bad(|s| {
            s.faults[1].fault = partition::RANDOM;
            s.faults[1].start_s = 4.0
        })
        .contains("cannot overlap"));
        assert!(bad(|s| s.faults[1].start_s = 1.0).contains("time order"));
        assert!(bad(|s| s.faults[0].duration_s = 0.5).contains("under 1 s"));
        assert!(bad(|s| s.time_limit_s = 7.0).contains("not before"));
        assert!(ScheduleFile::parse("{}")
            .unwrap_err()
            .contains("missing field"));
        assert!(ScheduleFile::parse("not json").is_err());
        let unknown = r#"{"format":1,"seed":1,"time_limit_s":5,"faults":[{"fault":"partition-nobody","start_s":1,"duration_s":1}]}"#;
        assert!(ScheduleFile::parse(unknown)
            .unwrap_err()
            .contains("unknown variant"));
        let extra = r#"{"format":1,"seed":1,"time_limit_s":5,"faults":[],"extra":1}"#;
        assert!(ScheduleFile::parse(extra)
            .unwrap_err()
            .contains("unknown field"));
    }
}
