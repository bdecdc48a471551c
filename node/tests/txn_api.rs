//! `POST /txn` on a real 3-node cluster: a transaction with writes applied as one step (its reads see its
//! own earlier writes), read-only transactions on each read mode's path, an aborted transaction changing
//! nothing, and malformed transactions refused.

mod support;

use node::api::{ErrorBody, ErrorCode, MicroOp, TxnRead, TxnResponse};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use support::{Client, Cluster};

const WITHIN: Duration = Duration::from_secs(10);

async fn txn(client: &Client, base: &str, body: serde_json::Value) -> (StatusCode, String) {
    let r = client
        .http
        .post(format!("{base}/txn"))
        .json(&body)
        .send()
        .await
        .expect("txn request");
    (r.status(), r.text().await.unwrap())
}

fn read(key: &str, value: Option<TxnRead>) -> MicroOp {
    MicroOp::Read {
        key: key.into(),
        value,
    }
}

async fn txns_on(args: &[&str]) {
    let mode = args.join(" ");
    let cluster = Cluster::start(3, args);
    let client = Client::new();
    let leader = cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url(&leader);
    let body = json!({"txn": [["r", "x", null], ["append", "x", 1], ["append", "x", 2], ["r", "x", null],
        ["w", "y", 9], ["r", "y", null]]});
    let (status, text) = txn(&client, &base, body).await;
    assert_eq!(status, StatusCode::OK, "{mode}: {text}");
    let got: TxnResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(got.node, leader);
    assert_eq!(got.txn[0], read("x", None), "{mode}");
    assert_eq!(got.txn[3], read("x", Some(TxnRead::List(vec![1, 2]))));
    assert_eq!(got.txn[5], read("y", Some(TxnRead::Int(9))));

    // An append to the integer at y aborts the whole transaction, definitely: x keeps [1, 2].
    let (status, text) = txn(
        &client,
        &base,
        json!({"txn": [["append", "x", 3], ["append", "y", 4]]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{mode}: {text}");
    let err: ErrorBody = serde_json::from_str(&text).unwrap();
    assert!(err.definite && err.code == ErrorCode::BadRequest, "{err:?}");

    // Read-only: the read mode's path, every key from one state.
    let (status, text) = txn(
        &client,
        &base,
        json!({"txn": [["r", "x", null], ["r", "y", null], ["r", "z", null]]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{mode}: {text}");
    let got: TxnResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(
        got.txn,
        vec![
            read("x", Some(TxnRead::List(vec![1, 2]))),
            read("y", Some(TxnRead::Int(9))),
            read("z", None)
        ],
        "{mode}"
    );
}

#[tokio::test]
async fn transactions_apply_atomically_under_every_read_and_replication_path() {
    for args in [
        &["--read-mode", "lease"][..],
        &["--read-mode", "log"],
        &["--read-mode", "read-index"],
        &["--read-mode", "any-local"],
        &["--replication", "async", "--async-lag-ms", "20"],
    ] {
        txns_on(args).await;
    }
}

#[tokio::test]
async fn malformed_transactions_are_refused() {
    let cluster = Cluster::start(1, &[]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url("n1");
    for body in [
        json!({"txn": []}),
        json!({"txn": [["cas", "x", 1]]}),
        json!({"txn": [["r", "x", 5]]}),
        json!({"txn": [["append", "", 5]]}),
        json!([["append", "x", 5]]),
    ] {
        let (status, text) = txn(&client, &base, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
    }
    let (status, _) = txn(&client, &base, json!({"txn": [["r", "x", null]]})).await;
    assert_eq!(status, StatusCode::OK);
}
