//! Concurrent workers: each issues ops from its own generator at its share of the rate, routes them,
//! records invoke and completion, and retires its process after an `info` (a process whose last op has an
//! unknown outcome must never issue another op, as in Jepsen).

use crate::client::{Attempt, Client, Outcome};
use crate::generator::{Generator, OpSpec};
use crate::recorder::Recorder;
use crate::routing::{Failover, Route};
use crate::settings::{Routing, WorkloadConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("a worker task failed: {0}")]
    Worker(String),
    #[error("no successful read of {key} within {secs:.1}s: {last}")]
    FinalRead {
        key: String,
        secs: f64,
        last: String,
    },
    #[error("the cluster has no nodes")]
    NoNodes,
}

/// Run one op for `process`: invoke, send (following leader hints), complete. Returns the last attempt.
async fn perform(
    client: &dyn Client,
    recorder: &Recorder,
    route: &mut Route,
    names: &[String],
    process: u64,
    op: &OpSpec,
) -> Attempt {
    recorder.invoke(process, op);
    let mut target = route.target();
    let mut hops = 0;
    loop {
        let a = client.execute_from(route.side(), target, op).await;
        let next = route.after(target, &a, names);
        if let Some(f) = next.failover {
            record_failover(recorder, &f);
        }
        match next.retry {
            // `not_leader` is definite: nothing happened, so sending the op on is still one op.
            Some(next) if hops < route.max_hops() => {
                hops += 1;
                target = next;
            }
            _ => {
                recorder.complete(process, op, &a);
                return a;
            }
        }
    }
}

/// A session's new home, as an `info` event of the process "router" (checkers skip named processes).
fn record_failover(recorder: &Recorder, f: &Failover) {
    recorder.observe(
        "router",
        "failover",
        serde_json::to_value(f).unwrap_or_default(),
    );
}

/// Drive the workload until `stop` turns true. Ops in flight then are completed (each is bounded by the
/// client timeout), so the history ends with no op left open.
pub async fn run(
    cfg: WorkloadConfig,
    client: Arc<dyn Client>,
    recorder: Arc<Recorder>,
    stop: watch::Receiver<bool>,
) -> Result<(), WorkloadError> {
    if client.names().is_empty() {
        return Err(WorkloadError::NoNodes);
    }
    let next_process = Arc::new(AtomicU64::new(cfg.concurrency as u64));
    let interval = Duration::from_secs_f64(cfg.concurrency as f64 / cfg.rate.max(1e-3));
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|w| {
            let (cfg, client, recorder) = (cfg.clone(), client.clone(), recorder.clone());
            let (mut stop, next_process) = (stop.clone(), next_process.clone());
            tokio::spawn(async move {
                let names = client.names();
                let mut gen = Generator::new(&cfg, w);
                let mut route = Route::new(cfg.routing, client.names().len(), w);
                let mut process = w as u64;
                // Every worker is a session, across the processes it goes through.
                recorder.set_session(process, w as u64);
                // Workers start spread over one interval so they do not fire in lockstep.
                let mut next = Instant::now() + interval.mul_f64(w as f64 / cfg.concurrency as f64);
                loop {
                    if let Some(at) = sleep_until(next, Instant::now()) {
                        tokio::select! {
                            _ = tokio::time::sleep_until(at) => {}
                            _ = stop.wait_for(|s| *s) => return,
                        }
                    } else {
                        tokio::task::yield_now().await;
                    }
                    if *stop.borrow() {
                        return;
                    }
                    let op = gen.next_op();
                    let a = perform(&*client, &recorder, &mut route, &names, process, &op).await;
                    let read = match a.outcome {
                        Outcome::Ok { ref read } => read.as_ref().and_then(|r| r.as_int()),
                        _ => None,
                    };
                    gen.observe(&op, matches!(a.outcome, Outcome::Ok { .. }), read);
                    if matches!(a.outcome, Outcome::Info { .. }) {
                        process = next_process.fetch_add(1, Ordering::Relaxed);
                        recorder.set_session(process, w as u64);
                    }
                    // Keep the rate without bursts: after a slow op, start again from now.
                    next = (next + interval).max(Instant::now());
                }
            })
        })
        .collect();
    let mut failed = None;
    for w in workers {
        if let Err(e) = w.await {
            failed.get_or_insert(e.to_string());
        }
    }
    failed.map_or(Ok(()), |e| Err(WorkloadError::Worker(e)))
}

