//! List-append histories (as Elle's list-append, one micro-op per op), checked without any search.
//!
//! Each key holds a list; `append` adds a unique integer, `read` returns the whole list. Because values
//! are unique, the lists themselves reveal the order of appends (the version order), so every
//! guarantee is a near-linear scan: linearizability (`order`), lost writes (`lost`), the four session
//! guarantees (`session`), staleness (`staleness`) and, from per-node local reads, convergence
//! (`convergence`). Every violation comes with a sentence (`words`) and the ops involved.

mod convergence;
mod index;
mod lost;
mod order;
mod session;
mod staleness;
mod txn;
mod verdict;
mod words;

pub use convergence::{against_final_reads, check_convergence};
pub use txn::normalize_txn_ops;
pub(crate) use verdict::check_result;

use crate::explain::OpSummary;
use crate::ops::History;
use crate::parse_error::Location;
use crate::validity::{nullable, Validity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Violations kept per guarantee (all are counted).
pub const MAX_PER_GUARANTEE: usize = 100;
/// Lost writes listed in [`LostWrites::first`] (all are counted).
pub const LOST_SHOWN: usize = 20;

/// The names used in [`Violation::guarantee`] and in `results.json`.
pub const LINEARIZABLE: &str = "linearizable";
pub const READ_YOUR_WRITES: &str = "read_your_writes";
pub const MONOTONIC_READS: &str = "monotonic_reads";
pub const MONOTONIC_WRITES: &str = "monotonic_writes";
pub const WRITES_FOLLOW_READS: &str = "writes_follow_reads";

/// What the checker needs to know beyond the history.
#[derive(Debug, Clone, Default)]
pub struct AppendOptions {
    /// Time (ns since the start) of the first final read, if the run did final reads: acknowledged
    /// appends that no read begun from then on contains are lost.
    pub final_read_after_ns: Option<u64>,
}

/// Every guarantee: valid (kept), invalid (broken) or unknown (not checkable). In JSON each is
/// `true`, `false` or `null`, as results.json has always had them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Guarantees {
    #[serde(with = "nullable")]
    pub linearizable: Validity,
    #[serde(with = "nullable")]
    pub read_your_writes: Validity,
    #[serde(with = "nullable")]
    pub monotonic_reads: Validity,
    #[serde(with = "nullable")]
    pub monotonic_writes: Validity,
    #[serde(with = "nullable")]
    pub writes_follow_reads: Validity,
    /// Not decided here: the harness fills it from [`check_convergence`].
    #[serde(with = "nullable")]
    pub converged: Validity,
}

/// The name of convergence in results.json; with `--expect eventual` it is the guarantee that decides.
pub const CONVERGED: &str = "converged";

impl Guarantees {
    /// A guarantee by its results.json name (unknown for a name that is not one).
    pub fn get(&self, name: &str) -> Validity {
        match name {
            LINEARIZABLE => self.linearizable,
            READ_YOUR_WRITES => self.read_your_writes,
            MONOTONIC_READS => self.monotonic_reads,
            MONOTONIC_WRITES => self.monotonic_writes,
            WRITES_FOLLOW_READS => self.writes_follow_reads,
            CONVERGED => self.converged,
            _ => Validity::Unknown,
        }
    }

    /// The verdict on the guarantees `decides` names (results.json names): every one must hold.
    /// `converged` stands for eventual consistency, converged after the heal with no acknowledged write
    /// lost: `lost` decides with it, and convergence that could not be checked (a system without local
    /// reads) does not make the verdict unknown, nothing lost is then what it is judged on.
    pub fn verdict(&self, decides: &[&str], lost: Option<&LostWrites>) -> Validity {
        Validity::all(decides.iter().flat_map(|&name| match name {
            CONVERGED => vec![
                self.converged.or_valid(),
                lost.map_or(Validity::Unknown, LostWrites::none_lost),
            ],
            _ => vec![self.get(name)],
        }))
    }
}

/// One violation of one guarantee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// `linearizable`, `read_your_writes`, `monotonic_reads`, `monotonic_writes` or `writes_follow_reads`.
    pub guarantee: String,
    pub key: String,
    /// Who did what, when, and which node served it.
    pub sentence: String,
    /// The ops involved; the op that shows the violation (usually a read) first.
    pub ops: Vec<OpSummary>,
    /// When the violation shows (the first op's invocation), if the history has times.
    pub time_ns: Option<u64>,
}

/// Acknowledged appends that no read after the final read time contains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LostWrites {
    pub count: usize,
    /// The first [`LOST_SHOWN`] lost appends, by completion.
    pub first: Vec<OpSummary>,
    /// Whether lost writes could be checked (a final read time and a timed history).
    pub checked: bool,
    /// Acknowledged appends looked for in the final reads (on keys that had one): with none, "nothing
    /// lost" says nothing.
    #[serde(default)]
    pub judged: usize,
}

