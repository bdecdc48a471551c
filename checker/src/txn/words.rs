//! Cycles in words: each step names both transactions and the edge between them.

use super::anomaly::t;
use super::graph::{Graph, PROCESS, REALTIME, RW, WR, WW};
use super::history::{Mop, ReadValue, Status, TxnHistory};
use super::{CycleStep, TxnModel};

/// The cycle's edges as steps between transactions (a run through time nodes is one realtime step).
pub fn steps(h: &TxnHistory, g: &Graph, model: TxnModel, cycle: &[u32]) -> Vec<CycleStep> {
    let mut out = Vec::new();
    let mut from: Option<usize> = None;
    for &e in cycle {
        let edge = g.edges[e as usize];
        let a = edge.from as usize;
        if a < g.txns {
            from = Some(a);
        }
        let b = edge.to as usize;
        if b >= g.txns {
            continue; // into a time node: the step ends at the next transaction
        }
        let a = from.unwrap_or(a);
        let key = h.keys.get(edge.key as usize).map_or("?", String::as_str);
        let v = edge.value;
        let (kind, sentence) = match (edge.kind, model) {
            (WW, TxnModel::ListAppend) => (
                "ww",
                format!(
                    "{} appended {v} to {key} after {}'s append (ww)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            (WW, TxnModel::RwRegister) => (
                "ww",
                format!(
                    "{} wrote {key}={v} over {}'s write (ww)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            (WR, TxnModel::ListAppend) => (
                "wr",
                format!(
                    "{} read {key} up to {v}, which {} appended (wr)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            (WR, TxnModel::RwRegister) => (
                "wr",
                format!(
                    "{} read {key}={v}, which {} wrote (wr)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            (RW, TxnModel::ListAppend) => (
                "rw",
                format!(
                    "{} appended {v} to {key} after {} read {key} without it (rw)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            (RW, TxnModel::RwRegister) => (
                "rw",
                format!(
                    "{} wrote {key}={v} after {} read {key} without it (rw)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            (PROCESS, _) => {
                let p = h.txns[b].process.unwrap_or_default();
                (
                    "process",
                    format!(
                        "{} came after {} on process {p} (process)",
                        t(b as u64),
                        t(a as u64)
                    ),
                )
            }
            (REALTIME, _) => (
                "realtime",
                format!(
                    "{} began after {} completed (realtime)",
                    t(b as u64),
                    t(a as u64)
                ),
            ),
            _ => ("?", String::new()),
        };
        out.push(CycleStep {
            from: a,
            to: b,
            kind,
            sentence,
        });
        from = None;
    }
    out
}

pub fn cycle_sentence(steps: &[CycleStep]) -> String {
    let mut s: Vec<String> = steps.iter().map(|s| s.sentence.clone()).collect();
    if let (Some(first), Some(_)) = (steps.first(), steps.last()) {
        s.push(format!("back to {}: a cycle", t(first.from as u64)));
    }
    s.join("; ")
}

/// A transaction as the history shows it: `line 12, process 3, ok: [[:append x 1] [:r y [1 2]]]`.
pub fn txn_line(h: &TxnHistory, i: usize) -> String {
    let x = &h.txns[i];
    let mops: Vec<String> = h
        .mops_of(i)
        .iter()
        .map(|m| {
            let k = |k: u32| h.keys[k as usize].as_str();
            match *m {
                Mop::Append { key, value } => format!("[:append {} {value}]", k(key)),
                Mop::Write { key, value } => format!("[:w {} {value}]", k(key)),
                Mop::Read { key, value } => {
                    let v = match value {
                        ReadValue::Unknown => "nil".to_string(),
                        ReadValue::Register(r) => r.map_or("nil".into(), |v| v.to_string()),
                        ReadValue::List { .. } => {
                            super::anomaly::list_words(h.list_of(value).unwrap_or(&[]))
                        }
                    };
                    format!("[:r {} {v}]", k(key))
                }
            }
        })
        .collect();
    let status = match x.status {
        Status::Ok => "ok",
        Status::Info => "info",
        Status::Fail => "fail",
    };
    let process = x
        .process
        .map(|p| format!(", process {p}"))
        .unwrap_or_default();
    format!("line {}{process}, {status}: [{}]", x.line, mops.join(" "))
}
