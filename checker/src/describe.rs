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
    let mut out = String::with_capacity(32);
    let key = |out: &mut String, word: &str| {
        if let Some(k) = &op.key {
            out.push(' ');
            out.push_str(word);
            out.push(' ');
            out.push_str(k);
        }
    };
    let v = op.input_value();
    match op.f.as_str() {
        "read" | "get" => {
            out.push_str(&op.f);
            key(&mut out, "of");
        }
        "write" | "put" | "append" => {
            out.push_str(&op.f);
            out.push(' ');
            out.push_str(&show(v));
            key(&mut out, "to");
        }
        f => {
            out.push_str(if f == "cas" { "cas" } else { f });
            key(&mut out, "of");
            match v {
                Value::Array(a) if f == "cas" && a.len() == 2 => {
                    out.push_str(" from ");
                    out.push_str(&show(&a[0]));
                    out.push_str(" to ");
                    out.push_str(&show(&a[1]));
                }
                _ => {
                    out.push(' ');
                    out.push_str(&show(v));
                }
            }
        }
    }
    out
}