impl LostWrites {
    /// No acknowledged append was lost, and at least one was looked for; unknown when nothing was judged.
    pub fn none_lost(&self) -> Validity {
        match (self.checked && self.judged > 0, self.count) {
            (_, n) if n > 0 => Validity::Invalid,
            (true, _) => Validity::Valid,
            (false, _) => Validity::Unknown,
        }
    }
}

/// How much a guarantee had to judge: with `ops == 0` it is not checkable (unknown), never kept.
/// `ops` counts the reads that could have shown a violation; `against` what they were judged against
/// (see [`Judged::words`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judged {
    pub ops: usize,
    pub against: usize,
}

/// What each guarantee judged, by its results.json name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgedAll {
    pub linearizable: Judged,
    pub read_your_writes: Judged,
    pub monotonic_reads: Judged,
    pub monotonic_writes: Judged,
    pub writes_follow_reads: Judged,
}

impl JudgedAll {
    pub fn get(&self, guarantee: &str) -> Option<Judged> {
        Some(match guarantee {
            LINEARIZABLE => self.linearizable,
            READ_YOUR_WRITES => self.read_your_writes,
            MONOTONIC_READS => self.monotonic_reads,
            MONOTONIC_WRITES => self.monotonic_writes,
            WRITES_FOLLOW_READS => self.writes_follow_reads,
            _ => return None,
        })
    }
}

/// p50, p99 and max of a distribution (0 when empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// How far behind reads were: per ok read, the acknowledged appends (completed before it began) it misses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Staleness {
    /// Ok reads.
    pub reads: usize,
    /// Ok reads that miss at least one acknowledged append.
    pub stale_reads: usize,
    /// `stale_reads / reads` (0 with no reads).
    pub share: f64,
    /// Acknowledged appends a read could miss: with none, no read can be stale and the share says
    /// nothing.
    #[serde(default)]
    pub acknowledged: usize,
    /// Over all ok reads (a fresh read counts 0): age in ms of the oldest missing append at the read's
    /// start. 0 everywhere when the history has no times.
    pub ms: Percentiles,
    /// Over all ok reads: how many acknowledged appends the read misses.
    pub versions: Percentiles,
    /// For plotting over time: (read start in s, ms, versions), the worst read of each of at most
    /// 500 equal time slices (slices without reads are left out).
    pub series: Vec<(f64, f64, usize)>,
}

/// Whether every node's local state agrees, key by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    pub converged: bool,
    /// One sentence per key on which nodes disagree.
    pub disagreements: Vec<String>,
}

/// Everything found in an append history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppendReport {
    pub guarantees: Guarantees,
    /// Every violation found, at most [`MAX_PER_GUARANTEE`] per guarantee, by guarantee then time.
    pub violations: Vec<Violation>,
    pub lost_writes: LostWrites,
    pub staleness: Staleness,
    /// How many violations of each guarantee were found in all (also those not listed).
    pub violation_counts: BTreeMap<String, usize>,
    /// What each guarantee judged (see [`AppendReport::reported`]).
    pub judged: JudgedAll,
    /// Checked ops (`ok` and `info` appends and `ok` reads), keys, ok reads and appends.
    pub ops: usize,
    pub keys: usize,
    pub appends: usize,
}

impl AppendReport {
    /// The guarantees as a run reports them: one that had nothing to judge (no read it applies to, or
    /// for linearizability no append acknowledged or read back) is unknown, not checkable, rather than
    /// kept. `guarantees` itself stays the plain answer (a history with nothing in it is linearizable).
    pub fn reported(&self) -> Guarantees {
        let judge = |g: &str, v: Validity| match (v, self.judged.get(g)) {
            (Validity::Valid, Some(j)) if j.ops == 0 || j.against == 0 => Validity::Unknown,
            (v, _) => v,
        };
        let g = &self.guarantees;
        Guarantees {
            linearizable: judge(LINEARIZABLE, g.linearizable),
            read_your_writes: judge(READ_YOUR_WRITES, g.read_your_writes),
            monotonic_reads: judge(MONOTONIC_READS, g.monotonic_reads),
            monotonic_writes: judge(MONOTONIC_WRITES, g.monotonic_writes),
            writes_follow_reads: judge(WRITES_FOLLOW_READS, g.writes_follow_reads),
            converged: g.converged,
        }
    }

    /// The first listed violation of a guarantee.
    pub fn first_violation(&self, guarantee: &str) -> Option<&Violation> {
        self.violations.iter().find(|v| v.guarantee == guarantee)
    }
}

