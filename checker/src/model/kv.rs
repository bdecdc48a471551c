//! `kv`: an independent register per key. Keys are partitions, checked separately.
//! Supports read/write/cas (values of any JSON type, absent = nil) and, as in porcupine's key-value
//! histories, get/put/append on strings (absent = "").

use super::prune::prune_unobserved;
use super::reg_op::{register_step, RegOp, NIL};
use super::register::{
    encode_register_op, register_read_only, register_twin_key, register_use, Interner,
};
use super::{Encoded, EncodedOp, Model};
use crate::infer::text::TextOp;
use crate::ops::{Op, Outcome};
use serde_json::Value;
use std::sync::Arc;

/// The value of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvState {
    /// Never written: reads return nil, gets "".
    Nil,
    /// Set by write/cas (an interned value).
    Val(u32),
    /// Set by put/append.
    Text(Arc<str>),
}

/// A string of the history, kept in the model's text (one buffer for all ops: no allocation per op).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    off: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum KvOp {
    Reg(RegOp),
    Get,
    Put(Text),
    Append(Text),
}

#[derive(Debug, Clone, Copy)]
pub enum KvOut {
    Val(u32),
    Text(Text),
}

#[derive(Debug, Clone)]
pub struct KvModel {
    values: Interner,
    /// Every string the encoded ops carry, one after another.
    text: String,
}

impl KvModel {
    pub fn new() -> Self {
        KvModel {
            values: Interner::new(),
            text: String::new(),
        }
    }

    fn str(&self, t: Text) -> &str {
        self.text
            .get(t.off as usize..t.off as usize + t.len as usize)
            .unwrap_or_default()
    }

    fn text(&mut self, v: &Value, what: &str) -> Result<Text, String> {
        let s = match v {
            Value::String(s) => s.as_str(),
            Value::Null if what == "get" => "",
            other => {
                return Err(format!(
                    "{what} needs a string value, got {}",
                    crate::parse_error::quote(&other.to_string())
                ))
            }
        };
        let off = self.text.len();
        if self.text.capacity() == 0 {
            self.text.reserve(4096);
        }
        if off + s.len() > u32::MAX as usize {
            return Err("the kv strings of this history exceed 4 GiB".to_string());
        }
        self.text.push_str(s);
        Ok(Text {
            off: off as u32,
            len: s.len() as u32,
        })
    }
}

impl Default for KvModel {
    fn default() -> Self {
        Self::new()
    }
}

/// A string op for inference (`None` for register ops).
fn text_view<'a>(m: &'a KvModel, o: &EncodedOp<KvOp, KvOut>) -> Option<TextOp<'a>> {
    match (&o.input, &o.output) {
        (KvOp::Get, Some(KvOut::Text(s))) => Some(TextOp::Get(m.str(*s))),
        (KvOp::Put(s), _) => Some(TextOp::Put(m.str(*s))),
        (KvOp::Append(s), _) => Some(TextOp::Append(m.str(*s))),
        _ => None,
    }
}

/// `a` then `b` in one new string: one allocation (`Arc<str>` from a `String` would copy it again).
fn concat(a: &str, b: &str) -> Arc<str> {
    thread_local! {
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.push_str(a);
        buf.push_str(b);
        let s = Arc::from(buf.as_str());
        if buf.capacity() > 1 << 20 {
            *buf = String::new();
        }
        s
    })
}

impl Model for KvModel {
    type State = KvState;
    type Input = KvOp;
    type Output = KvOut;

