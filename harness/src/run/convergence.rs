//! Convergence after the final heal: once the settle period and the final reads are over, read every
//! key's local state on every node (bypassing the read mode) until all nodes agree or the bound passes.
//! Runs on the client runtime.

use super::guarantees::ConvergenceRecord;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use workloads::{Client, ClientError, ReadValue};

/// How long after the settle period the nodes may take to agree before the run counts as not converged.
pub const BOUND: Duration = Duration::from_secs(10);
/// Pause between rounds of local reads.
const ROUND_PAUSE: Duration = Duration::from_millis(200);

/// One round: every node's local state of every key, or why the system has none.
async fn round(
    client: &dyn Client,
    nodes: &[String],
    keys: &[String],
) -> Result<(Vec<(String, String, Option<Vec<i64>>)>, Vec<String>), String> {
    let mut reads = Vec::new();
    let mut silent = Vec::new();
    for n in nodes {
        for k in keys {
            match client.local_read(n, k).await {
                Ok(v) => reads.push((n.clone(), k.clone(), v.map(as_list))),
                Err(ClientError::Unsupported(what)) => {
                    return Err(format!("not checkable: no local reads ({what})"))
                }
                Err(e) => silent.push(format!("{n} did not answer a local read of {k}: {e}")),
            }
        }
    }
    Ok((reads, silent))
}

/// A register's value counts as a one-element list, so every workload can be compared.
fn as_list(v: ReadValue) -> Vec<i64> {
    match v {
        ReadValue::List(l) => l,
        ReadValue::Int(i) => vec![i],
    }
}

/// Compare local states until they agree or `bound` passes (`settle` has been waited already).
pub async fn measure(
    client: Arc<dyn Client>,
    nodes: Vec<String>,
    keys: Vec<String>,
    healed: Instant,
    settle: Duration,
    bound: Duration,
) -> ConvergenceRecord {
    let deadline = Instant::now() + bound;
    let mut rec = ConvergenceRecord {
        settle_s: settle.as_secs_f64(),
        ..ConvergenceRecord::default()
    };
    loop {
        rec.rounds += 1;
        let (reads, silent) = match round(&*client, &nodes, &keys).await {
            Ok(r) => r,
            Err(why) => {
                rec.unchecked = Some(why);
                return rec;
            }
        };
        let c = checker::append::check_convergence(&reads);
        if c.converged && silent.is_empty() {
            rec.converged = Some(true);
            rec.after_heal_s = Some(healed.elapsed().as_secs_f64());
            rec.disagreements.clear();
            return rec;
        }
        rec.disagreements = silent.into_iter().chain(c.disagreements).collect();
        if Instant::now() >= deadline {
            rec.converged = Some(false);
            return rec;
        }
        tokio::time::sleep(ROUND_PAUSE).await;
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

    async fn measured(catch_up: usize, local_reads: bool) -> ConvergenceRecord {
        let client = Arc::new(States {
            catch_up,
            rounds: AtomicUsize::new(0),
            local_reads,
        });
        let keys = vec!["k0".to_string()];
        let bound = Duration::from_millis(700);
        measure(
            client,
            vec!["n1".into(), "n2".into()],
            keys,
            Instant::now(),
            Duration::ZERO,
            bound,
        )
        .await
    }

    #[tokio::test]
    async fn converged_once_the_lagging_node_catches_up() {
        let r = measured(3, true).await;
        assert_eq!(r.converged, Some(true), "{r:?}");
        assert_eq!(r.rounds, 3);
        assert!(
            r.after_heal_s.unwrap() >= 0.4,
            "two pauses of 200 ms: {r:?}"
        );
        assert!(r.disagreements.is_empty());
    }

    #[tokio::test]
    async fn not_converged_when_the_bound_passes_with_the_disagreement_named() {
        let r = measured(usize::MAX, true).await;
        assert_eq!(r.converged, Some(false), "{r:?}");
        assert!(r.rounds >= 3, "{r:?}");
        assert!(!r.disagreements.is_empty(), "{r:?}");
        assert!(r.disagreements[0].contains("k0"), "{r:?}");
    }

    #[tokio::test]
    async fn not_checkable_without_local_reads() {
        let r = measured(0, false).await;
        assert_eq!(r.converged, None);
        assert!(r.unchecked.unwrap().contains("no local reads"));
    }
}
