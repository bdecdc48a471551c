//! Inference for read/write/cas registers with unique written values.
//!
//! Runs after `prune_unobserved`: an `info` op still present writes a value some `ok` op needs (directly,
//! or through `info` cas ops whose results are needed), and with unique writers such an op must have
//! taken effect. So every op left happened; `info` ones just have no completion bound.

use super::{decide, Conflict, ConflictKind, Inferred, Layout};
use crate::model::reg_op::{register_step, RegOp, NIL};
use crate::model::{EncodedOp, Model};
use rustc_hash::FxHashMap;

/// The ops in invocation order, `info` ones left out, if they replay so: invocation order respects real
/// time, so that is a linearization (as for strings, `text::in_call_order`).
fn in_call_order<I, O>(ops: &[EncodedOp<I, O>], view: &[(RegOp, Option<u32>)]) -> Option<Vec<u32>> {
    let mut state = NIL;
    let mut last_call = 0;
    let mut order = Vec::with_capacity(ops.len());
    for (i, (o, (op, out))) in ops.iter().zip(view).enumerate() {
        if o.call < last_call {
            return None;
        }
        last_call = o.call;
        if out.is_none() {
            continue;
        }
        state = register_step(state, op, out.as_ref())?;
        order.push(i as u32);
    }
    Some(order)
}

/// `reg` views an op as a register op with its known output (`None` for ops outside the shape).
pub(crate) fn infer<M: Model>(
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    reg: impl Fn(&EncodedOp<M::Input, M::Output>) -> Option<(RegOp, Option<u32>)>,
) -> Inferred {
    let Some(view) = ops.iter().map(reg).collect::<Option<Vec<_>>>() else {
        return Inferred::Undecided("the partition mixes register and other ops");
    };
    if let Some(order) = in_call_order(ops, &view) {
        return Inferred::Valid(order);
    }
    match infer_unique(model, ops, &view) {
        // Values repeat: the chains are unknown, but some reads are still ruled out.
        Inferred::Undecided(why) => match ruled_out(ops, &view) {
            Some(kind) => Inferred::Invalid(Conflict {
                kind,
                prefix: Vec::new(),
            }),
            None => Inferred::Undecided(why),
        },
        other => other,
    }
}

/// What can be said of values however often they are written. An op that needs value v (an `ok` read
/// of v, an `ok` cas from v) must follow some write of v with no other write in between. It cannot when
/// every write of v began after it completed (`Order`: it would read the future), nor when some update
/// to another value that surely happened (`ok`) began after every write of v had completed and itself
/// completed before the op began (`Order`: a stale read), nor when nothing writes v (`Unwritten`).
/// Writes of v include `info` ones (they may have happened at any point after their invocation) and,
/// for nil, the initial state, which precedes everything.
fn ruled_out<I, O>(ops: &[EncodedOp<I, O>], view: &[(RegOp, Option<u32>)]) -> Option<ConflictKind> {
    let ret = |i: usize| ops[i].ret.unwrap_or(usize::MAX);
    // Per value: the latest completion and the earliest invocation among its writes (with the ops).
    let mut last_done: FxHashMap<u32, usize> = FxHashMap::default();
    let mut first_call: FxHashMap<u32, (usize, u32)> = FxHashMap::default();
    // Updates that surely happened: (invocation, completion, value written, op).
    let mut sure: Vec<(usize, usize, u32, u32)> = Vec::new();
    for (i, (op, out)) in view.iter().enumerate() {
        let written = match *op {
            RegOp::Read => continue,
            RegOp::Write(v) | RegOp::Cas(_, v) => v,
        };
        let d = last_done.entry(written).or_insert(0);
        *d = (*d).max(ret(i));
        let f = first_call.entry(written).or_insert((usize::MAX, 0));
        if ops[i].call < f.0 {
            *f = (ops[i].call, i as u32);
        }
        if out.is_some() {
            if let Some(r) = ops[i].ret {
                sure.push((ops[i].call, r, written, i as u32));
            }
        }
    }
    // Per value: the op needing it that was invoked last, and the one that completed first.
    let mut latest_need: FxHashMap<u32, (usize, u32)> = FxHashMap::default();
    let mut earliest_need: FxHashMap<u32, (usize, u32)> = FxHashMap::default();
    for (i, (op, out)) in view.iter().enumerate() {
        let needs = match (*op, *out) {
            (RegOp::Read, Some(v)) => v,
            (RegOp::Cas(from, _), Some(_)) => from,
            _ => continue,
        };
        let l = latest_need.entry(needs).or_insert((0, i as u32));
        if ops[i].call >= l.0 {
            *l = (ops[i].call, i as u32);
        }
        let e = earliest_need.entry(needs).or_insert((usize::MAX, i as u32));
        if ret(i) < e.0 {
            *e = (ret(i), i as u32);
        }
    }
    for (&v, &(done, r)) in &earliest_need {
        if v == NIL {
            continue;
        }
        match first_call.get(&v) {
            None => return Some(ConflictKind::Unwritten(r)),
            Some(&(call, w)) if call > done => {
                return Some(ConflictKind::Order { early: w, late: r })
            }
            _ => {}
        }
    }
    // Sure updates by invocation, with the two smallest completions (of different values) after each.
    sure.sort_unstable();
    let mut suffix: Vec<[(usize, u32, u32); 2]> = vec![[(usize::MAX, NIL, 0); 2]; sure.len() + 1];
    for k in (0..sure.len()).rev() {
        let (_, r, v, op) = sure[k];
        let [mut a, mut b] = suffix[k + 1];
        if r < a.0 {
            if a.1 != v {
                b = a;
            }
            a = (r, v, op);
        } else if v != a.1 && r < b.0 {
            b = (r, v, op);
        }
        suffix[k] = [a, b];
    }
    for (&v, &(call, r)) in &latest_need {
        // The initial state completed before anything began.
        let done = if v == NIL {
            0
        } else {
            last_done.get(&v).copied().unwrap_or(0)
        };
        if done == usize::MAX {
            continue;
        }
        let k = sure.partition_point(|s| s.0 <= done);
        let [a, b] = suffix[k];
        let other = if a.1 != v { a } else { b };
        if other.0 < call && (v != NIL || !last_done.contains_key(&NIL)) {
            return Some(ConflictKind::Order {
                early: r,
                late: other.2,
            });
        }
    }
    None
}