/// When a worker due at `next` should sleep, if at all. Tokio's timer ticks in milliseconds: sleeping
/// until a moment already past would still wait for the next tick, so a closed loop (a rate above what
/// the system serves) would idle a millisecond between ops. Only sleep when there is time to.
fn sleep_until(next: Instant, now: Instant) -> Option<Instant> {
    (next > now).then_some(next)
}

/// Keys per final read-only transaction: well inside a node's bound on micro-ops.
const FINAL_TXN_KEYS: usize = 1000;

/// The final reads: one read per key, or (txn workloads) read-only transactions over every key.
fn final_ops(cfg: &WorkloadConfig) -> Vec<OpSpec> {
    let keys = cfg.key_names();
    if cfg.kind.is_txn() {
        keys.chunks(FINAL_TXN_KEYS).map(OpSpec::txn_reads).collect()
    } else {
        keys.iter().map(|k| OpSpec::read(k)).collect()
    }
}

/// What a final read reads, for its error: the key, or a transaction's first and last key.
fn op_label(op: &OpSpec) -> String {
    match &op.kind {
        crate::generator::OpKind::Txn(ops) => match (ops.first(), ops.last()) {
            (Some(a), Some(b)) => format!("a transaction reading {} to {}", a.key(), b.key()),
            _ => "an empty transaction".into(),
        },
        _ => op.key.clone(),
    }
}

/// After the faults are healed: read every key through the leader until one read succeeds, so the
/// history ends with what the cluster finally holds (a lost write shows up here). Keys are read
/// concurrently (as many as the workload has workers, at least 16, at most 64) and the whole phase ends by `timeout`
/// plus one op timeout, however many keys there are.
pub async fn final_reads(
    cfg: WorkloadConfig,
    client: Arc<dyn Client>,
    recorder: Arc<Recorder>,
    timeout: Duration,
) -> Result<(), WorkloadError> {
    use futures::StreamExt;
    if client.names().is_empty() {
        return Err(WorkloadError::NoNodes);
    }
    let names = client.names();
    let deadline = Instant::now() + timeout;
    // Fresh process ids, above any a worker can have taken.
    let process = AtomicU64::new(1_000_000_000);
    let read_key = |op: OpSpec| {
        let (client, recorder, names, process) = (&client, &recorder, &names, &process);
        async move {
            let key = op_label(&op);
            let mut route = Route::new(Routing::Leader, names.len(), 0);
            loop {
                if Instant::now() >= deadline {
                    return Err(WorkloadError::FinalRead {
                        key,
                        secs: timeout.as_secs_f64(),
                        last: "not read before the final-read budget ran out".into(),
                    });
                }
                let p = process.fetch_add(1, Ordering::Relaxed);
                let a = perform(&**client, recorder, &mut route, names, p, &op).await;
                match a.outcome {
                    Outcome::Ok { .. } => return Ok(()),
                    Outcome::Fail { error } | Outcome::Info { error }
                        if Instant::now() >= deadline =>
                    {
                        return Err(WorkloadError::FinalRead {
                            key,
                            secs: timeout.as_secs_f64(),
                            last: error,
                        });
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    };
    let results: Vec<Result<(), WorkloadError>> = futures::stream::iter(final_ops(&cfg))
        .map(read_key)
        .buffer_unordered(cfg.concurrency.clamp(16, 64))
        .collect()
        .await;
    results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that is behind (a closed loop, or after a slow op) sends at once instead of waiting
    /// for the timer's next millisecond tick; one that is early sleeps until it is due.
    #[test]
    fn a_worker_sleeps_only_when_it_is_early() {
        let now = Instant::now();
        let ms = Duration::from_millis(1);
        assert_eq!(sleep_until(now, now), None);
        assert_eq!(sleep_until(now, now + ms), None);
        assert_eq!(sleep_until(now + ms, now), Some(now + ms));
    }
}
