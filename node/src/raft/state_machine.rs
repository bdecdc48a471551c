//! The replicated key-value map: a key holds an integer (put, cas) or a list of integers (append);
//! `None` is absent.

use super::entry::{Command, Entry};
use crate::api::{MicroOp, Value};
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
            Command::Txn { ops } => match super::txn::evaluate(self, ops) {
                Ok((filled, writes)) => {
                    self.map.extend(writes);
                    Applied::Txn(filled)
                }
                Err(super::txn::NotAList) => Applied::NotAList,
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
                    super::txn::speculate_key(key, v, ops)
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
