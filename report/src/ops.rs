//! Client operations paired from events: an invoke and the next completion of the same process.

use checker::{pair_events, Event, EventType, Process};

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

/// Client events as ops, in invocation order: one op per client invoke, paired by the checker's rule
/// ([`checker::pair_events`]: named processes skipped, a completion without an invoke ignored, an invoke
/// while one is pending leaving the earlier open).
pub(crate) fn pair(events: &[Event]) -> Vec<ClientOp<'_>> {
    pair_events(events)
        .into_iter()
        .filter_map(|p| {
            let inv = &events[p.invoke];
            let Process::Client(process) = inv.process else {
                return None;
            };
            let done = p.complete.map(|c| &events[c]);
            Some(ClientOp {
                process,
                session: inv.session,
                f: &inv.f,
                invoke_ns: inv.time,
                complete_ns: done.map(|e| e.time.max(inv.time)),
                outcome: done.map(|e| e.kind),
                node: done.and_then(|e| e.node.as_deref()),
                error: done.and_then(|e| e.error.as_deref()),
            })
        })
        .collect()
}
