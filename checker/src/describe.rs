//! Operations and values in words (`write 4`, `cas of k2 from 1 to 2`), for models and explanations alike.

use crate::ops::Op;
use serde_json::Value;

/// A value in words, Clojure-style: `nil`, and a pair as `[a b]`.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_string(),
        Value::Array(a) if a.len() == 2 => format!("[{} {}]", show(&a[0]), show(&a[1])),
        other => other.to_string(),
    }
}

/// An op in words: `read of k2`, `write 4`, `cas of k2 from 1 to 2`.
pub fn describe_op(op: &Op) -> String {
    let of = op
        .key
        .as_ref()
        .map(|k| format!(" of {k}"))
        .unwrap_or_default();
    let to = op
        .key
        .as_ref()
        .map(|k| format!(" to {k}"))
        .unwrap_or_default();
    let v = op.input_value();
    match op.f.as_str() {
        "read" | "get" => format!("{}{of}", op.f),
        "write" | "put" | "append" => format!("{} {}{to}", op.f, show(v)),
        "cas" => match v {
            Value::Array(a) if a.len() == 2 => {
                format!("cas{of} from {} to {}", show(&a[0]), show(&a[1]))
            }
            _ => format!("cas{of} {}", show(v)),
        },
        f => format!("{f}{of} {}", show(v)),
    }
}
