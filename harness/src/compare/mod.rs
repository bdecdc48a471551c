//! `harness compare`: runs a matrix of modes × faults, several runs per cell, and writes one report with
//! each design's measured cost (latency, throughput, availability) next to its safety. Exits non-zero only
//! when an outcome differs from what the cell expects, and says which.

mod expect;
mod output;
pub mod plan;
mod row;
mod systems;
mod tradeoffs;

use crate::exit;
use crate::run::args::RunArgs;
use crate::settings::{RunConfig, SystemKind};
use crate::store::RunDir;
use anyhow::{Context, Result};
use clap::{Args, Parser};
use expect::{Expect, Verdict, Want};
use plan::CellSpec;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A matrix that answers one question: `reads` (read modes × leader/follower faults and clock skew
    /// within and beyond the drift bound, plus a latency sweep at 1, 8 and 64 clients), `replication`
    /// (sync-all, quorum, async × sticky, round-robin × none, kill-leader, partition-follower, on the append
    /// workload) or `systems` (the systems users run × each mode of their consistency knob × none and a
    /// partition, kill and pause of the leader, against what each one documents). --modes, --nemeses,
    /// --replication, --routing and --systems narrow it.
    #[arg(long)]
    pub preset: Option<plan::Preset>,

    /// Modes to compare, comma-separated (node: log, read-index, lease, follower-read, leader-local,
    /// any-local, lease-no-wait; etcd: linearizable, serializable). Default without a preset:
    /// log,read-index,lease,follower-read.
    #[arg(long)]
    pub modes: Option<String>,

    /// Faults, comma-separated, one per cell (see `harness --help` for the names; also clock-skew-within and
    /// clock-skew-beyond: clock-skew at a rate inside or outside the drift bound). Default without a
    /// preset: partition-leader,partition-follower,kill-leader.
    #[arg(long)]
    pub nemeses: Option<String>,

    /// Runs per cell (1 to 100).
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100))]
    pub runs: usize,

    /// Length of each run: 15 (seconds), 15s, 2m.
    #[arg(long, default_value = "15s")]
    pub time_limit: String,

    /// Any other run option, passed to every run as written (e.g. --extra=--rate=200).
    #[arg(long = "extra", value_name = "OPTION", allow_hyphen_values = true)]
    pub extra: Vec<String>,

    /// System under test: node, etcd, exec, zookeeper or nats (the systems preset sets it per cell).
    #[arg(long, default_value = "node")]
    pub system: String,

    /// With --preset systems: which systems, comma-separated (default all of them).
    #[arg(long)]
    pub systems: Option<String>,

    /// Write paths for node, comma-separated: sync-all, quorum, async (default quorum without a preset).
    #[arg(long)]
    pub replication: Option<String>,

    /// Client routings, comma-separated: sticky, leader, round-robin (default sticky without a preset).
    #[arg(long)]
    pub routing: Option<String>,

    /// Workload of a matrix given without a preset: register, kv or append.
    #[arg(long, default_value = "register")]
    pub workload: String,

    /// Seed of the first run; run i of a cell uses seed + i (wrapping past the largest u64).
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

    /// Keep the nodes' data directories of runs that came out as expected (by default only those of
    /// unexpected runs are kept: a real system's run leaves up to a few hundred MB).
    #[arg(long)]
    pub keep_data: bool,
}

impl CompareArgs {
    fn narrowing(&self) -> plan::Narrowing {
        let list = |o: &Option<String>| o.as_deref().map(plan::split);
        plan::Narrowing {
            modes: list(&self.modes),
            nemeses: list(&self.nemeses),
            replications: list(&self.replication),
            routings: list(&self.routing),
            systems: list(&self.systems),
        }
    }

    fn cells(&self) -> Vec<plan::CellSpec> {
        match self.preset {
            Some(p) => plan::preset_cells(p, &self.narrowing()),
            None => plan::explicit_cells(&self.narrowing(), &self.workload),
        }
    }

