//! The node's command line as a library function, so one build serves both the `node` binary and
//! `harness node ...` (the harness starts its nodes from its own executable; nothing is built at run time).
//! Parse flags, open the WAL, start the driver thread, the peer transport and the HTTP server; stop cleanly
//! on SIGTERM/SIGINT (exit 0). Exit 254 on bad arguments, 255 on any other failure.

use crate::clock::Clock;
use crate::config::{Args, LogFormat, NodeConfig, EXIT_BAD_ARGS};
use crate::conn_gate::{ConnGate, ConnInfo};
use crate::driver::{Driver, DriverError, Input};
use crate::peer_auth::{PeerSecret, PEER_SECRET_ENV};
use crate::raft::{RaftNode, MAX_TERM};
use crate::server::{router, AppState};
use crate::storage::Wal;
use crate::transport::Transport;
use anyhow::Context;
use clap::Parser;
use std::ffi::OsString;
use std::future::IntoFuture;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

const EXIT_CRASH: i32 = 255;

/// Runs a node with these arguments (the first is the program name, as in `std::env::args_os`) and
/// returns the process exit code. Installs the global tracing subscriber: call it once per process.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print to stdout and succeed; real errors are bad arguments.
            let code = if e.use_stderr() { EXIT_BAD_ARGS } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    init_logging(args.log_format);
    let mut cfg = match args.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("node: {e}");
            return EXIT_BAD_ARGS;
        }
    };
    cfg.peer_secret = match PeerSecret::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("node: {e}");
            return EXIT_BAD_ARGS;
        }
    };
    match run(cfg) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("node: {e:#}");
            EXIT_CRASH
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// The connection bound: `--max-connections`, kept below the open-file limit (raised to the hard one
/// first). Peers' addresses get a reserve above it.
fn connection_gate(cfg: &NodeConfig) -> Arc<ConnGate> {
    let fit = match crate::fd_limit::raise_nofile() {
        Ok((before, after)) => {
            if after > before {
                info!(before, after, "raised the open-file limit");
            }
            crate::fd_limit::connections_that_fit(after)
        }
        Err(e) => {
            warn!(error = %e, "cannot read the open-file limit; assuming 1024");
            crate::fd_limit::connections_that_fit(1024)
        }
    };
    let bound = cfg.max_connections.min(fit);
    if bound < cfg.max_connections {
        warn!(
            max_connections = cfg.max_connections,
            bound, "the open-file limit allows fewer connections than --max-connections"
        );
    }
    let own = cfg.listen.ip();
    let peer_ips = cfg.peers.values().map(|a| a.ip()).filter(|ip| *ip != own);
    ConnGate::new(bound, peer_ips)
}

fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("node-io")
        .build()
        .context("start the async runtime")?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: NodeConfig) -> anyhow::Result<()> {
    info!(
        id = cfg.id(),
        listen = %cfg.listen,
        peers = ?cfg.peers,
        data_dir = %cfg.data_dir.display(),
        read_mode = %cfg.raft.read_mode,
        replication = %cfg.raft.replication,
        heartbeat_ms = cfg.raft.heartbeat_interval.as_millis() as u64,
        election_timeout_ms = cfg.raft.election_timeout.as_millis() as u64,
        lease_ms = cfg.raft.lease.as_millis() as u64,
        lease_votes = %cfg.raft.lease_votes,
        max_drift = cfg.raft.max_drift,
        pre_vote = cfg.raft.pre_vote,
        check_quorum = cfg.raft.check_quorum,
        request_timeout_ms = cfg.request_timeout.as_millis() as u64,
        tick_ms = cfg.tick.as_millis() as u64,
        seed = cfg.raft.seed,
        max_connections = cfg.max_connections,
        header_timeout_ms = cfg.header_timeout.as_millis() as u64,
        peers_authenticated = cfg.peer_secret.is_some(),
        "starting node"
    );
    if cfg.peer_secret.is_none() {
        warn!("{PEER_SECRET_ENV} is not set: peer messages (POST /raft) are accepted from anyone who reaches this port; set it to the same secret on every node");
    }
    let gate = connection_gate(&cfg);
    if cfg.raft.read_mode == crate::api::ReadMode::LeaseNoWait
        && cfg.raft.lease < 3 * cfg.raft.election_timeout
    {
        warn!("lease-no-wait shows its anomaly reliably only with --lease-ms 3-5x --election-timeout-ms");
    }

    let clock = Arc::new(Clock::new());
    let (wal, restored, _) = Wal::open(&cfg.data_dir)
        .with_context(|| format!("open the write-ahead log in {}", cfg.data_dir.display()))?;
    if restored.hard_state.term > MAX_TERM {
        anyhow::bail!(
            "the write-ahead log in {} holds term {}, past the largest usable term {MAX_TERM}: a forged peer message wrote it before terms were checked, and no election can follow it; move the data directory away and start this node empty (see the README on a node that refuses to start)",
            cfg.data_dir.display(),
            restored.hard_state.term
        );
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("listen on {}", cfg.listen))?;
    let core = RaftNode::new(cfg.raft.clone(), restored, clock.now());
    let transport = Transport::start(
        cfg.id(),
        &cfg.peers,
        cfg.peer_secret.clone(),
        &tokio::runtime::Handle::current(),
    )
    .context("build the peer HTTP client")?;
    let (done_tx, mut done_rx) = oneshot::channel::<Result<(), DriverError>>();
    let driver = Driver::new(core, wal, clock.clone(), transport, cfg.tick)
        .spawn(done_tx)
        .context("start the driver thread")?;

    let state = AppState::new(
        cfg.id(),
        driver.clone(),
        clock,
        &cfg.peers,
        cfg.request_timeout,
        cfg.peer_secret.clone(),
    );
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut server = tokio::spawn(
        axum::serve(
            crate::http_conn::GatedListener::new(listener, cfg.id(), gate, cfg.header_timeout),
            router(state).into_make_service_with_connect_info::<ConnInfo>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        })
        .into_future(),
    );
    info!(listen = %cfg.listen, "serving");

    let mut sigterm = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
    tokio::select! {
        _ = sigterm.recv() => info!(signal = "SIGTERM", "shutting down"),
        _ = sigint.recv() => info!(signal = "SIGINT", "shutting down"),
        outcome = &mut done_rx => {
            return match outcome {
                Ok(Ok(())) => Err(anyhow::anyhow!("the driver thread stopped unexpectedly")),
                Ok(Err(e)) => Err(e.into()),
                Err(_) => Err(DriverError::Panicked("see the panic message above".into()).into()),
            };
        }
        res = &mut server => {
            return match res {
                Ok(Ok(())) => Err(anyhow::anyhow!("the HTTP server stopped unexpectedly")),
                Ok(Err(e)) => Err(anyhow::Error::new(e).context("HTTP server failed")),
                Err(e) => Err(anyhow::Error::new(e).context("HTTP server task failed")),
            };
        }
    }
    // Everything acknowledged is already fsynced; give in-flight requests a bounded grace period.
    let _ = stop_tx.send(());
    let grace = cfg.request_timeout + Duration::from_millis(500);
    if tokio::time::timeout(grace, &mut server).await.is_err() {
        warn!("in-flight requests did not finish in time; exiting anyway");
    }
    let _ = driver.send(Input::Shutdown);
    info!("stopped");
    Ok(())
}
