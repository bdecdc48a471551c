//! Checking a history: encode with a model, split into partitions, search them (interleaved or in
//! parallel, all stopping at the first invalid one), and summarise.

use crate::explain::{self, Counterexample};
use crate::inferred::{Conflict, Inferred};
use crate::model::{Encoded, EncodedOp, KvModel, Model, ModelKind, RegisterModel};
use crate::ops::{History, Outcome};
use crate::parse_error::{Location, ParseError};
use crate::search::{Control, Search, Status};
use crate::validity::Validity;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Steps a partition runs before yielding to the others.
const SLICE: u64 = 1 << 17;

/// Bounds and parallelism.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Give up (verdict `unknown`) after this long.
    pub time_limit: Option<Duration>,
    /// Give up (verdict `unknown`) when the search's caches would hold more than this.
    pub memory_limit_bytes: Option<usize>,
    /// Partitions checked at once (at least 1).
    pub threads: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            time_limit: None,
            memory_limit_bytes: None,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

/// How one partition (key) went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyResult {
    pub key: Option<String>,
    /// Operations searched (after dropping those that cannot matter).
    pub ops: usize,
    pub valid: Validity,
    /// Distinct (linearized set, state) pairs explored (0 when inference decided).
    pub states: usize,
    /// What decided this key: `inference` (from the values read) or `search`.
    #[serde(default)]
    pub method: Method,
    /// Why inference could not decide this key (so the search ran), e.g. a value written twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecided: Option<String>,
}

/// What decided a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Read off the values (unique writes name the version order); no search.
    Inference,
    /// The exhaustive WGL search.
    #[default]
    Search,
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Inference => "inference",
            Method::Search => "search",
        }
    }
}

/// Which methods a check may use. `Auto` (the default) infers where the values allow and searches the
/// rest; the others are for comparing the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Methods {
    #[default]
    Auto,
    SearchOnly,
    /// Keys inference cannot decide get verdict `unknown`.
    InferenceOnly,
}

/// The result of a check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub valid: Validity,
    pub model: String,
    /// Operations checked (`ok` and `info`; `fail` ops are not counted).
    pub ops: usize,
    pub keys: usize,
    pub info_ops: usize,
    pub failed_ops: usize,
    pub elapsed_ms: f64,
    pub counterexample: Option<Counterexample>,
    pub unknown_reason: Option<String>,
    /// One line a person can read: why valid, invalid or unknown.
    pub explanation: String,
    pub per_key: Vec<KeyResult>,
}

/// Checks a history with a built-in model. An op the model does not know makes the verdict `unknown`
/// (with the reason); use [`try_check`] to get that as an error instead.
pub fn check(history: &History, model: ModelKind, opts: &CheckOptions) -> CheckResult {
    let start = Instant::now();
    try_check(history, model, opts).unwrap_or_else(|e| CheckResult {
        valid: Validity::Unknown,
        model: model.to_string(),
        ops: history.op_count(),
        keys: history.key_count(),
        info_ops: history.info_count(),
        failed_ops: history.failed_ops,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
        counterexample: None,
        explanation: format!("cannot check: {e}"),
        unknown_reason: Some(e.to_string()),
        per_key: Vec::new(),
    })
}

/// Checks a history with a built-in model; an op the model cannot check is an error naming its line.
pub fn try_check(
    history: &History,
    model: ModelKind,
    opts: &CheckOptions,
) -> Result<CheckResult, ParseError> {
    try_check_with(history, model, opts, Methods::Auto)
}

/// [`try_check`], choosing the methods.
pub fn try_check_with(
    history: &History,
    model: ModelKind,
    opts: &CheckOptions,
    methods: Methods,
) -> Result<CheckResult, ParseError> {
    match model {
        ModelKind::Register => check_model_with(history, RegisterModel::register(), opts, methods),
        ModelKind::CasRegister => {
            check_model_with(history, RegisterModel::cas_register(), opts, methods)
        }
        ModelKind::Kv => check_model_with(history, KvModel::new(), opts, methods),
        ModelKind::ListAppend => crate::append::check_result(history),
        ModelKind::RwRegister => Err(ParseError::UnsupportedOp {
            at: history
                .ops
                .first()
                .map_or(Location::Event(1), |o| Location::Line(o.invoke_line)),
            message: "rw-register transactions are checked by checker::txn::check_txn \
                      (harness check --model rw-register), not by the linearizability search"
                .into(),
        }),
    }
}

