//! Counterexamples a person can follow: which op cannot be linearized, and concretely why.

use crate::describe::show;
use crate::inferred::{Conflict, ConflictKind};
use crate::model::{EncodedOp, Model};
use crate::ops::{History, Op, Outcome};
use crate::search::Search;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// Kept public here, where callers have always found it.
pub use crate::describe::describe_op;

/// How much of the longest prefix, and of the concurrent window, a counterexample lists.
const PREFIX_SHOWN: usize = 20;
const WINDOW_SHOWN: usize = 30;

/// One operation, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    pub process: String,
    pub f: String,
    pub key: Option<String>,
    pub value: Value,
    pub output: Value,
    pub invoke_time_ns: u64,
    pub complete_time_ns: Option<u64>,
    /// `ok` or `info`.
    pub outcome: String,
    /// The event's `index` (JSONL) or line (EDN).
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    pub node: Option<String>,
}

impl OpSummary {
    pub fn from_op(op: &Op) -> Self {
        OpSummary {
            process: op.process.to_string(),
            f: op.f.clone(),
            key: op.key.clone(),
            value: op.value.clone(),
            output: op.output.clone(),
            invoke_time_ns: op.invoke_time_ns.unwrap_or(0),
            complete_time_ns: op.complete_time_ns,
            outcome: op.outcome.to_string(),
            invoke_index: op.invoke_index,
            complete_index: op.complete_index,
            node: op.node.clone(),
        }
    }
}

/// Why a history is not linearizable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The partition (key) that is not linearizable.
    pub key: Option<String>,
    pub explanation: String,
    /// The operation that cannot be linearized.
    pub op: OpSummary,
    /// The end of the longest linearizable prefix found (in linearization order); `prefix_len` is its
    /// full length.
    pub prefix: Vec<OpSummary>,
    pub prefix_len: usize,
    /// The state after the longest prefix.
    pub state: String,
    /// Operations of the same key concurrent with `op` (overlapping its interval), by invocation.
    pub window: Vec<OpSummary>,
}

/// Words for points in time: seconds when the history has times, else lines.
struct Clock<'h> {
    h: &'h History,
}

impl Clock<'_> {
    fn at(&self, ns: Option<u64>, index: Option<u64>) -> String {
        match (self.h.has_time, ns, index) {
            (true, Some(ns), _) => format!("{:.2} s", ns as f64 / 1e9),
            (_, _, Some(i))
                if self.h.from_file
                    && matches!(
                        self.h.format,
                        crate::ops::Format::Edn | crate::ops::Format::Json
                    ) =>
            {
                format!("line {i}")
            }
            (_, _, Some(i)) => format!("event {i}"),
            _ => "the end".to_string(),
        }
    }
    fn invoked(&self, op: &Op) -> String {
        self.at(op.invoke_time_ns, Some(op.invoke_index))
    }
    fn completed(&self, op: &Op) -> String {
        if op.complete_pos.is_none() {
            return "never (still open at the end)".to_string();
        }
        self.at(op.complete_time_ns, op.complete_index)
    }
    fn by(&self, op: &Op) -> String {
        format!("{} by process {}", describe_op(op), op.process)
    }
}

/// The value an op needs the state to hold to succeed: a read's result, a successful cas's `from`.
fn required(op: &Op) -> Option<Value> {
    if op.outcome != Outcome::Ok {
        return None;
    }
    match op.f.as_str() {
        "read" => Some(op.output.clone()),
        "cas" => op
            .input_value()
            .as_array()
            .filter(|a| a.len() == 2)
            .map(|a| a[0].clone()),
        _ => None,
    }
}

/// The value an op writes, if it is a plain register update.
fn written(op: &Op) -> Option<Value> {
    match op.f.as_str() {
        "write" => Some(op.input_value().clone()),
        "cas" => op
            .input_value()
            .as_array()
            .filter(|a| a.len() == 2)
            .map(|a| a[1].clone()),
        _ => None,
    }
}

