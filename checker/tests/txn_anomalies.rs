//! Hand-built Elle histories, one per anomaly class: each must show exactly that anomaly (lost update
//! comes with the cycle it implies), and the verdict must name the right models.

use checker::txn::{check_txn, parse_txn_history, Consistency, TxnModel, TxnOptions, TxnReport};
use std::collections::BTreeSet;

fn check(text: &str, model: TxnModel) -> TxnReport {
    let h = parse_txn_history(text, model).expect("parses");
    check_txn(&h, model, &TxnOptions::default()).expect("checks")
}

fn names(r: &TxnReport) -> BTreeSet<String> {
    r.anomaly_counts.keys().cloned().collect()
}

fn exactly(text: &str, model: TxnModel, want: &[&str]) -> TxnReport {
    let r = check(text, model);
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(names(&r), want, "{:#?}", r.anomalies);
    r
}

const LA: TxnModel = TxnModel::ListAppend;
const RW: TxnModel = TxnModel::RwRegister;

#[test]
fn serial_history_is_valid_strict_serializable() {
    let r = exactly(
        "{:process 0 :type :invoke :f :txn :value [[:append :x 1] [:r :y nil]]}
         {:process 0 :type :ok :f :txn :value [[:append :x 1] [:r :y []]]}
         {:process 1 :type :invoke :f :txn :value [[:r :x nil] [:append :y 2]]}
         {:process 1 :type :ok :f :txn :value [[:r :x [1]] [:append :y 2]]}",
        LA,
        &[],
    );
    assert!(r.valid);
    assert_eq!(r.verdict.strongest, vec![Consistency::StrictSerializable]);
    assert!(r.not_checked.is_empty(), "{:?}", r.not_checked);
}

#[test]
fn g0_write_cycle() {
    let r = exactly(
        "{:type :ok :value [[:append :x 1] [:append :y 2]]}
         {:type :ok :value [[:append :x 3] [:append :y 4]]}
         {:type :ok :value [[:r :x [1 3]] [:r :y [4 2]]]}",
        LA,
        &["G0"],
    );
    assert_eq!(r.verdict.strongest, Vec::<Consistency>::new());
    assert!(r.anomalies[0].sentence.contains("(ww)"));
}

#[test]
fn g1a_aborted_read() {
    let r = exactly(
        "{:type :fail :value [[:append :x 1]]}
         {:type :ok :value [[:r :x [1]]]}",
        LA,
        &["G1a"],
    );
    assert_eq!(r.verdict.not, vec![Consistency::ReadCommitted]);
    assert_eq!(r.verdict.strongest, vec![Consistency::ReadUncommitted]);
    exactly(
        "{:type :fail :value [[:w :x 1]]}
         {:type :ok :value [[:r :x 1]]}",
        RW,
        &["G1a"],
    );
}

#[test]
fn g1b_intermediate_read() {
    exactly(
        "{:type :ok :value [[:append :x 1] [:append :x 2]]}
         {:type :ok :value [[:r :x [1]]]}",
        LA,
        &["G1b"],
    );
    exactly(
        "{:type :ok :value [[:w :x 1] [:w :x 2]]}
         {:type :ok :value [[:r :x 1]]}",
        RW,
        &["G1b"],
    );
}

#[test]
fn g1c_circular_information_flow() {
    exactly(
        "{:type :ok :value [[:append :x 1] [:r :y [2]]]}
         {:type :ok :value [[:append :y 2] [:r :x [1]]]}",
        LA,
        &["G1c"],
    );
    exactly(
        "{:type :ok :value [[:w :x 1] [:r :y 2]]}
         {:type :ok :value [[:w :y 2] [:r :x 1]]}",
        RW,
        &["G1c"],
    );
}

#[test]
fn g_single_read_skew() {
    let r = exactly(
        "{:type :ok :value [[:append :x 1] [:append :y 1]]}
         {:type :ok :value [[:r :x []] [:r :y [1]]]}",
        LA,
        &["G-single"],
    );
    assert_eq!(r.verdict.strongest, vec![Consistency::ReadCommitted]);
    let s = &r.anomalies[0].sentence;
    assert!(
        s.contains("T0 appended 1 to x after T1 read x without it (rw)"),
        "{s}"
    );
    exactly(
        "{:type :ok :value [[:w :x 1] [:w :y 1]]}
         {:type :ok :value [[:r :x nil] [:r :y 1]]}",
        RW,
        &["G-single"],
    );
}

#[test]
fn g2_item_write_skew() {
    let r = exactly(
        "{:type :ok :value [[:r :x []] [:r :y []] [:append :x 1]]}
         {:type :ok :value [[:r :x []] [:r :y []] [:append :y 1]]}
         {:type :ok :value [[:r :x [1]] [:r :y [1]]]}",
        LA,
        &["G2-item"],
    );
    assert_eq!(r.verdict.strongest, vec![Consistency::SnapshotIsolation]);
}

