//! Transactional histories in a compact form: each transaction a range of micro-ops, keys interned,
//! read lists in one arena, so a million transactions fit in a few hundred megabytes.

use rustc_hash::FxHashMap;

/// How a transaction ended. `Fail` transactions did not commit, but are kept: a read of their writes is
/// an aborted read (G1a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Unknown: it may or may not have committed; its reads are unknown.
    Info,
    Fail,
}

/// What a read returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadValue {
    /// Not known (an `info` or `fail` transaction, or `nil` in an invocation).
    Unknown,
    /// A list (list-append): `len` values from `start` in [`TxnHistory::lists`].
    List { start: u32, len: u32 },
    /// A register (rw-register): `None` is nil, the initial state.
    Register(Option<i64>),
}

/// One micro-op. Keys are indexes into [`TxnHistory::keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mop {
    Append { key: u32, value: i64 },
    Write { key: u32, value: i64 },
    Read { key: u32, value: ReadValue },
}

impl Mop {
    pub fn key(&self) -> u32 {
        match *self {
            Mop::Append { key, .. } | Mop::Write { key, .. } | Mop::Read { key, .. } => key,
        }
    }
}

/// Marks a position that is not known (a transaction without invocation, or still open at the end).
pub const NO_POS: u32 = u32::MAX;

/// One transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// The client process, when the history records one.
    pub process: Option<u64>,
    pub status: Status,
    /// Positions of the invocation and completion events in the history (the real-time order);
    /// [`NO_POS`] where there is no such event.
    pub invoke: u32,
    pub complete: u32,
    /// Line in the file (or position in memory) of the completion, else of the invocation.
    pub line: u32,
    /// Micro-ops `mops_start..mops_end` in [`TxnHistory::mops`].
    pub mops_start: u32,
    pub mops_end: u32,
}

/// A transactional history: transactions in the order they were invoked (or appear).
#[derive(Debug, Clone, Default)]
pub struct TxnHistory {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    /// Every list read, one after another.
    pub lists: Vec<i64>,
    /// Key names, by interned index.
    pub keys: Vec<String>,
    key_index: FxHashMap<String, u32>,
}

impl TxnHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The interned index of a key.
    pub fn key(&mut self, name: &str) -> u32 {
        if let Some(&k) = self.key_index.get(name) {
            return k;
        }
        let k = self.keys.len() as u32;
        self.keys.push(name.to_string());
        self.key_index.insert(name.to_string(), k);
        k
    }

    /// Stores a list read and returns it as a [`ReadValue`].
    pub fn list(&mut self, values: &[i64]) -> ReadValue {
        let start = self.lists.len() as u32;
        self.lists.extend_from_slice(values);
        ReadValue::List {
            start,
            len: values.len() as u32,
        }
    }

    /// Appends a transaction whose micro-ops were pushed to `mops` since `mops_start`.
    pub fn push(&mut self, mut txn: Txn, mops_start: usize) {
        txn.mops_start = mops_start as u32;
        txn.mops_end = self.mops.len() as u32;
        self.txns.push(txn);
    }

    pub fn mops_of(&self, t: usize) -> &[Mop] {
        let x = &self.txns[t];
        &self.mops[x.mops_start as usize..x.mops_end as usize]
    }

    pub fn list_of(&self, v: ReadValue) -> Option<&[i64]> {
        match v {
            ReadValue::List { start, len } => {
                Some(&self.lists[start as usize..(start + len) as usize])
            }
            _ => None,
        }
    }

    /// Whether every transaction names its process (else process order is unknown).
    pub fn has_process(&self) -> bool {
        !self.txns.is_empty() && self.txns.iter().all(|t| t.process.is_some())
    }

    /// Whether some transactions have both an invocation and a completion (else real-time order is
    /// unknown).
    pub fn has_realtime(&self) -> bool {
        self.txns
            .iter()
            .any(|t| t.invoke != NO_POS && t.complete != NO_POS)
    }

    /// Heap bytes held (for the memory report).
    pub fn heap_bytes(&self) -> usize {
        self.txns.capacity() * std::mem::size_of::<Txn>()
            + self.mops.capacity() * std::mem::size_of::<Mop>()
            + self.lists.capacity() * 8
            + self.keys.iter().map(|k| 2 * k.len() + 48).sum::<usize>()
    }
}
