//! The append op, list reads and local reads of our protocol against a real HTTP server that keeps lists
//! the way a node does; and a server without them, which the client must report as unsupported.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workloads::generator::OpKind;
use workloads::{Client, ClientError, NodeClient, OpSpec, Outcome, ReadValue};

type Lists = Arc<Mutex<HashMap<String, Vec<i64>>>>;

fn error(status: u16, code: &str, definite: bool) -> (StatusCode, Json<Value>) {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"code": code, "message": "m", "definite": definite, "node": "n1"})),
    )
}

async fn append(
    State(lists): State<Lists>,
    Path(key): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    match key.as_str() {
        "not-leader" => return error(503, "not_leader", true),
        "timeout" => return error(504, "timeout", false),
        _ => {}
    }
    let v = body["value"].as_i64().expect("an integer value");
    lists.lock().unwrap().entry(key).or_default().push(v);
    (StatusCode::OK, Json(json!({"node": "n1"})))
}

async fn read(
    State(lists): State<Lists>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let mut value = lists.lock().unwrap().get(&key).cloned();
    // This node's own applied state lags one append behind, so the test sees which read was asked.
    if q.get("local").map(String::as_str) == Some("true") {
        if let Some(l) = value.as_mut() {
            l.pop();
        }
    }
    Json(json!({"value": value, "node": "n1"}))
}

async fn serve(with_append: bool) -> SocketAddr {
    let lists: Lists = Arc::default();
    let app = if with_append {
        Router::new()
            .route("/kv/{key}", get(read))
            .route("/kv/{key}/append", post(append))
    } else {
        // An older system: plain reads only, no local reads (404 for `?local=true` too).
        Router::new().route(
            "/kv/{key}",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                if q.contains_key("local") {
                    Err(StatusCode::NOT_FOUND)
                } else {
                    Ok(Json(json!({"value": 1, "node": "n1"})))
                }
            }),
        )
    }
    .with_state(lists);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn op(key: &str, kind: OpKind) -> OpSpec {
    OpSpec {
        key: key.into(),
        kind,
    }
}

#[tokio::test]
async fn appends_build_lists_that_reads_and_local_reads_return() {
    let addr = serve(true).await;
    let client = NodeClient::new(vec![("n1".into(), addr)], Duration::from_millis(500)).unwrap();
    client.probe_append().await.expect("append is served");
    for v in [3, 7] {
        let a = client.run_op(0, &op("a", OpKind::Append(v))).await;
        assert_eq!(a.outcome, Outcome::Ok { read: None }, "{a:?}");
    }
    let a = client.run_op(0, &op("a", OpKind::Read)).await;
    assert_eq!(
        a.outcome,
        Outcome::Ok {
            read: Some(ReadValue::List(vec![3, 7]))
        }
    );
    let a = client.run_op(0, &op("never", OpKind::Read)).await;
    assert_eq!(a.outcome, Outcome::Ok { read: None });
    let local = client.local_read("n1", "a").await.unwrap();
    assert_eq!(local, Some(ReadValue::List(vec![3])));
    assert_eq!(client.local_read("n1", "never").await.unwrap(), None);
    // Same outcome rules as writes.
    let a = client.run_op(0, &op("not-leader", OpKind::Append(9))).await;
    assert!(matches!(a.outcome, Outcome::Fail { .. }), "{a:?}");
    let a = client.run_op(0, &op("timeout", OpKind::Append(9))).await;
    assert!(matches!(a.outcome, Outcome::Info { .. }), "{a:?}");
}

#[tokio::test]
async fn a_system_without_append_or_local_reads_says_so() {
    let addr = serve(false).await;
    let client = NodeClient::new(vec![("n1".into(), addr)], Duration::from_millis(500)).unwrap();
    let e = client.probe_append().await.unwrap_err();
    assert!(matches!(e, ClientError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("404"), "{e}");
    let e = client.local_read("n1", "a").await.unwrap_err();
    assert!(matches!(e, ClientError::Unsupported(_)), "{e}");
    // Plain register reads still work.
    let a = client.run_op(0, &op("a", OpKind::Read)).await;
    assert_eq!(
        a.outcome,
        Outcome::Ok {
            read: Some(ReadValue::Int(1))
        }
    );
}
