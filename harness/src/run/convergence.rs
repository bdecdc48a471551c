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

/// Compare local states until they agree or [`BOUND`] passes (`settle` has been waited already).
pub async fn measure(
    client: Arc<dyn Client>,
    nodes: Vec<String>,
    keys: Vec<String>,
    healed: Instant,
    settle: Duration,
) -> ConvergenceRecord {
    let deadline = Instant::now() + BOUND;
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
