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

/// Latencies the client itself adds, in microseconds (medians and tails of one measurement).
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    pub ops: usize,
    pub concurrency: usize,
    pub read_p50_us: f64,
    pub read_p99_us: f64,
    pub write_p50_us: f64,
    pub write_p99_us: f64,
}

impl Overhead {
    pub fn sentence(&self) -> String {
        format!(
            "{} ops from {} clients against servers that answer at once took {:.0} µs at p50 ({:.0} µs p99) \
             for reads and {:.0} µs ({:.0} µs) for writes: this much of every latency here is the harness's \
             own client",
            self.ops,
            self.concurrency,
            self.read_p50_us,
            self.read_p99_us,
            self.write_p50_us,
            self.write_p99_us
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

/// Starts `n` instant servers on loopback; returns their names and addresses.
pub async fn instant_servers(n: usize) -> std::io::Result<Vec<(String, SocketAddr)>> {
    let mut nodes = Vec::new();
    for i in 1..=n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let name = format!("n{i}");
        let app = instant_router(name.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        nodes.push((name, addr));
    }
    Ok(nodes)
}

/// Runs the register workload for `duration` against three instant servers and reads the latencies back
/// from the history it wrote.
pub async fn measure_for(
    duration: Duration,
    concurrency: usize,
    rate: f64,
) -> std::io::Result<Overhead> {
    let nodes = instant_servers(3).await?;
    let client = NodeClient::new(nodes, Duration::from_secs(2)).map_err(std::io::Error::other)?;
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
    latencies(&path, concurrency)
}

/// Blocking, on a runtime of its own with the workload's two threads; `None` if it could not run.
pub fn measure() -> Option<Overhead> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(measure_for(Duration::from_secs(2), 8, 2000.0))
        .map_err(|e| tracing::warn!("measuring the client overhead: {e}"))
        .ok()
}

fn latencies(history: &std::path::Path, concurrency: usize) -> std::io::Result<Overhead> {
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
    Ok(Overhead {
        ops: reads.len() + writes.len(),
        concurrency,
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
}
