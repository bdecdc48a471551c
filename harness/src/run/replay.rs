//! `schedule.json` at the edges: every run records the windows it drove (with the targets they hit), and
//! `--replay FILE` turns a recorded schedule back into a run's settings. The format itself, pure, is
//! `nemesis::ScheduleFile` (docs/schedule.md).

use super::args::RunArgs;
use super::faults::FaultRecord;
use crate::settings::RunConfig;
use crate::store::RunDir;
use nemesis::{FaultKind, FaultWindow, ScheduleFile};
use std::path::Path;

/// Read and check a schedule file; the error names the file and what is wrong with it.
pub fn load(path: &Path) -> Result<ScheduleFile, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--replay {}: {e}", path.display()))?;
    ScheduleFile::parse(&text).map_err(|e| format!("--replay {}: {e}", path.display()))
}

/// The settings of a run of `schedule` with the other options of `a`: the schedule brings the faults,
/// their windows, the seed and the time limit.
pub fn config(a: &RunArgs, schedule: ScheduleFile) -> Result<RunConfig, String> {
    let mut a = a.clone();
    a.replay = None;
    let kinds: Vec<&str> = schedule.kinds().iter().map(|k| k.name()).collect();
    a.nemesis = if kinds.is_empty() {
        "none".into()
    } else {
        kinds.join(",")
    };
    // Naming clock-skew picks the rate far outside the drift bound; a schedule only says it happened,
    // so it keeps the rate a mix of faults gets (inside the bound) unless --skew-rate says otherwise.
    a.skew_rate = a
        .skew_rate
        .or(Some(super::assumptions::within_bound(a.max_drift)));
    a.seed = Some(schedule.seed);
    a.time_limit = schedule.time_limit();
    RunConfig::build(&a, Some(schedule))
}

/// Write `schedule.json` for a run: the windows it drove, each with the targets its fault hit.
pub fn record(dir: &RunDir, cfg: &RunConfig, records: &[FaultRecord]) -> anyhow::Result<()> {
    let windows = cfg.schedule();
    let mut file = ScheduleFile::from_windows(cfg.seed, cfg.workload.time_limit, &windows);
    for (fault, rec) in file.faults.iter_mut().zip(match_records(&windows, records)) {
        if let Some(r) = rec {
            fault.targets = r.targets.clone();
            fault.role = Some(r.role.clone());
            fault.hit = Some(r.hit);
        }
    }
    file.recorded_from = Some(serde_json::json!({
        "system": cfg.cluster.system.to_string(),
        "mode": cfg.cluster.mode,
        "workload": cfg.workload.kind.to_string(),
        "nodes": cfg.cluster.nodes.len(),
        "run": dir.root.display().to_string(),
    }));
    dir.write_json("schedule.json", &file)
}

/// Each window's record, in order: a window skipped because the fault before it overran has none.
fn match_records<'r>(
    windows: &[FaultWindow],
    records: &'r [FaultRecord],
) -> Vec<Option<&'r FaultRecord>> {
    let mut next = records.iter().peekable();
    windows
        .iter()
        .map(|w| next.next_if(|r| r.kind == w.kind))
        .collect()
}

/// The faults a schedule may be replayed with against a system (for `harness hunt`'s default mix):
/// every fault but `corrupt-data` and the packet faults (as `--nemesis all`), less what it refuses.
pub fn allowed_faults(a: &RunArgs) -> Vec<FaultKind> {
    FaultKind::ALL
        .iter()
        .copied()
        .filter(|k| {
            let mut one = a.clone();
            one.nemesis = k.name().into();
            one.replay = None;
            let windows = [FaultWindow {
                kind: *k,
                start: std::time::Duration::from_secs(1),
                end: std::time::Duration::from_secs(2),
            }];
            let s = ScheduleFile::from_windows(0, std::time::Duration::from_secs(3), &windows);
            config(&one, s).is_ok()
        })
        .collect()
}
