//! Seeded op generators. Each worker has its own generator, so the op mix and the values a worker writes
//! follow from `--seed` and the worker's number alone, whatever the other workers do.

use crate::settings::{WorkloadConfig, WorkloadKind};
use protocol::MicroOp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What an op does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    Read,
    Write(i64),
    /// Compare-and-set: succeeds only if the key holds `from`.
    Cas {
        from: i64,
        to: i64,
    },
    /// Append a value to the list at the key (the append workload).
    Append(i64),
    /// A transaction (the txn workloads), its reads `None`; the op's key is empty.
    Txn(Vec<MicroOp>),
}

/// One operation to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSpec {
    pub key: String,
    pub kind: OpKind,
}

impl OpSpec {
    pub fn read(key: &str) -> OpSpec {
        OpSpec {
            key: key.to_string(),
            kind: OpKind::Read,
        }
    }

    /// The history's `f`.
    pub fn f(&self) -> &'static str {
        match self.kind {
            OpKind::Read => "read",
            OpKind::Write(_) => "write",
            OpKind::Cas { .. } => "cas",
            OpKind::Append(_) => "append",
            OpKind::Txn(_) => "txn",
        }
    }

    /// A read-only transaction of `keys`.
    pub fn txn_reads(keys: &[String]) -> OpSpec {
        let ops = keys
            .iter()
            .map(|k| MicroOp::Read {
                key: k.clone(),
                value: None,
            })
            .collect();
        OpSpec {
            key: String::new(),
            kind: OpKind::Txn(ops),
        }
    }

    /// The invocation's value: null for reads, the value for writes, `[from, to]` for cas.
    pub fn invoke_value(&self) -> Value {
        match self.kind {
            OpKind::Read => Value::Null,
            OpKind::Write(v) | OpKind::Append(v) => json!(v),
            OpKind::Cas { from, to } => json!([from, to]),
            OpKind::Txn(ref ops) => json!(ops),
        }
    }

    /// Reads have no effect, so a read (or a read-only transaction) whose outcome is unknown can be
    /// recorded as failed.
    pub fn is_read(&self) -> bool {
        match &self.kind {
            OpKind::Read => true,
            OpKind::Txn(ops) => ops.iter().all(MicroOp::is_read),
            _ => false,
        }
    }
}

/// Share of transactions that only read (the txn workloads).
const READ_ONLY_TXNS: f64 = 0.25;

/// One worker's op stream.
pub struct Generator {
    rng: ChaCha8Rng,
    keys: Vec<String>,
    read_share: f64,
    cas_share: f64,
    /// The append workload: every non-read appends.
    append: bool,
    /// The txn workloads: which one.
    txn: Option<WorkloadKind>,
    /// Values are `worker + stride * n`: unique across workers without coordination.
    next_value: i64,
    stride: i64,
    /// The last value this worker saw in each key (read, or written successfully): cas targets it.
    last_seen: HashMap<String, i64>,
}

