//! `harness hunt`: runs back to back with fresh seeds and randomized fault timing until the budget ends or
//! an anomaly shows; each anomaly's schedule is then shrunk by replays ([`shrink`]). Every run goes
//! through the replay path (`run::replay`), so what a hunt ran is exactly what `--replay` runs again.
//!
//! Store: `<store>/hunt-<test>/<timestamp>/` holds `hunt.json` (every run), `runs/` (the runs that did not
//! pass; passing ones are deleted once summarized) and `shrink-<k>/` (the replays that reproduced,
//! `shrink.json` and the shrunk `schedule.json`).

mod command;
mod plan;
mod shrink;

use crate::duration;
use crate::exit;
use crate::run::args::RunArgs;
use crate::run::{replay, signals::Signals};
use crate::settings::RunConfig;
use crate::store::RunDir;
use anyhow::{Context, Result};
use clap::Args;
use nemesis::{FaultKind, ScheduleFile};
use plan::{Plan, Timing};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// How long to hunt (1s to 7d): no run starts after it has passed (shrinking comes after).
    #[arg(long, value_parser = duration::parse)]
    pub budget: Duration,

    /// Keep hunting after an anomaly (each one is shrunk) until the budget ends.
    #[arg(long)]
    pub keep_going: bool,

    /// Where to aim: pause-leader (the leader paused 1-3 s, again and again), partitions, crashes or
    /// mixed (every fault the system allows; the default unless --nemesis names the faults).
    #[arg(long, value_enum)]
    pub plan: Option<Plan>,

    /// Replays of each shrinking step: a step is kept if the anomaly shows in at least one (1 to 100).
    #[arg(long, default_value_t = 3)]
    pub replays: u32,

    #[command(flatten)]
    pub run: RunArgs,
}

/// One run of the hunt, in `hunt.json`.
#[derive(Debug, Serialize)]
struct RunSummary {
    seed: u64,
    exit_code: u8,
    faults: Vec<String>,
    faults_injected: usize,
    seconds: f64,
    /// Kept in the store (every run that did not pass).
    dir: Option<PathBuf>,
}

/// One anomaly and what its shrink came to.
#[derive(Debug, Serialize)]
struct Found {
    run: PathBuf,
    shrunk: Option<PathBuf>,
    faults: Vec<String>,
    reproduced: u32,
    of: u32,
    replay: String,
}

#[derive(Debug, Serialize)]
struct HuntSummary<'a> {
    plan: &'a str,
    faults: Vec<&'static str>,
    budget_s: f64,
    elapsed_s: f64,
    runs: Vec<RunSummary>,
    faults_injected: usize,
    anomalies: Vec<Found>,
    /// Runs that were themselves invalid (exit 3) or whose verdict is unknown (exit 2).
    other_exits: usize,
}

pub fn run(a: HuntArgs) -> Result<u8> {
    match checked(&a) {
        Ok(setup) => hunt(&a, setup),
        Err(msg) => {
            eprintln!("harness hunt: {msg}");
            Ok(exit::BAD_ARGS)
        }
    }
}

struct Setup {
    faults: Vec<FaultKind>,
    timing: Timing,
    name: String,
    plan_name: String,
}

/// The options checked before anything is created: the run options as a run checks them, then the
/// hunt's own.
fn checked(a: &HuntArgs) -> Result<Setup, String> {
    if a.run.replay.is_some() {
        return Err("--replay runs one schedule; a hunt draws its own".into());
    }
    if !(Duration::from_secs(1)..=Duration::from_secs(7 * 86_400)).contains(&a.budget) {
        return Err("--budget must be 1s to 7d".into());
    }
    if !(1..=100).contains(&a.replays) {
        return Err(format!("--replays {} is outside 1 to 100", a.replays));
    }
    let named = command::gives("--nemesis");
    if named && a.plan.is_some() {
        return Err("give either --plan or --nemesis, not both".into());
    }
    let mut probe = a.run.clone();
    if !named {
        probe.nemesis = "none".into();
    }
    // The run options as one run would take them (with a schedule, so the fault timing is the hunt's).
    let base = replay::config(&probe, ScheduleFile::from_windows(0, a.run.time_limit, &[]))?;
    let faults = if named {
        nemesis::parse_nemeses(&a.run.nemesis).map_err(|e| e.to_string())?
    } else {
        a.plan
            .unwrap_or(Plan::Mixed)
            .faults(&replay::allowed_faults(&a.run))
    };
    for k in &faults {
        let mut one = a.run.clone();
        one.nemesis = k.name().into();
        let w = [nemesis::FaultWindow {
            kind: *k,
            start: Duration::from_secs(1),
            end: Duration::from_secs(2),
        }];
        replay::config(
            &one,
            ScheduleFile::from_windows(0, Duration::from_secs(3), &w),
        )?;
    }
    if faults.is_empty() && (named || a.plan.is_some()) && a.run.nemesis != "none" {
        return Err(format!(
            "--plan {:?} has no fault {} allows",
            a.plan.unwrap_or(Plan::Mixed),
            a.run.system
        ));
    }
    if a.run.time_limit < Duration::from_secs(4) {
        return Err(
            "--time-limit must be at least 4s in a hunt (warm-up, a fault, a second after it)"
                .into(),
        );
    }
    let plan_name = match (named, a.plan) {
        (true, _) => format!("--nemesis {}", a.run.nemesis),
        (false, p) => format!("{:?}", p.unwrap_or(Plan::Mixed)).to_lowercase(),
    };
    Ok(Setup {
        timing: Timing::for_plan(a.plan, a.run.fault_duration, a.run.nemesis_interval),
        name: format!(
            "hunt-{}-{}-{}",
            base.cluster.system, base.cluster.mode, base.workload.kind
        ),
        faults,
        plan_name,
    })
}

