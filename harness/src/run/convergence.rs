//! Convergence after the final heal, measured from the heal: every node's local state of every key
//! (bypassing the read mode) is polled from the moment the network heals, through the recovery wait,
//! `--settle` and the final reads, until all nodes agree or [`BOUND`] passes after the final reads.
//! The time reported is when the nodes first agreed on the state they still held at the end, so it is
//! a measurement, not the settle wait. The agreed state is kept for the comparison with the final
//! reads ([`super::guarantees`]). Runs on the client runtime.

use super::guarantees::ConvergenceRecord;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use workloads::{Client, ClientError, ReadValue};

/// How long after the final reads the nodes may take to agree before the run counts as not converged.
pub const BOUND: Duration = Duration::from_secs(10);
/// Pause between rounds of local reads.
const ROUND_PAUSE: Duration = Duration::from_millis(200);

/// Every node's local state of every key: (node, key, list; `None` = absent).
type Reads = Vec<(String, String, Option<Vec<i64>>)>;
/// One key's agreed state, by key.
type State = BTreeMap<String, Option<Vec<i64>>>;

/// One round: every node's local state of every key (nodes asked at once), with a sentence for each
/// read that got no answer, or why the system has no local reads.
async fn round(
    client: &dyn Client,
    nodes: &[String],
    keys: &[String],
) -> Result<(Reads, Vec<String>), String> {
    let per_node = nodes.iter().map(|n| async move {
        let mut reads = Vec::new();
        let mut silent = Vec::new();
        for k in keys {
            match client.local_read(n, k).await {
                Ok(v) => reads.push((n.clone(), k.clone(), v.map(as_list))),
                Err(ClientError::Unsupported(what)) => {
                    return Err(format!("not checkable: {what} are not served"))
                }
                Err(e) => silent.push(format!("{n} did not answer a local read of {k}: {e}")),
            }
        }
        Ok((reads, silent))
    });
    let mut reads = Vec::new();
    let mut silent = Vec::new();
    for r in futures::future::join_all(per_node).await {
        let (mut r, mut s) = r?;
        reads.append(&mut r);
        silent.append(&mut s);
    }
    Ok((reads, silent))
}

/// A register's value counts as a one-element list, so every workload can be compared.
fn as_list(v: ReadValue) -> Vec<i64> {
    match v {
        ReadValue::List(l) => l,
        ReadValue::Int(i) => vec![i],
        // Local reads are of one key; no system answers them with micro-ops.
        ReadValue::Txn(_) => Vec::new(),
    }
}

/// The state all nodes agree on (call only when they do): each key as the first node holds it.
fn agreed(reads: &Reads) -> State {
    let mut state = State::new();
    for (_, k, v) in reads {
        state.entry(k.clone()).or_insert_with(|| v.clone());
    }
    state
}

/// Poll local states from `healed` on. Once `reads_done` says the final reads are over (or its sender
/// is gone), the first round that agrees ends it, or `BOUND` passes. `settle` is recorded only.
pub async fn measure(
    client: Arc<dyn Client>,
    nodes: Vec<String>,
    keys: Vec<String>,
    healed: Instant,
    settle: Duration,
    reads_done: watch::Receiver<bool>,
) -> ConvergenceRecord {
    measure_within(client, nodes, keys, healed, settle, reads_done, BOUND).await
}

