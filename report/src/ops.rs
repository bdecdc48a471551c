//! Client operations paired from events: an invoke and the next completion of the same process.

use checker::{Event, EventType, Process};
use std::collections::HashMap;

/// One client op. `outcome: None` means it was still open when the history ended.
#[derive(Debug, Clone)]
pub(crate) struct ClientOp<'e> {
    pub process: u64,
    /// The invoke's session (the worker that issued it), when recorded.
    pub session: Option<u64>,
    pub f: &'e str,
    pub invoke_ns: u64,
    pub complete_ns: Option<u64>,
    pub outcome: Option<EventType>,
    pub node: Option<&'e str>,
    /// The completion's error, for `fail` and `info`.
    pub error: Option<&'e str>,
}

impl ClientOp<'_> {
    /// Latency in ms, for completed ops.
    pub fn latency_ms(&self) -> Option<f64> {
        self.complete_ns
            .map(|c| c.saturating_sub(self.invoke_ns) as f64 / 1e6)
    }

    pub fn is_ok(&self) -> bool {
        self.outcome == Some(EventType::Ok)
    }

    pub fn is_read(&self) -> bool {
        matches!(self.f, "read" | "get")
    }

    pub fn is_write(&self) -> bool {
        matches!(self.f, "write" | "cas" | "put" | "append")
    }

    /// Whether the system served it: `ok`, or a correct refusal such as `cas_failed` (see [`crate::codes`]).
    pub fn is_served(&self) -> bool {
        self.is_ok()
            || (self.outcome == Some(EventType::Fail)
                && crate::codes::served(&crate::codes::code(self.error)))
    }
}

/// Pairs client events into ops, in invocation order: one op per client invoke. Named processes (the
/// nemesis) are skipped; a completion without an invoke is ignored, and an invoke while one is pending
/// leaves the earlier open.
pub(crate) fn pair(events: &[Event]) -> Vec<ClientOp<'_>> {
    let mut ops: Vec<ClientOp> = Vec::new();
    let mut pending: HashMap<u64, usize> = HashMap::new();
    for e in events {
        let Process::Client(p) = e.process else {
            continue;
        };
        match e.kind {
            EventType::Invoke => {
                pending.insert(p, ops.len());
                ops.push(ClientOp {
                    process: p,
                    session: e.session,
                    f: &e.f,
                    invoke_ns: e.time,
                    complete_ns: None,
                    outcome: None,
                    node: None,
                    error: None,
                });
            }
            kind => {
                if let Some(i) = pending.remove(&p) {
                    let op = &mut ops[i];
                    op.complete_ns = Some(e.time.max(op.invoke_ns));
                    op.outcome = Some(kind);
                    op.node = e.node.as_deref();
                    op.error = e.error.as_deref();
                }
            }
        }
    }
    ops
}
