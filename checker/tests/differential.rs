//! The checker against a brute-force checker (every order that respects real time, every subset of the
//! `info` ops) on small random histories, with one key and with several (partitioned) keys.

use checker::{check, parse_events, CheckOptions, Event, EventType, ModelKind, Process, Validity};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One generated op: `f`, key, the written/cas value, the result (for reads), and its outcome.
#[derive(Debug, Clone)]
struct GenOp {
    f: &'static str,
    key: u8,
    arg: i64,
    arg2: i64,
    read: Option<i64>,
    kind: EventType,
    /// Invocation and completion slots; the events are sorted by slot.
    start: u16,
    len: u16,
}

fn gen_op(kv: bool) -> impl Strategy<Value = GenOp> {
    let f = if kv {
        prop::sample::select(vec!["read", "write", "cas", "get", "append"])
    } else {
        prop::sample::select(vec!["read", "write", "cas"])
    };
    (
        f,
        0u8..2,
        0i64..3,
        0i64..3,
        prop::option::of(0i64..3),
        prop::sample::select(vec![
            EventType::Ok,
            EventType::Ok,
            EventType::Ok,
            EventType::Info,
            EventType::Fail,
        ]),
        0u16..20,
        1u16..8,
    )
        .prop_map(|(f, key, arg, arg2, read, kind, start, len)| GenOp {
            f,
            key,
            arg,
            arg2,
            read,
            kind,
            start,
            len,
        })
}

/// Builds JSONL-style events: each op on its own process; the times order invocations and completions.
fn events(ops: &[GenOp], multi_key: bool) -> Vec<Event> {
    let mut evs: Vec<(u32, Event)> = Vec::new();
    for (p, o) in ops.iter().enumerate() {
        let key = Some(if multi_key {
            format!("k{}", o.key)
        } else {
            "k".to_string()
        });
        let (inv_value, ok_value): (Value, Value) = match o.f {
            "read" => (Value::Null, o.read.map_or(Value::Null, |v| json!(v))),
            "write" => (json!(o.arg), json!(o.arg)),
            "cas" => (json!([o.arg, o.arg2]), json!([o.arg, o.arg2])),
            "get" => (
                Value::Null,
                json!(["", "a", "b", "ab", "ba", "aa"][o.read.map_or(0, |v| v as usize + 1)]),
            ),
            _ => (
                json!(["a", "b", "a"][o.arg as usize]),
                json!(["a", "b", "a"][o.arg as usize]),
            ),
        };
        let mk = |time: u32, kind, value| Event {
            index: 0,
            time: time as u64,
            process: Process::Client(p as u64),
            kind,
            f: o.f.to_string(),
            key: key.clone(),
            value,
            node: None,
            error: None,
            session: None,
        };
        // Distinct times: slot * 64 + op number, invocation slots even, completions odd.
        let t0 = (o.start as u32 * 2) * 64 + p as u32;
        let t1 = ((o.start + o.len) as u32 * 2 + 1) * 64 + p as u32;
        evs.push((t0, mk(t0, EventType::Invoke, inv_value)));
        if !(o.kind == EventType::Info && o.start % 3 == 0) {
            // Some info ops stay open to the end instead of completing.
            let v = if o.kind == EventType::Ok {
                ok_value
            } else {
                Value::Null
            };
            evs.push((t1, mk(t1, o.kind, v)));
        }
    }
    evs.sort_by_key(|(t, _)| *t);
    evs.into_iter()
        .enumerate()
        .map(|(i, (_, mut e))| {
            e.index = i as u64;
            e
        })
        .collect()
}

/// An op for the brute force: interval and semantics on a map of keys.
struct BOp {
    call: u64,
    ret: Option<u64>,
    e: Event,
    out: Value,
}

#[derive(Clone, Debug, PartialEq)]
enum BVal {
    Nil,
    V(Value),
    S(String),
}

fn apply(state: &BTreeMap<String, BVal>, op: &BOp) -> Option<BTreeMap<String, BVal>> {
    let key = op.e.key.clone().unwrap_or_default();
    let cur = state.get(&key).cloned().unwrap_or(BVal::Nil);
    let known = op.ret.is_some();
    let next = match op.e.f.as_str() {
        "read" => {
            let want = if op.out.is_null() {
                BVal::Nil
            } else {
                BVal::V(op.out.clone())
            };
            return (!known || cur == want).then(|| state.clone());
        }
        "write" => BVal::V(op.e.value.clone()),
        "cas" => {
            let from = BVal::V(op.e.value[0].clone());
            if cur == from {
                BVal::V(op.e.value[1].clone())
            } else if known {
                return None;
            } else {
                cur
            }
        }
        "get" => {
            let s = match &cur {
                BVal::Nil => String::new(),
                BVal::S(s) => s.clone(),
                BVal::V(_) => return (!known).then(|| state.clone()),
            };
            return (!known || op.out.as_str() == Some(s.as_str())).then(|| state.clone());
        }
        "append" => {
            let mut s = match cur {
                BVal::S(s) => s,
                _ => String::new(),
            };
            s.push_str(op.e.value.as_str().unwrap_or(""));
            BVal::S(s)
        }
        other => panic!("unexpected f {other}"),
    };
    let mut s = state.clone();
    s.insert(key, next);
    Some(s)
}

