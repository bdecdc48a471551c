//! The harness's own client cost: the real workload (generator, routing, recording to a history file,
//! HTTP) against servers that answer at once, so what it measures is the client, not a system. `harness
//! compare` reports it beside the modes' latencies; `cargo bench -p workloads --bench client_overhead`
//! tracks it.

use crate::client::NodeClient;
use crate::recorder::Recorder;
use crate::settings::{Routing, WorkloadConfig, WorkloadKind};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use checker::{Event, EventType, Process};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Latencies the client itself adds at one load, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub ops: usize,
    pub concurrency: usize,
    /// Ops per second asked of the workload (100000: each client sends as soon as it is answered).
    pub rate: f64,
    pub read_p50_us: f64,
    pub read_p99_us: f64,
    pub write_p50_us: f64,
    pub write_p99_us: f64,
}

/// The client's cost back to back (its own work per op) and paced (as runs send, so each op also pays
/// for the machine waking from idle, on the client's side and the server's).
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    pub closed_loop: Latencies,
    pub paced: Latencies,
}

/// Rate at which a workload never waits between ops.
pub const CLOSED_LOOP: f64 = 100_000.0;
/// Clients and total rate of the paced measurement: a run's defaults (--concurrency 10 --rate 100).
pub const PACED: (usize, f64) = (10, 100.0);

impl Overhead {
    pub fn sentence(&self) -> String {
        let (c, p) = (&self.closed_loop, &self.paced);
        format!(
            "against servers that answer at once, one client sending each op as soon as the last is answered \
             took {:.0} µs at p50 ({:.0} µs p99) for reads and {:.0} µs ({:.0} µs) for writes; {} clients \
             paced at {:.0} ops/s took {:.0} µs ({:.0} µs) and {:.0} µs ({:.0} µs), the difference being the \
             machine waking from idle between ops. That much of every latency here is the harness's own \
             client and loopback HTTP",
            c.read_p50_us,
            c.read_p99_us,
            c.write_p50_us,
            c.write_p99_us,
            p.concurrency,
            p.rate,
            p.read_p50_us,
            p.read_p99_us,
            p.write_p50_us,
            p.write_p99_us
        )
    }
}

/// Answers every request of docs/protocol.md at once, naming itself.
fn instant_router(node: String) -> Router {
    let node = Arc::new(node);
    Router::new()
        .route(
            "/kv/{key}",
            get(|State(n): State<Arc<String>>| async move {
                Json(json!({"value": null, "node": *n}))
            })
            .put(|State(n): State<Arc<String>>| async move { Json(json!({"node": *n})) }),
        )
        .route(
            "/kv/{key}/{op}",
            post(
                |State(n): State<Arc<String>>, Path((_k, _op)): Path<(String, String)>| async move {
                    Json(json!({"node": *n}))
                },
            ),
        )
        .with_state(node)
}

/// Instant servers on loopback, on a thread and runtime of their own (as a separate process would be,
/// so they do not take the client runtime's threads). Stopped on drop.
pub struct InstantServers {
    pub nodes: Vec<(String, SocketAddr)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InstantServers {
    pub fn start(n: usize) -> std::io::Result<InstantServers> {
        let mut listeners = Vec::new();
        let mut nodes = Vec::new();
        for i in 1..=n {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.set_nonblocking(true)?;
            nodes.push((format!("n{i}"), l.local_addr()?));
            listeners.push(l);
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let names: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("lh-instant".into())
            .spawn(move || {
                rt.block_on(async move {
                    for (l, name) in listeners.into_iter().zip(names) {
                        let Ok(l) = tokio::net::TcpListener::from_std(l) else {
                            continue;
                        };
                        tokio::spawn(async move {
                            let _ = axum::serve(l, instant_router(name)).await;
                        });
                    }
                    let _ = stopped.await;
                })
            })?;
        Ok(InstantServers {
            nodes,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for InstantServers {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the register workload for `duration` against three instant servers and reads the latencies back
/// from the history it wrote.
pub async fn measure_for(
    duration: Duration,
    concurrency: usize,
    rate: f64,
) -> std::io::Result<Latencies> {
    let servers = InstantServers::start(3)?;
    let client = NodeClient::new(servers.nodes.clone(), Duration::from_secs(2))
        .map_err(std::io::Error::other)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.jsonl");
    let recorder = Recorder::create(&path)?;
    let cfg = WorkloadConfig {
        kind: WorkloadKind::Register,
        concurrency,
        rate,
        routing: Routing::Sticky,
        ..WorkloadConfig::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let work = tokio::spawn(crate::runner::run(
        cfg,
        Arc::new(client),
        recorder.clone(),
        stop_rx,
    ));
    tokio::time::sleep(duration).await;
    let _ = stop_tx.send(true);
    work.await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    recorder.flush()?;
    latencies(&path, concurrency, rate)
}

/// Blocking, on a runtime of its own with the workload's two threads; `None` if it could not run.
pub fn measure() -> Option<Overhead> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        Ok::<_, std::io::Error>(Overhead {
            closed_loop: measure_for(Duration::from_secs(2), 1, CLOSED_LOOP).await?,
            paced: measure_for(Duration::from_secs(3), PACED.0, PACED.1).await?,
        })
    })
    .map_err(|e| tracing::warn!("measuring the client overhead: {e}"))
    .ok()
}

fn latencies(
    history: &std::path::Path,
    concurrency: usize,
    rate: f64,
) -> std::io::Result<Latencies> {
    let file = std::io::BufReader::new(std::fs::File::open(history)?);
    let mut open: HashMap<u64, (u64, bool)> = HashMap::new();
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for line in file.lines() {
        let e: Event = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        let Process::Client(p) = e.process else {
            continue;
        };
        match e.kind {
            EventType::Invoke => {
                open.insert(p, (e.time, e.f == "read"));
            }
            EventType::Ok => {
                if let Some((t0, read)) = open.remove(&p) {
                    let us = e.time.saturating_sub(t0) as f64 / 1e3;
                    if read {
                        reads.push(us)
                    } else {
                        writes.push(us)
                    }
                }
            }
            _ => {
                open.remove(&p);
            }
        }
    }
    let pct = |v: &mut Vec<f64>, p: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    };
    Ok(Latencies {
        ops: reads.len() + writes.len(),
        concurrency,
        rate,
        read_p50_us: pct(&mut reads, 0.5),
        read_p99_us: pct(&mut reads, 0.99),
        write_p50_us: pct(&mut writes, 0.5),
        write_p99_us: pct(&mut writes, 0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_workload_runs_against_instant_servers_and_reports_its_latency() {
        let o = measure_for(Duration::from_millis(500), 4, 400.0)
            .await
            .unwrap();
        // 400 ops/s for half a second: well over 50 ops, all answered at once.
        assert!(o.ops > 50, "{o:?}");
        assert!(o.read_p50_us > 0.0 && o.read_p50_us < 1e6, "{o:?}");
        assert!(o.write_p50_us > 0.0, "{o:?}");
    }

    /// A closed loop against instant servers runs and is measured end to end (how fast it goes is a
    /// benchmark's business; that a worker behind schedule does not sleep is `runner`'s unit test).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closed_loop_is_measured_from_its_history() {
        let o = measure_for(Duration::from_millis(500), 1, CLOSED_LOOP)
            .await
            .unwrap();
        assert!(o.ops > 0, "no op recorded: {o:?}");
    }
}
