//! A generated register history: linearizable by construction (each op takes effect at the middle of its
//! interval), with leader faults that slow ops down and time some out, and optionally one stale read.
#![allow(dead_code)]

use checker::{Counterexample, Event, EventType, OpSummary, Process};
use report::FaultSpan;
use serde_json::{json, Value};
use std::path::PathBuf;

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone)]
pub struct GenOp {
    pub process: u64,
    pub f: &'static str,
    pub value: Value,
    pub output: Value,
    pub invoke: u64,
    pub complete: u64,
    pub outcome: EventType,
    pub node: &'static str,
}

pub struct Generated {
    pub events: Vec<Event>,
    pub faults: Vec<FaultSpan>,
    pub ops: Vec<GenOp>,
    /// Index into `ops` of the stale read, if one was planted.
    pub stale: Option<usize>,
}

const MS: u64 = 1_000_000;

pub fn faults_for(run_s: f64) -> Vec<FaultSpan> {
    vec![
        FaultSpan::new("partition-leader", run_s * 0.15, Some(run_s * 0.3), ["n1"]),
        FaultSpan::new("kill-leader", run_s * 0.45, Some(run_s * 0.55), ["n2"]),
        FaultSpan::new("pause-leader", run_s * 0.7, Some(run_s * 0.78), ["n3"]),
        FaultSpan::new("partition-follower", run_s * 0.88, None, ["n1"]),
    ]
}

/// About `n` ops from 8 concurrent workers over roughly `run_s` seconds.
pub fn generate(n: usize, run_s: f64, seed: u64, plant_stale_read: bool) -> Generated {
    let workers = 8u64;
    let faults = faults_for(run_s);
    let mut rng = Rng::new(seed);
    let gap = (run_s * 1e9 * workers as f64 / n as f64) as u64;
    let mut ops: Vec<GenOp> = Vec::with_capacity(n);
    let mut next_process = workers;
    for w in 0..workers {
        let mut process = w;
        let mut t = rng.below(gap.max(1));
        for _ in 0..n as u64 / workers {
            let ts = t as f64 / 1e9;
            let in_fault = faults
                .iter()
                .any(|f| f.kind != "partition-follower" && f.contains(ts));
            let mut lat = gap / 2 + rng.below(gap / 2 + 1);
            let mut outcome = EventType::Ok;
            if in_fault && rng.below(4) == 0 {
                // A timeout: the client gives up after a while and its worker continues as a new process.
                lat = 200 * MS + rng.below(300 * MS);
                outcome = EventType::Info;
            } else if in_fault {
                lat *= 3;
            }
            let f = match rng.below(10) {
                0..=4 => "read",
                5..=7 => "write",
                _ => "cas",
            };
            let node = match (ts / run_s * 3.0) as u64 {
                0 => "n1",
                1 => "n2",
                _ => "n3",
            };
            ops.push(GenOp {
                process,
                f,
                value: Value::Null,
                output: Value::Null,
                invoke: t,
                complete: t + lat,
                outcome,
                node,
            });
            if outcome == EventType::Info {
                process = next_process;
                next_process += 1;
            }
            t += lat + rng.below(gap / 4 + 1);
        }
    }
    apply_register(&mut ops, &mut rng);
    let stale = plant_stale_read.then(|| plant(&mut ops, run_s)).flatten();
    let events = to_events(&ops, &faults);
    Generated {
        events,
        faults,
        ops,
        stale,
    }
}

/// Runs the ops against a register at their midpoints, filling in values, read results and cas failures.
fn apply_register(ops: &mut [GenOp], rng: &mut Rng) {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].invoke + ops[i].complete) / 2);
    let mut reg: Value = Value::Null;
    let mut next_value = 1u64;
    for i in order {
        let op = &mut ops[i];
        match op.f {
            "read" => {
                if op.outcome == EventType::Ok {
                    op.output = reg.clone();
                }
            }
            "write" => {
                op.value = json!(next_value);
                next_value += 1;
                reg = op.value.clone();
            }
            _ => {
                // Half the cas ops expect the current value; the others a stale one and fail.
                let from = if rng.below(2) == 0 {
                    reg.clone()
                } else {
                    json!(next_value + 1_000_000)
                };
                op.value = json!([from.clone(), next_value]);
                next_value += 1;
                if from == reg && !reg.is_null() {
                    reg = op.value[1].clone();
                } else if op.outcome == EventType::Ok {
                    op.outcome = EventType::Fail;
                }
            }
        }
    }
}

