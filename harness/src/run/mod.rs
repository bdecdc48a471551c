//! One test run, from network setup to verdict, as a value going through phases ([`execute`]):
//! place (network) → start (nodes, client) → warm up (healthy) → drive (workload + faults) → heal →
//! recover → settle → final reads → teardown ([`guards`]) → check → report ([`finish`]).
//!
//! Threads: the controller runs on the main thread (node processes die with the thread that started them);
//! all HTTP to the nodes runs on a separate runtime whose threads live in the client namespace, the only
//! namespace with a route to the nodes.

pub mod args;
mod assumptions;
mod bounds;
pub mod cluster;
mod convergence;
mod drive;
mod faults;
mod finish;
mod from_args;
pub mod guarantees;
mod guards;
mod interrupted;
pub mod lock;
pub mod place;
mod probe;
mod progress;
pub mod replay;
mod sampler;
pub mod signals;
mod spans;
mod start_checks;
mod test_name;
mod txn;
mod validate;

use crate::exit;
use crate::settings::RunConfig;
use crate::store::RunDir;
use anyhow::{Context, Result};
use args::RunArgs;
use cluster::NodeCluster;
use probe::Probe;
use progress::Progress;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::Recorder;

/// How the driven part of a run ended.
pub enum Ending {
    Completed,
    /// Ctrl-C or SIGTERM: torn down, history kept, not checked.
    Interrupted,
}

/// Problems that make the run itself invalid (exit 3) unless the checker found an anomaly anyway.
pub type RunProblems = Vec<String>;

/// What one run came to.
pub struct RunOutcome {
    /// The exit code: the verdict, or why the run itself was invalid.
    pub code: u8,
    /// The run's directory in the store.
    pub dir: std::path::PathBuf,
    /// Ctrl-C or SIGTERM ended it.
    pub interrupted: bool,
}

/// `harness [OPTIONS]`: one run, with a progress bar and a summary table.
pub fn run(args: RunArgs) -> Result<u8> {
    let cfg = match RunConfig::from_args(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("harness: {msg}");
            return Ok(exit::BAD_ARGS);
        }
    };
    // A system that is not installed is a bad argument, said before anything is created.
    if let Err(e) = crate::system::for_run(&cfg) {
        eprintln!("harness: {e:#}");
        return Ok(exit::BAD_ARGS);
    }
    // With --hosts nothing is created on this machine: no root needed here.
    if let (true, Err(e)) = (
        cfg.cluster.hosts_file.is_none(),
        nemesis::check_privileges(),
    ) {
        eprintln!("harness: cannot run a test on this machine: {e}");
        return Ok(exit::INVALID_RUN);
    }
    Ok(execute(&cfg, true)?.code)
}

/// Run one test, phase by phase, each a short function below and named in the progress line as it begins:
/// [`Run::begin`] (store directory, lock, config, history), [`Run::place`] (the network), [`Run::start`] (the
/// nodes and the client), then the [`drive`] phases (warm up, drive, heal, recover, settle, final reads,
/// convergence), [`Run::tear_down`] (the guards of [`guards`], in reverse order of set-up), and [`Run::conclude`]
/// (check and report). `interactive` shows a progress bar and prints the summary table.
pub fn execute(cfg: &RunConfig, interactive: bool) -> Result<RunOutcome> {
    let run = Run::begin(cfg, interactive)?;
    let net = match run.place()? {
        Placed::Up(net) => net,
        Placed::Refused(outcome) => return Ok(outcome),
    };
    let driven = run.start_and_drive(net)?;
    run.conclude(driven)
}

/// One run on its way through the phases: what every phase uses, made before anything is created.
struct Run<'c> {
    cfg: &'c RunConfig,
    interactive: bool,
    system: Box<dyn crate::system::System>,
    /// The controller's runtime, on this (main) thread: node processes die with the thread that started them.
    ctl_rt: tokio::runtime::Runtime,
    signals: &'static signals::Signals,
    /// Signals seen before the run began.
    seen: usize,
    progress: Progress,
    dir: RunDir,
    lock: lock::RunLock,
    run_id: String,
    recorder: Arc<Recorder>,
}

/// What placing the network came to.
enum Placed {
    Up(Box<dyn nemesis::Net>),
    /// On hosts that cannot be used (unreachable, untrusted key, missing tool): the run is over.
    Refused(RunOutcome),
}

/// What the driven part of a run left, once torn down, for the check and the report.
struct Driven {
    ending: Ending,
    faults: Vec<faults::FaultRecord>,
    problems: RunProblems,
    /// The start checks refused the run: a bad argument, said once the cluster was up.
    refused: Option<String>,
    elapsed: Duration,
}

