//! `register` and `cas-register`: one value, read/write (and cas `[from, to]`). Values are interned so
//! that the search compares and hashes small integers.

use super::prune::{prune_unobserved, ValueUse};
use super::reg_op::{register_step, RegOp, NIL};
use super::{Encoded, EncodedOp, Model};
use crate::ops::{Op, Outcome};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// Interned value ids; 0 is nil (absent). Integers (the usual register values) and strings are looked
/// up as themselves, with no text built per value; other values by their JSON text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    /// Ids of the integers 0..SMALL (0 = not seen yet).
    small: Vec<u32>,
    ints: FxHashMap<i64, u32>,
    strs: FxHashMap<Box<str>, u32>,
    other: FxHashMap<String, u32>,
    values: Vec<Value>,
}

const SMALL: i64 = 1 << 12;

impl Interner {
    pub(crate) fn new() -> Self {
        Interner {
            small: Vec::new(),
            ints: FxHashMap::default(),
            strs: FxHashMap::default(),
            other: FxHashMap::default(),
            values: vec![Value::Null],
        }
    }

    fn push(&mut self, v: &Value) -> u32 {
        let id = self.values.len() as u32;
        self.values.push(v.clone());
        id
    }

    pub(crate) fn intern(&mut self, v: &Value) -> u32 {
        match v {
            Value::Null => NIL,
            Value::Number(n) if n.as_i64().is_some() => {
                let i = n.as_i64().unwrap_or_default();
                if (0..SMALL).contains(&i) {
                    let i = i as usize;
                    if i >= self.small.len() {
                        self.small.resize((i + 1).next_power_of_two(), 0);
                    }
                    if self.small[i] == 0 {
                        self.small[i] = self.push(v);
                    }
                    return self.small[i];
                }
                if let Some(&id) = self.ints.get(&i) {
                    return id;
                }
                let id = self.push(v);
                self.ints.insert(i, id);
                id
            }
            Value::String(s) => {
                if let Some(&id) = self.strs.get(s.as_str()) {
                    return id;
                }
                let id = self.push(v);
                self.strs.insert(s.as_str().into(), id);
                id
            }
            other => {
                let key = other.to_string();
                if let Some(&id) = self.other.get(&key) {
                    return id;
                }
                let id = self.push(v);
                self.other.insert(key, id);
                id
            }
        }
    }

    pub(crate) fn describe(&self, id: u32) -> String {
        match self.values.get(id as usize) {
            None | Some(Value::Null) => "nil".to_string(),
            Some(v) => v.to_string(),
        }
    }
}

/// `register` (with `allow_cas = false`) or `cas-register`.
#[derive(Debug, Clone)]
pub struct RegisterModel {
    allow_cas: bool,
    values: Interner,
}

impl RegisterModel {
    pub fn register() -> Self {
        RegisterModel {
            allow_cas: false,
            values: Interner::new(),
        }
    }

    pub fn cas_register() -> Self {
        RegisterModel {
            allow_cas: true,
            values: Interner::new(),
        }
    }
}

/// Encodes read/write/cas, shared with the kv model.
pub(crate) fn encode_register_op(
    values: &mut Interner,
    op: &Op,
    allow_cas: bool,
    model: &str,
) -> Result<Encoded<RegOp, u32>, String> {
    let known = op.outcome == Outcome::Ok;
    match op.f.as_str() {
        "read" => {
            if !known {
                return Ok(Encoded::Drop);
            }
            Ok(Encoded::Op(RegOp::Read, Some(values.intern(&op.output))))
        }
        "write" => Ok(Encoded::Op(
            RegOp::Write(values.intern(op.input_value())),
            known.then_some(NIL),
        )),
        "cas" if allow_cas => match op.input_value() {
            Value::Array(a) if a.len() == 2 => Ok(Encoded::Op(
                RegOp::Cas(values.intern(&a[0]), values.intern(&a[1])),
                known.then_some(NIL),
            )),
            other => Err(format!(
                "cas needs the value [from, to], got {}",
                crate::parse_error::quote(&other.to_string())
            )),
        },
        f => Err(format!(
            "unknown operation {:?} for model {model} (expected {})",
            crate::parse_error::quote(f),
            if allow_cas {
                "read, write or cas"
            } else {
                "read or write; use --model cas-register for cas"
            }
        )),
    }
}