    /// The command line that made a comparison, for its reports.
    pub fn command(&self) -> String {
        let mut s = if self.preset == Some(plan::Preset::Systems) {
            "harness compare".to_string()
        } else {
            format!("harness compare --system {}", self.system)
        };
        if let Some(p) = self.preset {
            s.push_str(&format!(" --preset {}", p.name()));
        } else if self.workload != "register" {
            s.push_str(&format!(" --workload {}", self.workload));
        }
        for (k, v) in [
            ("--modes", &self.modes),
            ("--nemeses", &self.nemeses),
            ("--replication", &self.replication),
            ("--routing", &self.routing),
            ("--systems", &self.systems),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {k} {v}"));
            }
        }
        s.push_str(&format!(
            " --runs {} --time-limit {} --seed {}",
            self.runs, self.time_limit, self.seed
        ));
        // Quoted, so the line can be pasted into a shell as it is (a --node-cmd holds quotes itself).
        let word = |w: String| shlex::try_quote(&w).map_or(w.clone(), |q| q.into_owned());
        for e in &self.extra {
            s.push_str(&format!(" {}", word(format!("--extra={e}"))));
        }
        if let Some(c) = &self.node_cmd {
            s.push_str(&format!(" --node-cmd {}", word(c.clone())));
        }
        s
    }
}

/// One run of one cell, as read back from its results.json.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub seed: u64,
    pub exit_code: u8,
    pub dir: PathBuf,
    pub results: Value,
}

/// One cell: its options, what it should show, and its runs.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub spec: CellSpec,
    pub expect: Expect,
    pub runs: Vec<RunResult>,
}

impl Cell {
    /// Runs whose outcome is not the expected one, with what went the other way.
    pub fn unexpected(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter_map(|r| match self.expect.judge(r.exit_code, &r.results) {
                Verdict::AsExpected | Verdict::KnownBug(_) => None,
                Verdict::Unexpected(why) => Some(format!("seed {}: {why}", r.seed)),
            })
            .collect()
    }

    /// Each known bug the cell names, and in how many of its runs a guarantee broke as it breaks it:
    /// `nats-server#4320 (...): hit in 2 of 3 runs`.
    pub fn known_bug_lines(&self) -> Vec<String> {
        self.expect
            .known_bugs
            .iter()
            .map(|b| {
                // A bug can only be told apart where the cell expects what it breaks to hold.
                let told_apart = self
                    .expect
                    .checks
                    .iter()
                    .any(|c| matches!(c.want, Want::Holds) && b.breaks.contains(&c.guarantee));
                if !told_apart {
                    return format!(
                        "{} ({}; {}): not told apart here, as this cell allows what it breaks ({})",
                        b.id,
                        b.what,
                        b.versions,
                        b.breaks.join(", ")
                    );
                }
                let hits = self
                    .runs
                    .iter()
                    .filter(|r| {
                        matches!(self.expect.judge(r.exit_code, &r.results),
                                 Verdict::KnownBug(ids) if ids.contains(&b.id))
                    })
                    .count();
                let seen = if hits == 0 {
                    format!("not hit in {} runs", self.runs.len())
                } else {
                    format!("hit in {hits} of {} runs", self.runs.len())
                };
                format!("{} ({}; {}): {seen}", b.id, b.what, b.versions)
            })
            .collect()
    }

    pub fn count(&self, code: u8) -> usize {
        self.runs.iter().filter(|r| r.exit_code == code).count()
    }
}

