//! A log entry and the command it carries. Apart from the boundary types ([`super::types`]) because the
//! state machine, below them, applies commands and speculates over entries not yet applied.

use crate::api::{MicroOp, Value};
use serde::{Deserialize, Serialize};

/// One entry of the replicated log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub index: u64,
    pub command: Command,
}

/// State machine commands (what a log entry carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Appended by a new leader; committing it makes the leader "ready".
    Noop,
    Put {
        key: String,
        value: Value,
    },
    Cas {
        key: String,
        from: Option<Value>,
        to: Value,
    },
    /// Append `value` to the list at `key` (created empty).
    Append {
        key: String,
        value: Value,
    },
    /// A read committed through the log (`--read-mode log`).
    Get {
        key: String,
    },
    /// A transaction (`POST /txn`), applied as one step: all its writes or none; its reads see the state
    /// at that step, with the transaction's own earlier writes. Reads carry `None` here.
    Txn {
        ops: Vec<MicroOp>,
    },
}
