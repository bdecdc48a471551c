//! Sentences for violations: who (session, process), what (the op and its result), when, which node.

use super::index::{session, KeyData};
use super::Violation;
use crate::explain::OpSummary;
use crate::ops::{Format, History, Op, Outcome};

/// Values of a list shown before eliding the middle.
const LIST_SHOWN: usize = 8;

/// A point in time: seconds when the history has times, else the line or event number.
fn when(h: &History, ns: Option<u64>, index: Option<u64>) -> String {
    match (h.has_time, ns, index) {
        (true, Some(ns), _) => format!("{:.3} s", ns as f64 / 1e9),
        (_, _, Some(i)) if h.from_file && h.format == Format::Edn => format!("line {i}"),
        (_, _, Some(i)) => format!("event {i}"),
        _ => "the end".to_string(),
    }
}

pub(crate) fn began(h: &History, op: &Op) -> String {
    when(h, op.invoke_time_ns, Some(op.invoke_index))
}

pub(crate) fn ended(h: &History, op: &Op) -> String {
    if op.complete_pos.is_none() {
        return "never (still open at the end)".to_string();
    }
    when(h, op.complete_time_ns, op.complete_index)
}

/// `[1 2 3 … 40 41] (41 values)` for long lists.
pub(crate) fn list(kd: &KeyData, ids: &[u32]) -> String {
    let v = |id: &u32| kd.vals[*id as usize].value.to_string();
    if ids.len() <= LIST_SHOWN {
        let parts: Vec<String> = ids.iter().map(v).collect();
        return format!("[{}]", parts.join(" "));
    }
    let head: Vec<String> = ids[..LIST_SHOWN / 2].iter().map(v).collect();
    let tail: Vec<String> = ids[ids.len() - LIST_SHOWN / 2..].iter().map(v).collect();
    format!(
        "[{} … {}] ({} values)",
        head.join(" "),
        tail.join(" "),
        ids.len()
    )
}

fn who(op: &Op) -> String {
    let s = session(op);
    let node = op
        .node
        .as_ref()
        .map(|n| format!(" on {n}"))
        .unwrap_or_default();
    if s == op.process {
        format!("process {}{node}", op.process)
    } else {
        format!("session {s} (process {}){node}", op.process)
    }
}

/// `the read of x by session 3 (process 7) on n2 at 1.234 s` (no result).
pub(crate) fn read(h: &History, kd: &KeyData, op: &Op) -> String {
    format!("the read of {} by {} at {}", kd.key, who(op), began(h, op))
}

/// `the append of 7 to x by process 4 on n1 (acknowledged at 1.2 s)`.
pub(crate) fn append(h: &History, kd: &KeyData, op: &Op) -> String {
    let status = match op.outcome {
        Outcome::Ok => format!("acknowledged at {}", ended(h, op)),
        Outcome::Info => format!("begun at {}, outcome unknown", began(h, op)),
    };
    format!(
        "the append of {} to {} by {} ({status})",
        op.input_value(),
        kd.key,
        who(op)
    )
}

/// The value of a value id.
pub(crate) fn val(kd: &KeyData, id: u32) -> i64 {
    kd.vals[id as usize].value
}

/// A violation of `guarantee` on this key, shown by `ops[0]`.
pub(crate) fn violation(guarantee: &str, kd: &KeyData, ops: &[&Op], sentence: String) -> Violation {
    Violation {
        guarantee: guarantee.to_string(),
        key: kd.key.clone(),
        sentence,
        ops: ops.iter().map(|o| OpSummary::from_op(o)).collect(),
        time_ns: ops.first().and_then(|o| o.invoke_time_ns),
    }
}