/// The concrete reason, for register and append ops; `None` when no simple story applies.
/// Every claim made here is sound on its own: it names ops whose real-time order rules the op out.
fn why(c: &Clock, r: &Op, part: &[&Op]) -> Option<String> {
    if r.f == "get" {
        return why_get(c, r, part);
    }
    let v = required(r)?;
    let r_start = r.invoke_pos;
    let r_end = r.complete_pos?;
    let claim = if r.f == "cas" {
        format!(
            "{} at {} succeeded, so the value was {}",
            c.by(r),
            c.invoked(r),
            show(&v)
        )
    } else {
        format!("{} at {} returned {}", c.by(r), c.invoked(r), show(&v))
    };
    let writers: Vec<&Op> = part
        .iter()
        .copied()
        .filter(|w| written(w).as_ref() == Some(&v) && !std::ptr::eq(*w, r))
        .collect();
    if writers.is_empty() && !v.is_null() {
        return Some(format!("{claim}, but no operation ever wrote {}", show(&v)));
    }
    if !writers.is_empty() && writers.iter().all(|w| w.invoke_pos > r_end) {
        let w = writers[0];
        return Some(format!(
            "{claim}, but the only write of {} ({}) began at {}, after that completed at {}",
            show(&v),
            c.by(w),
            c.invoked(w),
            c.completed(r)
        ));
    }
    // An ok update to another value, finished before r began, after which no write of v could happen.
    let mut overwrites: Vec<&Op> = part
        .iter()
        .copied()
        .filter(|y| {
            y.outcome == Outcome::Ok
                && y.complete_pos.is_some_and(|p| p < r_start)
                && written(y).is_some_and(|u| u != v)
        })
        .collect();
    overwrites.sort_by_key(|y| std::cmp::Reverse(y.complete_pos));
    for y in overwrites {
        let settled = writers.iter().all(|w| {
            w.invoke_pos > r_end
                || (w.outcome == Outcome::Ok && w.complete_pos.is_some_and(|p| p < y.invoke_pos))
        });
        if !settled {
            continue;
        }
        let before = writers
            .iter()
            .filter(|w| w.complete_pos.is_some_and(|p| p < y.invoke_pos))
            .max_by_key(|w| w.complete_pos);
        return Some(match before {
            None => format!("{claim}, but {} completed at {}, before that began, and nothing wrote {} afterwards", c.by(y), c.completed(y), show(&v)),
            Some(w) => format!(
                "{claim}, but {} completed at {} before that began, and {} had completed at {}, before {} began",
                c.by(y),
                c.completed(y),
                c.by(w),
                c.completed(w),
                describe_op(y)
            ),
        });
    }
    None
}

/// A get that misses an append which completed before it began (with no put that could have erased it).
fn why_get(c: &Clock, r: &Op, part: &[&Op]) -> Option<String> {
    let got = r.output.as_str().unwrap_or("");
    let r_end = r.complete_pos?;
    let mut appends: Vec<&Op> = part
        .iter()
        .copied()
        .filter(|a| {
            a.f == "append"
                && a.outcome == Outcome::Ok
                && a.complete_pos.is_some_and(|p| p < r.invoke_pos)
        })
        .filter(|a| a.input_value().as_str().is_some_and(|x| !got.contains(x)))
        .collect();
    appends.sort_by_key(|a| std::cmp::Reverse(a.complete_pos));
    let a = appends.into_iter().find(|a| {
        !part.iter().any(|p| {
            p.f == "put" && p.invoke_pos < r_end && p.complete_pos.is_none_or(|e| e > a.invoke_pos)
        })
    })?;
    Some(format!(
        "{} at {} returned {}, but {} completed at {}, before the get began, and its value is missing (no put could have replaced it)",
        c.by(r),
        c.invoked(r),
        show(&r.output),
        c.by(a),
        c.completed(a)
    ))
}

/// Builds the counterexample from a failed search.
pub(crate) fn counterexample<M: Model>(
    history: &History,
    model: &M,
    search: &Search<M>,
    key: Option<String>,
) -> Counterexample {
    let best = search.best();
    let mut in_prefix = vec![false; search.ops.len()];
    for &i in best {
        in_prefix[i as usize] = true;
    }
    // The op the search could not get past: the earliest return among ops not in the prefix.
    let blocker = search
        .ops
        .iter()
        .enumerate()
        .filter(|(i, e)| !in_prefix[*i] && e.ret.is_some())
        .min_by_key(|(_, e)| e.ret)
        .map(|(_, e)| e.op);
    let blocker = blocker.unwrap_or_else(|| search.ops.first().map(|e| e.op).unwrap_or(0));
    let part = partition_ops(history, model, &key);
    let c = Clock { h: history };
    let r = &history.ops[blocker];
    let detail = why(&c, r, &part);
    build(
        history,
        model,
        &search.ops,
        best,
        blocker,
        &part,
        key,
        |state, concurrent| {
            detail.unwrap_or_else(|| {
            let result = if r.outcome == Outcome::Ok
                && !r.output.is_null()
                && matches!(r.f.as_str(), "read" | "get")
            {
                format!(" returning {}", show(&r.output))
            } else {
                String::new()
            };
            format!(
                "{}, invoked at {} and completed at {}, cannot take effect{result}: the longest linearizable prefix found ({} ops) leaves the value at {}, and no order of the {} ops concurrent with it helps",
                c.by(r),
                c.invoked(r),
                c.completed(r),
                best.len(),
                state,
                concurrent
            )
        })
        },
    )
}

/// Builds the counterexample from a conflict that inference found.
pub(crate) fn inferred_counterexample<M: Model>(
    history: &History,
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    conflict: &Conflict,
    key: Option<String>,
) -> Counterexample {
    let c = Clock { h: history };
    let part = partition_ops(history, model, &key);
    let involved: Vec<usize> = conflict
        .kind
        .ops()
        .iter()
        .filter_map(|&i| ops.get(i as usize).map(|e| e.op))
        .collect();
    // The ops involved, in the order given; the first with a simple story is the one shown.
    let found = involved
        .iter()
        .find_map(|&i| why(&c, &history.ops[i], &part).map(|d| (i, d)));
    let (blocker, detail) = match found {
        Some(f) => f,
        None => {
            let first = involved.first().copied().unwrap_or(0);
            (first, conflict_words(&c, history, ops, &conflict.kind))
        }
    };
    build(
        history,
        model,
        ops,
        &conflict.prefix,
        blocker,
        &part,
        key,
        |_, _| detail,
    )
}

