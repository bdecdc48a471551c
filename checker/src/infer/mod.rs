//! Deciding a partition without search, where the values read name the writes they read from.
//!
//! With unique written values, a read of `v` must take effect after the one write of `v` and before the
//! next write; a successful cas `a -> b` (or an append) names the version it replaced. So the versions of
//! a key fall into *chains*: a plain write (or put, or the initial state) starts one, and each cas/append
//! that extends a version adds the next. Inside a chain the order is fixed; chains are placed as blocks
//! in some order to be found. Every op then sits on a *level* (the writer of a version, then the reads of
//! it), and a history is linearizable iff no op on a later level completed before an op on an earlier
//! level was invoked (Gibbons & Korach, "Testing shared memories", 1997, for read/write registers; the
//! levels are a weak order and real time an interval order, so any cycle of the two shortens to one such
//! pair). Finding a chain order is a topological sort over "chain A must precede B", done greedily in
//! O(n log n).
//!
//! A valid verdict is certified by replaying the order found through the model with the real-time
//! check; where the values are not unique (or the model has no inference) the search decides.

pub(crate) mod register;
pub(crate) mod text;

use crate::model::{EncodedOp, Model};
use crate::pool::{pooled, Buf};
// The verdict types live below the models (whose `infer` hook returns them); they stay public here.
pub use crate::inferred::{Conflict, ConflictKind, Inferred};

const NONE: u32 = u32::MAX;

/// Ops grouped into levels, levels into chains. Chain 0 is the initial state's and must come first.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    ops: Buf<u32>,
    /// Start of each level in `ops`.
    levels: Buf<u32>,
    /// Start of each chain in `levels`.
    chains: Buf<u32>,
}

impl Layout {
    pub(crate) fn new() -> Self {
        Layout::default()
    }

    pub(crate) fn chain(&mut self) {
        self.chains.push(self.levels.len() as u32);
    }

    pub(crate) fn level(&mut self) {
        self.levels.push(self.ops.len() as u32);
    }

    /// Adds an op to the current level.
    pub(crate) fn push(&mut self, op: u32) {
        self.ops.push(op);
    }

    fn level_ops(&self, l: usize) -> &[u32] {
        let end = self
            .levels
            .get(l + 1)
            .map_or(self.ops.len(), |&e| e as usize);
        &self.ops[self.levels[l] as usize..end]
    }

    fn chain_levels(&self, c: usize) -> std::ops::Range<usize> {
        let end = self
            .chains
            .get(c + 1)
            .map_or(self.levels.len(), |&e| e as usize);
        self.chains[c] as usize..end
    }

    fn chain_ops(&self, c: usize) -> &[u32] {
        let r = self.chain_levels(c);
        if r.is_empty() {
            return &[];
        }
        let start = self.levels[r.start] as usize;
        let end = self
            .levels
            .get(r.end)
            .map_or(self.ops.len(), |&e| e as usize);
        &self.ops[start..end]
    }
}

/// Real-time bounds of the partition's ops: invocation position, completion position (`usize::MAX`
/// for ops that may take effect at any time after their invocation).
pub(crate) struct Times {
    pub call: Buf<usize>,
    pub ret: Buf<usize>,
}

impl Times {
    pub(crate) fn of<I, O>(ops: &[EncodedOp<I, O>]) -> Self {
        let mut t = Times {
            call: Buf::new(),
            ret: Buf::new(),
        };
        t.call.extend(ops.iter().map(|o| o.call));
        t.ret
            .extend(ops.iter().map(|o| o.ret.unwrap_or(usize::MAX)));
        t
    }
}

/// Per chain: the latest invocation and the earliest completion among its ops, with the ops.
#[derive(Clone, Copy)]
struct Span {
    s: usize,
    s_op: u32,
    f: usize,
    f_op: u32,
}

pooled! { Span => POOL_SPAN }

/// Orders the chains, returning the linearization (ops level by level), or the conflict.
pub(crate) fn order(layout: &Layout, t: &Times) -> Result<Vec<u32>, Conflict> {
    let nc = layout.chains.len();
    let mut spans: Buf<Span> = Buf::new();
    spans.reserve(nc);
    for c in 0..nc {
        spans.push(check_chain(layout, c, t)?);
    }
    let mut out: Vec<u32> = Vec::with_capacity(layout.ops.len());
    let mut removed = Buf::filled(nc, false);
    // Chain 0 (the initial state) first: every other chain must be able to follow it.
    if nc > 0 {
        removed[0] = true;
        let s0 = spans[0];
        if s0.s_op != NONE {
            if let Some(j) = (1..nc).min_by_key(|&j| spans[j].f) {
                if spans[j].f < s0.s {
                    return Err(Conflict {
                        kind: ConflictKind::Order {
                            early: s0.s_op,
                            late: spans[j].f_op,
                        },
                        prefix: Vec::new(),
                    });
                }
            }
        }
        out.extend_from_slice(layout.chain_ops(0));
    }
    // Chain j must precede chain i iff f_j < s_i. A source is a chain whose s is below every other
    // remaining chain's f: the earliest-f chain if its s is below the second f, else the earliest-s
    // other chain if its s is below the first f.
    let mut by_f: Buf<u32> = Buf::new();
    by_f.extend(1..nc as u32);
    by_f.sort_unstable_by_key(|&c| spans[c as usize].f);
    let mut by_s: Buf<u32> = Buf::new();
    by_s.extend(1..nc as u32);
    by_s.sort_unstable_by_key(|&c| spans[c as usize].s);
    let mut fl = Live::new(by_f.len());
    let mut sl = Live::new(by_s.len());
    let mut pos_in_f = Buf::filled(nc, 0u32);
    let mut pos_in_s = Buf::filled(nc, 0u32);
    for (i, &c) in by_f.iter().enumerate() {
        pos_in_f[c as usize] = i as u32;
    }
    for (i, &c) in by_s.iter().enumerate() {
        pos_in_s[c as usize] = i as u32;
    }
    while let Some(ia) = fl.first() {
        let a = by_f[ia] as usize;
        let second_f = fl
            .after(ia)
            .map_or(usize::MAX, |ib| spans[by_f[ib] as usize].f);
        let pick = if spans[a].s < second_f {
            Some(a)
        } else {
            let mut ic = sl.first();
            if ic.is_some_and(|i| by_s[i] as usize == a) {
                ic = sl.after(ic.unwrap_or_default());
            }
            ic.map(|i| by_s[i] as usize)
                .filter(|&c| spans[c].s < spans[a].f)
        };
        let Some(c) = pick else {
            // a must precede every other chain (its earliest completion is before their latest
            // invocations), but b, the chain with the next earliest completion, must precede a.
            let b = by_f[fl.after(ia).unwrap_or(ia)] as usize;
            return Err(Conflict {
                kind: ConflictKind::Cycle {
                    early1: spans[a].s_op,
                    late1: spans[b].f_op,
                    early2: spans[b].s_op,
                    late2: spans[a].f_op,
                },
                prefix: out,
            });
        };
        removed[c] = true;
        fl.remove(pos_in_f[c] as usize);
        sl.remove(pos_in_s[c] as usize);
        out.extend_from_slice(layout.chain_ops(c));
    }
    debug_assert!(removed.iter().all(|&r| r));
    Ok(out)
}