async fn measure_within(
    client: Arc<dyn Client>,
    nodes: Vec<String>,
    keys: Vec<String>,
    healed: Instant,
    settle: Duration,
    mut reads_done: watch::Receiver<bool>,
    bound: Duration,
) -> ConvergenceRecord {
    let mut rec = ConvergenceRecord {
        settle_s: settle.as_secs_f64(),
        ..ConvergenceRecord::default()
    };
    // Since when (seconds after the heal) every round agreed on `state`.
    let mut since: Option<(f64, State)> = None;
    let mut deadline = None;
    let mut last_start: Option<Instant> = None;
    loop {
        // Closed (the run gave up before its final reads) counts as done.
        let done = *reads_done.borrow() || reads_done.has_changed().is_err();
        let start = Instant::now();
        if let Some(prev) = last_start {
            rec.poll_s = rec.poll_s.max((start - prev).as_secs_f64());
        }
        last_start = Some(start);
        rec.rounds += 1;
        let at = healed.elapsed().as_secs_f64();
        let (reads, silent) = match round(&*client, &nodes, &keys).await {
            Ok(r) => r,
            Err(why) => {
                rec.unchecked = Some(why);
                return rec;
            }
        };
        let c = checker::append::check_convergence(&reads);
        if c.converged && silent.is_empty() && !reads.is_empty() {
            let state = agreed(&reads);
            if since.as_ref().is_none_or(|(_, s)| *s != state) {
                since = Some((at, state));
            }
            rec.disagreements.clear();
        } else {
            since = None;
            rec.disagreements = silent.into_iter().chain(c.disagreements).collect();
        }
        if done {
            if let Some((at, state)) = since.take() {
                rec.converged = checker::Validity::Valid;
                rec.after_heal_s = Some(at);
                rec.state = state;
                return rec;
            }
            let deadline = *deadline.get_or_insert(start + bound);
            if Instant::now() >= deadline {
                rec.converged = checker::Validity::Invalid;
                return rec;
            }
        }
        // Wake early when the final reads end, so the deciding round starts right after them.
        if let Ok(Err(_)) = tokio::time::timeout(ROUND_PAUSE, reads_done.changed()).await {
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use workloads::{Attempt, NodeStatus, OpSpec};

    /// Local states that change per round: n2 lags until round `catch_up`; or no local reads at all.
    struct States {
        catch_up: usize,
        rounds: AtomicUsize,
        local_reads: bool,
    }

    impl Client for States {
        fn names(&self) -> Vec<String> {
            vec!["n1".into(), "n2".into()]
        }
        fn execute<'a>(&'a self, _: usize, _: &'a OpSpec) -> BoxFuture<'a, Attempt> {
            unreachable!("the convergence check only reads local state")
        }
        fn status<'a>(&'a self, n: &'a str) -> BoxFuture<'a, Result<NodeStatus, ClientError>> {
            Box::pin(async move { Err(ClientError::UnknownNode(n.into())) })
        }
        fn local_read<'a>(
            &'a self,
            node: &'a str,
            _key: &'a str,
        ) -> BoxFuture<'a, Result<Option<ReadValue>, ClientError>> {
            Box::pin(async move {
                if !self.local_reads {
                    return Err(ClientError::Unsupported(format!("{node}: local reads")));
                }
                let round = if node == "n1" {
                    self.rounds.fetch_add(1, Ordering::SeqCst) + 1
                } else {
                    self.rounds.load(Ordering::SeqCst)
                };
                let lagging = node == "n2" && round < self.catch_up;
                Ok(Some(ReadValue::List(if lagging {
                    vec![1]
                } else {
                    vec![1, 2]
                })))
            })
        }
    }

    /// Measure with local states from `States`; the final reads end `reads_end` after the heal.
    async fn measured_with(
        catch_up: usize,
        local_reads: bool,
        reads_end: Duration,
    ) -> ConvergenceRecord {
        let client = Arc::new(States {
            catch_up,
            rounds: AtomicUsize::new(0),
            local_reads,
        });
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            tokio::time::sleep(reads_end).await;
            let _ = tx.send(true);
            // Keep the sender: a closed channel also counts as done.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        measure_within(
            client,
            vec!["n1".into(), "n2".into()],
            vec!["k0".to_string()],
            Instant::now(),
            Duration::from_secs(2),
            rx,
            Duration::from_millis(700),
        )
        .await
    }

    async fn measured(catch_up: usize, local_reads: bool) -> ConvergenceRecord {
        measured_with(catch_up, local_reads, Duration::ZERO).await
    }

    // Paused time: sleeps advance the clock at once, so the times below are exact, not raced.
    #[tokio::test(start_paused = true)]
    async fn converged_once_the_lagging_node_catches_up() {
        let r = measured_with(3, true, Duration::from_millis(400)).await;
        assert_eq!(r.converged, checker::Validity::Valid, "{r:?}");
        assert!(r.rounds >= 3, "{r:?}");
        assert_eq!(r.after_heal_s, Some(0.4), "two pauses of 200 ms: {r:?}");
        assert!(r.disagreements.is_empty());
        assert_eq!(r.state.get("k0"), Some(&Some(vec![1, 2])), "{r:?}");
    }

    /// The time reported is when the nodes agreed after the heal, not when the settle and the final
    /// reads (3 s here) were over.
    #[tokio::test(start_paused = true)]
    async fn the_time_is_measured_from_the_heal_not_from_the_end_of_the_settle() {
        let r = measured_with(3, true, Duration::from_secs(3)).await;
        assert_eq!(r.converged, checker::Validity::Valid, "{r:?}");
        assert_eq!(r.after_heal_s, Some(0.4), "{r:?}");
        assert!(r.rounds > 3, "polled until the final reads ended: {r:?}");
        assert_eq!(r.settle_s, 2.0);
    }

    #[tokio::test(start_paused = true)]
    async fn not_converged_when_the_bound_passes_with_the_disagreement_named() {
        let r = measured(usize::MAX, true).await;
        assert_eq!(r.converged, checker::Validity::Invalid, "{r:?}");
        assert!(r.rounds >= 3, "{r:?}");
        assert!(!r.disagreements.is_empty(), "{r:?}");
        assert!(r.disagreements[0].contains("k0"), "{r:?}");
    }

    #[tokio::test]
    async fn not_checkable_without_local_reads() {
        let r = measured(0, false).await;
        assert_eq!(r.converged, checker::Validity::Unknown);
        assert!(r.unchecked.unwrap().contains("not checkable"));
    }
}
