//! Seeded op generators. Each worker has its own generator, so the op mix and the values a worker writes
//! follow from `--seed` and the worker's number alone, whatever the other workers do.

use crate::settings::{WorkloadConfig, WorkloadKind};
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
        }
    }

    /// The invocation's value: null for reads, the value for writes, `[from, to]` for cas.
    pub fn invoke_value(&self) -> Value {
        match self.kind {
            OpKind::Read => Value::Null,
            OpKind::Write(v) | OpKind::Append(v) => json!(v),
            OpKind::Cas { from, to } => json!([from, to]),
        }
    }

    /// Reads have no effect, so a read whose outcome is unknown can be recorded as failed.
    pub fn is_read(&self) -> bool {
        self.kind == OpKind::Read
    }
}

/// One worker's op stream.
pub struct Generator {
    rng: ChaCha8Rng,
    keys: Vec<String>,
    read_share: f64,
    cas_share: f64,
    /// The append workload: every non-read appends.
    append: bool,
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
            next_value: worker as i64 + 1,
            stride: cfg.concurrency.max(1) as i64,
            last_seen: HashMap::new(),
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
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
            // Appends do not feed cas (the append workload has none).
            OpKind::Append(_) => return,
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
                OpKind::Write(_) | OpKind::Append(_) => {}
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
}
