//! One test run, from network setup to verdict:
//! network → nodes → healthy → workload + faults → heal → recovery → final reads → stop → check → store.
//!
//! Threads: the controller runs on the main thread (node processes die with the thread that started them);
//! all HTTP to the nodes runs on a separate runtime whose threads live in the client namespace, the only
//! namespace with a route to the nodes.

pub mod args;
mod assumptions;
mod bounds;
pub mod cluster;
mod convergence;
mod faults;
mod finish;
mod from_args;
pub mod guarantees;
mod interrupted;
pub mod lock;
pub mod place;
mod probe;
mod progress;
pub mod replay;
mod sampler;
pub mod signals;
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
use faults::FaultRunner;
use probe::Probe;
use progress::Progress;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::{Client, Recorder};

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
    if let (true, Err(e)) = (cfg.hosts_file.is_none(), nemesis::check_privileges()) {
        eprintln!("harness: cannot run a test on this machine: {e}");
        return Ok(exit::INVALID_RUN);
    }
    Ok(execute(&cfg, true)?.code)
}

/// Run one test: network, cluster, workload with faults, heal, final reads, check, store. `interactive`
/// shows a progress bar and prints the summary table.
pub fn execute(cfg: &RunConfig, interactive: bool) -> Result<RunOutcome> {
    let system = crate::system::for_run(cfg)?;
    // The controller runs on this (main) thread: node processes die with the thread that started them.
    let ctl_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Catch SIGINT, SIGTERM, SIGHUP and SIGQUIT before creating anything, so no signal can skip the
    // teardown: one that comes during set-up is counted and ends the run as soon as it is driven.
    let signals = signals::Signals::global()?;
    let seen = signals.count();

    let progress = Progress::new(cfg, interactive);
    let dir = RunDir::create(&cfg.store, &cfg.name)?;
    let lock = lock::RunLock::acquire(&dir.root)?;
    // Recorded before anything is named by it, so every kernel object of this run can be traced to it.
    let run_id = nemesis::generate_run_id();
    dir.write_config(cfg, &run_id)?;
    let recorder =
        Recorder::create(&dir.path("history.jsonl")).context("creating history.jsonl")?;
    // Declared before the cluster, so it is dropped (torn down) after the processes are gone.
    let placed = place::Place::create(
        cfg,
        run_id,
        cfg.hosts_file.as_ref(),
        system.client_port(),
        &dir.root,
    );
    let mut net = match placed {
        Ok(n) => n,
        // Unreachable host, untrusted key, missing tool: said before anything starts.
        Err(e) if cfg.hosts_file.is_some() => {
            eprintln!("harness: {e:#}");
            dir.write_json(
                "results.json",
                &serde_json::json!({ "refused": format!("{e:#}") }),
            )?;
            return Ok(RunOutcome {
                code: exit::INVALID_RUN,
                dir: dir.root,
                interrupted: false,
            });
        }
        Err(e) => return Err(e),
    };
    progress.phase("starting", "network up, starting the nodes");
    let client_ns = net.client_netns();
    // Entered once here, where a failure is an ordinary error that unwinds through the teardown.
    if let Some(ns) = &client_ns {
        nemesis::in_netns(ns, || ())
            .with_context(|| format!("entering the client namespace {ns}"))?;
    }
    let client_rt = tokio::runtime::Builder::new_multi_thread()
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
        .context("starting the client runtime")?;
    let mut cluster = NodeCluster::start(&*system, &cfg.nodes, &net, &dir)?;
    let op_timeout = Duration::from_millis(cfg.op_timeout_ms);
    let client = if cfg.partition_scope == nemesis::PartitionScope::All {
        let addrs = net
            .add_session_addrs()
            .context("adding session addresses")?;
        let addrs: Vec<std::net::IpAddr> = addrs.into_iter().map(Into::into).collect();
        cluster.client_with_sessions(&*system, op_timeout, &addrs)?
    } else {
        cluster.client(&*system, op_timeout)?
    };
    let probe = Probe::new(client.clone(), client_rt.handle().clone(), cluster.names());
    let current_fault = Arc::new(Mutex::new(String::new()));
    let started = Instant::now();

    let mut problems = RunProblems::new();
    let mut refused = None;
    let mut fault_records = Vec::new();
    let ending = ctl_rt.block_on(async {
        let mut runner = FaultRunner::new(
            &mut cluster,
            &net,
            probe.clone(),
            recorder.clone(),
            ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6e656d65),
            cfg.skew_rate,
            current_fault.clone(),
        );
        runner.cut_clients = cfg.partition_scope == nemesis::PartitionScope::All;
        runner.packets = cfg.packets.clone();
        runner.rejoin_wait = cfg.system.rejoin_wait();
        let drive = drive(
            cfg,
            runner,
            &probe,
            client.clone(),
            &recorder,
            &client_rt,
            &mut problems,
            &mut refused,
            &progress,
        );
        tokio::select! {
            records = drive => { fault_records = records; Ending::Completed }
            _ = progress.tick(&recorder, &current_fault) => unreachable!("the progress loop never ends"),
            _ = signals.after(seen) => Ending::Interrupted,
        }
    });
    progress.phase("teardown", "stopping the nodes, removing the network");
    if let Err(e) = replay::record(&dir, cfg, &fault_records) {
        tracing::warn!("writing schedule.json: {e:#}");
    }
    for n in cluster.exited() {
        problems.push(format!(
            "node {n} is not running at the end (see nodes/{n}/node.log)"
        ));
    }
    cluster.stop_all(Duration::from_secs(2));
    drop(cluster);
    client_rt.shutdown_timeout(Duration::from_secs(2));
    if let Err(e) = net.teardown() {
        tracing::warn!("network teardown: {e}");
    }
    drop(net);
    recorder.flush().context("flushing history.jsonl")?;
    let elapsed = started.elapsed();

    if let Some(why) = refused {
        eprintln!("harness: {why}");
        dir.write_json("results.json", &serde_json::json!({ "refused": why }))?;
        return Ok(RunOutcome {
            code: exit::BAD_ARGS,
            dir: dir.root,
            interrupted: false,
        });
    }
    // A signal during teardown is honoured now that nothing is left to remove.
    if signals.count() > seen {
        let phase = match ending {
            Ending::Interrupted => "workload",
            Ending::Completed => "teardown",
        };
        let code = interrupted::write_results(
            &dir.root,
            phase,
            signals.first().unwrap_or("a signal"),
            &problems,
            serde_json::to_value(&fault_records)?,
            serde_json::to_value(recorder.stats())?,
        );
        return Ok(RunOutcome {
            code,
            dir: dir.root,
            interrupted: true,
        });
    }
    // From here a signal stops at once: the network is gone and the history is on disk.
    {
        let (root, problems) = (dir.root.clone(), problems.clone());
        let faults = serde_json::to_value(&fault_records)?;
        let stats = serde_json::to_value(recorder.stats())?;
        let lock_path = lock.path().to_path_buf();
        signals.arm(seen, move |sig| {
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
    }
    lock.set_phase("check")?;
    progress.checking(cfg);
    let code = finish::finish(
        cfg,
        &dir,
        &recorder,
        fault_records,
        problems,
        elapsed,
        interactive,
    );
    signals.disarm();
    drop(lock);
    let code = code?;
    Ok(RunOutcome {
        code,
        dir: dir.root,
        interrupted: false,
    })
}

/// Healthy → workload with faults → heal → recovery → final reads. Returns the fault records.
#[allow(clippy::too_many_arguments)]
async fn drive(
    cfg: &RunConfig,
    mut runner: FaultRunner<'_>,
    probe: &Probe,
    client: Arc<dyn Client>,
    recorder: &Arc<Recorder>,
    client_rt: &tokio::runtime::Runtime,
    problems: &mut RunProblems,
    refused: &mut Option<String>,
    progress: &Progress,
) -> Vec<faults::FaultRecord> {
    progress.phase(
        "starting",
        &format!(
            "waiting for the cluster to become healthy (up to {})",
            progress::secs(cfg.health_timeout_s)
        ),
    );
    // A system leaderless by design need not show it for a while first.
    let leaderless_after = if cfg.system.is_leaderless() {
        Some(Duration::ZERO)
    } else {
        cfg.may_be_leaderless()
            .then_some(start_checks::LEADERLESS_AFTER)
    };
    let healthy = tokio::select! {
        r = probe.wait_healthy(cfg.health_timeout(), leaderless_after) => r,
        dead = every_node_exited(runner.cluster) => Err(anyhow::anyhow!(
            "every node process exited (see {})", dead.join(", ")
        )),
    };
    match healthy {
        Err(e) => {
            problems.push(format!("the cluster never became healthy: {e}"));
            return runner.records;
        }
        Ok(leader) => runner.leaderless = leader.is_none(),
    }
    // When the cluster was first healthy, for results.json's `startup` (time to healthy per system).
    recorder.observe("harness", "healthy", serde_json::Value::Null);
    if let Some(why) = start_checks::refusal(&cfg.faults, runner.leaderless, probe).await {
        *refused = Some(why);
        return runner.records;
    }
    let _status_samples = sampler::spawn(&client, recorder, client_rt);
    let wcfg = cfg.workload_config();
    if let Err(e) = probe.workload(&wcfg).await {
        problems.push(e);
        return runner.records;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workload = client_rt.spawn(workloads::run(
        wcfg.clone(),
        client.clone(),
        recorder.clone(),
        stop_rx,
    ));
    let t0 = tokio::time::Instant::now();
    progress.phase(
        "workload",
        &format!("for {}", progress::secs(cfg.time_limit_s)),
    );
    let windows = cfg.schedule();
    // Each window's fault while it is on (windows overlap where their faults compose).
    let mut on: Vec<Option<usize>> = vec![None; windows.len()];
    for step in nemesis::timeline(&windows) {
        let w = &windows[step.window];
        // A window whose end has passed while the last fault overran is skipped (and said so), so the
        // faults are over by the time limit plus one fault's overrun (bounds::run_bound).
        if step.start && tokio::time::Instant::now() >= t0 + w.end {
            recorder.nemesis("fault-skipped", serde_json::json!({"fault": w.kind.name(), "start_s": w.start.as_secs_f64(), "reason": "the fault before it overran this window"}));
            continue;
        }
        tokio::time::sleep_until(t0 + step.at).await;
        if step.start {
            on[step.window] = runner.start(w.kind).await;
        } else if let Some(id) = on[step.window].take() {
            runner.stop(id).await;
        }
    }
    tokio::time::sleep_until(t0 + cfg.time_limit()).await;
    let _ = stop_tx.send(true);
    match workload.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(format!("workload failed: {e}")),
        Err(e) => problems.push(format!("workload task failed: {e}")),
    }
    runner.stop_all().await;
    problems.append(&mut runner.not_landed);
    if let Err(e) = runner.net.heal() {
        problems.push(format!("healing the network failed: {e}"));
    }
    // Convergence is measured from here: every node's local state is polled while the cluster
    // recovers and settles, and until the final reads are over (super::convergence).
    let healed = tokio::time::Instant::now();
    let (reads_done, reads_done_rx) = tokio::sync::watch::channel(false);
    let converging = client_rt.spawn(convergence::measure(
        client.clone(),
        runner.cluster.names(),
        wcfg.key_names(),
        healed,
        Duration::from_secs_f64(cfg.settle_s),
        reads_done_rx,
    ));
    for kind in &cfg.faults {
        if !runner.records.iter().any(|r| r.kind == *kind && r.hit) {
            problems.push(format!(
                "fault {} never hit its intended target",
                kind.name()
            ));
        }
    }
    progress.phase(
        "recovery",
        "healed; waiting for the cluster to become healthy (up to 20 s)",
    );
    let leaderless_ok = runner.leaderless.then_some(Duration::ZERO);
    if let Err(e) = probe.wait_healthy(bounds::RECOVERY, leaderless_ok).await {
        problems.push(format!("the cluster did not recover after healing: {e}"));
        return runner.records;
    }
    // The settle period comes before the final reads too: a read served by a follower still within the
    // async lag would otherwise report appends the cluster still holds as lost.
    let settle = Duration::from_secs_f64(cfg.settle_s);
    progress.phase(
        "settle",
        &format!("{} before the final reads", progress::secs(cfg.settle_s)),
    );
    tokio::time::sleep(settle).await;
    progress.phase("final reads", "every key read once more (up to 10 s)");
    recorder.observe(
        guarantees::ACTOR,
        guarantees::FINAL_READS,
        serde_json::Value::Null,
    );
    let final_reads = workloads::final_reads(
        wcfg.clone(),
        client.clone(),
        recorder.clone(),
        bounds::FINAL_READS,
    );
    match client_rt.spawn(final_reads).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(format!("final reads failed: {e}")),
        Err(e) => problems.push(format!("final reads task failed: {e}")),
    }
    progress.phase(
        "convergence",
        "waiting for every node's own state to agree (up to 10 s)",
    );
    let _ = reads_done.send(true);
    match converging.await {
        Ok(rec) => {
            let value = serde_json::to_value(&rec).unwrap_or_default();
            recorder.observe(guarantees::ACTOR, guarantees::CONVERGED, value);
        }
        Err(e) => problems.push(format!("the convergence check failed: {e}")),
    }
    runner.records
}

/// Returns (with the logs to read) once no node process is left running: nothing can become healthy.
async fn every_node_exited(cluster: &mut NodeCluster) -> Vec<String> {
    loop {
        let exited = cluster.exited();
        if exited.len() == cluster.names().len() {
            return exited
                .iter()
                .map(|n| format!("nodes/{n}/node.log"))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
