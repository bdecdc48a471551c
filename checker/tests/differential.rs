//! The checker against a brute-force checker (every order that respects real time, every subset of the
//! `info` ops) on small random histories, with one key and with several (partitioned) keys.

use checker::{
    check, parse_events, try_check_with, CheckOptions, Event, EventType, Method, Methods,
    ModelKind, Process, Validity,
};
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

/// A register value: JSON null is the absent (initial) value.
fn bval(v: &Value) -> BVal {
    if v.is_null() {
        BVal::Nil
    } else {
        BVal::V(v.clone())
    }
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
        "write" => bval(&op.e.value),
        "cas" => {
            let from = bval(&op.e.value[0]);
            if cur == from {
                bval(&op.e.value[1])
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
        "put" => BVal::S(op.e.value.as_str().unwrap_or("").to_string()),
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

/// The verdict with the given methods, and the method that decided the (single) key.
fn verdict_with(evs: &[Event], model: ModelKind, methods: Methods) -> (Validity, Option<Method>) {
    let h = parse_events(evs).expect("generated histories parse");
    let opts = CheckOptions {
        threads: 1,
        ..CheckOptions::default()
    };
    let r = try_check_with(&h, model, &opts, methods).expect("generated histories encode");
    if r.valid == Validity::Invalid {
        let c = r
            .counterexample
            .as_ref()
            .expect("invalid verdicts carry a counterexample");
        assert!(!c.explanation.is_empty());
    }
    (r.valid, r.per_key.first().map(|k| k.method))
}

/// One planned op of a generated history with unique written values, on key "k".
#[derive(Debug, Clone)]
struct Plan {
    f: &'static str,
    inv: Value,
    out: Value,
    kind: EventType,
    start: u16,
    len: u16,
    /// An info op left open at the end instead of completing.
    open: bool,
}

fn plan_events(plans: &[Plan]) -> Vec<Event> {
    let mut evs: Vec<(u32, Event)> = Vec::new();
    for (p, o) in plans.iter().enumerate() {
        let mk = |time: u32, kind, value| Event {
            index: 0,
            time: time as u64,
            process: Process::Client(p as u64),
            kind,
            f: o.f.to_string(),
            key: Some("k".to_string()),
            value,
            node: None,
            error: None,
            session: None,
        };
        let (t0, t1) = slot_times(o.start, o.len, p);
        evs.push((t0, mk(t0, EventType::Invoke, o.inv.clone())));
        if !o.open {
            let v = if o.kind == EventType::Ok {
                o.out.clone()
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

/// Distinct invocation and completion times of op `p` (as `events` lays them out).
fn slot_times(start: u16, len: u16, p: usize) -> (u32, u32) {
    (
        (start as u32 * 2) * 64 + p as u32,
        ((start + len) as u32 * 2 + 1) * 64 + p as u32,
    )
}

/// Raw choices per op: f, start, len, outcome, linearization point, whether an info op took effect,
/// a mutation roll and a pick.
type Raw = (u8, u16, u16, u8, u16, bool, u8, u8);

fn raw_ops(max: usize) -> impl Strategy<Value = Vec<Raw>> {
    prop::collection::vec(
        (
            0u8..3,
            0u16..16,
            1u16..8,
            0u8..5,
            0u16..1000,
            any::<bool>(),
            any::<u8>(),
            any::<u8>(),
        ),
        1..max,
    )
}

/// Orders ops by a point drawn inside each interval, to simulate a correct object.
fn lin_order(raw: &[Raw]) -> Vec<usize> {
    let mut order: Vec<(u32, usize)> = raw
        .iter()
        .enumerate()
        .map(|(p, r)| {
            let (t0, t1) = slot_times(r.1, r.2, p);
            (t0 + 1 + (t1 - t0 - 1) * r.4 as u32 / 1000, p)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, p)| p).collect()
}

fn kind_of(k: u8) -> EventType {
    match k {
        0..=2 => EventType::Ok,
        3 => EventType::Info,
        _ => EventType::Fail,
    }
}

/// A register history with unique written values, mostly produced by a correct register, with a
/// share of mutations (a wrong read, a cas that should have failed, a write of nil, cas from nil or
/// from a value nobody wrote).
fn unique_register(raw: Vec<Raw>) -> Vec<Plan> {
    let n = raw.len();
    let mut plans: Vec<Option<Plan>> = vec![None; n];
    let mut state = Value::Null;
    let value_of = |i: usize| json!(i as i64 + 1);
    for p in lin_order(&raw) {
        let (f, start, len, kind, _, effect, roll, pick) = raw[p];
        let mut kind = kind_of(kind);
        let other = match pick % 3 {
            0 => Value::Null,
            1 => value_of(pick as usize / 3 % n),
            _ => json!(99),
        };
        let happens = kind == EventType::Ok || (kind == EventType::Info && effect);
        let (f, inv, out) = match f {
            0 => {
                let out = if roll % 5 == 0 { other } else { state.clone() };
                ("read", Value::Null, out)
            }
            1 => {
                let v = if roll % 10 == 1 {
                    Value::Null
                } else {
                    value_of(p)
                };
                if happens {
                    state = v.clone();
                }
                ("write", v.clone(), v)
            }
            _ => {
                let from = if pick % 2 == 0 { state.clone() } else { other };
                let to = if roll % 10 == 1 {
                    Value::Null
                } else {
                    value_of(p)
                };
                let matches = state == from;
                if kind == EventType::Ok && !matches && roll % 7 != 0 {
                    kind = EventType::Fail;
                }
                if happens && matches {
                    state = to.clone();
                }
                let v = json!([from, to]);
                ("cas", v.clone(), v)
            }
        };
        plans[p] = Some(Plan {
            f,
            inv,
            out,
            kind,
            start,
            len,
            open: kind == EventType::Info && start % 3 == 0,
        });
    }
    plans.into_iter().flatten().collect()
}

/// A string history (get/put/append) with unique values, mostly produced by a correct object, with
/// mutations of what gets return; some values are prefixes of others, so splits can be ambiguous.
fn unique_text(raw: Vec<Raw>) -> Vec<Plan> {
    let n = raw.len();
    let mut plans: Vec<Option<Plan>> = vec![None; n];
    let mut state = String::new();
    for p in lin_order(&raw) {
        let (f, start, len, kind, _, effect, roll, pick) = raw[p];
        let kind = kind_of(kind);
        let happens = kind == EventType::Ok || (kind == EventType::Info && effect);
        let value = if roll % 9 == 0 {
            ["a", "aa", "b"][pick as usize % 3].to_string()
        } else if roll % 11 == 0 {
            // The same string as another op's (porcupine's data repeats appends).
            format!("a{};", pick as usize % n)
        } else {
            format!("{}{p};", if f == 1 { "p" } else { "a" })
        };
        let (f, inv, out) = match f {
            0 => {
                let out = match roll % 6 {
                    0 => String::new(),
                    1 => state.chars().rev().collect(),
                    2 => format!("{state}a{};", pick as usize % n),
                    _ => state.clone(),
                };
                ("get", Value::Null, json!(out))
            }
            1 => {
                if happens {
                    state = value.clone();
                }
                ("put", json!(value), json!(value))
            }
            _ => {
                if happens {
                    state.push_str(&value);
                }
                ("append", json!(value), json!(value))
            }
        };
        plans[p] = Some(Plan {
            f,
            inv,
            out,
            kind,
            start,
            len,
            open: kind == EventType::Info && start % 3 == 0,
        });
    }
    plans.into_iter().flatten().collect()
}

/// Search, inference (where it decides) and the brute force agree.
fn three_way(evs: &[Event], model: ModelKind) -> Result<Option<Method>, TestCaseError> {
    let want = if brute_force(evs) {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    let (search, _) = verdict_with(evs, model, Methods::SearchOnly);
    prop_assert_eq!(search, want, "search: {:#?}", evs);
    let (inferred, method) = verdict_with(evs, model, Methods::InferenceOnly);
    if inferred != Validity::Unknown {
        prop_assert_eq!(inferred, want, "inference: {:#?}", evs);
    }
    let (auto, auto_method) = verdict_with(evs, model, Methods::Auto);
    prop_assert_eq!(auto, want, "auto: {:#?}", evs);
    Ok(if inferred == Validity::Unknown {
        auto_method
    } else {
        method
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn register_inference_agrees_with_search_and_brute_force(raw in raw_ops(9)) {
        three_way(&plan_events(&unique_register(raw)), ModelKind::CasRegister)?;
    }

    #[test]
    fn text_inference_agrees_with_search_and_brute_force(raw in raw_ops(9)) {
        three_way(&plan_events(&unique_text(raw)), ModelKind::Kv)?;
    }

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
    assert_eq!(r.per_key[0].method, Method::Inference);
    let c = r.counterexample.unwrap();
    // The search finds the same story, after the longest prefix it could linearize.
    let s = try_check_with(
        &h,
        ModelKind::Kv,
        &CheckOptions::default(),
        Methods::SearchOnly,
    )
    .unwrap();
    assert_eq!(s.per_key[0].method, Method::Search);
    let sc = s.counterexample.unwrap();
    assert_eq!(sc.prefix_len, 2);
    assert_eq!(sc.explanation, c.explanation);
    assert_eq!(c.key.as_deref(), Some("k2"));
    assert_eq!(c.op.f, "read");
    assert_eq!(c.op.node.as_deref(), Some("n3"));
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

/// The generators above must mostly produce histories that inference decides, valid and invalid,
/// or the agreement tests prove little.
#[test]
fn inference_decides_most_generated_histories() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for (name, model) in [
        ("register", ModelKind::CasRegister),
        ("text", ModelKind::Kv),
    ] {
        let mut counts = std::collections::HashMap::new();
        for _ in 0..1500 {
            let raw = raw_ops(9).new_tree(&mut runner).unwrap().current();
            let plans = if name == "register" {
                unique_register(raw)
            } else {
                unique_text(raw)
            };
            let (v, m) = verdict_with(&plan_events(&plans), model, Methods::Auto);
            *counts.entry((m, v)).or_insert(0usize) += 1;
        }
        let by = |m, v| counts.get(&(Some(m), v)).copied().unwrap_or(0);
        eprintln!("{name}: {counts:?}");
        assert!(
            by(Method::Inference, Validity::Valid) > 300,
            "{name}: {counts:?}"
        );
        assert!(
            by(Method::Inference, Validity::Invalid) > 150,
            "{name}: {counts:?}"
        );
        // Non-unique values (and ambiguous splits) fall back to the search.
        if name == "register" {
            assert!(
                by(Method::Search, Validity::Valid) + by(Method::Search, Validity::Invalid) > 10,
                "{name}: {counts:?}"
            );
        }
    }
}