/// Makes one ok read during the first fault return a value overwritten before it was invoked.
fn plant(ops: &mut [GenOp], run_s: f64) -> Option<usize> {
    let mut writes: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].f == "write" && ops[i].outcome == EventType::Ok)
        .collect();
    writes.sort_by_key(|&i| ops[i].invoke);
    let target = (run_s * 0.2 * 1e9) as u64;
    let read = (0..ops.len())
        .filter(|&i| ops[i].f == "read" && ops[i].outcome == EventType::Ok)
        .min_by_key(|&i| ops[i].invoke.abs_diff(target))?;
    let r_inv = ops[read].invoke;
    // Two writes in real-time order (a completed before b invoked), b completed before the read.
    let pair = writes.windows(2).rev().find(|w| {
        let (a, b) = (&ops[w[0]], &ops[w[1]]);
        a.complete < b.invoke && b.complete < r_inv
    })?;
    ops[read].output = ops[pair[0]].value.clone();
    Some(read)
}

fn to_events(ops: &[GenOp], faults: &[FaultSpan]) -> Vec<Event> {
    let mut raw: Vec<(u64, u8, Event)> = Vec::with_capacity(ops.len() * 2 + 8);
    let ev = |time, process, kind, f: &str, value, node: Option<&str>| Event {
        index: 0,
        time,
        process,
        kind,
        f: f.to_string(),
        key: None,
        value,
        node: node.map(str::to_string),
        error: None,
        session: None,
    };
    for o in ops {
        let p = Process::Client(o.process);
        let v = if o.f == "read" {
            Value::Null
        } else {
            o.value.clone()
        };
        raw.push((
            o.invoke,
            1,
            ev(o.invoke, p.clone(), EventType::Invoke, o.f, v, None),
        ));
        let out = match (o.f, o.outcome) {
            ("read", EventType::Ok) => o.output.clone(),
            ("read", _) => Value::Null,
            _ => o.value.clone(),
        };
        let node = (o.outcome != EventType::Info).then_some(o.node);
        raw.push((o.complete, 0, ev(o.complete, p, o.outcome, o.f, out, node)));
    }
    let nem = Process::Named("nemesis".into());
    for f in faults {
        let v = json!({"fault": f.kind, "isolated": f.targets, "role": "leader"});
        let t = (f.start_s * 1e9) as u64;
        raw.push((
            t,
            2,
            ev(t, nem.clone(), EventType::Info, "start-partition", v, None),
        ));
        if let Some(e) = f.end_s {
            let t = (e * 1e9) as u64;
            raw.push((
                t,
                2,
                ev(
                    t,
                    nem.clone(),
                    EventType::Info,
                    "stop-partition",
                    json!({}),
                    None,
                ),
            ));
        }
    }
    // Completions before invocations at the same instant, as a recorder would see them.
    raw.sort_by_key(|(t, k, _)| (*t, *k));
    raw.into_iter()
        .enumerate()
        .map(|(i, (_, _, mut e))| {
            e.index = i as u64;
            e
        })
        .collect()
}

fn summary(o: &GenOp) -> OpSummary {
    OpSummary {
        process: o.process.to_string(),
        f: o.f.to_string(),
        key: None,
        value: if o.f == "read" {
            Value::Null
        } else {
            o.value.clone()
        },
        output: o.output.clone(),
        invoke_time_ns: o.invoke,
        complete_time_ns: Some(o.complete),
        outcome: if o.outcome == EventType::Ok {
            "ok"
        } else {
            "info"
        }
        .into(),
        invoke_index: o.invoke,
        complete_index: Some(o.complete),
        node: Some(o.node.to_string()),
    }
}

/// A hand-made counterexample around op `i` (for histories too big to check in a test).
pub fn counterexample_at(g: &Generated, i: usize) -> Counterexample {
    let r = &g.ops[i];
    let window: Vec<OpSummary> = g
        .ops
        .iter()
        .enumerate()
        .filter(|(j, o)| *j != i && o.invoke < r.complete && o.complete > r.invoke)
        .filter(|(_, o)| o.outcome != EventType::Fail)
        .take(30)
        .map(|(_, o)| summary(o))
        .collect();
    Counterexample {
        key: None,
        explanation: format!(
            "read by process {} returned {} but that value was overwritten before it was invoked",
            r.process, r.output
        ),
        sentence: None,
        op: summary(r),
        prefix: Vec::new(),
        prefix_len: 0,
        state: "9".into(),
        window,
    }
}

/// `<workspace>/target/test-output/report/`, created.
pub fn output_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-output/report");
    std::fs::create_dir_all(&d).unwrap();
    d
}
