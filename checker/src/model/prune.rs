//! Simplifications of `info` ops for value-register models, valid when an op's legality depends only on
//! whether the state equals some value.
//!
//! - An `info` op whose written value nobody can observe is dropped: taking effect only replaces the state
//!   by a value no later op accepts, so "never happened" explains at least as much.
//! - An `info` op that is the only writer of a value some `ok` op observed must have happened before the
//!   earliest completion among those observers: it gets that as its return, so the search closes it.

use super::EncodedOp;
use rustc_hash::{FxHashMap, FxHashSet};

/// What an op needs of the state and what it writes, for models whose states are values (see
/// `Model::value_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueUse {
    /// The op succeeds only in this state (a read's value, a cas's `from`).
    pub requires: Option<u32>,
    /// The value it may write.
    pub writes: Option<u32>,
}

/// `classify` returns `None` for ops outside the value-register shape; then nothing is changed.
pub(crate) fn prune_unobserved<I, O>(
    ops: &mut Vec<EncodedOp<I, O>>,
    classify: impl Fn(&EncodedOp<I, O>) -> Option<ValueUse>,
) {
    let Some(uses) = ops.iter().map(&classify).collect::<Option<Vec<_>>>() else {
        return;
    };
    let mut writers: FxHashMap<u32, usize> = FxHashMap::default();
    let mut observed_by: FxHashMap<u32, usize> = FxHashMap::default(); // value -> earliest ok observer return
    let mut useful: FxHashSet<u32> = FxHashSet::default();
    for (op, u) in ops.iter().zip(&uses) {
        if let Some(w) = u.writes {
            *writers.entry(w).or_default() += 1;
        }
        if let (Some(r), Some(ret)) = (u.requires, op.ret) {
            if op.output.is_some() {
                useful.insert(r);
                let e = observed_by.entry(r).or_insert(ret);
                *e = (*e).min(ret);
            }
        }
    }
    // An unknown cas from a to b makes a worth producing only if b is.
    loop {
        let mut changed = false;
        for (op, u) in ops.iter().zip(&uses) {
            if op.output.is_none() {
                if let (Some(r), Some(w)) = (u.requires, u.writes) {
                    if useful.contains(&w) && useful.insert(r) {
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut keep = Vec::with_capacity(ops.len());
    for (op, u) in ops.iter_mut().zip(&uses) {
        if op.output.is_some() {
            keep.push(true);
            continue;
        }
        let Some(w) = u.writes else {
            keep.push(true);
            continue;
        };
        if !useful.contains(&w) {
            keep.push(false);
            continue;
        }
        if writers.get(&w) == Some(&1) && w != super::reg_op::NIL {
            if let Some(&by) = observed_by.get(&w) {
                if by > op.call {
                    op.ret = Some(by);
                }
            }
        }
        keep.push(true);
    }
    let mut i = 0;
    ops.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}
