//! Transactional consistency checking in the manner of Elle: histories of `:f :txn` operations with any
//! number of micro-ops (list-append or rw-register), a dependency graph of ww, wr and rw edges plus
//! process and real-time order, cycles found per strongly connected component and named as Elle names
//! them, and a verdict against a consistency model.
//!
//! ```no_run
//! use checker::txn::{check_txn, load_txn_history, TxnModel, TxnOptions};
//! let h = load_txn_history(std::path::Path::new("history.edn"), TxnModel::ListAppend).unwrap();
//! let report = check_txn(&h, TxnModel::ListAppend, &TxnOptions::default()).unwrap();
//! println!("{}: {:?}", report.valid, report.verdict.strongest);
//! ```

mod anomaly;
mod consistency;
mod cycles;
mod graph;
mod history;
mod list_append;
mod read;
mod rw_register;
pub mod synth;
mod words;

pub use anomaly::Anomaly;
pub use consistency::{Consistency, UnknownConsistency, Verdict};
pub use history::{Mop, ReadValue, Status, Txn, TxnHistory, NO_POS};
pub use read::{load_txn_history, parse_txn_history, read_txn_history, TxnReadError};

use anomaly::Found;
use graph::{EdgeList, PROCESS, REALTIME};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// At most this many anti-dependency edges leave one read towards writes whose place in the version order
/// is only partly known (unseen appends, writes after nil): keeps the graph linear in the history.
const MAX_FANOUT: usize = 64;

/// Which kind of object the micro-ops act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxnModel {
    /// `[:append k v]` and `[:r k [v ...]]`: lists of unique integers.
    ListAppend,
    /// `[:w k v]` and `[:r k v]`: registers with unique integer writes.
    RwRegister,
}