type Part<M> = (
    Option<String>,
    Vec<EncodedOp<<M as Model>::Input, <M as Model>::Output>>,
);

fn encode<M: Model>(history: &History, model: &mut M) -> Result<Vec<Part<M>>, ParseError> {
    // Keys borrowed from the ops: no string is built per op, only one per partition.
    let mut index: FxHashMap<Option<std::borrow::Cow<str>>, u32> = FxHashMap::default();
    let mut keys: Vec<Option<String>> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    // First every op with its partition, then each partition in a vector of its exact size.
    let mut all: Vec<(u32, EncodedOpOf<M>)> = Vec::with_capacity(history.ops.len());
    for (i, op) in history.ops.iter().enumerate() {
        let (input, output) = match model.encode(op) {
            Ok(Encoded::Op(input, output)) => (input, output),
            Ok(Encoded::Drop) => continue,
            Err(message) => {
                let at = if history.from_file {
                    Location::Line(op.invoke_line)
                } else {
                    Location::Event(op.invoke_line)
                };
                return Err(ParseError::UnsupportedOp { at, message });
            }
        };
        let ret = match op.outcome {
            Outcome::Ok => op.complete_pos,
            Outcome::Info => None,
        };
        let key = model.partition_key(op);
        let p = match index.get(&key) {
            Some(&p) => p,
            None => {
                keys.push(key.as_deref().map(str::to_string));
                sizes.push(0);
                let p = (keys.len() - 1) as u32;
                index.insert(key, p);
                p
            }
        };
        sizes[p as usize] += 1;
        all.push((
            p,
            EncodedOp {
                op: i,
                input,
                output,
                call: op.invoke_pos,
                ret,
            },
        ));
    }
    let mut parts: Vec<Part<M>> = keys
        .into_iter()
        .zip(&sizes)
        .map(|(k, &n)| (k, Vec::with_capacity(n)))
        .collect();
    for (p, e) in all {
        parts[p as usize].1.push(e);
    }
    Ok(parts)
}

/// What became of one partition.
enum Done<'m, M: Model> {
    Valid(KeyResult),
    Invalid(KeyResult, Box<Search<'m, M>>),
    /// With the longest linearizable prefix found, when a bound was reached: its length and last op
    /// (an index into `History::ops`).
    Unknown(KeyResult, Status, Option<(usize, Option<usize>)>),
}

/// Checks a history with any model (built-in or your own).
pub fn check_model<M: Model>(
    history: &History,
    model: M,
    opts: &CheckOptions,
) -> Result<CheckResult, ParseError> {
    check_model_with(history, model, opts, Methods::Auto)
}

