//! The replicated key-value map: key -> i64; put, cas (from `None` = absent), get.

use super::types::{Command, Entry};
use crate::api::Value;
use std::collections::HashMap;

/// What applying one command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Applied {
    Noop,
    Written,
    CasFailed,
    Read(Option<Value>),
}

#[derive(Debug, Default)]
pub(super) struct KvState {
    map: HashMap<String, Value>,
}

impl KvState {
    pub fn get(&self, key: &str) -> Option<Value> {
        self.map.get(key).copied()
    }

    pub fn apply(&mut self, cmd: &Command) -> Applied {
        match cmd {
            Command::Noop => Applied::Noop,
            Command::Put { key, value } => {
                self.map.insert(key.clone(), *value);
                Applied::Written
            }
            Command::Cas { key, from, to } => {
                if self.get(key) == *from {
                    self.map.insert(key.clone(), *to);
                    Applied::Written
                } else {
                    Applied::CasFailed
                }
            }
            Command::Get { key } => Applied::Read(self.get(key)),
        }
    }

    /// The value `key` would have once `tail` (appended, not yet applied) is applied: async replication
    /// evaluates cas against the leader's own latest log this way.
    pub fn speculate(&self, key: &str, tail: &[Entry]) -> Option<Value> {
        tail.iter().fold(self.get(key), |v, e| match &e.command {
            Command::Put { key: k, value } if k == key => Some(*value),
            Command::Cas { key: k, from, to } if k == key && v == *from => Some(*to),
            _ => v,
        })
    }
}