impl Generator {
    pub fn new(cfg: &WorkloadConfig, worker: usize) -> Generator {
        let seed = cfg.seed ^ (worker as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            keys: cfg.key_names(),
            read_share: cfg.read_share,
            cas_share: cfg.cas_share,
            append: cfg.kind == WorkloadKind::Append,
            txn: cfg.kind.is_txn().then_some(cfg.kind),
            next_value: worker as i64 + 1,
            stride: cfg.concurrency.max(1) as i64,
            last_seen: HashMap::new(),
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        if let Some(kind) = self.txn {
            return self.next_txn(kind);
        }
        let key = self.keys[self.rng.gen_range(0..self.keys.len())].clone();
        let kind = if self.rng.gen_bool(self.read_share.clamp(0.0, 1.0)) {
            OpKind::Read
        } else {
            let value = self.fresh_value();
            if self.append {
                return OpSpec {
                    key,
                    kind: OpKind::Append(value),
                };
            }
            match self.last_seen.get(&key) {
                Some(&from) if self.rng.gen_bool(self.cas_share.clamp(0.0, 1.0)) => {
                    OpKind::Cas { from, to: value }
                }
                _ => OpKind::Write(value),
            }
        };
        OpSpec { key, kind }
    }

    /// 2 to 4 micro-ops on random keys (a key may repeat: a read after the transaction's own write).
    /// A quarter of the transactions only read, so the read mode's path is exercised; in the others each
    /// micro-op reads with the read share, else appends (txn-append) or writes (txn-register).
    fn next_txn(&mut self, kind: WorkloadKind) -> OpSpec {
        let n = self.rng.gen_range(2..=4);
        let read_only = self.rng.gen_bool(READ_ONLY_TXNS);
        let ops = (0..n)
            .map(|_| {
                let key = self.keys[self.rng.gen_range(0..self.keys.len())].clone();
                if read_only || self.rng.gen_bool(self.read_share.clamp(0.0, 1.0)) {
                    return MicroOp::Read { key, value: None };
                }
                let value = self.fresh_value();
                match kind {
                    WorkloadKind::TxnRegister => MicroOp::Write { key, value },
                    _ => MicroOp::Append { key, value },
                }
            })
            .collect();
        OpSpec {
            key: String::new(),
            kind: OpKind::Txn(ops),
        }
    }

    fn fresh_value(&mut self) -> i64 {
        let v = self.next_value;
        self.next_value += self.stride;
        v
    }

    /// Tell the generator what an op observed, so later cas ops have a plausible `from`.
    pub fn observe(&mut self, op: &OpSpec, ok: bool, read: Option<i64>) {
        if !ok {
            return;
        }
        let seen = match op.kind {
            OpKind::Read => read,
            OpKind::Write(v) => Some(v),
            OpKind::Cas { to, .. } => Some(to),
            // Appends and transactions do not feed cas (their workloads have none).
            OpKind::Append(_) | OpKind::Txn(_) => return,
        };
        match seen {
            Some(v) => self.last_seen.insert(op.key.clone(), v),
            None => self.last_seen.remove(&op.key),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::WorkloadKind;
    use std::collections::HashSet;

    fn cfg(seed: u64) -> WorkloadConfig {
        WorkloadConfig {
            kind: WorkloadKind::Kv,
            keys: 4,
            concurrency: 3,
            seed,
            ..WorkloadConfig::default()
        }
    }

    fn written(op: &OpSpec) -> Option<i64> {
        match op.kind {
            OpKind::Read => None,
            OpKind::Write(v) | OpKind::Cas { to: v, .. } | OpKind::Append(v) => Some(v),
            OpKind::Txn(_) => None,
        }
    }

    #[test]
    fn same_seed_same_ops_other_seed_other_ops() {
        let run = |seed| {
            let mut g = Generator::new(&cfg(seed), 1);
            (0..200)
                .map(|_| {
                    let op = g.next_op();
                    g.observe(&op, true, Some(7));
                    op
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn written_values_are_unique_across_workers() {
        let c = cfg(1);
        let mut seen = HashSet::new();
        for w in 0..c.concurrency {
            let mut g = Generator::new(&c, w);
            for _ in 0..500 {
                let op = g.next_op();
                g.observe(&op, true, None);
                if let Some(v) = written(&op) {
                    assert!(seen.insert(v), "value {v} written twice");
                }
            }
        }
        assert!(seen.len() > 500);
    }

    #[test]
    fn mix_follows_the_shares_and_cas_targets_a_seen_value() {
        let mut g = Generator::new(&cfg(5), 0);
        let (mut reads, mut cas) = (0, 0);
        for _ in 0..2000 {
            let op = g.next_op();
            match op.kind {
                OpKind::Read => reads += 1,
                OpKind::Cas { from, .. } => {
                    cas += 1;
                    assert_eq!(g.last_seen.get(&op.key), Some(&from));
                }
                OpKind::Write(_) | OpKind::Append(_) | OpKind::Txn(_) => {}
            }
            g.observe(&op, true, None);
        }
        assert!((800..1200).contains(&reads), "reads {reads}");
        assert!(cas > 100, "cas {cas}");
    }

    #[test]
    fn append_workload_reads_and_appends_unique_values_over_its_keys() {
        let c = WorkloadConfig {
            kind: WorkloadKind::Append,
            ..cfg(9)
        };
        let mut seen = HashSet::new();
        let (mut reads, mut keys) = (0, HashSet::new());
        for w in 0..c.concurrency {
            let mut g = Generator::new(&c, w);
            for _ in 0..500 {
                let op = g.next_op();
                keys.insert(op.key.clone());
                match op.kind {
                    OpKind::Read => reads += 1,
                    OpKind::Append(v) => assert!(seen.insert(v), "value {v} appended twice"),
                    ref k => panic!("the append workload issued {k:?}"),
                }
                g.observe(&op, true, None);
            }
        }
        assert!((600..900).contains(&reads), "reads {reads}");
        assert_eq!(keys.len(), c.keys);
    }

    /// Every written value of a transaction: (key, value).
    fn txn_writes(op: &OpSpec) -> Vec<(String, i64)> {
        let OpKind::Txn(ops) = &op.kind else {
            panic!("a txn workload issued {op:?}")
        };
        ops.iter()
            .filter_map(|m| match m {
                MicroOp::Append { key, value } | MicroOp::Write { key, value } => {
                    Some((key.clone(), *value))
                }
                MicroOp::Read { .. } => None,
            })
            .collect()
    }

    #[test]
    fn txn_workloads_issue_short_mixed_transactions_with_unique_values() {
        for (kind, writes) in [
            (WorkloadKind::TxnAppend, "append"),
            (WorkloadKind::TxnRegister, "w"),
        ] {
            let c = WorkloadConfig { kind, ..cfg(11) };
            let mut seen = HashSet::new();
            let (mut read_only, mut mixed, mut keys, mut txns) = (0, 0, HashSet::new(), 0);
            for w in 0..c.concurrency {
                let mut g = Generator::new(&c, w);
                for _ in 0..400 {
                    let op = g.next_op();
                    txns += 1;
                    assert_eq!(op.f(), "txn");
                    let OpKind::Txn(ops) = &op.kind else {
                        unreachable!()
                    };
                    assert!((2..=4).contains(&ops.len()), "{ops:?}");
                    // The invocation records reads as null, in Elle's shape.
                    let inv = op.invoke_value();
                    for (m, j) in ops.iter().zip(inv.as_array().unwrap()) {
                        keys.insert(m.key().to_string());
                        let f = j[0].as_str().unwrap();
                        assert!(f == "r" || f == writes, "{kind}: {j}");
                        if f == "r" {
                            assert!(j[2].is_null(), "{j}");
                        }
                    }
                    if op.is_read() {
                        read_only += 1;
                    } else if ops.iter().any(MicroOp::is_read) {
                        mixed += 1;
                    }
                    for (k, v) in txn_writes(&op) {
                        assert!(seen.insert((k, v)), "{kind}: value {v} written twice");
                    }
                    g.observe(&op, true, None);
                }
            }
            assert_eq!(keys.len(), c.keys, "{kind}");
            // A quarter are drawn read-only, and short ones read only by chance too; many mix both.
            assert!(
                (txns / 5..txns / 2).contains(&read_only),
                "{kind}: {read_only} of {txns}"
            );
            assert!(mixed > txns / 4, "{kind}: {mixed} of {txns}");
            let values: HashSet<i64> = seen.iter().map(|(_, v)| *v).collect();
            assert_eq!(
                values.len(),
                seen.len(),
                "{kind}: a value written to two keys"
            );
        }
    }
}