/// Is there an order of all ok ops and some info ops, respecting real time, that the map accepts?
fn brute_force(evs: &[Event]) -> bool {
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ops: Vec<BOp> = Vec::new();
    let mut failed = Vec::new();
    for e in evs {
        let Process::Client(p) = e.process else {
            continue;
        };
        match e.kind {
            EventType::Invoke => {
                open.insert(p, ops.len());
                ops.push(BOp {
                    call: e.time,
                    ret: None,
                    e: e.clone(),
                    out: Value::Null,
                });
            }
            EventType::Ok => {
                let i = open.remove(&p).unwrap();
                ops[i].ret = Some(e.time);
                ops[i].out = e.value.clone();
            }
            EventType::Fail => failed.push(open.remove(&p).unwrap()),
            EventType::Info => {
                open.remove(&p);
            }
        }
    }
    let ops: Vec<BOp> = ops
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !failed.contains(i))
        .map(|(_, o)| o)
        .collect();
    let mut placed = vec![false; ops.len()];
    dfs(&ops, &mut placed, &BTreeMap::new())
}

fn dfs(ops: &[BOp], placed: &mut [bool], state: &BTreeMap<String, BVal>) -> bool {
    if ops
        .iter()
        .zip(placed.iter())
        .all(|(o, p)| *p || o.ret.is_none())
    {
        return true;
    }
    for i in 0..ops.len() {
        if placed[i] {
            continue;
        }
        // Every unplaced ok op that returned before i was invoked must come first.
        let ready = ops
            .iter()
            .zip(placed.iter())
            .all(|(o, p)| *p || o.ret.is_none_or(|r| r > ops[i].call));
        if !ready {
            continue;
        }
        if let Some(next) = apply(state, &ops[i]) {
            placed[i] = true;
            let found = dfs(ops, placed, &next);
            placed[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

fn verdict(evs: &[Event], model: ModelKind) -> Validity {
    let h = parse_events(evs).expect("generated histories parse");
    let r = check(
        &h,
        model,
        &CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        },
    );
    if r.valid == Validity::Invalid {
        assert!(r.counterexample.is_some());
    }
    r.valid
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn one_register_agrees_with_brute_force(ops in prop::collection::vec(gen_op(false), 1..8)) {
        let evs = events(&ops, false);
        let want = if brute_force(&evs) { Validity::Valid } else { Validity::Invalid };
        prop_assert_eq!(verdict(&evs, ModelKind::CasRegister), want, "{:#?}", evs);
    }

    #[test]
    fn partitioned_kv_agrees_with_brute_force(ops in prop::collection::vec(gen_op(true), 1..9)) {
        let evs = events(&ops, true);
        let want = if brute_force(&evs) { Validity::Valid } else { Validity::Invalid };
        prop_assert_eq!(verdict(&evs, ModelKind::Kv), want, "{:#?}", evs);
    }
}

#[test]
fn a_stale_read_is_caught_and_explained() {
    let w = |i, t, kind, v: Value| Event {
        index: i,
        time: t,
        process: Process::Client(i / 2),
        kind,
        f: "write".into(),
        key: Some("k2".into()),
        value: v,
        node: None,
        error: None,
        session: None,
    };
    let mut evs = vec![
        w(0, 1_000_000_000, EventType::Invoke, json!(4)),
        w(1, 1_100_000_000, EventType::Ok, json!(4)),
        w(2, 2_000_000_000, EventType::Invoke, json!(9)),
        w(3, 3_200_000_000, EventType::Ok, json!(9)),
    ];
    evs.push(Event {
        index: 4,
        time: 3_410_000_000,
        process: Process::Client(7),
        kind: EventType::Invoke,
        f: "read".into(),
        key: Some("k2".into()),
        value: Value::Null,
        node: None,
        error: None,
        session: None,
    });
    evs.push(Event {
        index: 5,
        time: 3_450_000_000,
        process: Process::Client(7),
        kind: EventType::Ok,
        f: "read".into(),
        key: Some("k2".into()),
        value: json!(4),
        node: Some("n3".into()),
        error: None,
        session: None,
    });
    let h = parse_events(&evs).unwrap();
    let r = check(&h, ModelKind::Kv, &CheckOptions::default());
    assert_eq!(r.valid, Validity::Invalid);
    let c = r.counterexample.unwrap();
    assert_eq!(c.key.as_deref(), Some("k2"));
    assert_eq!(c.op.f, "read");
    assert_eq!(c.op.node.as_deref(), Some("n3"));
    assert_eq!(c.prefix_len, 2);
    assert!(
        c.explanation
            .contains("read of k2 by process 7 at 3.41 s returned 4"),
        "{}",
        c.explanation
    );
    assert!(
        c.explanation
            .contains("write 9 to k2 by process 1 completed at 3.20 s"),
        "{}",
        c.explanation
    );
}
