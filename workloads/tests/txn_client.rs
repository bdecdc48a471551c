//! The txn workloads end to end against a small HTTP server that serves `POST /txn` (one lock around each
//! transaction): the generator's transactions go out, the recorder writes them in the shape
//! `checker::txn` reads, and the checker finds the history strict-serializable. The same server answering
//! read-only transactions from a frozen copy of its start (stale reads) is caught.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use checker::txn::{check_txn, load_txn_history, TxnModel, TxnOptions};
use protocol::{MicroOp, TxnRead, TxnRequest, TxnResponse};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::{NodeClient, Recorder, Routing, WorkloadConfig, WorkloadKind};

type Lists = HashMap<String, Vec<i64>>;

#[derive(Clone, Default)]
struct Store {
    now: Arc<Mutex<Lists>>,
    /// When set, read-only transactions read this instead of the current state.
    frozen: Option<Arc<Lists>>,
}

async fn txn(State(st): State<Store>, Json(req): Json<TxnRequest>) -> Json<TxnResponse> {
    let read_only = req.txn.iter().all(MicroOp::is_read);
    let mut now = st.now.lock().unwrap();
    let ops = req
        .txn
        .into_iter()
        .map(|op| match op {
            MicroOp::Read { key, .. } => {
                let from = match (&st.frozen, read_only) {
                    (Some(f), true) => f.get(&key).cloned(),
                    _ => now.get(&key).cloned(),
                };
                let value = from.map(TxnRead::List);
                MicroOp::Read { key, value }
            }
            MicroOp::Append { ref key, value } => {
                now.entry(key.clone()).or_default().push(value);
                op
            }
            w => w,
        })
        .collect();
    Json(TxnResponse {
        txn: ops,
        node: "n1".into(),
    })
}

async fn serve(store: Store) -> SocketAddr {
    let app = Router::new().route("/txn", post(txn)).with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Runs txn-append against `store` for a moment, then the final reads; the checker's report.
async fn run_against(store: Store) -> checker::txn::TxnReport {
    let addr = serve(store).await;
    let client = NodeClient::new(vec![("n1".into(), addr)], Duration::from_millis(500)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let recorder = Recorder::create(&path).unwrap();
    let cfg = WorkloadConfig {
        kind: WorkloadKind::TxnAppend,
        keys: 3,
        concurrency: 4,
        rate: 400.0,
        seed: 7,
        routing: Routing::Sticky,
        ..WorkloadConfig::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let client: Arc<dyn workloads::Client> = Arc::new(client);
    let run = tokio::spawn(workloads::run(
        cfg.clone(),
        client.clone(),
        recorder.clone(),
        stopped,
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.send(true).unwrap();
    run.await.unwrap().unwrap();
    workloads::final_reads(cfg, client, recorder.clone(), Duration::from_secs(5))
        .await
        .unwrap();
    recorder.flush().unwrap();
    let h = load_txn_history(&path, TxnModel::ListAppend).unwrap();
    check_txn(&h, TxnModel::ListAppend, &TxnOptions::default()).unwrap()
}

#[tokio::test]
async fn recorded_transactions_are_read_and_judged_by_the_txn_checker() {
    let report = run_against(Store::default()).await;
    assert!(report.valid, "{:#?}", report.anomalies);
    assert!(report.ok > 100, "too few transactions: {}", report.ok);
    assert!(report.not_checked.is_empty(), "{:?}", report.not_checked);
}

#[tokio::test]
async fn stale_read_only_transactions_are_caught() {
    let frozen = Some(Arc::new(Lists::new()));
    let report = run_against(Store {
        frozen,
        ..Store::default()
    })
    .await;
    assert!(!report.valid, "stale reads passed as strict-serializable");
    assert!(!report.ruled_out_by.is_empty());
}
