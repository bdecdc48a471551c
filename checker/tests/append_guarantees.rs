//! Hand-built list-append histories: each breaks exactly one session guarantee (and so linearizability,
//! which implies them all), one keeps everything; plus lost writes, staleness, Elle EDN and convergence.

use checker::append::{
    against_final_reads, check_append, check_convergence, normalize_txn_ops, AppendError,
    AppendOptions, AppendReport, Guarantees, Judged,
};
use checker::{
    check, parse_events, parse_str, CheckOptions, Event, EventType, ModelKind, Process, Validity,
};
use serde_json::{json, Value};

/// Ops that run one after another unless their times overlap.
#[derive(Default)]
struct H {
    evs: Vec<(u64, Event)>,
}

impl H {
    /// An op by `session` on `process`, from `start` to `end` ms, served by `node`.
    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        session: u64,
        process: u64,
        f: &str,
        key: &str,
        arg: Value,
        kind: EventType,
        start: u64,
        end: u64,
        node: &str,
    ) -> &mut Self {
        let ev = |t: u64, k, value| Event {
            index: 0,
            time: t * 1_000_000,
            process: Process::Client(process),
            kind: k,
            f: f.into(),
            key: Some(key.into()),
            value,
            node: Some(node.into()),
            error: None,
            session: Some(session),
        };
        let (inv, out) = if f == "read" {
            (Value::Null, arg)
        } else {
            (arg.clone(), arg)
        };
        self.evs
            .push((start * 2, ev(start, EventType::Invoke, inv)));
        self.evs.push((end * 2 + 1, ev(end, kind, out)));
        self
    }
    fn append(&mut self, s: u64, v: i64, start: u64, end: u64) -> &mut Self {
        self.op(
            s,
            s,
            "append",
            "x",
            json!(v),
            EventType::Ok,
            start,
            end,
            "n1",
        )
    }
    fn read(&mut self, s: u64, list: Value, start: u64, end: u64, node: &str) -> &mut Self {
        self.op(s, s, "read", "x", list, EventType::Ok, start, end, node)
    }
    fn check(&mut self, final_at_ms: Option<u64>) -> AppendReport {
        self.evs.sort_by_key(|(t, _)| *t);
        let evs: Vec<Event> = self
            .evs
            .iter()
            .enumerate()
            .map(|(i, (_, e))| Event {
                index: i as u64,
                ..e.clone()
            })
            .collect();
        let h = parse_events(&evs).unwrap();
        let opts = AppendOptions {
            final_read_after_ns: final_at_ms.map(|t| t * 1_000_000),
        };
        check_append(&h, &opts).unwrap()
    }
}

fn all_but(broken: &[&str]) -> Guarantees {
    let ok = |g: &str| checker::Validity::from(!broken.contains(&g));
    Guarantees {
        linearizable: ok("linearizable"),
        read_your_writes: ok("read_your_writes"),
        monotonic_reads: ok("monotonic_reads"),
        monotonic_writes: ok("monotonic_writes"),
        writes_follow_reads: ok("writes_follow_reads"),
        converged: checker::Validity::Unknown,
    }
}

/// Asserts that exactly `g` (and so linearizability) is broken; returns its first sentence.
fn only_broken(r: &AppendReport, g: &str) -> String {
    assert_eq!(
        r.guarantees,
        all_but(&["linearizable", g]),
        "{:#?}",
        r.violations
    );
    first_sentence(r, g)
}

fn first_sentence(r: &AppendReport, g: &str) -> String {
    r.first_violation(g)
        .unwrap_or_else(|| panic!("no {g} violation in {:#?}", r.violations))
        .sentence
        .clone()
}

