//! The replicated key-value map: a key holds an integer (put, cas) or a list of integers (append);
//! `None` is absent.

use super::entry::{Command, Entry};
use crate::api::{MicroOp, TxnRead, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What one key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stored {
    Int(Value),
    List(Vec<Value>),
}

/// What applying one command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Applied {
    Noop,
    Written,
    CasFailed,
    /// An append to a key holding an integer: committed, but it changed nothing.
    NotAList,
    Read(Option<Stored>),
    /// A transaction's micro-ops with its reads filled in.
    Txn(Vec<MicroOp>),
}

/// The key-value map (what a snapshot holds).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvState {
    map: HashMap<String, Stored>,
}

impl KvState {
    pub fn get(&self, key: &str) -> Option<&Stored> {
        self.map.get(key)
    }

    /// Apply a command outside the core (tests and tools); whether it changed the map.
    pub fn apply_command(&mut self, cmd: &Command) -> bool {
        self.apply(cmd) == Applied::Written
    }

    pub(super) fn apply(&mut self, cmd: &Command) -> Applied {
        match cmd {
            Command::Noop => Applied::Noop,
            Command::Put { key, value } => {
                self.map.insert(key.clone(), Stored::Int(*value));
                Applied::Written
            }
            Command::Cas { key, from, to } => {
                if cas_holds(self.map.get(key), *from) {
                    self.map.insert(key.clone(), Stored::Int(*to));
                    Applied::Written
                } else {
                    Applied::CasFailed
                }
            }
            Command::Append { key, value } => {
                match self
                    .map
                    .entry(key.clone())
                    .or_insert_with(|| Stored::List(Vec::new()))
                {
                    Stored::List(list) => {
                        list.push(*value);
                        Applied::Written
                    }
                    Stored::Int(_) => Applied::NotAList,
                }
            }
            Command::Get { key } => Applied::Read(self.get(key).cloned()),
            Command::Txn { ops } => match evaluate(self, ops) {
                Ok((filled, writes)) => {
                    self.map.extend(writes);
                    Applied::Txn(filled)
                }
                Err(NotAList) => Applied::NotAList,
            },
        }
    }

    /// The value `key` would have once `tail` (appended, not yet applied) is applied: async replication
    /// evaluates cas and reads against the leader's own latest log this way.
    pub fn speculate(&self, key: &str, tail: &[Entry]) -> Option<Stored> {
        tail.iter()
            .fold(self.get(key).cloned(), |v, e| match &e.command {
                Command::Put { key: k, value } if k == key => Some(Stored::Int(*value)),
                Command::Cas { key: k, from, to } if k == key && cas_holds(v.as_ref(), *from) => {
                    Some(Stored::Int(*to))
                }
                Command::Append { key: k, value } if k == key => match v {
                    None => Some(Stored::List(vec![*value])),
                    Some(Stored::List(mut l)) => {
                        l.push(*value);
                        Some(Stored::List(l))
                    }
                    int => int,
                },
                Command::Txn { ops } if ops.iter().any(|o| o.key() == key) => {
                    speculate_key(key, v, ops)
                }
                _ => v,
            })
    }

    /// Whether an append to `key` would find a list (or nothing) there after `tail`.
    pub fn accepts_append(&self, key: &str, tail: &[Entry]) -> bool {
        !matches!(self.speculate(key, tail), Some(Stored::Int(_)))
    }

    /// Insert or replace (the transaction evaluator's scratch states).
    pub(super) fn set(&mut self, key: &str, value: Option<Stored>) {
        match value {
            Some(v) => self.map.insert(key.to_string(), v),
            None => self.map.remove(key),
        };
    }

    #[cfg(test)]
    pub fn int_at(&self, key: &str) -> Option<Value> {
        match self.map.get(key) {
            Some(Stored::Int(v)) => Some(*v),
            _ => None,
        }
    }
}

/// cas `from` holds when the key holds that integer (`None`: the key is absent).
fn cas_holds(current: Option<&Stored>, from: Option<Value>) -> bool {
    match (current, from) {
        (None, None) => true,
        (Some(Stored::Int(v)), Some(f)) => *v == f,
        _ => false,
    }
}

/// An append met an integer key: the whole transaction changes nothing.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NotAList;

/// A transaction's micro-ops with reads filled in, and the final value of each key it writes.
pub(super) type Evaluated = (Vec<MicroOp>, Vec<(String, Stored)>);

/// The transaction's reads filled in, and the writes to make (none when it fails), evaluated in order
/// so a read sees the transaction's own earlier writes.
pub(super) fn evaluate(kv: &KvState, ops: &[MicroOp]) -> Result<Evaluated, NotAList> {
    let mut own: HashMap<&str, Stored> = HashMap::new();
    let mut filled = Vec::with_capacity(ops.len());
    for op in ops {
        let current = own.get(op.key()).or_else(|| kv.get(op.key()));
        match op {
            MicroOp::Read { key, .. } => filled.push(MicroOp::Read {
                key: key.clone(),
                value: current.cloned().map(txn_read),
            }),
            MicroOp::Write { key, value } => {
                own.insert(key, Stored::Int(*value));
                filled.push(op.clone());
            }
            MicroOp::Append { key, value } => {
                let mut list = match current {
                    None => Vec::new(),
                    Some(Stored::List(l)) => l.clone(),
                    Some(Stored::Int(_)) => return Err(NotAList),
                };
                list.push(*value);
                own.insert(key, Stored::List(list));
                filled.push(op.clone());
            }
        }
    }
    let writes = own.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Ok((filled, writes))
}

fn txn_read(s: Stored) -> TxnRead {
    match s {
        Stored::Int(v) => TxnRead::Int(v),
        Stored::List(l) => TxnRead::List(l),
    }
}

/// `key` after a transaction, from its value `before`. Other keys are taken as absent: a transaction
/// aborted only by an append to another key that holds an integer is not foreseen (mixed register and
/// list use of one key, which no workload does).
pub(super) fn speculate_key(key: &str, before: Option<Stored>, ops: &[MicroOp]) -> Option<Stored> {
    let mut scratch = KvState::default();
    scratch.set(key, before.clone());
    match evaluate(&scratch, ops) {
        Ok((_, writes)) => writes
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .or(before),
        Err(NotAList) => before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_grow_by_append_and_ints_refuse_appends() {
        let mut kv = KvState::default();
        let app = |key: &str, value| Command::Append {
            key: key.into(),
            value,
        };
        assert_eq!(kv.apply(&app("l", 3)), Applied::Written);
        assert_eq!(kv.apply(&app("l", 7)), Applied::Written);
        assert_eq!(kv.get("l"), Some(&Stored::List(vec![3, 7])));
        let put = Command::Put {
            key: "i".into(),
            value: 1,
        };
        kv.apply(&put);
        assert_eq!(kv.apply(&app("i", 2)), Applied::NotAList);
        assert_eq!(kv.int_at("i"), Some(1));
        // cas never matches a list, even against "absent".
        let cas = Command::Cas {
            key: "l".into(),
            from: None,
            to: 5,
        };
        assert_eq!(kv.apply(&cas), Applied::CasFailed);
        let tail = [Entry {
            term: 1,
            index: 9,
            command: app("l", 8),
        }];
        assert_eq!(kv.speculate("l", &tail), Some(Stored::List(vec![3, 7, 8])));
        assert!(!kv.accepts_append("i", &tail));
        assert!(kv.accepts_append("new", &tail));
    }
}
