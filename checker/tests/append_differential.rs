//! The list-append inference (`checker::append`) against the exhaustive search with the list-append
//! model: the same linearizability verdict on thousands of small random histories with `info` and `fail`
//! ops. Reads come from a simulated run (a linearization point inside each op's interval), sometimes
//! distorted, so that both verdicts occur often.

use checker::{
    check, check_model, parse_events, CheckOptions, Event, EventType, ListAppendModel, ModelKind,
    Process, Validity,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Spec {
    append: bool,
    key: u8,
    kind: EventType,
    start: u16,
    len: u16,
    /// Where in its interval the op takes effect, in eighths.
    at: u8,
    /// An info append that takes effect (else it never does).
    happens: bool,
    /// 0..=3 distort a read's result; more leaves it true.
    distort: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        0u8..2,
        prop::sample::select(vec![
            EventType::Ok,
            EventType::Ok,
            EventType::Ok,
            EventType::Info,
            EventType::Fail,
        ]),
        0u16..16,
        1u16..7,
        1u8..8,
        any::<bool>(),
        0u8..7,
    )
        .prop_map(
            |(append, key, kind, start, len, at, happens, distort)| Spec {
                append,
                key,
                kind,
                start,
                len,
                at,
                happens,
                distort,
            },
        )
}

fn random_spec(rng: &mut impl Rng) -> Spec {
    Spec {
        append: rng.gen(),
        key: rng.gen_range(0..2),
        kind: [
            EventType::Ok,
            EventType::Ok,
            EventType::Ok,
            EventType::Info,
            EventType::Fail,
        ][rng.gen_range(0..5)],
        start: rng.gen_range(0..16),
        len: rng.gen_range(1..7),
        at: rng.gen_range(1..8),
        happens: rng.gen(),
        distort: rng.gen_range(0..7),
    }
}

/// Simulates the ops in order of their effect points and records events, each op on its own process.
fn events(specs: &[Spec]) -> Vec<Event> {
    events_with(specs, true)
}

/// As [`events`]; `open_info`: some info ops stay open to the end instead of completing.
fn events_with(specs: &[Spec], open_info: bool) -> Vec<Event> {
    let times: Vec<(u64, u64, u64)> = specs
        .iter()
        .enumerate()
        .map(|(p, s)| {
            let t0 = (s.start as u64 * 2) * 64 + p as u64;
            let t1 = ((s.start + s.len) as u64 * 2 + 1) * 64 + p as u64;
            (t0, t1, t0 + (t1 - t0) * s.at as u64 / 8)
        })
        .collect();
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| (times[i].2, i));
    let mut lists: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
    let mut outputs: Vec<Value> = vec![Value::Null; specs.len()];
    for &i in &order {
        let s = &specs[i];
        let list = &mut lists[s.key as usize];
        if s.append {
            let applies = s.kind == EventType::Ok || (s.kind == EventType::Info && s.happens);
            if applies {
                list.push(i as i64 + 1);
            }
            continue;
        }
        let mut got = list.clone();
        match s.distort {
            0 => {
                got.pop();
            }
            1 if got.len() >= 2 => got.swap(0, 1),
            2 if !got.is_empty() => {
                got.remove(0);
            }
            // A value appended to the key later (or never).
            3 => got.push(specs.len() as i64 - i as i64),
            _ => {}
        }
        outputs[i] = if got.is_empty() && s.at.is_multiple_of(2) {
            Value::Null
        } else {
            json!(got)
        };
    }
    let mut evs: Vec<(u64, Event)> = Vec::new();
    for (p, s) in specs.iter().enumerate() {
        let (t0, t1, _) = times[p];
        let f = if s.append { "append" } else { "read" };
        let mk = |time: u64, kind, value| Event {
            index: 0,
            time,
            process: Process::Client(p as u64),
            kind,
            f: f.to_string(),
            key: Some(format!("k{}", s.key)),
            value,
            node: None,
            error: None,
            session: None,
        };
        let inv = if s.append {
            json!(p as i64 + 1)
        } else {
            Value::Null
        };
        evs.push((t0, mk(t0, EventType::Invoke, inv.clone())));
        if open_info && s.kind == EventType::Info && s.start % 3 == 0 {
            continue; // open until the end
        }
        let v = match (s.append, s.kind) {
            (_, EventType::Fail | EventType::Info) => Value::Null,
            (true, _) => inv,
            (false, _) => outputs[p].clone(),
        };
        evs.push((t1, mk(t1, s.kind, v)));
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

fn opts() -> CheckOptions {
    CheckOptions {
        time_limit: None,
        memory_limit_bytes: None,
        threads: 1,
    }
}

/// (inference, search) verdicts.
fn verdicts(specs: &[Spec]) -> (Validity, Validity) {
    let h = parse_events(&events(specs)).expect("generated histories parse");
    let inferred = check(&h, ModelKind::ListAppend, &opts()).valid;
    let searched = check_model(&h, ListAppendModel::new(), &opts())
        .expect("the search encodes every op")
        .valid;
    (inferred, searched)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn inference_agrees_with_search(specs in prop::collection::vec(spec(), 1..10)) {
        let (inferred, searched) = verdicts(&specs);
        prop_assert_eq!(inferred, searched, "{:#?}", events(&specs));
    }
}

/// The generator gives both verdicts often, so agreement is not trivial.
#[test]
fn random_histories_are_both_valid_and_invalid() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(10);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..2000 {
        let n = rng.gen_range(1..10);
        let specs: Vec<Spec> = (0..n).map(|_| random_spec(&mut rng)).collect();
        let (inferred, searched) = verdicts(&specs);
        assert_eq!(inferred, searched, "{:#?}", events(&specs));
        match inferred {
            Validity::Valid => valid += 1,
            _ => invalid += 1,
        }
    }
    assert!(
        valid > 300 && invalid > 300,
        "valid {valid}, invalid {invalid}"
    );
}