#[test]
fn a_clean_history_keeps_everything() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .read(2, json!([1]), 2, 3, "n2")
        .append(2, 2, 4, 5)
        .append(1, 3, 6, 7)
        .read(1, json!([1, 2, 3]), 8, 9, "n1")
        .read(2, json!([1, 2, 3]), 10, 11, "n3")
        .check(Some(10));
    assert_eq!(r.guarantees, all_but(&[]), "{:#?}", r.violations);
    assert!(r.violations.is_empty());
    assert_eq!(r.lost_writes.count, 0);
    assert!(r.lost_writes.checked);
    assert_eq!(r.staleness.reads, 3);
    assert_eq!(r.staleness.stale_reads, 0);
    assert_eq!(r.staleness.ms.max, 0.0);
    // What each guarantee judged: reads that could have shown a violation, and what against.
    let j = |ops, against| Judged { ops, against };
    assert_eq!(r.judged.linearizable, j(3, 3));
    assert_eq!(
        r.judged.read_your_writes,
        j(2, 3),
        "s1 at 8 ms and s2 at 10 ms"
    );
    assert_eq!(r.judged.monotonic_reads, j(1, 3), "s2 read again after [1]");
    assert_eq!(
        r.judged.monotonic_writes,
        j(2, 1),
        "3 follows s1's acknowledged 1"
    );
    assert_eq!(
        r.judged.writes_follow_reads,
        j(2, 1),
        "2 follows s2's read of [1]"
    );
    assert_eq!(r.lost_writes.judged, 3);
    assert_eq!(
        r.reported(),
        r.guarantees,
        "everything had something to judge"
    );
}

/// A system that refuses every append: reads of nothing judge nothing, so no guarantee is kept (the
/// harness then calls the run invalid), and "nothing lost" is not a pass either.
#[test]
fn nothing_to_judge_is_not_kept() {
    let mut h = H::default();
    for i in 0..4 {
        let t = i * 10;
        h.op(
            1,
            1,
            "append",
            "x",
            json!(i),
            EventType::Fail,
            t,
            t + 1,
            "n1",
        )
        .read(1, Value::Null, t + 2, t + 3, "n1")
        .read(2, Value::Null, t + 4, t + 5, "n2");
    }
    let r = h.check(Some(30));
    assert_eq!(r.guarantees, all_but(&[]), "nothing contradicts them");
    assert_eq!(
        r.reported(),
        Guarantees::default(),
        "but as reported every guarantee is not checkable: {:#?}",
        r.judged
    );
    assert_eq!(r.judged.linearizable, Judged { ops: 8, against: 0 });
    assert_eq!(r.judged.read_your_writes.ops, 0);
    assert!(r.lost_writes.checked);
    assert_eq!((r.lost_writes.count, r.lost_writes.judged), (0, 0));
    assert_eq!(r.lost_writes.none_lost(), checker::Validity::Unknown);
}

#[test]
fn read_your_writes_alone() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .read(1, Value::Null, 2, 3, "n2")
        .check(None);
    let s = only_broken(&r, "read_your_writes");
    assert!(
        s.contains("process 1 on n2") && s.contains("without 1"),
        "{s}"
    );
    assert_eq!(r.violation_counts["read_your_writes"], 1);
}

#[test]
fn read_your_writes_follows_the_session_across_process_ids() {
    let mut h = H::default();
    h.op(7, 1, "append", "x", json!(1), EventType::Ok, 0, 1, "n1")
        .op(7, 2, "read", "x", json!([]), EventType::Ok, 2, 3, "n2");
    let r = h.check(None);
    assert_eq!(r.guarantees.read_your_writes, checker::Validity::Invalid);
    let s = first_sentence(&r, "read_your_writes");
    assert!(s.contains("session 7 (process 2) on n2"), "{s}");
}

#[test]
fn monotonic_reads_alone() {
    let r = H::default()
        .append(2, 1, 0, 1)
        .read(1, json!([1]), 2, 3, "n1")
        .read(1, json!([]), 4, 5, "n2")
        .check(None);
    let s = only_broken(&r, "monotonic_reads");
    assert!(s.contains("without 1") && s.contains("n2"), "{s}");
}

#[test]
fn monotonic_writes_alone_out_of_order() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .append(1, 2, 2, 3)
        .read(2, json!([2, 1]), 4, 5, "n3")
        .check(None);
    let s = only_broken(&r, "monotonic_writes");
    assert!(s.contains("2 before 1"), "{s}");
}

#[test]
fn monotonic_writes_alone_with_a_gap() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .append(1, 2, 2, 3)
        .read(2, json!([2]), 4, 5, "n3")
        .check(None);
    let s = only_broken(&r, "monotonic_writes");
    assert!(s.contains("holds 2 but not 1"), "{s}");
}

#[test]
fn writes_follow_reads_alone() {
    let r = H::default()
        .append(2, 1, 0, 1)
        .read(1, json!([1]), 2, 3, "n1")
        .append(1, 2, 4, 5)
        .read(3, json!([2]), 6, 7, "n2")
        .check(None);
    let s = only_broken(&r, "writes_follow_reads");
    assert!(s.contains("has 1 not at all"), "{s}");
}

