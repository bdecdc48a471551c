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

/// What an op named in a counterexample is to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The op that cannot be linearized ([`Counterexample::op`]).
    Anomaly,
    /// An op whose value or real-time order rules the anomaly out (a write it needed, an update that
    /// completed before it began).
    Cause,
}

/// One piece of a [`Sentence`]: words, and when they name an op, which op and its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub text: String,
    /// The op these words name: its invocation's `index` in history.jsonl (its line in EDN), as
    /// [`OpSummary::invoke_index`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// A counterexample as data: the ops it names, with their roles, between plain words. The English
/// sentence ([`Counterexample::explanation`]) is rendered from it, and a report finds the named ops
/// here rather than by reading the English back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sentence {
    pub parts: Vec<Part>,
}

impl Sentence {
    /// The sentence in English: every part's words in order.
    pub fn render(&self) -> String {
        self.parts.iter().map(|p| p.text.as_str()).collect()
    }

    /// The ops named, in the order of the sentence (an op named twice is listed twice).
    pub fn ops(&self) -> impl Iterator<Item = (u64, Role)> + '_ {
        self.parts
            .iter()
            .filter_map(|p| Some((p.op?, p.role.unwrap_or(Role::Cause))))
    }
}

/// Why a history is not linearizable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The partition (key) that is not linearizable.
    pub key: Option<String>,
    /// Rendered from `sentence` when there is one (a report may add who served each op).
    pub explanation: String,
    /// The explanation as data: its words and the ops it names. Absent in results.json written before
    /// it existed, and for counterexamples whose words are not built op by op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence: Option<Sentence>,
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
    /// `read of r by process 2`: a mention of `op`, which the sentence keeps as data.
    fn by<'o>(&self, op: &'o Op) -> Mention<'o> {
        Mention(op)
    }
}

/// An op named in words being built.
struct Mention<'o>(&'o Op);

/// A sentence being built: words, and the ops named (found again by `invoke_pos`, unique per op).
#[derive(Default)]
struct Words(Vec<Piece>);

enum Piece {
    Text(String),
    Op {
        words: String,
        index: u64,
        pos: usize,
    },
}

impl Words {
    /// The sentence, with `anomaly` (an `invoke_pos`) in its role and every other op a cause.
    fn into_sentence(self, anomaly: usize) -> Sentence {
        let parts = self
            .0
            .into_iter()
            .map(|p| match p {
                Piece::Text(text) => Part {
                    text,
                    op: None,
                    role: None,
                },
                Piece::Op { words, index, pos } => Part {
                    text: words,
                    op: Some(index),
                    role: Some(if pos == anomaly {
                        Role::Anomaly
                    } else {
                        Role::Cause
                    }),
                },
            })
            .collect();
        Sentence { parts }
    }
}

/// What can go into [`words!`]: text, a mention, or words built already.
trait Push {
    fn push_to(self, w: &mut Words);
}

impl Push for &str {
    fn push_to(self, w: &mut Words) {
        self.to_string().push_to(w)
    }
}

impl Push for String {
    fn push_to(self, w: &mut Words) {
        // Adjacent text stays one part, so the sentence alternates words and ops.
        match w.0.last_mut() {
            Some(Piece::Text(t)) => t.push_str(&self),
            _ => w.0.push(Piece::Text(self)),
        }
    }
}

impl Push for Mention<'_> {
    fn push_to(self, w: &mut Words) {
        let op = self.0;
        w.0.push(Piece::Op {
            words: format!("{} by process {}", describe_op(op), op.process),
            index: op.invoke_index,
            pos: op.invoke_pos,
        });
    }
}

impl Push for Words {
    fn push_to(self, w: &mut Words) {
        for p in self.0 {
            match p {
                Piece::Text(t) => t.push_to(w),
                op => w.0.push(op),
            }
        }
    }
}