impl<'c> Run<'c> {
    /// Catch signals, make the run's directory and lock, write config.json and open the history.
    fn begin(cfg: &'c RunConfig, interactive: bool) -> Result<Self> {
        let system = crate::system::for_run(cfg)?;
        let ctl_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Catch SIGINT, SIGTERM, SIGHUP and SIGQUIT before creating anything, so no signal can skip the
        // teardown: one that comes during set-up is counted and ends the run as soon as it is driven.
        let signals = signals::Signals::global()?;
        let seen = signals.count();
        let progress = Progress::new(cfg, interactive);
        let dir = RunDir::create(&cfg.output.store, &cfg.output.name)?;
        let lock = lock::RunLock::acquire(&dir.root)?;
        // Recorded before anything is named by it, so every kernel object of this run can be traced to it.
        let run_id = nemesis::generate_run_id();
        dir.write_config(cfg, &run_id)?;
        let recorder =
            Recorder::create(&dir.path("history.jsonl")).context("creating history.jsonl")?;
        Ok(Run {
            cfg,
            interactive,
            system,
            ctl_rt,
            signals,
            seen,
            progress,
            dir,
            lock,
            run_id,
            recorder,
        })
    }

    fn outcome(&self, code: u8, interrupted: bool) -> RunOutcome {
        RunOutcome {
            code,
            dir: self.dir.root.clone(),
            interrupted,
        }
    }

    /// The network: namespaces here, or the hosts of `--hosts`.
    fn place(&self) -> Result<Placed> {
        let cfg = self.cfg;
        let placed = place::create(
            cfg,
            self.run_id.clone(),
            cfg.cluster.hosts_file.as_ref(),
            self.system.client_port(),
            &self.dir.root,
        );
        match placed {
            Ok(net) => Ok(Placed::Up(net)),
            // Unreachable host, untrusted key, missing tool: said before anything starts.
            Err(e) if cfg.cluster.hosts_file.is_some() => {
                eprintln!("harness: {e:#}");
                self.dir.write_json(
                    "results.json",
                    &serde_json::json!({ "refused": format!("{e:#}") }),
                )?;
                Ok(Placed::Refused(self.outcome(exit::INVALID_RUN, false)))
            }
            Err(e) => Err(e),
        }
    }

    /// Start, drive, tear down: the nodes and the client on `net`, the [`drive`] phases until they end or
    /// a signal comes, then [`Run::tear_down`].
    fn start_and_drive(&self, net: Box<dyn nemesis::Net>) -> Result<Driven> {
        let mut started = self.start(net)?;
        let t0 = Instant::now();
        let current_fault = Arc::new(Mutex::new(String::new()));
        let mut drive = drive::Drive::new(drive::DriveContext {
            cfg: self.cfg,
            probe: &started.probe,
            client: &started.client,
            recorder: &self.recorder,
            client_rt: &started.client_rt,
            progress: &self.progress,
            current_fault: current_fault.clone(),
        });
        let mut faults = Vec::new();
        let ending = self.ctl_rt.block_on(async {
            tokio::select! {
                records = drive.run(&mut started.nodes, &*started.net) => { faults = records; Ending::Completed }
                _ = self.progress.tick(&self.recorder, &current_fault) => unreachable!("the progress loop never ends"),
                _ = self.signals.after(self.seen) => Ending::Interrupted,
            }
        });
        let drive::Drive {
            mut problems,
            refused,
            ..
        } = drive;
        problems.extend(self.tear_down(started, &faults)?);
        Ok(Driven {
            ending,
            faults,
            problems,
            refused,
            elapsed: t0.elapsed(),
        })
    }

    /// Record the schedule that ran, note the nodes that died, let the guards stop the nodes, shut the
    /// client runtime down and remove the network (the reverse of set-up), and flush the history.
    /// Returns the problems it found.
    fn tear_down(
        &self,
        mut started: guards::Started,
        faults: &[faults::FaultRecord],
    ) -> Result<RunProblems> {
        self.progress
            .phase("teardown", "stopping the nodes, removing the network");
        if let Err(e) = replay::record(&self.dir, self.cfg, faults) {
            tracing::warn!("writing schedule.json: {e:#}");
        }
        let problems = started
            .nodes
            .exited()
            .into_iter()
            .map(|n| format!("node {n} is not running at the end (see nodes/{n}/node.log)"))
            .collect();
        drop(started);
        self.recorder.flush().context("flushing history.jsonl")?;
        Ok(problems)
    }