pub(crate) fn register_read_only(input: &RegOp) -> bool {
    matches!(input, RegOp::Read)
}

/// Tags the op kind in the top bits; values that do not fit leave the op without twins.
pub(crate) fn register_twin_key(input: &RegOp, output: Option<&u32>) -> Option<u64> {
    const V: u32 = 1 << 30;
    match (input, output) {
        (RegOp::Read, Some(v)) if *v < V => Some(*v as u64),
        (RegOp::Read, None) => Some(1 << 62),
        (RegOp::Write(v), _) if *v < V => Some((1 << 61) | *v as u64),
        (RegOp::Cas(a, b), known) if *a < V && *b < V => {
            let tag = if known.is_some() { 3u64 << 60 } else { 1 << 60 };
            Some(tag | (*a as u64) << 30 | *b as u64)
        }
        _ => None,
    }
}

pub(crate) fn register_use(input: &RegOp, output: Option<&u32>) -> ValueUse {
    match input {
        RegOp::Read => ValueUse {
            requires: output.copied(),
            writes: None,
        },
        RegOp::Write(v) => ValueUse {
            requires: None,
            writes: Some(*v),
        },
        RegOp::Cas(from, to) => ValueUse {
            requires: Some(*from),
            writes: Some(*to),
        },
    }
}

impl Model for RegisterModel {
    type State = u32;
    type Input = RegOp;
    type Output = u32;

    fn name(&self) -> &str {
        if self.allow_cas {
            "cas-register"
        } else {
            "register"
        }
    }

    fn init(&self) -> u32 {
        NIL
    }

    fn encode(&mut self, op: &Op) -> Result<Encoded<RegOp, u32>, String> {
        let name = if self.allow_cas {
            "cas-register"
        } else {
            "register"
        };
        encode_register_op(&mut self.values, op, self.allow_cas, name)
    }

    fn step(&self, state: &u32, input: &RegOp, output: Option<&u32>) -> Option<u32> {
        register_step(*state, input, output)
    }

    fn partition_key<'o>(&self, op: &'o Op) -> Option<std::borrow::Cow<'o, str>> {
        op.key.as_deref().map(std::borrow::Cow::Borrowed)
    }

    fn read_only(&self, input: &RegOp, _output: Option<&u32>) -> bool {
        register_read_only(input)
    }

    fn pack_state(&self, state: &u32) -> Option<u32> {
        Some(*state)
    }

    fn value_use(&self, input: &RegOp, output: Option<&u32>) -> Option<ValueUse> {
        Some(register_use(input, output))
    }

    fn state_value(&self, state: &u32) -> Option<u32> {
        Some(*state)
    }

    fn twin_key(&self, input: &RegOp, output: Option<&u32>) -> Option<u64> {
        register_twin_key(input, output)
    }

    fn prepare(&self, ops: &mut Vec<EncodedOp<RegOp, u32>>) {
        prune_unobserved(ops, |op| Some(register_use(&op.input, op.output.as_ref())));
    }

    fn infer(&self, ops: &[EncodedOp<RegOp, u32>]) -> crate::inferred::Inferred {
        crate::infer::register::infer(self, ops, |o| Some((o.input, o.output)))
    }

    fn describe_state(&self, state: &u32) -> String {
        self.values.describe(*state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(register_step(1, &RegOp::Read, Some(&1)), Some(1));
        assert_eq!(register_step(1, &RegOp::Read, Some(&2)), None);
        assert_eq!(register_step(1, &RegOp::Write(3), Some(&NIL)), Some(3));
        assert_eq!(register_step(1, &RegOp::Cas(1, 4), Some(&NIL)), Some(4));
        assert_eq!(register_step(2, &RegOp::Cas(1, 4), Some(&NIL)), None);
        assert_eq!(register_step(2, &RegOp::Cas(1, 4), None), Some(2));
    }
}