/// An op of a session (0..3): sessions run one op at a time, and continue on a new process after
/// `info`. The op's `start` is taken as the gap after the session's previous op.
fn session_spec() -> impl Strategy<Value = (u8, Spec)> {
    (0u8..3, spec())
}

/// Lays the sessions' ops out in time and turns them into independent ops for [`events`], then sets
/// each event's process and session.
fn session_events(specs: &[(u8, Spec)]) -> Vec<Event> {
    let mut clock = [0u16; 3];
    let mut proc_of = [0u64, 100, 200];
    let mut flat = Vec::new();
    let mut who = Vec::new();
    for (session, s) in specs {
        let c = &mut clock[*session as usize];
        let start = *c + s.start % 4;
        *c = start + s.len + 1;
        flat.push(Spec { start, ..s.clone() });
        who.push((proc_of[*session as usize], *session as u64));
        if s.kind == EventType::Info {
            proc_of[*session as usize] += 1;
        }
    }
    // Every info op completes (as info), so that a session's next op starts after it.
    let evs = events_with(&flat, false);
    evs.into_iter()
        .map(|mut e| {
            let Process::Client(p) = e.process else {
                return e;
            };
            let (process, session) = who[p as usize];
            e.process = Process::Client(process);
            e.session = Some(session);
            e
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Linearizability implies every session guarantee, and the inference still agrees with the search
    /// when ops share sessions.
    #[test]
    fn session_guarantees_follow_from_linearizability(specs in prop::collection::vec(session_spec(), 1..10)) {
        let evs = session_events(&specs);
        let h = parse_events(&evs).expect("generated histories parse");
        let r = checker::append::check_append(&h, &Default::default()).expect("well formed");
        let searched = check_model(&h, ListAppendModel::new(), &opts()).expect("encodes").valid;
        prop_assert_eq!(r.guarantees.linearizable == checker::Validity::Valid, searched == Validity::Valid, "{:#?}", evs);
        if r.guarantees.linearizable == checker::Validity::Valid {
            let g = &r.guarantees;
            prop_assert!(
                g.read_your_writes == checker::Validity::Valid
                    && g.monotonic_reads == checker::Validity::Valid
                    && g.monotonic_writes == checker::Validity::Valid
                    && g.writes_follow_reads == checker::Validity::Valid,
                "{:#?}\n{:#?}", r.violations, evs
            );
        }
    }
}

/// The session generator does produce session-guarantee violations, so the implication above is tested.
#[test]
fn session_histories_break_session_guarantees_often() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(session_spec(), 1..10);
    let mut broken = 0;
    for _ in 0..1000 {
        let specs = strategy.new_tree(&mut runner).expect("value").current();
        let h = parse_events(&session_events(&specs)).expect("parses");
        let r = checker::append::check_append(&h, &Default::default()).expect("well formed");
        let g = &r.guarantees;
        if [
            g.read_your_writes,
            g.monotonic_reads,
            g.monotonic_writes,
            g.writes_follow_reads,
        ]
        .contains(&checker::Validity::Invalid)
        {
            broken += 1;
        }
    }
    assert!(
        broken > 30,
        "only {broken} of 1000 histories broke a session guarantee"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Sessions whose ops overlap (not what our workers do, but a history may hold it): linearizability
    /// still implies every session guarantee, and nothing panics.
    #[test]
    fn overlapping_sessions_keep_the_implication(
        specs in prop::collection::vec((0u64..3, spec()), 1..10),
    ) {
        let flat: Vec<Spec> = specs.iter().map(|(_, s)| s.clone()).collect();
        let evs: Vec<Event> = events(&flat)
            .into_iter()
            .map(|mut e| {
                if let Process::Client(p) = e.process {
                    e.session = Some(specs[p as usize].0);
                }
                e
            })
            .collect();
        let h = parse_events(&evs).expect("generated histories parse");
        let r = checker::append::check_append(&h, &Default::default()).expect("well formed");
        if r.guarantees.linearizable == checker::Validity::Valid {
            let g = &r.guarantees;
            prop_assert!(
                g.read_your_writes == checker::Validity::Valid
                    && g.monotonic_reads == checker::Validity::Valid
                    && g.monotonic_writes == checker::Validity::Valid
                    && g.writes_follow_reads == checker::Validity::Valid,
                "{:#?}\n{:#?}", r.violations, evs
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Arbitrary lists (repeated values, values nobody appended) and repeated appends: an answer or a
    /// clear error, never a panic; the inference still matches the search when it answers.
    #[test]
    fn garbage_gets_an_answer_or_an_error(
        ops in prop::collection::vec(
            (0u64..3, any::<bool>(), 0i64..5, prop::collection::vec(0i64..5, 0..5), 0u16..12, 1u16..5),
            1..9,
        ),
    ) {
        let mut evs: Vec<(u64, Event)> = Vec::new();
        for (p, (session, append, v, list, start, len)) in ops.iter().enumerate() {
            let ev = |t: u64, kind, value| Event {
                index: 0,
                time: t,
                process: Process::Client(p as u64),
                kind,
                f: if *append { "append" } else { "read" }.into(),
                key: Some("k".into()),
                value,
                node: None,
                error: None,
                session: Some(*session),
            };
            let t0 = *start as u64 * 16 + p as u64;
            let t1 = (*start + *len) as u64 * 16 + 8 + p as u64;
            let (inv, out) = if *append { (json!(v), json!(v)) } else { (Value::Null, json!(list)) };
            evs.push((t0, ev(t0, EventType::Invoke, inv)));
            evs.push((t1, ev(t1, EventType::Ok, out)));
        }
        evs.sort_by_key(|(t, _)| *t);
        let evs: Vec<Event> = evs.into_iter().enumerate().map(|(i, (_, mut e))| { e.index = i as u64; e }).collect();
        let h = parse_events(&evs).expect("parses");
        match checker::append::check_append(&h, &Default::default()) {
            Ok(r) => {
                let searched = check_model(&h, ListAppendModel::new(), &opts()).expect("encodes").valid;
                prop_assert_eq!(r.guarantees.linearizable == checker::Validity::Valid, searched == Validity::Valid, "{:#?}", evs);
            }
            Err(e) => prop_assert!(e.to_string().contains("again"), "{e}"),
        }
    }
}