#[test]
fn an_info_append_that_a_read_holds_happened_and_one_nobody_saw_did_not() {
    let mut h = H::default();
    h.op(1, 1, "append", "x", json!(1), EventType::Info, 0, 1, "n1")
        .op(1, 2, "append", "x", json!(2), EventType::Info, 2, 3, "n1")
        .read(2, json!([1]), 4, 5, "n2")
        .read(1, json!([1]), 6, 7, "n2");
    let r = h.check(Some(6));
    assert_eq!(r.guarantees, all_but(&[]), "{:#?}", r.violations);
    // As reported, the reads judge the info append they hold; no session read after its own ack.
    assert_eq!(r.reported().linearizable, checker::Validity::Valid);
    assert_eq!(
        r.judged.linearizable.against, 1,
        "1 was read back; 2 nobody saw"
    );
    assert_eq!(r.reported().read_your_writes, checker::Validity::Unknown);
    assert_eq!(r.lost_writes.count, 0, "info appends are never lost");
}

#[test]
fn lost_writes_and_staleness() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .append(2, 2, 2, 3)
        .read(3, json!([1]), 8, 9, "n2")
        .read(3, json!([1]), 20, 21, "n2")
        .check(Some(20));
    assert_eq!(r.lost_writes.count, 1);
    assert_eq!(r.lost_writes.first[0].value, json!(2));
    assert_eq!(r.staleness.reads, 2);
    assert_eq!(r.staleness.stale_reads, 2);
    assert_eq!(r.staleness.share, 1.0);
    assert_eq!(r.staleness.versions.max, 1.0);
    // Acknowledged at 3 ms, missed by reads that began at 8 and 20 ms.
    assert_eq!(r.staleness.ms.p50, 5.0);
    assert_eq!(r.staleness.ms.max, 17.0);
    assert!(!r.staleness.series.is_empty());
    assert_eq!(r.guarantees.linearizable, checker::Validity::Invalid);
}

#[test]
fn incompatible_orders_name_both_reads() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .append(2, 2, 0, 1)
        .read(3, json!([1, 2]), 2, 3, "n1")
        .read(4, json!([2, 1]), 2, 3, "n2")
        .check(None);
    assert_eq!(r.guarantees.linearizable, checker::Validity::Invalid);
    let s = first_sentence(&r, "linearizable");
    assert!(
        s.contains("incompatible orders") && s.contains("[2 1]") && s.contains("[1 2]"),
        "{s}"
    );
}

const ELLE: &str = "\
{:process 0, :type :invoke, :f :txn, :value [[:append :x 1]]}
{:process 0, :type :ok, :f :txn, :value [[:append :x 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r :x [1]]]}
{:process 1, :type :invoke, :f :txn, :value [[:append 3 7]]}
{:process 1, :type :info, :f :txn, :value [[:append 3 7]]}
{:process 2, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:process 2, :type :ok, :f :txn, :value [[:r :x []]]}
";

#[test]
fn elle_txn_histories_are_normalised_and_checked() {
    let h = normalize_txn_ops(parse_str(ELLE).unwrap()).unwrap();
    assert_eq!(h.ops[2].f, "append");
    assert_eq!(h.ops[2].key.as_deref(), Some("3"));
    let r = check_append(&h, &AppendOptions::default()).unwrap();
    assert_eq!(r.guarantees.linearizable, checker::Validity::Invalid);
    let s = first_sentence(&r, "linearizable");
    assert!(s.contains("line 7") && s.contains("without 1"), "{s}");
    // The same through check() with the model name.
    let raw = parse_str(ELLE).unwrap();
    assert_eq!(raw.guess_model(), ModelKind::ListAppend);
    let c = check(&raw, ModelKind::ListAppend, &CheckOptions::default());
    assert_eq!(c.valid, Validity::Invalid);
    assert!(c.explanation.contains("key x"), "{}", c.explanation);
    let fine = ELLE.replace("[[:r :x []]]", "[[:r :x [1]]]");
    let c = check(
        &parse_str(&fine).unwrap(),
        ModelKind::ListAppend,
        &CheckOptions::default(),
    );
    assert_eq!(c.valid, Validity::Valid, "{}", c.explanation);
}