impl TxnModel {
    pub fn as_str(self) -> &'static str {
        match self {
            TxnModel::ListAppend => "list-append",
            TxnModel::RwRegister => "rw-register",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TxnOptions {
    /// The model the history is judged against.
    pub consistency: Consistency,
}

impl Default for TxnOptions {
    fn default() -> Self {
        TxnOptions {
            consistency: Consistency::StrictSerializable,
        }
    }
}

/// One step of a cycle, for drawing: from one transaction to the next, and why.
#[derive(Debug, Clone, Serialize)]
pub struct CycleStep {
    pub from: usize,
    pub to: usize,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub kind: &'static str,
    pub sentence: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub name: String,
    pub steps: Vec<CycleStep>,
}

/// The result of checking a transactional history.
#[derive(Debug, Clone, Serialize)]
pub struct TxnReport {
    pub model: TxnModel,
    pub consistency: Consistency,
    /// Whether the history is consistent with `consistency` (as far as could be checked).
    pub valid: bool,
    pub txns: usize,
    pub ok: usize,
    pub info: usize,
    pub fail: usize,
    pub keys: usize,
    pub micro_ops: usize,
    /// Anomaly names that rule out `consistency`.
    pub ruled_out_by: Vec<String>,
    pub verdict: Verdict,
    /// How many of each anomaly were found; `anomalies` keeps the first few of each in full.
    pub anomaly_counts: BTreeMap<String, usize>,
    pub anomalies: Vec<Anomaly>,
    pub cycles: Vec<CycleReport>,
    /// What could not be checked, and why.
    pub not_checked: Vec<String>,
    /// The transactions the anomalies name, as they appear in the history.
    pub named_txns: BTreeMap<usize, String>,
    pub edges: usize,
    /// Heap held by the history and graph while checking.
    pub heap_bytes: usize,
}

/// Checks a transactional history. An error means the history breaks the model's preconditions
/// (a value appended or written twice to one key).
pub fn check_txn(h: &TxnHistory, model: TxnModel, opts: &TxnOptions) -> Result<TxnReport, String> {
    let mut found = Found::default();
    let mut edges = match model {
        TxnModel::ListAppend => list_append::analyze(h, &mut found)?,
        TxnModel::RwRegister => rw_register::analyze(h, &mut found)?,
    };
    add_process_order(h, &mut edges);
    let time_nodes = add_realtime_order(h, &mut edges);
    let g = edges.build(h.txns.len(), time_nodes);
    let mut cycles = Vec::new();
    for c in cycles::find_cycles(&g) {
        let steps = words::steps(h, &g, model, &c.edges);
        let txns: Vec<usize> = steps.iter().map(|s| s.from).collect();
        let sentence = words::cycle_sentence(&steps);
        found.add(&c.name, txns, || sentence);
        if cycles.len() < anomaly::KEPT_PER_NAME * 4 {
            cycles.push(CycleReport {
                name: c.name,
                steps,
            });
        }
    }

    let verdict = consistency::verdict(found.counts.keys().map(String::as_str), h.has_process());
    let asked = opts.consistency;
    let ruled_out_by: Vec<String> = found
        .counts
        .keys()
        .filter(|a| {
            Consistency::ruled_out_by(a)
                .iter()
                .any(|&c| asked.implies(c))
        })
        .cloned()
        .collect();
    let mut not_checked = Vec::new();
    if !h.has_process() {
        not_checked.push("process order: the history names no :process for some transactions, so -process anomalies (a session not seeing its own transactions in order) are not looked for".to_string());
    }
    if !h.has_realtime() {
        not_checked.push("real-time order: the history has no :invoke events, so -realtime anomalies are not looked for and strict-serializable is checked as serializable".to_string());
    }
    if model == TxnModel::RwRegister {
        not_checked.push("rw-register infers version order only from writes that follow reads in one transaction; cycles needing other orders (most G0) stay unseen".to_string());
    }
    let mut named_txns = BTreeMap::new();
    for a in &found.list {
        for &t in &a.txns {
            named_txns.entry(t).or_insert_with(|| words::txn_line(h, t));
        }
    }
    let count = |s: Status| h.txns.iter().filter(|t| t.status == s).count();
    Ok(TxnReport {
        model,
        consistency: asked,
        valid: ruled_out_by.is_empty(),
        txns: h.txns.len(),
        ok: count(Status::Ok),
        info: count(Status::Info),
        fail: count(Status::Fail),
        keys: h.keys.len(),
        micro_ops: h.mops.len(),
        ruled_out_by,
        verdict,
        anomaly_counts: found.counts,
        anomalies: found.list,
        cycles,
        not_checked,
        named_txns,
        edges: g.edges.len(),
        heap_bytes: h.heap_bytes() + g.heap_bytes(),
    })
}

/// Each process's transactions in invocation order (failed ones took no effect and are left out).
fn add_process_order(h: &TxnHistory, edges: &mut EdgeList) {
    let mut last: FxHashMap<u64, u32> = FxHashMap::default();
    for (i, t) in h.txns.iter().enumerate() {
        let Some(p) = t.process else { continue };
        if t.status == Status::Fail {
            continue;
        }
        if let Some(prev) = last.insert(p, i as u32) {
            edges.add(prev, i as u32, PROCESS, u32::MAX, i64::MIN);
        }
    }
}

/// Real-time order through a chain of time nodes (see `graph`); returns how many were made. Only ok
/// completions order anything: an `info` transaction may have taken effect at any later time.
fn add_realtime_order(h: &TxnHistory, edges: &mut EdgeList) -> usize {
    let mut events: Vec<(u32, bool, u32)> = Vec::with_capacity(h.txns.len() * 2);
    for (i, t) in h.txns.iter().enumerate() {
        if t.status == Status::Fail {
            continue;
        }
        if t.invoke != NO_POS {
            events.push((t.invoke, true, i as u32));
        }
        if t.complete != NO_POS && t.status == Status::Ok {
            events.push((t.complete, false, i as u32));
        }
    }
    if !events.iter().any(|e| e.1) {
        return 0;
    }
    events.sort_unstable();
    let base = h.txns.len() as u32;
    let mut made = 0u32;
    // The newest time node, and whether an invocation has hung from it (then a completion needs a new one).
    let mut cur: Option<(u32, bool)> = None;
    for (_, invoke, t) in events {
        if invoke {
            if let Some((n, used)) = cur.as_mut() {
                edges.add(*n, t, REALTIME, u32::MAX, i64::MIN);
                *used = true;
            }
        } else {
            let n = match cur {
                Some((n, false)) => n,
                prev => {
                    let n = base + made;
                    made += 1;
                    if let Some((p, _)) = prev {
                        edges.add(p, n, REALTIME, u32::MAX, i64::MIN);
                    }
                    cur = Some((n, false));
                    n
                }
            };
            edges.add(t, n, REALTIME, u32::MAX, i64::MIN);
        }
    }
    made as usize
}