/// A conflict in words, where no simpler story applies.
fn conflict_words<I, O>(
    c: &Clock,
    history: &History,
    ops: &[EncodedOp<I, O>],
    kind: &ConflictKind,
) -> String {
    let op = |i: u32| &history.ops[ops[i as usize].op];
    let at = |i: u32| format!("{} at {}", c.by(op(i)), c.invoked(op(i)));
    let done = |i: u32| format!("{} completed at {}", c.by(op(i)), c.completed(op(i)));
    let began = |i: u32| format!("{} began at {}", describe_op(op(i)), c.invoked(op(i)));
    match *kind {
        ConflictKind::Unwritten(a) => format!(
            "{} needs a value that no operation could have written before it",
            at(a)
        ),
        ConflictKind::SameVersion(a, b) => format!(
            "{} and {} both replace the same value, but it is written only once, so only one of them can succeed",
            at(a),
            at(b)
        ),
        ConflictKind::Order { early, late } => {
            let e = op(early);
            if e.outcome == Outcome::Ok && matches!(e.f.as_str(), "read" | "get") {
                format!(
                    "{} returned {}, but {}, before that began, and the values read show it took effect after {} was current",
                    at(early),
                    show(&e.output),
                    done(late),
                    show(&e.output)
                )
            } else {
                format!(
                    "{}, before {}, yet the values read show {} took effect first",
                    done(late),
                    began(early),
                    describe_op(e)
                )
            }
        }
        ConflictKind::Cycle {
            early1,
            late1,
            early2,
            late2,
        } => format!(
            "the values read leave no order: {}, before {}, and {}, before {}, but each pair's values must be in the same order",
            done(late1),
            began(early1),
            done(late2),
            began(early2)
        ),
        ConflictKind::Unreadable(g) => format!(
            "{} returned {}, which no put followed by appends produces",
            at(g),
            show(&op(g).output)
        ),
        ConflictKind::Disagree(a, b) => format!(
            "{} returned {} and {} returned {}: they disagree on the order of the appends",
            at(a),
            show(&op(a).output),
            at(b),
            show(&op(b).output)
        ),
    }
}

fn partition_ops<'h, M: Model>(
    history: &'h History,
    model: &M,
    key: &Option<String>,
) -> Vec<&'h Op> {
    history
        .ops
        .iter()
        .filter(|o| model.partition_key(o).as_deref() == key.as_deref())
        .collect()
}

/// The counterexample for `blocker` (an index into `history.ops`), given a linearization prefix
/// (`best`, indices into `ops`). `detail` gets the state after the prefix and the number of
/// concurrent ops.
#[allow(clippy::too_many_arguments)]
fn build<M: Model>(
    history: &History,
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    best: &[u32],
    blocker: usize,
    part: &[&Op],
    key: Option<String>,
    detail: impl FnOnce(&str, usize) -> String,
) -> Counterexample {
    let mut state = model.init();
    for &i in best {
        let e = &ops[i as usize];
        if let Some(s) = model.step(&state, &e.input, e.output.as_ref()) {
            state = s;
        }
    }
    let r = &history.ops[blocker];
    let end = r.complete_pos.unwrap_or(usize::MAX);
    let mut window: Vec<&Op> = part
        .iter()
        .copied()
        .filter(|o| {
            !std::ptr::eq(*o, r)
                && o.invoke_pos < end
                && o.complete_pos.is_none_or(|p| p > r.invoke_pos)
        })
        .collect();
    let concurrent = window.len();
    if window.len() > WINDOW_SHOWN {
        // Keep those invoked closest to the op.
        window.sort_by_key(|o| o.invoke_pos.abs_diff(r.invoke_pos));
        window.truncate(WINDOW_SHOWN);
        window.sort_by_key(|o| o.invoke_pos);
    }
    let state_desc = model.describe_state(&state);
    let key_words = key
        .as_ref()
        .map(|k| format!("key {k}: "))
        .unwrap_or_default();
    let explanation = format!("{key_words}{}.", detail(&state_desc, concurrent));
    let prefix_ops: Vec<OpSummary> = best
        .iter()
        .skip(best.len().saturating_sub(PREFIX_SHOWN))
        .map(|&i| OpSummary::from_op(&history.ops[ops[i as usize].op]))
        .collect();
    Counterexample {
        key,
        explanation,
        op: OpSummary::from_op(r),
        prefix: prefix_ops,
        prefix_len: best.len(),
        state: state_desc,
        window: window.into_iter().map(OpSummary::from_op).collect(),
    }
}
