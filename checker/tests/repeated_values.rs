//! Issue 24: histories whose values repeat. Inference cannot name the write each read saw, but it
//! still rules out reads no write can explain (stale, from the future, unwritten); the rest goes to
//! the search, whose verdicts these compare.

#[path = "../benches/synth.rs"]
#[allow(dead_code)]
mod synth;

use checker::{
    check, parse_events, try_check_with, CheckOptions, Event, EventType, Method, Methods,
    ModelKind, Process, Validity,
};
use serde_json::{json, Value};

fn opts() -> CheckOptions {
    CheckOptions {
        threads: 1,
        ..CheckOptions::default()
    }
}

/// One op per process: (f, written value or read result, invoke time, complete time).
fn history(ops: &[(&str, Value, u64, u64)]) -> Vec<Event> {
    let mut evs = Vec::new();
    for (p, (f, v, start, end)) in ops.iter().enumerate() {
        for (t, kind, value) in [
            (
                *start,
                EventType::Invoke,
                if *f == "read" { Value::Null } else { v.clone() },
            ),
            (*end, EventType::Ok, v.clone()),
        ] {
            evs.push(Event {
                index: 0,
                time: t,
                process: Process::Client(p as u64),
                kind,
                f: f.to_string(),
                key: None,
                value,
                node: None,
                error: None,
                session: None,
            });
        }
    }
    evs.sort_by_key(|e| e.time);
    for (i, e) in evs.iter_mut().enumerate() {
        e.index = i as u64;
    }
    evs
}

fn verdicts(evs: &[Event]) -> (Validity, Method, Validity) {
    let h = parse_events(evs).unwrap();
    let auto = check(&h, ModelKind::Register, &opts());
    let search = try_check_with(&h, ModelKind::Register, &opts(), Methods::SearchOnly).unwrap();
    (auto.valid, auto.per_key[0].method, search.valid)
}

#[test]
fn a_stale_read_of_a_repeated_value_is_ruled_out_by_inference() {
    // 1 is written twice, then 2 is written and completes before the read of 1 begins.
    let evs = history(&[
        ("write", json!(1), 10, 20),
        ("write", json!(1), 15, 25),
        ("write", json!(2), 30, 40),
        ("read", json!(1), 50, 60),
    ]);
    let (auto, method, search) = verdicts(&evs);
    assert_eq!(
        (auto, method, search),
        (Validity::Invalid, Method::Inference, Validity::Invalid)
    );
    let h = parse_events(&evs).unwrap();
    let r = check(&h, ModelKind::Register, &opts());
    let e = r.counterexample.unwrap().explanation;
    assert!(e.contains("returned 1") && e.contains("write 2"), "{e}");
}

#[test]
fn a_read_from_the_future_is_ruled_out_by_inference() {
    // Both writes of 1 begin after the read of 1 completed.
    let evs = history(&[
        ("write", json!(2), 0, 5),
        ("read", json!(1), 10, 20),
        ("write", json!(1), 30, 40),
        ("write", json!(1), 35, 45),
    ]);
    assert_eq!(
        verdicts(&evs),
        (Validity::Invalid, Method::Inference, Validity::Invalid)
    );
}

#[test]
fn a_read_that_one_of_the_writes_explains_is_not_ruled_out() {
    // The second write of 1 is concurrent with the write of 2: the read of 1 may follow it.
    let evs = history(&[
        ("write", json!(1), 10, 20),
        ("write", json!(2), 30, 40),
        ("write", json!(1), 35, 45),
        ("read", json!(1), 50, 60),
    ]);
    let (auto, _, search) = verdicts(&evs);
    assert_eq!((auto, search), (Validity::Valid, Validity::Valid));
}

#[test]
fn generated_repeated_value_histories_are_decided_within_bounds() {
    let bounded = CheckOptions {
        threads: 1,
        time_limit: Some(std::time::Duration::from_secs(60)),
        memory_limit_bytes: Some(1 << 30),
    };
    for (ops, procs) in [(1_000, 5), (1_000, 20), (3_000, 10)] {
        let h = parse_events(&synth::repeated_register_history(ops, procs, 5, 3)).unwrap();
        let r = check(&h, ModelKind::Register, &bounded);
        assert_eq!(
            r.valid,
            Validity::Valid,
            "{ops} x {procs}: {}",
            r.explanation
        );
        let stale =
            parse_events(&synth::repeated_register_history_stale(ops, procs, 5, 3)).unwrap();
        let r = check(&stale, ModelKind::Register, &bounded);
        assert_eq!(
            r.valid,
            Validity::Invalid,
            "{ops} x {procs}: {}",
            r.explanation
        );
        assert_eq!(r.per_key[0].method, Method::Inference);
        // The search alone reaches the same verdict (stranded values cut its dead ends short).
        let s = try_check_with(&stale, ModelKind::Register, &bounded, Methods::SearchOnly).unwrap();
        assert_eq!(
            s.valid,
            Validity::Invalid,
            "{ops} x {procs}: {}",
            s.explanation
        );
    }
}

#[test]
fn a_bound_reached_is_unknown_with_the_longest_prefix() {
    let h = parse_events(&synth::repeated_register_history_stale(2_000, 20, 5, 1)).unwrap();
    let tight = CheckOptions {
        threads: 1,
        time_limit: None,
        memory_limit_bytes: Some(1 << 20),
    };
    let r = try_check_with(&h, ModelKind::Register, &tight, Methods::SearchOnly).unwrap();
    assert_eq!(r.valid, Validity::Unknown, "{}", r.explanation);
    let why = r.unknown_reason.as_deref().unwrap_or("");
    assert!(why.contains("memory limit"), "{why}");
    assert!(
        why.contains("the longest linearizable prefix found has"),
        "{why}"
    );
    assert!(r.explanation.contains(why), "{}", r.explanation);
    assert!(r.counterexample.is_none(), "no anomaly is claimed");
}