/// [`check_model`], choosing the methods.
pub fn check_model_with<M: Model>(
    history: &History,
    mut model: M,
    opts: &CheckOptions,
    methods: Methods,
) -> Result<CheckResult, ParseError> {
    let start = Instant::now();
    let mut parts = encode(history, &mut model)?;
    let model = model;
    for (_, ops) in &mut parts {
        model.prepare(ops);
    }
    // Small partitions first: cheap verdicts early, and an invalid one stops the big ones sooner.
    parts.sort_by_key(|(_, ops)| ops.len());
    let keys = parts.len();
    let ctl = Control {
        stop: AtomicBool::new(false),
        deadline: opts.time_limit.map(|t| start + t),
        memory_limit: opts.memory_limit_bytes,
        memory_used: AtomicUsize::new(0),
    };
    let (inferred, parts) = infer_parts(&model, parts, methods);
    if inferred.invalid.is_some() {
        ctl.stop.store(true, Ordering::Relaxed);
    }
    let queue: VecDeque<(Option<String>, Search<M>)> = parts
        .into_iter()
        .map(|(k, ops)| (k, Search::new(&model, ops)))
        .collect();
    let done: Mutex<Vec<Done<M>>> = Mutex::new(Vec::new());
    let threads = opts.threads.clamp(1, queue.len().max(1));
    let queue = Mutex::new(queue);
    if inferred.invalid.is_some() {
        // Nothing to search: a key is already invalid.
    } else if threads == 1 {
        worker(&queue, &done, &ctl);
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| worker(&queue, &done, &ctl));
            }
        });
    }
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    // Partitions never finished because another was invalid.
    for (key, search) in queue.into_inner().unwrap_or_else(|e| e.into_inner()) {
        done.push(Done::Unknown(
            KeyResult {
                key,
                ops: search.ops.len(),
                valid: Validity::Unknown,
                states: search.cache_entries(),
                method: Method::Search,
                undecided: None,
            },
            Status::Stopped,
            None,
        ));
    }
    let mut per_key = inferred.results;
    let mut invalid = None;
    let mut limit = None;
    for d in done {
        match d {
            Done::Valid(k) => per_key.push(k),
            Done::Invalid(k, s) => {
                if invalid.is_none() {
                    invalid = Some((k.key.clone(), s));
                }
                per_key.push(k);
            }
            Done::Unknown(k, st, prefix) => {
                if matches!(st, Status::TimeLimit | Status::MemoryLimit) && limit.is_none() {
                    limit = Some((k.key.clone(), st, k.ops, prefix));
                }
                per_key.push(k);
            }
        }
    }
    if !inferred.undecided_why.is_empty() {
        let why: FxHashMap<Option<String>, &str> = inferred.undecided_why.into_iter().collect();
        for k in &mut per_key {
            if k.method == Method::Search {
                k.undecided = why.get(&k.key).map(|w| w.to_string());
            }
        }
    }
    per_key.sort_by(|a, b| a.key.cmp(&b.key));
    let (valid, counterexample, unknown_reason) = if let Some((key, ops, conflict)) =
        inferred.invalid
    {
        (
            Validity::Invalid,
            Some(explain::inferred_counterexample(
                history, &model, &ops, &conflict, key,
            )),
            None,
        )
    } else if let Some((key, search)) = invalid {
        (
            Validity::Invalid,
            Some(explain::counterexample(history, &model, &search, key)),
            None,
        )
    } else if let Some((key, st, ops, prefix)) = limit {
        let which = key
            .map(|k| format!(" while checking key {k:?}"))
            .unwrap_or_default();
        // Honest about what was shown: the longest prefix that does linearize.
        let prefix = match prefix {
                Some((n, Some(last))) => format!(
                    "; the longest linearizable prefix found has {n} of its {ops} ops, up to {} by process {}",
                    crate::describe::describe_op(&history.ops[last]),
                    history.ops[last].process
                ),
                Some((0, _)) | Some((_, None)) => {
                    format!("; no linearizable prefix of its {ops} ops was found")
                }
                None => String::new(),
            };
        let reason = match st {
            Status::TimeLimit => format!(
                "time limit of {:.1} s reached{which}",
                opts.time_limit.unwrap_or_default().as_secs_f64()
            ),
            _ => format!(
                "memory limit of {} MiB reached{which}",
                opts.memory_limit_bytes.unwrap_or_default() >> 20
            ),
        } + &prefix;
        (Validity::Unknown, None, Some(reason))
    } else if let Some((key, why)) = inferred.undecided {
        let which = key.map(|k| format!(" key {k:?}")).unwrap_or_default();
        (
            Validity::Unknown,
            None,
            Some(format!("inference cannot decide{which}: {why}")),
        )
    } else if per_key.iter().any(|k| k.valid != Validity::Valid) {
        (
            Validity::Unknown,
            None,
            Some("the search stopped before finishing".to_string()),
        )
    } else {
        (Validity::Valid, None, None)
    };
    let explanation = match (&counterexample, &unknown_reason) {
        (Some(c), _) => c.explanation.clone(),
        (None, Some(r)) => format!("no verdict: {r}"),
        (None, None) => format!(
            "every key has a linearization: {} ops on {} key(s)",
            history.op_count(),
            keys
        ),
    };
    Ok(CheckResult {
        valid,
        model: model.name().to_string(),
        ops: history.op_count(),
        keys,
        info_ops: history.info_count(),
        failed_ops: history.failed_ops,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
        counterexample,
        unknown_reason,
        explanation,
        per_key,
    })
}