fn hunt(a: &HuntArgs, setup: Setup) -> Result<u8> {
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("harness hunt: cannot run tests on this machine: {e}");
        return Ok(exit::INVALID_RUN);
    }
    let signals = Signals::global()?;
    let seen = signals.count();
    let root = RunDir::create(&a.run.store, &setup.name)?;
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(a.run.seed.unwrap_or_else(rand::random));
    let live = Live::new();
    let mut summary = HuntSummary {
        plan: &setup.plan_name,
        faults: setup.faults.iter().map(|k| k.name()).collect(),
        budget_s: a.budget.as_secs_f64(),
        elapsed_s: 0.0,
        runs: Vec::new(),
        faults_injected: 0,
        anomalies: Vec::new(),
        other_exits: 0,
    };
    eprintln!(
        "harness hunt: {} for {}, faults {}; store {}",
        setup.plan_name,
        duration::show(a.budget),
        summary.faults.join(","),
        root.root.display()
    );
    let mut code = exit::VALID;
    while started.elapsed() < a.budget && signals.count() == seen {
        let seed: u64 = rng.gen();
        let schedule = plan::draw(
            &setup.faults,
            &setup.timing,
            a.run.time_limit,
            seed,
            &mut ChaCha8Rng::seed_from_u64(seed),
        );
        let outcome = replay_once(a, &schedule, &root.root.join("runs"), "run")?;
        let injected = injected(&outcome.dir);
        summary.faults_injected += injected;
        let failed = outcome.code == exit::INVALID;
        let kept = outcome.code != exit::VALID;
        if !kept {
            let _ = std::fs::remove_dir_all(&outcome.dir);
        }
        if matches!(outcome.code, exit::UNKNOWN | exit::INVALID_RUN) {
            summary.other_exits += 1;
        }
        summary.runs.push(RunSummary {
            seed,
            exit_code: outcome.code,
            faults: schedule
                .faults
                .iter()
                .map(|f| f.fault.name().to_string())
                .collect(),
            faults_injected: injected,
            seconds: outcome.seconds,
            dir: kept.then(|| outcome.dir.clone()),
        });
        summary.elapsed_s = started.elapsed().as_secs_f64();
        root.write_json("hunt.json", &summary)?;
        live.show(&summary, a.budget.saturating_sub(started.elapsed()));
        if outcome.code == exit::BAD_ARGS || outcome.code == exit::CRASH {
            live.done();
            eprintln!(
                "harness hunt: a run exited {}: see {}",
                outcome.code,
                outcome.dir.display()
            );
            return Ok(outcome.code);
        }
        if outcome.interrupted {
            break;
        }
        if failed {
            code = exit::INVALID;
            live.done();
            eprintln!(
                "harness hunt: anomaly in {}; shrinking its schedule",
                outcome.dir.display()
            );
            let k = summary.anomalies.len() + 1;
            let found = shrink_one(
                a,
                &outcome.dir,
                &root.root.join(format!("shrink-{k}")),
                signals,
                seen,
            )?;
            summary.anomalies.push(found);
            root.write_json("hunt.json", &summary)?;
            if !a.keep_going {
                break;
            }
        }
    }
    live.done();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    root.write_json("hunt.json", &summary)?;
    eprintln!(
        "harness hunt: {} runs, {} faults injected, {} anomalies, {} other exits in {}; {}",
        summary.runs.len(),
        summary.faults_injected,
        summary.anomalies.len(),
        summary.other_exits,
        duration::show(started.elapsed()),
        root.path("hunt.json").display()
    );
    for f in &summary.anomalies {
        println!("{}", f.replay);
    }
    if signals.count() > seen && code == exit::VALID {
        return Ok(exit::INVALID_RUN);
    }
    Ok(code)
}

struct Outcome {
    code: u8,
    dir: PathBuf,
    interrupted: bool,
    seconds: f64,
}

