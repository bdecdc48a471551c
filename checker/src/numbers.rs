//! Numbers in event values: one canonical form for integer-valued floats, whichever format they came from.

use serde_json::{Number, Value};

/// A float as a JSON value: integer-valued floats become integers, so `1.0` and `1` are one value.
pub(crate) fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number((f as i64).into())
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// Replaces integer-valued floats inside `v` by integers (see [`float_value`]).
pub(crate) fn normalize_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                *v = float_value(f);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize_numbers),
        Value::Object(m) => m.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}