    /// The client runtime in the client namespace, the nodes, and the client and probe that reach them.
    fn start(&self, net: Box<dyn nemesis::Net>) -> Result<guards::Started> {
        let cfg = self.cfg;
        self.progress
            .phase("starting", "network up, starting the nodes");
        let net = guards::Network(net);
        let client_rt = guards::ClientRuntime::new(client_runtime(net.client_netns())?);
        let nodes = guards::Nodes(NodeCluster::start(
            &*self.system,
            &cfg.cluster.nodes,
            &*net,
            &self.dir,
        )?);
        let op_timeout = cfg.workload.op_timeout;
        let client = if cfg.faults.partition_scope == nemesis::PartitionScope::All {
            let addrs = net
                .add_session_addrs()
                .context("adding session addresses")?;
            let addrs: Vec<std::net::IpAddr> = addrs.into_iter().map(Into::into).collect();
            nodes.client_with_sessions(&*self.system, op_timeout, &addrs)?
        } else {
            nodes.client(&*self.system, op_timeout)?
        };
        let probe = Probe::new(client.clone(), client_rt.handle().clone(), nodes.names());
        Ok(guards::Started {
            nodes,
            client_rt,
            net,
            client,
            probe,
        })
    }

    /// After teardown: a refusal or a signal ends the run here; otherwise check the history and report.
    fn conclude(self, driven: Driven) -> Result<RunOutcome> {
        if let Some(why) = &driven.refused {
            eprintln!("harness: {why}");
            self.dir
                .write_json("results.json", &serde_json::json!({ "refused": why }))?;
            return Ok(self.outcome(exit::BAD_ARGS, false));
        }
        // A signal during teardown is honoured now that nothing is left to remove.
        if self.signals.count() > self.seen {
            return self.interrupted(&driven);
        }
        self.check(driven)
    }

    /// A signal came during the drive or the teardown: results.json says so, and the history is kept
    /// unchecked.
    fn interrupted(&self, driven: &Driven) -> Result<RunOutcome> {
        let phase = match driven.ending {
            Ending::Interrupted => "workload",
            Ending::Completed => "teardown",
        };
        let code = interrupted::write_results(
            &self.dir.root,
            phase,
            self.signals.first().unwrap_or("a signal"),
            &driven.problems,
            serde_json::to_value(&driven.faults)?,
            serde_json::to_value(self.recorder.stats())?,
        );
        Ok(self.outcome(code, true))
    }

    /// Check the history and write the report. From here a signal stops at once: the network is gone and
    /// the history is on disk.
    fn check(self, driven: Driven) -> Result<RunOutcome> {
        self.arm_signals(&driven)?;
        self.lock.set_phase("check")?;
        self.progress.checking(self.cfg);
        let code = finish::finish(
            self.cfg,
            &self.dir,
            &self.recorder,
            driven.faults,
            driven.problems,
            driven.elapsed,
            self.interactive,
        );
        self.signals.disarm();
        let outcome = code.map(|code| self.outcome(code, false));
        drop(self.lock);
        outcome
    }

    /// A signal during the check writes results.json as interrupted, removes the lock and exits.
    fn arm_signals(&self, driven: &Driven) -> Result<()> {
        let (root, problems) = (self.dir.root.clone(), driven.problems.clone());
        let faults = serde_json::to_value(&driven.faults)?;
        let stats = serde_json::to_value(self.recorder.stats())?;
        let lock_path = self.lock.path().to_path_buf();
        self.signals.arm(self.seen, move |sig| {
            let code = interrupted::write_results(
                &root,
                "check",
                sig,
                &problems,
                faults.clone(),
                stats.clone(),
            );
            let _ = std::fs::remove_file(&lock_path);
            std::process::exit(i32::from(code));
        });
        Ok(())
    }
}

/// The runtime all HTTP to the nodes runs on, its threads in the client namespace (entered once here
/// first, where a failure is an ordinary error that unwinds through the teardown).
fn client_runtime(client_ns: Option<String>) -> Result<tokio::runtime::Runtime> {
    if let Some(ns) = &client_ns {
        nemesis::in_netns(ns, || ())
            .with_context(|| format!("entering the client namespace {ns}"))?;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lh-client")
        .on_thread_start(move || {
            // A client thread outside the client namespace could send test traffic anywhere: never continue.
            // On hosts (`--hosts`) clients run where the harness runs and reach the hosts directly.
            let Some(client_ns) = &client_ns else { return };
            // It can only fail here if the namespace vanished since the check above. Its teardown
            // cannot unwind from a runtime thread, so remove the network by hand and exit.
            if let Err(e) = nemesis::enter_netns(client_ns) {
                interrupted::say(&format!(
                    "harness: cannot enter the client namespace {client_ns}: {e}"
                ));
                nemesis::emergency_teardown();
                std::process::exit(i32::from(exit::CRASH));
            }
        })
        .build()
        .context("starting the client runtime")
}