fn infer_unique<M: Model>(
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    view: &[(RegOp, Option<u32>)],
) -> Inferred {
    let mut writer: FxHashMap<u32, u32> = FxHashMap::default();
    let mut readers: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let mut cas_from: FxHashMap<u32, u32> = FxHashMap::default();
    for (i, (op, out)) in view.iter().enumerate() {
        let i = i as u32;
        let written = match *op {
            RegOp::Read => {
                if let Some(v) = out {
                    readers.entry(*v).or_default().push(i);
                }
                continue;
            }
            RegOp::Write(v) => v,
            RegOp::Cas(from, to) => {
                if from == to {
                    return Inferred::Undecided("a cas writes the value it compares with");
                }
                cas_from.insert(from, i);
                to
            }
        };
        if written == NIL {
            return Inferred::Undecided("a write of the initial value (nil)");
        }
        if writer.insert(written, i).is_some() {
            return Inferred::Undecided("a value is written more than once");
        }
    }
    // Two cas from one version: both happened, each in that state, and the first left it for good.
    let mut seen_from: FxHashMap<u32, u32> = FxHashMap::default();
    for (i, (op, _)) in view.iter().enumerate() {
        if let RegOp::Cas(from, _) = *op {
            if let Some(&other) = seen_from.get(&from) {
                return Inferred::Invalid(Conflict {
                    kind: ConflictKind::SameVersion(other, i as u32),
                    prefix: Vec::new(),
                });
            }
            seen_from.insert(from, i as u32);
        }
    }
    // A value needed but never written.
    for (i, (op, out)) in view.iter().enumerate() {
        let needs = match *op {
            RegOp::Read => *out,
            RegOp::Cas(from, _) => Some(from),
            RegOp::Write(_) => None,
        };
        if let Some(v) = needs {
            if v != NIL && !writer.contains_key(&v) {
                return Inferred::Invalid(Conflict {
                    kind: ConflictKind::Unwritten(i as u32),
                    prefix: Vec::new(),
                });
            }
        }
    }
    let mut layout = Layout::new();
    let mut placed = 0usize;
    let follow = |layout: &mut Layout, mut v: u32, placed: &mut usize| loop {
        layout.level();
        for &r in readers.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
            layout.push(r);
            *placed += 1;
        }
        let Some(&c) = cas_from.get(&v) else { break };
        layout.level();
        layout.push(c);
        *placed += 1;
        let RegOp::Cas(_, to) = view[c as usize].0 else {
            break;
        };
        v = to;
    };
    layout.chain();
    layout.level();
    follow(&mut layout, NIL, &mut placed);
    for (i, (op, _)) in view.iter().enumerate() {
        if let RegOp::Write(v) = *op {
            layout.chain();
            layout.level();
            layout.push(i as u32);
            placed += 1;
            follow(&mut layout, v, &mut placed);
        }
    }
    if placed != ops.len() {
        // Some cas ops form a cycle of values that no plain write or the initial state starts.
        let mut in_layout = vec![false; ops.len()];
        for &o in &layout.ops {
            in_layout[o as usize] = true;
        }
        let stuck = in_layout.iter().position(|&p| !p).unwrap_or(0) as u32;
        return Inferred::Invalid(Conflict {
            kind: ConflictKind::Unwritten(stuck),
            prefix: Vec::new(),
        });
    }
    decide(model, ops, &layout)
}