/// Takes partitions off the queue, runs each for a slice, and puts unfinished ones back.
fn worker<'m, M: Model>(
    queue: &Mutex<VecDeque<(Option<String>, Search<'m, M>)>>,
    done: &Mutex<Vec<Done<'m, M>>>,
    ctl: &Control,
) {
    loop {
        if ctl.stop.load(Ordering::Relaxed) {
            return;
        }
        let Some((key, mut search)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
        else {
            return;
        };
        let status = search.run(SLICE, ctl);
        let result = |valid| KeyResult {
            key: key.clone(),
            ops: search.ops.len(),
            valid,
            states: search.cache_entries(),
            method: Method::Search,
            undecided: None,
        };
        let d = match status {
            Status::Paused => {
                queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back((key, search));
                continue;
            }
            Status::Valid => {
                let r = result(Validity::Valid);
                search.release(ctl);
                Done::Valid(r)
            }
            Status::Invalid => {
                ctl.stop.store(true, Ordering::Relaxed);
                Done::Invalid(result(Validity::Invalid), Box::new(search))
            }
            Status::TimeLimit | Status::MemoryLimit | Status::Stopped => {
                let mut prefix = None;
                if status != Status::Stopped {
                    ctl.stop.store(true, Ordering::Relaxed);
                    let best = search.best();
                    prefix = Some((best.len(), best.last().map(|&i| search.ops[i as usize].op)));
                }
                let r = result(Validity::Unknown);
                search.release(ctl);
                Done::Unknown(r, status, prefix)
            }
        };
        done.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }
}

type EncodedOpOf<M> = EncodedOp<<M as Model>::Input, <M as Model>::Output>;

/// Keys inference decided, and the first invalid one with its conflict.
struct InferredParts<M: Model> {
    results: Vec<KeyResult>,
    invalid: Option<(Option<String>, Vec<EncodedOpOf<M>>, Conflict)>,
    /// With `Methods::InferenceOnly`: the first key inference could not decide, and why.
    undecided: Option<(Option<String>, &'static str)>,
    /// Keys handed to the search, and why inference could not decide them.
    undecided_why: Vec<(Option<String>, &'static str)>,
}

/// Runs inference on every partition; returns what it decided and the partitions left to search.
fn infer_parts<M: Model>(
    model: &M,
    parts: Vec<Part<M>>,
    methods: Methods,
) -> (InferredParts<M>, Vec<Part<M>>) {
    let mut out = InferredParts {
        results: Vec::new(),
        invalid: None,
        undecided: None,
        undecided_why: Vec::new(),
    };
    if methods == Methods::SearchOnly {
        return (out, parts);
    }
    let mut rest = Vec::new();
    out.results.reserve(parts.len());
    // Inference is cheap: every key gets its verdict, even after one is invalid.
    for (key, ops) in parts {
        let n = ops.len();
        let result = |key, valid| KeyResult {
            key,
            ops: n,
            valid,
            states: 0,
            method: Method::Inference,
            undecided: None,
        };
        match model.infer(&ops) {
            Inferred::Valid(_) => out.results.push(result(key, Validity::Valid)),
            Inferred::Invalid(c) => {
                if out.invalid.is_none() {
                    out.results.push(result(key.clone(), Validity::Invalid));
                    out.invalid = Some((key, ops, c));
                } else {
                    out.results.push(result(key, Validity::Invalid));
                }
            }
            Inferred::Undecided(why) if methods == Methods::InferenceOnly => {
                if out.undecided.is_none() {
                    out.results.push(result(key.clone(), Validity::Unknown));
                    out.undecided = Some((key, why));
                } else {
                    out.results.push(result(key, Validity::Unknown));
                }
            }
            Inferred::Undecided(why) => {
                out.undecided_why.push((key.clone(), why));
                rest.push((key, ops))
            }
        }
    }
    (out, rest)
}