#[test]
fn a_txn_with_several_micro_ops_is_an_error_naming_the_line() {
    let text = format!(
        "{ELLE}{{:process 3, :type :invoke, :f :txn, :value [[:append :x 5] [:r :x nil]]}}\n"
    );
    let e = normalize_txn_ops(parse_str(&text).unwrap()).unwrap_err();
    assert!(
        matches!(e, AppendError::MultiMicroOp { count: 2, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("line 9:") && msg.contains("not supported"),
        "{msg}"
    );
    let c = checker::try_check(
        &parse_str(&text).unwrap(),
        ModelKind::ListAppend,
        &CheckOptions::default(),
    )
    .unwrap_err();
    assert!(c.to_string().starts_with("line 9:"), "{c}");
}

#[test]
fn bad_append_values_are_errors_naming_the_op() {
    let mut h = H::default();
    h.append(1, 1, 0, 1).append(2, 1, 2, 3);
    h.evs.sort_by_key(|(t, _)| *t);
    let evs: Vec<Event> = h.evs.iter().map(|(_, e)| e.clone()).collect();
    let e = check_append(&parse_events(&evs).unwrap(), &AppendOptions::default()).unwrap_err();
    assert!(e.to_string().contains("appended to key x again"), "{e}");
}

#[test]
fn convergence_compares_every_node() {
    let s = |n: &str, k: &str, l: Option<Vec<i64>>| (n.to_string(), k.to_string(), l);
    let c = check_convergence(&[
        s("n1", "x", Some(vec![1, 2])),
        s("n2", "x", Some(vec![1, 2])),
        s("n1", "y", None),
        s("n2", "y", Some(vec![])),
    ]);
    assert!(c.converged, "{:?}", c.disagreements);
    let c = check_convergence(&[
        s("n1", "x", Some(vec![1, 2, 3])),
        s("n2", "x", Some(vec![1, 2])),
        s("n3", "x", Some(vec![1, 2, 3])),
        s("n3", "y", Some(vec![4])),
    ]);
    assert!(!c.converged);
    assert_eq!(c.disagreements.len(), 2, "{:?}", c.disagreements);
    assert!(
        c.disagreements[0].contains("n1, n3 have [1 2 3]")
            && c.disagreements[0].contains("n2 [1 2] (lacks 1)"),
        "{:?}",
        c.disagreements
    );
}

/// Nodes that agree on null everywhere (a system that ignores `?local=true`) have not converged when
/// the final reads saw values; a final read that is a prefix of the agreed list is fine.
#[test]
fn convergence_must_agree_with_the_final_reads() {
    use std::collections::BTreeMap;
    let finals: BTreeMap<String, Vec<i64>> =
        [("k0".to_string(), vec![5]), ("k1".to_string(), vec![])].into();
    let nulls: BTreeMap<String, Option<Vec<i64>>> =
        [("k0".to_string(), None), ("k1".to_string(), None)].into();
    let wrong = against_final_reads(&nulls, &finals);
    assert!(
        wrong[0].contains("key k0")
            && wrong[0].contains("nothing (absent)")
            && wrong[0].contains("[5]"),
        "{wrong:?}"
    );
    assert!(wrong.last().unwrap().contains("?local=true"), "{wrong:?}");
    let held: BTreeMap<String, Option<Vec<i64>>> = [
        ("k0".to_string(), Some(vec![5, 6])),
        ("k1".to_string(), None),
    ]
    .into();
    assert!(against_final_reads(&held, &finals).is_empty());
    let other: BTreeMap<String, Option<Vec<i64>>> = [("k0".to_string(), Some(vec![7]))].into();
    assert_eq!(against_final_reads(&other, &finals).len(), 1);
}

#[test]
fn the_report_serialises_as_results_json_expects() {
    let r = H::default()
        .append(1, 1, 0, 1)
        .read(1, Value::Null, 2, 3, "n2")
        .check(None);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["guarantees"]["read_your_writes"], json!(false));
    assert_eq!(v["guarantees"]["converged"], Value::Null);
    assert_eq!(v["lost_writes"]["count"], json!(0));
    assert!(v["staleness"]["ms"]["p99"].is_number());
    assert_eq!(v["violations"][0]["guarantee"], json!("linearizable"));
}