#[test]
fn realtime_and_process_variants() {
    // T1 began after T0 completed, yet did not see its append.
    let r = exactly(
        "{:process 0 :type :invoke :f :txn :value [[:append :x 1]]}
         {:process 0 :type :ok :f :txn :value [[:append :x 1]]}
         {:process 1 :type :invoke :f :txn :value [[:r :x nil]]}
         {:process 1 :type :ok :f :txn :value [[:r :x []]]}",
        LA,
        &["G-single-realtime"],
    );
    assert!(!r.valid);
    // Two sessions, each seeing its own order: only real time is broken.
    assert_eq!(
        r.verdict.strongest,
        vec![Consistency::StrongSessionSerializable]
    );
    assert_eq!(r.verdict.not, vec![Consistency::StrictSerializable]);
    // The same on one process, without times: process order only. A session that does not read its
    // own append breaks strong-session snapshot isolation, and everything stronger; plain serializable
    // (which may reorder a session) and strong-session read committed still hold.
    let r = exactly(
        "{:process 3 :type :ok :value [[:append :x 1]]}
         {:process 3 :type :ok :value [[:r :x []]]}",
        LA,
        &["G-single-process"],
    );
    assert_eq!(
        r.verdict.not,
        vec![Consistency::StrongSessionSnapshotIsolation]
    );
    assert_eq!(
        r.verdict.strongest,
        vec![
            Consistency::Serializable,
            Consistency::StrongSessionReadCommitted
        ]
    );
    for asked in ["serializable", "strong-session-read-committed"] {
        let opts = TxnOptions {
            consistency: asked.parse().unwrap(),
        };
        let h = parse_txn_history(
            "{:process 3 :type :ok :value [[:append :x 1]]}
             {:process 3 :type :ok :value [[:r :x []]]}",
            LA,
        )
        .unwrap();
        let r = check_txn(&h, LA, &opts).unwrap();
        assert!(r.valid, "{asked} allows a session to miss its own append");
    }
}

#[test]
fn lost_update_and_its_cycle() {
    exactly(
        "{:type :ok :value [[:r :x []] [:append :x 1]]}
         {:type :ok :value [[:r :x []] [:append :x 2]]}",
        LA,
        &["lost-update", "G2-item"],
    );
    exactly(
        "{:type :ok :value [[:r :x nil] [:w :x 1]]}
         {:type :ok :value [[:r :x nil] [:w :x 2]]}",
        RW,
        &["lost-update", "G2-item"],
    );
}

#[test]
fn internal_inconsistency() {
    let r = exactly(
        "{:type :ok :value [[:append :x 1] [:r :x []]]}",
        LA,
        &["internal"],
    );
    // As in Elle: snapshot isolation and stronger forbid it; repeatable read does not.
    assert_eq!(r.verdict.not, vec![Consistency::SnapshotIsolation]);
    assert_eq!(r.verdict.strongest, vec![Consistency::RepeatableRead]);
    exactly(
        "{:type :ok :value [[:w :x 1] [:r :x 2]]} {:type :ok :value [[:w :x 2]]}",
        RW,
        &["internal"],
    );
}

#[test]
fn incompatible_order() {
    exactly(
        "{:type :ok :value [[:append :x 1]]}
         {:type :ok :value [[:append :x 2]]}
         {:type :ok :value [[:r :x [1 2]]]}
         {:type :ok :value [[:r :x [2 1]]]}",
        LA,
        &["incompatible-order"],
    );
    let r = check(
        "{:type :ok :value [[:append :x 1]]}
         {:type :ok :value [[:append :x 2]]}
         {:type :ok :value [[:r :x [1 2]]]}
         {:type :ok :value [[:r :x [2 1]]]}",
        LA,
    );
    assert_eq!(r.verdict.not, vec![Consistency::ReadCommitted]);
}

#[test]
fn duplicate_elements() {
    exactly(
        "{:type :ok :value [[:append :x 1]]}
         {:type :ok :value [[:r :x [1 1]]]}",
        LA,
        &["duplicate-elements"],
    );
}

#[test]
fn garbage_reads() {
    exactly("{:type :ok :value [[:r :x [9]]]}", LA, &["garbage-read"]);
    exactly("{:type :ok :value [[:r :x 9]]}", RW, &["garbage-read"]);
}

#[test]
fn json_reads_the_same() {
    exactly(
        r#"[{"type": "ok", "f": "txn", "value": [["append", "x", 1], ["append", "y", 1]]},
            {"type": "ok", "f": "txn", "value": [["r", "x", []], ["r", "y", [1]]]}]"#,
        LA,
        &["G-single"],
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let e = parse_txn_history("{:type :ok :value [[:frob :x 1]]}", LA).unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    let h = parse_txn_history(
        "{:type :ok :value [[:append :x 1]]} {:type :ok :value [[:append :x 1]]}",
        LA,
    )
    .unwrap();
    let e = check_txn(&h, LA, &TxnOptions::default()).unwrap_err();
    assert!(e.contains("twice"), "{e}");
}
