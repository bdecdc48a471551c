//! `harness compare`: runs a matrix of modes × faults, several runs per cell, and writes one report with
//! each design's measured cost (latency, throughput, availability) next to its safety. Exits non-zero only
//! when an outcome differs from what the cell expects, and says which.

mod expect;
mod output;

use crate::exit;
use crate::run::args::{RunArgs, RunConfig};
use crate::store::RunDir;
use anyhow::{Context, Result};
use clap::{Args, Parser};
use expect::Expect;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Modes to compare, comma-separated (node: log, read-index, lease, follower-read, leader-local,
    /// any-local, lease-no-wait; etcd: linearizable, serializable).
    #[arg(long, default_value = "log,read-index,lease,follower-read")]
    pub modes: String,

    /// Faults, comma-separated, one per cell (see `harness --help` for the names).
    #[arg(
        long,
        default_value = "partition-leader,partition-follower,kill-leader"
    )]
    pub nemeses: String,

    /// Runs per cell.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,

    /// Length of each run: 15 (seconds), 15s, 2m.
    #[arg(long, default_value = "15s")]
    pub time_limit: String,

    /// Any other run option, passed to every run as written (e.g. --extra=--rate=200).
    #[arg(long = "extra", value_name = "OPTION", allow_hyphen_values = true)]
    pub extra: Vec<String>,

    /// System under test: node, etcd or exec.
    #[arg(long, default_value = "node")]
    pub system: String,

    /// Write path for node: quorum or async.
    #[arg(long, default_value = "quorum")]
    pub replication: String,

    /// Client routing for every run (as for a run: sticky, leader or round-robin).
    #[arg(long, default_value = "sticky")]
    pub routing: String,

    /// Seed of the first run; run i of a cell uses seed + i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Where the comparison is stored: <store>/compare/<timestamp>/.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,

    /// The program to start per node (as for a run).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,

    /// With --system exec: the command that starts one node (as for a run; see docs/protocol.md).
    #[arg(long, value_name = "CMD")]
    pub node_cmd: Option<String>,
}

/// One run of one cell, as read back from its results.json.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub seed: u64,
    pub exit_code: u8,
    pub dir: PathBuf,
    pub results: Value,
}

/// One (mode, fault) cell.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub mode: String,
    pub nemesis: String,
    pub expect: Expect,
    pub why_expected: String,
    pub runs: Vec<RunResult>,
}

impl Cell {
    /// Runs whose outcome is not the expected one.
    pub fn unexpected(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| !self.expect.accepts(r.exit_code))
            .count()
    }

    pub fn count(&self, code: u8) -> usize {
        self.runs.iter().filter(|r| r.exit_code == code).count()
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The run options of one cell, parsed exactly as a user's command line would be.
fn cell_args(
    a: &CompareArgs,
    mode: &str,
    nemesis: &str,
    seed: u64,
    store: &std::path::Path,
) -> Result<RunArgs, String> {
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        run: RunArgs,
    }
    let mut argv: Vec<String> = vec!["harness".into()];
    for (k, v) in [
        ("--system", a.system.clone()),
        ("--mode", mode.to_string()),
        ("--nemesis", nemesis.to_string()),
        ("--time-limit", a.time_limit.clone()),
        ("--replication", a.replication.clone()),
        ("--routing", a.routing.clone()),
        ("--seed", seed.to_string()),
        ("--store", store.display().to_string()),
        ("--name", format!("{mode}-{nemesis}")),
    ] {
        argv.push(k.into());
        argv.push(v);
    }
    if let Some(bin) = &a.node_bin {
        argv.push("--node-bin".into());
        argv.push(bin.display().to_string());
    }
    if let Some(cmd) = &a.node_cmd {
        argv.push("--node-cmd".into());
        argv.push(cmd.clone());
    }
    argv.extend(a.extra.iter().cloned());
    Wrapper::try_parse_from(&argv)
        .map(|w| w.run)
        .map_err(|e| format!("{mode} × {nemesis}: {}", e.render()))
}

pub fn run(a: CompareArgs) -> Result<u8> {
    let modes = split(&a.modes);
    let nemeses = split(&a.nemeses);
    if modes.is_empty() || nemeses.is_empty() || a.runs == 0 {
        eprintln!("harness compare: give at least one mode, one nemesis and --runs 1 or more");
        return Ok(exit::BAD_ARGS);
    }
    // Check every cell's options before starting anything: a typo should not surface an hour in.
    let root = RunDir::create(&a.store, "compare")?;
    let runs_dir = root.path("runs");
    let mut plan = Vec::new();
    for mode in &modes {
        for nemesis in &nemeses {
            let args = match cell_args(&a, mode, nemesis, a.seed, &runs_dir) {
                Ok(x) => x,
                Err(msg) => {
                    eprintln!("harness compare: {msg}");
                    let _ = std::fs::remove_dir_all(&root.root);
                    return Ok(exit::BAD_ARGS);
                }
            };
            let cfg = match RunConfig::from_args(&args) {
                Ok(c) => c,
                Err(msg) => {
                    eprintln!("harness compare: {mode} × {nemesis}: {msg}");
                    let _ = std::fs::remove_dir_all(&root.root);
                    return Ok(exit::BAD_ARGS);
                }
            };
            let fault = cfg.faults.first().copied();
            let (expect, why) = match fault {
                Some(f) => expect::expected(&a.system, &cfg.mode, cfg.replication, f),
                None => (Expect::Valid, "no fault"),
            };
            plan.push(Cell {
                mode: mode.clone(),
                nemesis: nemesis.clone(),
                expect,
                why_expected: why.to_string(),
                runs: Vec::new(),
            });
        }
    }
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("harness compare: cannot run tests on this machine: {e}");
        return Ok(exit::INVALID_RUN);
    }
    let total = plan.len() * a.runs;
    let mut done = 0;
    for cell in plan.iter_mut() {
        for i in 0..a.runs {
            let seed = a.seed + i as u64;
            let args = cell_args(&a, &cell.mode, &cell.nemesis, seed, &runs_dir)
                .map_err(anyhow::Error::msg)?;
            let cfg = RunConfig::from_args(&args).map_err(anyhow::Error::msg)?;
            done += 1;
            eprintln!(
                "[{done}/{total}] {} × {} (seed {seed})",
                cell.mode, cell.nemesis
            );
            let outcome = crate::run::execute(&cfg, false)?;
            let results = std::fs::read_to_string(outcome.dir.join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            eprintln!(
                "        exit {} (expected {})",
                outcome.code,
                cell.expect.name()
            );
            cell.runs.push(RunResult {
                seed,
                exit_code: outcome.code,
                dir: outcome.dir,
                results,
            });
            if outcome.interrupted {
                eprintln!("harness compare: interrupted; writing what was run so far");
                output::write(&root, &plan, &a).context("writing the comparison")?;
                return Ok(exit::INVALID_RUN);
            }
        }
    }
    output::write(&root, &plan, &a).context("writing the comparison")?;
    let unexpected: Vec<String> = plan
        .iter()
        .filter(|c| c.unexpected() > 0)
        .map(|c| {
            format!(
                "{} × {}: expected {}, {} of {} runs were not",
                c.mode,
                c.nemesis,
                c.expect.name(),
                c.unexpected(),
                c.runs.len()
            )
        })
        .collect();
    if unexpected.is_empty() {
        println!(
            "every outcome as expected; report: {}",
            root.path("compare.html").display()
        );
        Ok(exit::VALID)
    } else {
        println!("unexpected outcomes:\n  {}", unexpected.join("\n  "));
        Ok(exit::INVALID)
    }
}
