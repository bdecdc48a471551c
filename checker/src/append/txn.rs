//! Elle list-append histories: `:f :txn` ops with one micro-op (`[[:append :x 1]]`, `[[:r :x [1 2]]]`)
//! become plain `append` / `read` ops on a key. The EDN reader has already turned keywords into strings.

use super::index::location_in;
use super::AppendError;
use crate::ops::{History, Op, Outcome};
use serde_json::Value;

/// Rewrites every `txn` op into `append` or `read`; other ops pass unchanged. A transaction with more
/// (or fewer) than one micro-op is an error naming its line.
pub fn normalize_txn_ops(mut history: History) -> Result<History, AppendError> {
    let from_file = history.from_file;
    for op in &mut history.ops {
        if op.f == "txn" {
            rewrite(op, from_file)?;
        }
    }
    Ok(history)
}

fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Why a txn value is not one micro-op.
enum NotOne {
    /// It holds this many micro-ops.
    Count(usize),
    Bad(String),
}

/// The one micro-op `[f, key, value]` of a txn value.
fn micro(v: &Value) -> Result<(&str, &Value, &Value), NotOne> {
    let Value::Array(mops) = v else {
        return Err(NotOne::Bad(format!(
            "a :txn value must be a vector of micro-ops like [[:append :x 1]], got {v}"
        )));
    };
    let [m] = mops.as_slice() else {
        return Err(NotOne::Count(mops.len()));
    };
    match m.as_array().map(Vec::as_slice) {
        Some([Value::String(f), k, v]) => Ok((f.as_str(), k, v)),
        _ => Err(NotOne::Bad(format!(
            "a micro-op must look like [:append k v] or [:r k nil], got {m}"
        ))),
    }
}

fn rewrite(op: &mut Op, from_file: bool) -> Result<(), AppendError> {
    let at = location_in(from_file, op);
    let bad = |message: String| AppendError::BadOp { at, message };
    let (f, key, value) = match micro(&op.value) {
        Ok(m) => m,
        Err(NotOne::Count(count)) => return Err(AppendError::MultiMicroOp { at, count }),
        Err(NotOne::Bad(message)) => return Err(bad(message)),
    };
    let key = key_name(key);
    match f {
        "append" => {
            let v = value.clone();
            op.f = "append".into();
            op.key = Some(key);
            op.value = v;
            op.output = Value::Null;
        }
        "r" | "read" => {
            let out = if op.outcome == Outcome::Ok {
                match micro(&op.output) {
                    Ok((_, k, v)) if key_name(k) == key => v.clone(),
                    Ok((_, k, _)) => {
                        return Err(bad(format!(
                            "the read of {key} completed as a read of {}",
                            key_name(k)
                        )))
                    }
                    Err(_) => {
                        return Err(bad(format!(
                            "the completion of a read must hold [[:r {key} [values]]], got {}",
                            op.output
                        )))
                    }
                }
            } else {
                Value::Null
            };
            op.f = "read".into();
            op.key = Some(key);
            op.value = Value::Null;
            op.output = out;
        }
        other => {
            return Err(bad(format!(
                "micro-op :{other} is not supported (list-append knows :append and :r)"
            )))
        }
    }
    Ok(())
}