/// The run options of one cell, parsed exactly as a user's command line would be.
fn cell_args(
    a: &CompareArgs,
    spec: &CellSpec,
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
        ("--system", spec.system.clone().unwrap_or(a.system.clone())),
        ("--time-limit", a.time_limit.clone()),
        ("--seed", seed.to_string()),
        ("--store", store.display().to_string()),
        (
            "--name",
            spec.label().replace(" × ", "-").replace([' ', '@'], "-"),
        ),
    ] {
        argv.push(k.into());
        argv.push(v);
    }
    argv.extend(spec.args());
    for (option, value) in spec.defaults() {
        // The user's --extra wins: clap refuses an option given twice.
        let given = a
            .extra
            .iter()
            .any(|e| e == option || e.starts_with(&format!("{option}=")));
        if !given {
            argv.extend([option.to_string(), value.to_string()]);
        }
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
        .map_err(|e| format!("{}: {}", spec.label(), e.render()))
}

pub fn run(a: CompareArgs) -> Result<u8> {
    if let Some(list) = &a.systems {
        if a.preset != Some(plan::Preset::Systems) {
            eprintln!(
                "harness compare: --systems narrows --preset systems; give --system for one system"
            );
            return Ok(exit::BAD_ARGS);
        }
        let real: Vec<&str> = SystemKind::REAL.iter().map(|s| s.name()).collect();
        if let Some(bad) = plan::split(list)
            .into_iter()
            .find(|s| !real.contains(&s.as_str()))
        {
            eprintln!(
                "harness compare: --systems: '{bad}' is not in the systems preset; expected {}",
                real.join(", ")
            );
            return Ok(exit::BAD_ARGS);
        }
    }
    let specs = a.cells();
    if specs.is_empty() || a.runs == 0 {
        eprintln!(
            "harness compare: no cell to run: give at least one mode and one nemesis (a preset's \
             --modes/--nemeses/--replication/--routing must match some of its cells) and --runs 1 or more"
        );
        return Ok(exit::BAD_ARGS);
    }
    // Check every cell's options before starting anything: a typo should not surface an hour in. Nothing
    // is created until every check passed, so a refused compare leaves the store (and `latest`) as it was.
    let root = RunDir::plan(&a.store, "compare");
    let runs_dir = root.path("runs");
    let mut plan = Vec::new();
    for spec in specs {
        let checked = cell_args(&a, &spec, a.seed, &runs_dir).and_then(|args| {
            RunConfig::from_args(&args).map_err(|m| format!("{}: {m}", spec.label()))
        });
        if let Err(msg) = checked {
            eprintln!("harness compare: {msg}");
            return Ok(exit::BAD_ARGS);
        }
        // The systems preset's cells carry their system, with expectations of their own.
        let expect = match spec.system.as_deref() {
            Some(system) => systems::expected(system, &spec),
            None => expect::expected(&a.system, &spec),
        };
        plan.push(Cell {
            spec,
            expect,
            runs: Vec::new(),
        });
    }
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("harness compare: cannot run tests on this machine: {e}");
        return Ok(exit::INVALID_RUN);
    }
    root.make()?;
    let overhead = workloads::overhead::measure();
    if let Some(o) = &overhead {
        eprintln!("client overhead: {}", o.sentence());
    }
    let total = plan.len() * a.runs;
    let mut done = 0;
    for cell in plan.iter_mut() {
        for i in 0..a.runs {
            let seed = a.seed.wrapping_add(i as u64);
            let args = cell_args(&a, &cell.spec, seed, &runs_dir).map_err(anyhow::Error::msg)?;
            let cfg = RunConfig::from_args(&args).map_err(anyhow::Error::msg)?;
            done += 1;
            eprintln!("[{done}/{total}] {} (seed {seed})", cell.spec.label());
            let outcome = crate::run::execute(&cfg, false)?;
            let results = std::fs::read_to_string(outcome.dir.join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            let judged = cell.expect.judge(outcome.code, &results);
            let unexpected = matches!(judged, Verdict::Unexpected(_));
            let verdict = match judged {
                Verdict::AsExpected => "as expected".to_string(),
                Verdict::KnownBug(ids) => format!(
                    "as expected but for {}: a known bug of this version",
                    ids.join(", ")
                ),
                Verdict::Unexpected(why) => format!("NOT as expected: {why}"),
            };
            eprintln!(
                "        exit {}; expected {}: {verdict}",
                outcome.code,
                cell.expect.name()
            );
            if !a.keep_data && !unexpected {
                prune_node_data(&outcome.dir);
            }
            cell.runs.push(RunResult {
                seed,
                exit_code: outcome.code,
                dir: outcome.dir,
                results,
            });
            if outcome.interrupted {
                eprintln!("harness compare: interrupted; writing what was run so far");
                output::write(&root, &plan, &a, overhead.as_ref())
                    .context("writing the comparison")?;
                return Ok(exit::INVALID_RUN);
            }
        }
    }
    output::write(&root, &plan, &a, overhead.as_ref()).context("writing the comparison")?;
    let unexpected: Vec<String> = plan
        .iter()
        .filter(|c| !c.unexpected().is_empty())
        .map(|c| {
            format!(
                "{}: expected {}; {}",
                c.spec.label(),
                c.expect.name(),
                c.unexpected().join("; ")
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

/// Removes the nodes' data directories of a run (`nodes/*/data`); history, logs and results stay.
fn prune_node_data(run: &std::path::Path) {
    let Ok(nodes) = std::fs::read_dir(run.join("nodes")) else {
        return;
    };
    for n in nodes.flatten() {
        let data = n.path().join("data");
        if data.is_dir() {
            if let Err(e) = std::fs::remove_dir_all(&data) {
                tracing::warn!("removing {}: {e}", data.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_removes_only_the_nodes_data() {
        let run = tempfile::tempdir().unwrap();
        let n1 = run.path().join("nodes/n1");
        std::fs::create_dir_all(n1.join("data/db")).unwrap();
        std::fs::write(n1.join("data/db/x"), "x").unwrap();
        std::fs::write(n1.join("node.log"), "log").unwrap();
        std::fs::write(run.path().join("history.jsonl"), "{}").unwrap();
        prune_node_data(run.path());
        assert!(!n1.join("data").exists());
        assert!(n1.join("node.log").is_file());
        assert!(run.path().join("history.jsonl").is_file());
        prune_node_data(&run.path().join("missing"));
    }

    #[test]
    fn a_known_bug_is_counted_only_where_the_cell_can_tell_it_apart() {
        let cells = plan::preset_cells(plan::Preset::Systems, &plan::Narrowing::default());
        let cell = |label: &str, lost: u64| {
            let spec = cells
                .iter()
                .find(|c| c.label() == label)
                .expect(label)
                .clone();
            let results = serde_json::json!({"guarantees": {"linearizable": false},
                                             "lost_writes": {"count": lost, "judged": 50}});
            Cell {
                expect: systems::expected("redis", &spec),
                spec,
                runs: vec![RunResult {
                    seed: 1,
                    exit_code: 1,
                    dir: PathBuf::new(),
                    results,
                }],
            }
        };
        // `wait` under a crash promises no loss: a loss there is the bug.
        let wait = cell("redis wait × kill-leader", 4).known_bug_lines();
        assert!(wait[0].ends_with("hit in 1 of 1 runs"), "{wait:?}");
        let wait = cell("redis wait × kill-leader", 0).known_bug_lines();
        assert!(wait[0].ends_with("not hit in 1 runs"), "{wait:?}");
        // `async` under a partition loses by design, so the same loss says nothing about the bug.
        let lines = cell("redis async × partition-leader", 4).known_bug_lines();
        assert!(lines[0].contains("not told apart here"), "{lines:?}");
    }

    fn compare_args(argv: &[&str]) -> CompareArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            compare: CompareArgs,
        }
        let mut v = vec!["compare"];
        v.extend_from_slice(argv);
        Wrapper::try_parse_from(v).unwrap().compare
    }

    fn cell(a: &CompareArgs, label: &str) -> RunArgs {
        let spec = a
            .cells()
            .into_iter()
            .find(|c| c.label() == label)
            .unwrap_or_else(|| panic!("no cell {label}"));
        cell_args(a, &spec, 1, std::path::Path::new("store")).unwrap()
    }

    #[test]
    fn systems_narrow_only_the_systems_preset_and_only_to_its_systems() {
        for argv in [
            &["--systems", "zookeeper"][..],
            &["--preset", "reads", "--systems", "zookeeper"],
            &["--preset", "systems", "--systems", "zookeeper,mongodb"],
        ] {
            assert_eq!(run(compare_args(argv)).unwrap(), exit::BAD_ARGS, "{argv:?}");
        }
        let a = compare_args(&[
            "--preset",
            "systems",
            "--systems",
            "nats",
            "--modes",
            "leader",
        ]);
        let cells = a.cells();
        assert_eq!(cells.len(), 4, "{cells:?}");
        assert!(cells.iter().all(|c| c.system.as_deref() == Some("nats")));
        assert!(
            cells.iter().all(|c| c.defaults().is_empty()),
            "the systems' own timeouts"
        );
        let cmd = a.command();
        assert!(
            cmd.starts_with("harness compare --preset systems "),
            "{cmd}"
        );
        assert!(cmd.contains(" --systems nats"), "{cmd}");
    }

    #[test]
    fn preset_cells_get_the_preset_defaults_unless_the_user_sets_them() {
        let a = compare_args(&["--preset", "reads"]);
        let run = cell(&a, "lease-no-wait × partition-leader");
        assert_eq!(run.op_timeout, std::time::Duration::from_millis(500));
        assert_eq!(run.partition_scope, nemesis::PartitionScope::All);
        // No partition: clients are not cut, but the timeout is the preset's.
        let run = cell(&a, "lease × kill-leader");
        assert_eq!(run.partition_scope, nemesis::PartitionScope::Peers);
        assert_eq!(run.op_timeout, std::time::Duration::from_millis(500));
        // Beyond the drift bound the two leaders overlap later: sessions keep the run's timeout.
        let run = cell(&a, "lease × clock-skew-beyond");
        assert_eq!(run.op_timeout, std::time::Duration::from_millis(1500));
        assert_eq!(run.partition_scope, nemesis::PartitionScope::All);
        // The user's own value wins, whichever way it is written.
        for extra in [
            vec!["--extra=--op-timeout=2s", "--extra=--partition-scope=peers"],
            vec![
                "--extra",
                "--op-timeout",
                "--extra",
                "2s",
                "--extra",
                "--partition-scope",
                "--extra",
                "peers",
            ],
        ] {
            let mut argv = vec!["--preset", "reads"];
            argv.extend(extra);
            let a = compare_args(&argv);
            let run = cell(&a, "lease-no-wait × partition-leader");
            assert_eq!(run.op_timeout, std::time::Duration::from_secs(2));
            assert_eq!(run.partition_scope, nemesis::PartitionScope::Peers);
        }
        // A matrix spelled out without a preset keeps the run defaults.
        let a = compare_args(&["--modes", "lease", "--nemeses", "partition-leader"]);
        let run = cell(&a, "lease × partition-leader");
        assert_eq!(run.op_timeout, std::time::Duration::from_millis(1500));
        assert_eq!(run.partition_scope, nemesis::PartitionScope::Peers);
    }

    /// The command in the reports reads back as the options given, quotes and all.
    #[test]
    fn the_reported_command_reads_back() {
        let cmd = "A='x y' kv --data {data_dir} --say \"it's\"";
        let a = compare_args(&["--node-cmd", cmd, "--extra=--name=a b;c"]);
        let words = shlex::split(&a.command()).expect("a shell line");
        let argv: Vec<&str> = words[2..].iter().map(String::as_str).collect();
        let back = compare_args(&argv);
        assert_eq!(back.node_cmd.as_deref(), Some(cmd));
        assert_eq!(back.extra, ["--name=a b;c"]);
    }
}