/// Why an append history cannot be checked. Every variant names the op's line (or event number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("{at}: {message}")]
    BadOp { at: Location, message: String },
    #[error("{at}: a transaction with {count} micro-ops is not supported: list-append histories need one micro-op per op ([[:append k v]] or [[:r k nil]])")]
    MultiMicroOp { at: Location, count: usize },
    #[error("{at}: value {value} is appended to key {key} again (first at {first}): list-append needs unique values per key")]
    DuplicateAppend {
        at: Location,
        key: String,
        value: i64,
        first: Location,
    },
}

impl AppendError {
    /// Where the problem is.
    pub fn location(&self) -> Location {
        match self {
            AppendError::BadOp { at, .. }
            | AppendError::MultiMicroOp { at, .. }
            | AppendError::DuplicateAppend { at, .. } => *at,
        }
    }
}

/// Collects violations: counts all, keeps the first [`MAX_PER_GUARANTEE`] of each guarantee.
pub(crate) struct Sink {
    list: Vec<Violation>,
    counts: BTreeMap<String, usize>,
}

impl Sink {
    fn new() -> Self {
        let counts = [
            LINEARIZABLE,
            READ_YOUR_WRITES,
            MONOTONIC_READS,
            MONOTONIC_WRITES,
            WRITES_FOLLOW_READS,
        ]
        .iter()
        .map(|g| (g.to_string(), 0))
        .collect();
        Sink {
            list: Vec::new(),
            counts,
        }
    }

    /// Records a violation; `make` (which builds the sentence) runs only while the list has room.
    pub(crate) fn push(&mut self, guarantee: &str, make: impl FnOnce() -> Violation) {
        let n = self.counts.entry(guarantee.to_string()).or_default();
        *n += 1;
        if *n <= MAX_PER_GUARANTEE {
            self.list.push(make());
        }
    }

    pub(crate) fn count(&self, guarantee: &str) -> usize {
        self.counts.get(guarantee).copied().unwrap_or(0)
    }
}

/// Checks an append history: every guarantee, lost writes and staleness. Elle `:txn` histories must go
/// through [`normalize_txn_ops`] first. Ops other than `append` and `read` are an error.
pub fn check_append(history: &History, opts: &AppendOptions) -> Result<AppendReport, AppendError> {
    let keys = index::build(history)?;
    let mut sink = Sink::new();
    let mut lost = lost::LostTally::new(history, opts);
    let mut stale = staleness::Tally::default();
    let mut scratch = session::Scratch::default();
    let mut judged = JudgedAll::default();
    for kd in &keys {
        order::check_key(history, kd, &mut sink);
        lost.check_key(history, kd);
        session::check_key(
            history,
            kd,
            &mut sink,
            &mut stale,
            &mut scratch,
            &mut judged,
        );
    }
    judged.linearizable = Judged {
        ops: keys.iter().map(|k| k.reads.len()).sum(),
        against: acknowledged(history, &keys),
    };
    let ok = |g: &str| Validity::from(sink.count(g) == 0);
    let guarantees = Guarantees {
        linearizable: ok(LINEARIZABLE),
        read_your_writes: ok(READ_YOUR_WRITES),
        monotonic_reads: ok(MONOTONIC_READS),
        monotonic_writes: ok(MONOTONIC_WRITES),
        writes_follow_reads: ok(WRITES_FOLLOW_READS),
        converged: Validity::Unknown,
    };
    let order_of = |g: &str| match g {
        LINEARIZABLE => 0,
        READ_YOUR_WRITES => 1,
        MONOTONIC_READS => 2,
        MONOTONIC_WRITES => 3,
        _ => 4,
    };
    let mut violations = sink.list;
    violations.sort_by_key(|v| (order_of(&v.guarantee), v.time_ns));
    Ok(AppendReport {
        guarantees,
        violations,
        lost_writes: lost.finish(history),
        staleness: Staleness {
            acknowledged: judged.read_your_writes.against,
            ..stale.finish()
        },
        violation_counts: sink.counts,
        judged,
        ops: keys.iter().map(|k| k.ops.len()).sum(),
        keys: keys.len(),
        appends: keys.iter().map(|k| k.appends).sum(),
    })
}

/// Appended values over all keys that were acknowledged or read back (an `info` append a read holds
/// happened): what linearizability judges the reads against.
fn acknowledged(h: &History, keys: &[index::KeyData]) -> usize {
    keys.iter()
        .map(|k| {
            let mut seen = vec![false; k.vals.len()];
            for &id in &k.arena {
                seen[id as usize] = true;
            }
            k.vals
                .iter()
                .zip(seen)
                .filter(|(v, read)| {
                    v.op.is_some_and(|i| {
                        *read || h.ops[i as usize].outcome == crate::ops::Outcome::Ok
                    })
                })
                .count()
        })
        .sum()
}