    fn name(&self) -> &str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::Nil
    }

    fn encode(&mut self, op: &Op) -> Result<Encoded<KvOp, KvOut>, String> {
        let known = op.outcome == Outcome::Ok;
        match op.f.as_str() {
            "get" if !known => Ok(Encoded::Drop),
            "get" => Ok(Encoded::Op(KvOp::Get, Some(KvOut::Text(self.text(&op.output, "get")?)))),
            "put" => Ok(Encoded::Op(KvOp::Put(self.text(op.input_value(), "put")?), known.then_some(KvOut::Val(NIL)))),
            "append" => Ok(Encoded::Op(KvOp::Append(self.text(op.input_value(), "append")?), known.then_some(KvOut::Val(NIL)))),
            "read" | "write" | "cas" => match encode_register_op(&mut self.values, op, true, "kv")? {
                Encoded::Op(i, o) => Ok(Encoded::Op(KvOp::Reg(i), o.map(KvOut::Val))),
                Encoded::Drop => Ok(Encoded::Drop),
            },
            f => Err(format!("unknown operation {:?} for model kv (expected read, write, cas, get, put or append)", crate::parse_error::quote(f))),
        }
    }

    fn step(&self, state: &KvState, input: &KvOp, output: Option<&KvOut>) -> Option<KvState> {
        match input {
            KvOp::Reg(r) => {
                let cur = match state {
                    KvState::Nil => NIL,
                    KvState::Val(v) => *v,
                    // A register op on a string key: no interned value can equal it.
                    KvState::Text(_) => u32::MAX,
                };
                let out = match output {
                    Some(KvOut::Val(v)) => Some(v),
                    Some(KvOut::Text(_)) => return None,
                    None => None,
                };
                let next = register_step(cur, r, out)?;
                Some(if next == cur {
                    state.clone()
                } else if next == NIL {
                    KvState::Nil
                } else {
                    KvState::Val(next)
                })
            }
            KvOp::Get => {
                let Some(KvOut::Text(want)) = output else {
                    return Some(state.clone());
                };
                let ok = match state {
                    KvState::Nil => want.len == 0,
                    KvState::Text(s) => **s == *self.str(*want),
                    KvState::Val(_) => false,
                };
                ok.then(|| state.clone())
            }
            KvOp::Put(s) => Some(KvState::Text(Arc::from(self.str(*s)))),
            KvOp::Append(s) => Some(KvState::Text(match state {
                KvState::Text(cur) => concat(cur, self.str(*s)),
                _ => Arc::from(self.str(*s)),
            })),
        }
    }

    fn partition_key<'o>(&self, op: &'o Op) -> Option<std::borrow::Cow<'o, str>> {
        op.key.as_deref().map(std::borrow::Cow::Borrowed)
    }

    fn value_use(&self, input: &KvOp, output: Option<&KvOut>) -> Option<super::ValueUse> {
        match (input, output) {
            (KvOp::Reg(r), Some(KvOut::Val(v))) => Some(register_use(r, Some(v))),
            (KvOp::Reg(r), None) => Some(register_use(r, None)),
            _ => None,
        }
    }

    fn state_value(&self, state: &KvState) -> Option<u32> {
        self.pack_state(state)
    }

    fn pack_state(&self, state: &KvState) -> Option<u32> {
        match state {
            // Interned values start at 1 (0 is nil, kept as `Nil`).
            KvState::Nil => Some(NIL),
            KvState::Val(v) => Some(*v),
            KvState::Text(_) => None,
        }
    }

    fn read_only(&self, input: &KvOp, _output: Option<&KvOut>) -> bool {
        match input {
            KvOp::Reg(r) => register_read_only(r),
            KvOp::Get => true,
            _ => false,
        }
    }

    fn twin_key(&self, input: &KvOp, output: Option<&KvOut>) -> Option<u64> {
        match (input, output) {
            (KvOp::Reg(r), Some(KvOut::Val(v))) => register_twin_key(r, Some(v)),
            (KvOp::Reg(r), None) => register_twin_key(r, None),
            _ => None,
        }
    }

    fn prepare(&self, ops: &mut Vec<EncodedOp<KvOp, KvOut>>) {
        prune_unobserved(ops, |op| match (&op.input, &op.output) {
            (KvOp::Reg(r), Some(KvOut::Val(v))) => Some(register_use(r, Some(v))),
            (KvOp::Reg(r), None) => Some(register_use(r, None)),
            _ => None,
        });
    }

    fn infer(&self, ops: &[EncodedOp<KvOp, KvOut>]) -> crate::inferred::Inferred {
        if ops.iter().all(|o| matches!(o.input, KvOp::Reg(_))) {
            crate::infer::register::infer(self, ops, |o| match (&o.input, &o.output) {
                (KvOp::Reg(r), Some(KvOut::Val(v))) => Some((*r, Some(*v))),
                (KvOp::Reg(r), None) => Some((*r, None)),
                _ => None,
            })
        } else {
            crate::infer::text::infer(ops, |o| text_view(self, o))
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        match state {
            KvState::Nil => "nil".to_string(),
            KvState::Val(v) => self.values.describe(*v),
            KvState::Text(s) => format!("{s:?}"),
        }
    }

    fn state_heap_bytes(&self, state: &KvState) -> usize {
        match state {
            KvState::Text(s) => s.len() + 16,
            _ => 0,
        }
    }
}