/// Checks the levels inside one chain and returns its span.
fn check_chain(layout: &Layout, c: usize, t: &Times) -> Result<Span, Conflict> {
    let mut span = Span {
        s: 0,
        s_op: NONE,
        f: usize::MAX,
        f_op: NONE,
    };
    let levels = layout.chain_levels(c);
    let first = levels.start;
    for l in levels {
        let ops = layout.level_ops(l);
        // An op of this level that completed before an op of an earlier level began.
        if span.s_op != NONE {
            if let Some(&y) = ops.iter().min_by_key(|&&o| t.ret[o as usize]) {
                if t.ret[y as usize] < span.s {
                    // Chain 0's ops placed so far (the levels before this one).
                    let prefix = if c == 0 {
                        layout.ops[layout.levels[first] as usize..layout.levels[l] as usize]
                            .to_vec()
                    } else {
                        Vec::new()
                    };
                    return Err(Conflict {
                        kind: ConflictKind::Order {
                            early: span.s_op,
                            late: y,
                        },
                        prefix,
                    });
                }
            }
        }
        for &o in ops {
            let (call, ret) = (t.call[o as usize], t.ret[o as usize]);
            if span.s_op == NONE || call > span.s {
                span.s = call;
                span.s_op = o;
            }
            if ret < span.f || span.f_op == NONE {
                span.f = ret;
                span.f_op = o;
            }
        }
    }
    Ok(span)
}

/// A doubly linked list over positions 0..n, for skipping removed entries in O(1).
struct Live {
    next: Buf<u32>,
    prev: Buf<u32>,
    head: u32,
}

impl Live {
    fn new(n: usize) -> Self {
        let mut l = Live {
            next: Buf::new(),
            prev: Buf::new(),
            head: if n == 0 { NONE } else { 0 },
        };
        l.next.extend(1..=n as u32);
        l.prev.extend((0..n as u32).map(|i| i.wrapping_sub(1)));
        l
    }

    fn first(&self) -> Option<usize> {
        (self.head != NONE).then_some(self.head as usize)
    }

    fn after(&self, i: usize) -> Option<usize> {
        let n = self.next[i] as usize;
        (n < self.next.len()).then_some(n)
    }

    fn remove(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        let len = self.next.len() as u32;
        if p == NONE {
            self.head = if n < len { n } else { NONE };
        } else {
            self.next[p as usize] = n;
        }
        if n < len {
            self.prev[n as usize] = p;
        }
    }
}

/// Replays an order through the model with the real-time check: every op with a completion placed,
/// each op placed once, none after an op that completed before it began, every step accepted.
pub(crate) fn certify<M: Model>(
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    order: &[u32],
) -> bool {
    let mut seen = Buf::filled(ops.len(), false);
    let mut state = model.init();
    let mut max_call = None;
    for &i in order {
        let Some(o) = ops.get(i as usize) else {
            return false;
        };
        if std::mem::replace(&mut seen[i as usize], true) {
            return false;
        }
        if max_call.is_some_and(|m| o.ret.is_some_and(|r| r < m)) {
            return false;
        }
        max_call = Some(max_call.map_or(o.call, |m: usize| m.max(o.call)));
        match model.step(&state, &o.input, o.output.as_ref()) {
            Some(s) => state = s,
            None => return false,
        }
    }
    ops.iter().zip(&seen).all(|(o, &s)| s || o.ret.is_none())
}

/// Runs the layout's chain order and certifies a valid answer.
pub(crate) fn decide<M: Model>(
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    layout: &Layout,
) -> Inferred {
    match order(layout, &Times::of(ops)) {
        Err(c) => Inferred::Invalid(c),
        Ok(order) => {
            if certify(model, ops, &order) {
                Inferred::Valid(order)
            } else {
                debug_assert!(false, "inference found an order the model rejects");
                Inferred::Undecided("the order inferred did not replay")
            }
        }
    }
}
