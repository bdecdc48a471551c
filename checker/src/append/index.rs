//! One pass over the history: per key, the appended values (interned to dense ids) and the ok reads
//! as id lists in one arena, so the checks compare small integers.

use super::AppendError;
use crate::ops::{History, Op, Outcome};
use crate::parse_error::Location;
use rustc_hash::FxHashMap;
use serde_json::Value;

/// A value seen on a key: appended by `op`, or `None` when a read returned it but nothing appended it.
pub(crate) struct Val {
    pub value: i64,
    pub op: Option<u32>,
}

/// An ok read: its op and its list as `arena[start..start + len]`.
pub(crate) struct Read {
    pub op: u32,
    pub start: u32,
    pub len: u32,
    /// The list holds some value twice.
    pub dup: Option<u32>,
}

/// One key's ops, values and reads.
pub(crate) struct KeyData {
    pub key: String,
    /// Indices into `History::ops` of this key's appends (ok and info) and ok reads, in history order.
    pub ops: Vec<u32>,
    pub vals: Vec<Val>,
    pub reads: Vec<Read>,
    pub arena: Vec<u32>,
    pub appends: usize,
    /// Value id of each append op, by position in `ops` (`u32::MAX` for reads).
    pub id_of: Vec<u32>,
    /// Read index of each read op, by position in `ops` (`u32::MAX` for appends).
    pub read_of: Vec<u32>,
}

impl KeyData {
    pub(crate) fn list(&self, r: &Read) -> &[u32] {
        &self.arena[r.start as usize..(r.start + r.len) as usize]
    }
}

pub(crate) fn location(h: &History, op: &Op) -> Location {
    location_in(h.from_file, op)
}

pub(crate) fn location_in(from_file: bool, op: &Op) -> Location {
    if from_file {
        Location::Line(op.invoke_line)
    } else {
        Location::Event(op.invoke_line)
    }
}

/// The session an op belongs to: recorded, else its process.
pub(crate) fn session(op: &Op) -> u64 {
    op.session.unwrap_or(op.process)
}

/// The end of an op's interval as an event position; `usize::MAX` for `info` (it may happen any time).
pub(crate) fn ret(op: &Op) -> usize {
    match op.outcome {
        Outcome::Ok => op.complete_pos.unwrap_or(usize::MAX),
        Outcome::Info => usize::MAX,
    }
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// Splits the history by key and interns values. Info reads are left out (they observed nothing).
pub(crate) fn build(h: &History) -> Result<Vec<KeyData>, AppendError> {
    let mut keys: Vec<KeyData> = Vec::new();
    let mut by_name: FxHashMap<&str, usize> = FxHashMap::default();
    for (i, op) in h.ops.iter().enumerate() {
        let bad = |message: String| AppendError::BadOp {
            at: location(h, op),
            message,
        };
        match op.f.as_str() {
            "append" => {}
            "read" if op.outcome == Outcome::Ok => {}
            "read" => continue,
            "txn" => {
                return Err(bad(
                    "a :txn op: normalise Elle histories with normalize_txn_ops first".into(),
                ))
            }
            f => {
                return Err(bad(format!(
                    "unknown operation {f:?} for list-append (expected append or read)"
                )))
            }
        }
        let Some(key) = op.key.as_deref() else {
            return Err(bad(format!("{} without a key", op.f)));
        };
        let k = *by_name.entry(key).or_insert_with(|| {
            keys.push(KeyData {
                key: key.to_string(),
                ops: Vec::new(),
                vals: Vec::new(),
                reads: Vec::new(),
                arena: Vec::new(),
                appends: 0,
                id_of: Vec::new(),
                read_of: Vec::new(),
            });
            keys.len() - 1
        });
        keys[k].ops.push(i as u32);
    }
    for kd in &mut keys {
        intern_key(h, kd)?;
    }
    Ok(keys)
}

fn intern_key(h: &History, kd: &mut KeyData) -> Result<(), AppendError> {
    let mut ids: FxHashMap<i64, u32> = FxHashMap::default();
    kd.id_of = vec![u32::MAX; kd.ops.len()];
    kd.read_of = vec![u32::MAX; kd.ops.len()];
    // Appends first, so that a read may name a value appended later in the history.
    for (n, &i) in kd.ops.iter().enumerate() {
        let op = &h.ops[i as usize];
        if op.f != "append" {
            continue;
        }
        let Some(v) = int(op.input_value()) else {
            return Err(AppendError::BadOp {
                at: location(h, op),
                message: format!("append needs an integer value, got {}", op.input_value()),
            });
        };
        let id = kd.vals.len() as u32;
        if let Some(&first) = ids.get(&v) {
            let first_op = &h.ops[kd.vals[first as usize].op.unwrap_or(0) as usize];
            return Err(AppendError::DuplicateAppend {
                at: location(h, op),
                key: kd.key.clone(),
                value: v,
                first: location(h, first_op),
            });
        }
        ids.insert(v, id);
        kd.vals.push(Val {
            value: v,
            op: Some(i),
        });
        kd.id_of[n] = id;
        kd.appends += 1;
    }
    let mut seen: Vec<u32> = Vec::new();
    for (n, &i) in kd.ops.iter().enumerate() {
        let op = &h.ops[i as usize];
        if op.f != "read" {
            continue;
        }
        let list: &[Value] = match &op.output {
            Value::Null => &[],
            Value::Array(a) => a,
            other => {
                return Err(AppendError::BadOp {
                    at: location(h, op),
                    message: format!("a read must return a list of integers or null, got {other}"),
                })
            }
        };
        let start = kd.arena.len() as u32;
        let rn = kd.reads.len() as u32;
        let mut dup = None;
        for v in list {
            let Some(v) = int(v) else {
                return Err(AppendError::BadOp {
                    at: location(h, op),
                    message: format!("a read must return a list of integers, found {v}"),
                });
            };
            let id = *ids.entry(v).or_insert_with(|| {
                kd.vals.push(Val { value: v, op: None });
                (kd.vals.len() - 1) as u32
            });
            if seen.len() < kd.vals.len() {
                seen.resize(kd.vals.len(), u32::MAX);
            }
            if seen[id as usize] == rn {
                dup.get_or_insert(id);
            }
            seen[id as usize] = rn;
            kd.arena.push(id);
        }
        kd.read_of[n] = rn;
        kd.reads.push(Read {
            op: i,
            start,
            len: list.len() as u32,
            dup,
        });
    }
    Ok(())
}