/// Words from pieces in order, as `format!` would join them: `words!(c.by(r), " at ", c.invoked(r))`.
macro_rules! words {
    ($($x:expr),* $(,)?) => {{
        let mut w = Words::default();
        $( Push::push_to($x, &mut w); )*
        w
    }};
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
fn why(c: &Clock, r: &Op, part: &[&Op]) -> Option<Words> {
    if r.f == "get" {
        return why_get(c, r, part);
    }
    let v = required(r)?;
    let r_start = r.invoke_pos;
    let r_end = r.complete_pos?;
    let claim = || {
        if r.f == "cas" {
            words!(
                c.by(r),
                " at ",
                c.invoked(r),
                " succeeded, so the value was ",
                show(&v)
            )
        } else {
            words!(c.by(r), " at ", c.invoked(r), " returned ", show(&v))
        }
    };
    let writers: Vec<&Op> = part
        .iter()
        .copied()
        .filter(|w| written(w).as_ref() == Some(&v) && !std::ptr::eq(*w, r))
        .collect();
    if writers.is_empty() && !v.is_null() {
        return Some(words!(claim(), ", but no operation ever wrote ", show(&v)));
    }
    if !writers.is_empty() && writers.iter().all(|w| w.invoke_pos > r_end) {
        let w = writers[0];
        return Some(words!(
            claim(),
            ", but the only write of ",
            show(&v),
            " (",
            c.by(w),
            ") began at ",
            c.invoked(w),
            ", after that completed at ",
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
            None => words!(
                claim(),
                ", but ",
                c.by(y),
                " completed at ",
                c.completed(y),
                ", before that began, and nothing wrote ",
                show(&v),
                " afterwards"
            ),
            Some(w) => words!(
                claim(),
                ", but ",
                c.by(y),
                " completed at ",
                c.completed(y),
                " before that began, and ",
                c.by(w),
                " had completed at ",
                c.completed(w),
                ", before ",
                describe_op(y),
                " began"
            ),
        });
    }
    None
}

/// A get that misses an append which completed before it began (with no put that could have erased it).
fn why_get(c: &Clock, r: &Op, part: &[&Op]) -> Option<Words> {
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
    Some(words!(
        c.by(r),
        " at ",
        c.invoked(r),
        " returned ",
        show(&r.output),
        ", but ",
        c.by(a),
        " completed at ",
        c.completed(a),
        ", before the get began, and its value is missing (no put could have replaced it)"
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
            words!(
                c.by(r),
                ", invoked at ",
                c.invoked(r),
                " and completed at ",
                c.completed(r),
                format!(", cannot take effect{result}: the longest linearizable prefix found ({} ops) leaves the value at {}, and no order of the {} ops concurrent with it helps", best.len(), state, concurrent),
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
) -> Words {
    let op = |i: u32| &history.ops[ops[i as usize].op];
    let at = |i: u32| words!(c.by(op(i)), " at ", c.invoked(op(i)));
    let done = |i: u32| words!(c.by(op(i)), " completed at ", c.completed(op(i)));
    let began = |i: u32| format!("{} began at {}", describe_op(op(i)), c.invoked(op(i)));
    match *kind {
        ConflictKind::Unwritten(a) => words!(
            at(a),
            " needs a value that no operation could have written before it"
        ),
        ConflictKind::SameVersion(a, b) => words!(
            at(a),
            " and ",
            at(b),
            " both replace the same value, but it is written only once, so only one of them can succeed"
        ),
        ConflictKind::Order { early, late } => {
            let e = op(early);
            if e.outcome == Outcome::Ok && matches!(e.f.as_str(), "read" | "get") {
                words!(
                    at(early),
                    " returned ",
                    show(&e.output),
                    ", but ",
                    done(late),
                    ", before that began, and the values read show it took effect after ",
                    show(&e.output),
                    " was current"
                )
            } else {
                words!(
                    done(late),
                    ", before ",
                    began(early),
                    ", yet the values read show ",
                    describe_op(e),
                    " took effect first"
                )
            }
        }
        ConflictKind::Cycle {
            early1,
            late1,
            early2,
            late2,
        } => words!(
            "the values read leave no order: ",
            done(late1),
            ", before ",
            began(early1),
            ", and ",
            done(late2),
            ", before ",
            began(early2),
            ", but each pair's values must be in the same order"
        ),
        ConflictKind::Unreadable(g) => words!(
            at(g),
            " returned ",
            show(&op(g).output),
            ", which no put followed by appends produces"
        ),
        ConflictKind::Disagree(a, b) => words!(
            at(a),
            " returned ",
            show(&op(a).output),
            " and ",
            at(b),
            " returned ",
            show(&op(b).output),
            ": they disagree on the order of the appends"
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
    detail: impl FnOnce(&str, usize) -> Words,
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
    let sentence =
        words!(key_words, detail(&state_desc, concurrent), ".").into_sentence(r.invoke_pos);
    let explanation = sentence.render();
    let prefix_ops: Vec<OpSummary> = best
        .iter()
        .skip(best.len().saturating_sub(PREFIX_SHOWN))
        .map(|&i| OpSummary::from_op(&history.ops[ops[i as usize].op]))
        .collect();
    Counterexample {
        key,
        explanation,
        sentence: Some(sentence),
        op: OpSummary::from_op(r),
        prefix: prefix_ops,
        prefix_len: best.len(),
        state: state_desc,
        window: window.into_iter().map(OpSummary::from_op).collect(),
    }
}

#[cfg(test)]
mod tests {
    use crate::history::{Event, EventType, Process};
    use crate::{check, CheckOptions, ModelKind, Role};
    use serde_json::{json, Value};

    fn ev(i: u64, ms: u64, p: u64, kind: EventType, f: &str, v: Value) -> Event {
        Event {
            index: i,
            time: ms * 1_000_000,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: Some("r".into()),
            value: v,
            node: None,
            error: None,
            session: None,
        }
    }

    /// The sentence is the explanation as data: it renders to the same words and names the read that
    /// cannot be linearized and the writes that rule it out, by their history index.
    #[test]
    fn the_sentence_renders_the_explanation_and_names_its_ops() {
        use EventType::*;
        let events = vec![
            ev(0, 100, 1, Invoke, "write", json!(7)),
            ev(1, 110, 1, Ok, "write", json!(7)),
            ev(2, 500, 12, Invoke, "write", json!(9)),
            ev(3, 530, 12, Ok, "write", json!(9)),
            ev(4, 540, 2, Invoke, "read", Value::Null),
            ev(5, 545, 2, Ok, "read", json!(7)),
        ];
        let h = crate::parse_events(&events).unwrap();
        let r = check(&h, ModelKind::Register, &CheckOptions::default());
        let cx = r.counterexample.expect("a stale read");
        let s = cx.sentence.as_ref().expect("built op by op");
        assert_eq!(s.render(), cx.explanation);
        assert_eq!(
            cx.explanation,
            "key r: read of r by process 2 at 0.54 s returned 7, but write 9 to r by process 12 \
             completed at 0.53 s before that began, and write 7 to r by process 1 had completed at \
             0.11 s, before write 9 to r began."
        );
        let ops: Vec<(u64, Role)> = s.ops().collect();
        assert_eq!(
            ops,
            vec![(4, Role::Anomaly), (2, Role::Cause), (0, Role::Cause)]
        );
        let json = serde_json::to_value(&cx).unwrap();
        assert_eq!(json["sentence"][1]["op"], 4);
        assert_eq!(json["sentence"][1]["role"], "anomaly");
        assert_eq!(json["sentence"][0]["text"], "key r: ");
    }
}
