//! The paired history: each client operation with its invocation and completion.

use serde_json::Value;
use std::fmt;

/// Which file format a history came from; decides how positions are shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Our `history.jsonl` (or events handed over in memory).
    Jsonl,
    /// A Jepsen EDN history.
    Edn,
}

/// How an operation ended. `fail` operations are dropped while pairing (they had no effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened, with the completion's value.
    Ok,
    /// Unknown: it may have taken effect at any point after its invocation, or never.
    Info,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Info => "info",
        })
    }
}

/// One client operation: an invocation and its completion (none if it was still open at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub process: u64,
    pub f: String,
    pub key: Option<String>,
    /// The invocation's value (a written value, `[from, to]` for cas, usually null for reads).
    pub value: Value,
    /// The completion's value (the value read, for reads); null for `info`.
    pub output: Value,
    pub outcome: Outcome,
    /// Position of the invocation in the event sequence: the real-time order.
    pub invoke_pos: usize,
    /// Position of the completion; `None` if the op was still open when the history ended.
    pub complete_pos: Option<usize>,
    /// The event's `index` (JSONL) or its line number (EDN).
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    /// Line in the file (or event number for in-memory events), for error messages.
    pub invoke_line: usize,
    pub invoke_time_ns: Option<u64>,
    pub complete_time_ns: Option<u64>,
    pub node: Option<String>,
    pub error: Option<String>,
    /// The session (worker) that issued the op; parsing falls back to the process id when the history
    /// records none (EDN), so session checks follow a worker across process ids.
    pub session: Option<u64>,
}

impl Op {
    /// The value an update writes: the invocation's, or the completion's when the invocation had none.
    pub fn input_value(&self) -> &Value {
        if self.value.is_null() {
            &self.output
        } else {
            &self.value
        }
    }
}

/// A parsed history: client operations in invocation order, with `fail` ops removed.
#[derive(Debug, Clone)]
pub struct History {
    pub ops: Vec<Op>,
    pub format: Format,
    /// Whether every op carries a time (EDN histories often have none; then positions are line numbers).
    pub has_time: bool,
    /// Events read, including nemesis events and `fail` completions.
    pub events: usize,
    /// Operations that completed `fail` (dropped: they did not happen).
    pub failed_ops: usize,
    /// Events of named processes such as the nemesis (kept out of checking).
    pub named_events: usize,
    /// Operations still open at the end of the history (counted as `info`).
    pub open_at_end: usize,
    /// A last line was cut short (a crashed run) and was ignored.
    pub truncated_tail: bool,
    /// Whether `Op::invoke_line` is a line of a file (else it is an event number).
    pub from_file: bool,
}

impl History {
    /// Operations that are checked (`ok` and `info`).
    pub fn op_count(&self) -> usize {
        self.ops.len()
    }

    /// Distinct keys among the operations (an op without a key counts as one key).
    pub fn key_count(&self) -> usize {
        let mut keys: Vec<Option<&str>> = self.ops.iter().map(|o| o.key.as_deref()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len()
    }

    /// Operations that ended `info` (including those still open at the end).
    pub fn info_count(&self) -> usize {
        self.ops
            .iter()
            .filter(|o| o.outcome == Outcome::Info)
            .count()
    }

    /// The model the history looks like it was written for: `list-append` for Elle txns or appends of
    /// integers, `kv` for get/put/append or several keys, `cas-register` when there is a cas, else
    /// `register`.
    pub fn guess_model(&self) -> crate::ModelKind {
        if self
            .ops
            .iter()
            .any(|o| o.f == "txn" || (o.f == "append" && o.input_value().is_i64()))
        {
            return crate::ModelKind::ListAppend;
        }
        let kv_ops = self
            .ops
            .iter()
            .any(|o| matches!(o.f.as_str(), "get" | "put" | "append"));
        if kv_ops || self.key_count() > 1 {
            crate::ModelKind::Kv
        } else if self.ops.iter().any(|o| o.f == "cas") {
            crate::ModelKind::CasRegister
        } else {
            crate::ModelKind::Register
        }
    }
}
