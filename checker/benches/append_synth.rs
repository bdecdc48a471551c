//! A generated list-append history, built directly as a paired `History` (a million ops as events would
//! double the memory before the check even starts). 50 sessions, 16 keys live at a time (as Elle's
//! `max-writes-per-key`, a key is retired after `per_key` appends and a fresh one takes its slot, so reads
//! stay bounded), half appends, half reads, a share of `info` ops (timeouts: an info append takes effect
//! or not; its session continues on a new process id). Each op takes effect at a point inside its
//! interval, so the history is linearizable.

use checker::{Format, History, Op, Outcome};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

pub struct Shape {
    pub ops: usize,
    pub sessions: usize,
    pub keys: usize,
    pub per_key: usize,
    pub info_share: f64,
    /// Share of reads that return a list up to 3 appends short (stale, as an async follower would).
    pub stale_share: f64,
    pub seed: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            ops: 1_000_000,
            sessions: 50,
            keys: 16,
            per_key: 32,
            info_share: 0.05,
            stale_share: 0.0,
            seed: 10,
        }
    }
}

struct Slot {
    name: String,
    list: Vec<i64>,
    appends: usize,
}

pub fn append_history(shape: &Shape) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let mut free_at = vec![0u64; shape.sessions];
    let mut pid: Vec<u64> = (0..shape.sessions as u64).collect();
    let mut next_pid = shape.sessions as u64;
    let mut next_key = shape.keys;
    let mut slots: Vec<Slot> = (0..shape.keys)
        .map(|k| Slot {
            name: format!("k{k}"),
            list: Vec::new(),
            appends: 0,
        })
        .collect();
    // (effect time, op) so that effects apply in time order.
    let mut ops: Vec<(u64, Op, usize, bool)> = Vec::with_capacity(shape.ops);
    for _ in 0..shape.ops {
        let s = (0..shape.sessions).min_by_key(|&s| free_at[s]).unwrap_or(0);
        let start = free_at[s] + rng.gen_range(1_000..20_000);
        let end = start + rng.gen_range(100_000..2_000_000);
        let at = rng.gen_range(start..end);
        let k = rng.gen_range(0..shape.keys);
        let info = rng.gen_bool(shape.info_share);
        let append = rng.gen_bool(0.5);
        let takes_effect = !info || rng.gen_bool(0.5);
        let op = Op {
            process: pid[s],
            f: if append { "append" } else { "read" }.into(),
            key: None,
            value: Value::Null,
            output: Value::Null,
            outcome: if info { Outcome::Info } else { Outcome::Ok },
            invoke_pos: 0,
            complete_pos: None,
            invoke_index: 0,
            complete_index: None,
            invoke_line: 0,
            invoke_time_ns: Some(start),
            complete_time_ns: (!info).then_some(end),
            node: Some(format!("n{}", s % 3 + 1)),
            error: None,
            session: Some(s as u64),
        };
        ops.push((at, op, k, takes_effect));
        free_at[s] = end;
        if info {
            pid[s] = next_pid;
            next_pid += 1;
        }
    }
    // Apply effects in time order; rotate full keys.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_unstable_by_key(|&i| ops[i].0);
    let mut next_value = 1i64;
    for i in order {
        let (_, op, k, takes_effect) = &mut ops[i];
        let slot = &mut slots[*k];
        op.key = Some(slot.name.clone());
        if op.f == "append" {
            op.value = json!(next_value);
            if *takes_effect {
                slot.list.push(next_value);
            }
            next_value += 1;
            slot.appends += 1;
            if slot.appends >= shape.per_key {
                *slot = Slot {
                    name: format!("k{next_key}"),
                    list: Vec::new(),
                    appends: 0,
                };
                next_key += 1;
            }
        } else if op.outcome == Outcome::Ok {
            let short = if rng.gen_bool(shape.stale_share) {
                rng.gen_range(1..=3).min(slot.list.len())
            } else {
                0
            };
            op.output = json!(slot.list[..slot.list.len() - short]);
        }
    }
    // Event positions: invocations and completions in time order.
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(ops.len() * 2);
    for (i, (_, op, _, _)) in ops.iter().enumerate() {
        events.push((op.invoke_time_ns.unwrap_or(0), i, false));
        if let Some(t) = op.complete_time_ns {
            events.push((t, i, true));
        }
    }
    events.sort_unstable();
    let mut ops: Vec<Op> = ops.into_iter().map(|(_, op, _, _)| op).collect();
    for (pos, &(_, i, done)) in events.iter().enumerate() {
        if done {
            ops[i].complete_pos = Some(pos);
            ops[i].complete_index = Some(pos as u64);
        } else {
            ops[i].invoke_pos = pos;
            ops[i].invoke_index = pos as u64;
            ops[i].invoke_line = pos + 1;
        }
    }
    ops.sort_unstable_by_key(|o| o.invoke_pos);
    let open = ops.iter().filter(|o| o.complete_pos.is_none()).count();
    History {
        ops,
        format: Format::Jsonl,
        has_time: true,
        events: events.len(),
        failed_ops: 0,
        named_events: 0,
        open_at_end: open,
        truncated_tail: false,
        from_file: false,
    }
}