/// One run of `schedule` with the hunt's run options, stored under `store/<name>/`.
fn replay_once(a: &HuntArgs, schedule: &ScheduleFile, store: &Path, name: &str) -> Result<Outcome> {
    let mut args = a.run.clone();
    args.store = store.to_path_buf();
    args.name = Some(name.into());
    let cfg: RunConfig = replay::config(&args, schedule.clone()).map_err(anyhow::Error::msg)?;
    let t = Instant::now();
    let o = crate::run::execute(&cfg, false)?;
    Ok(Outcome {
        code: o.code,
        dir: o.dir,
        interrupted: o.interrupted,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// How many of a run's faults hit their target (from its schedule.json).
fn injected(dir: &Path) -> usize {
    read_schedule(dir)
        .map(|s| s.faults.iter().filter(|f| f.hit == Some(true)).count())
        .unwrap_or(0)
}

fn read_schedule(dir: &Path) -> Option<ScheduleFile> {
    let text = std::fs::read_to_string(dir.join("schedule.json")).ok()?;
    ScheduleFile::parse(&text).ok()
}

#[derive(Debug, Serialize)]
struct ShrinkRecord {
    from: PathBuf,
    steps: Vec<shrink::Step>,
    replays_run: u32,
    final_replays: Vec<u8>,
}

/// Shrink the schedule of the failing run in `run_dir` by replays in `dir`, write the result and print
/// the command that replays it.
fn shrink_one(
    a: &HuntArgs,
    run_dir: &Path,
    dir: &Path,
    signals: &Signals,
    seen: usize,
) -> Result<Found> {
    let start = read_schedule(run_dir).context("reading the failing run's schedule.json")?;
    let runs = dir.join("runs");
    let mut replays_run = 0;
    let mut last_repro: Option<PathBuf> = None;
    let mut fails = |what: &str, s: &ScheduleFile| -> Result<bool> {
        for i in 1..=a.replays {
            if signals.count() > seen {
                anyhow::bail!("interrupted while shrinking");
            }
            let o = replay_once(a, s, &runs, "replay")?;
            replays_run += 1;
            let hit = o.code == exit::INVALID;
            eprintln!(
                "  shrink: {what}: replay {i}/{}: {}",
                a.replays,
                if hit { "anomaly" } else { "no anomaly" }
            );
            if hit {
                last_repro = Some(o.dir);
                return Ok(true);
            }
            let _ = std::fs::remove_dir_all(&o.dir);
        }
        Ok(false)
    };
    let shrunk = shrink::shrink(start.clone(), &mut fails);
    let (best, steps) = match shrunk {
        Ok(r) => r,
        Err(e) => {
            eprintln!("harness hunt: {e:#}; the failing run is kept as it is");
            (start.clone(), vec![])
        }
    };
    // How often the result reproduces, counted over fresh replays of it.
    let mut final_replays = Vec::new();
    for _ in 0..a.replays {
        if signals.count() > seen {
            break;
        }
        let o = replay_once(a, &best, &runs, "final")?;
        replays_run += 1;
        if o.code == exit::INVALID {
            last_repro = Some(o.dir);
        } else {
            let _ = std::fs::remove_dir_all(&o.dir);
        }
        final_replays.push(o.code);
    }
    let reproduced = final_replays
        .iter()
        .filter(|c| **c == exit::INVALID)
        .count() as u32;
    // The shrunk schedule with the targets its last reproduction hit (a schedule is the same file
    // whichever run recorded it).
    let mut out = last_repro
        .as_deref()
        .and_then(read_schedule)
        .filter(|s| s.windows() == best.windows() && s.time_limit_s == best.time_limit_s)
        .unwrap_or_else(|| best.clone());
    if out.recorded_from.is_none() {
        out.recorded_from = start.recorded_from.clone();
    }
    std::fs::create_dir_all(dir)?;
    let file = dir.join("schedule.json");
    crate::store::write_atomic(
        &file,
        (serde_json::to_string_pretty(&out)? + "\n").as_bytes(),
    )?;
    let record = ShrinkRecord {
        from: run_dir.to_path_buf(),
        steps,
        replays_run,
        final_replays: final_replays.clone(),
    };
    crate::store::write_atomic(
        &dir.join("shrink.json"),
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )?;
    let replay = command::replay_line(&file);
    let faults: Vec<String> = out
        .faults
        .iter()
        .map(|f| {
            format!(
                "{} {} at {} s for {} s",
                f.fault.name(),
                f.targets.join(","),
                f.start_s,
                f.duration_s
            )
        })
        .collect();
    eprintln!(
        "harness hunt: shrunk to {} fault(s) [{}] in a {} s run after {replays_run} replays; it \
         reproduced in {reproduced} of the last {} replays:",
        out.faults.len(),
        faults.join("; "),
        out.time_limit_s,
        final_replays.len()
    );
    eprintln!("  {replay}");
    Ok(Found {
        run: run_dir.to_path_buf(),
        shrunk: Some(file),
        faults,
        reproduced,
        of: final_replays.len() as u32,
        replay,
    })
}

/// The live line: on a terminal rewritten in place, otherwise one line per run.
struct Live {
    tty: bool,
}

impl Live {
    fn new() -> Live {
        Live {
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, s: &HuntSummary, left: Duration) {
        let line = format!(
            "hunt: {} runs, {} faults injected, {} anomalies, {} other exits; {} left",
            s.runs.len(),
            s.faults_injected,
            s.anomalies.len()
                + usize::from(s.runs.last().is_some_and(|r| r.exit_code == exit::INVALID)),
            s.other_exits,
            duration::show(left)
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
