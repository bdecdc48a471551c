//! `list-append` for the exhaustive search: a list per key; `append v` adds v at the end, `read` returns
//! the whole list (null = empty). Used to cross-check the inference in `checker::append`.

use super::{Encoded, Model};
use crate::ops::{Op, Outcome};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum ListOp {
    Append(i64),
    Read,
}

#[derive(Debug, Clone, Default)]
pub struct ListAppendModel;

impl ListAppendModel {
    pub fn new() -> Self {
        ListAppendModel
    }
}

fn ints(v: &Value) -> Result<Vec<i64>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_i64()
                    .ok_or_else(|| format!("a read returns integers, found {x}"))
            })
            .collect(),
        other => Err(format!("a read returns a list or null, got {other}")),
    }
}

impl Model for ListAppendModel {
    type State = Vec<i64>;
    type Input = ListOp;
    /// The list a read returned; appends have none to check.
    type Output = Option<Vec<i64>>;

    fn name(&self) -> &str {
        "list-append"
    }

    fn init(&self) -> Vec<i64> {
        Vec::new()
    }

    fn encode(&mut self, op: &Op) -> Result<Encoded<ListOp, Option<Vec<i64>>>, String> {
        let known = op.outcome == Outcome::Ok;
        match op.f.as_str() {
            "read" if !known => Ok(Encoded::Drop),
            "read" => Ok(Encoded::Op(ListOp::Read, Some(Some(ints(&op.output)?)))),
            "append" => match op.input_value().as_i64() {
                Some(v) => Ok(Encoded::Op(ListOp::Append(v), known.then_some(None))),
                None => Err(format!("append needs an integer, got {}", op.input_value())),
            },
            f => Err(format!(
                "unknown operation {f:?} for model list-append (expected append or read)"
            )),
        }
    }

    fn step(
        &self,
        state: &Vec<i64>,
        input: &ListOp,
        output: Option<&Option<Vec<i64>>>,
    ) -> Option<Vec<i64>> {
        match input {
            ListOp::Append(v) => {
                let mut next = state.clone();
                next.push(*v);
                Some(next)
            }
            ListOp::Read => match output {
                Some(Some(want)) => (want == state).then(|| state.clone()),
                _ => Some(state.clone()),
            },
        }
    }

    fn partition_key<'o>(&self, op: &'o Op) -> Option<std::borrow::Cow<'o, str>> {
        op.key.as_deref().map(std::borrow::Cow::Borrowed)
    }

    fn describe_state(&self, state: &Vec<i64>) -> String {
        let v: Vec<String> = state.iter().map(i64::to_string).collect();
        format!("[{}]", v.join(" "))
    }

    fn state_heap_bytes(&self, state: &Vec<i64>) -> usize {
        state.capacity() * 8
    }
}
