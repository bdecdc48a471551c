//! The outcome mapping against a real HTTP server that answers the way a node can: each answer must
//! become exactly `ok`, `fail` (certainly did not happen) or `info` (unknown).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use workloads::generator::OpKind;
use workloads::{NodeClient, OpSpec, Outcome};

/// Keys choose the answer, so one server covers every case.
async fn answer(key: &str) -> (StatusCode, Json<serde_json::Value>) {
    let err = |status: u16, code: &str, definite: bool| {
        (
            StatusCode::from_u16(status).unwrap(),
            Json(
                json!({"code": code, "message": "m", "definite": definite, "node": "n1", "leader": "n2"}),
            ),
        )
    };
    match key {
        "ok" => (StatusCode::OK, Json(json!({"value": 7, "node": "n1"}))),
        "absent" => (StatusCode::OK, Json(json!({"value": null, "node": "n1"}))),
        "not-leader" => err(503, "not_leader", true),
        "cas-failed" => err(409, "cas_failed", true),
        "timeout" => err(504, "timeout", false),
        // A server that claims `definite` for an unknown outcome is not believed.
        "confused" => err(504, "timeout", true),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (StatusCode::OK, Json(json!({"value": 1, "node": "n1"})))
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!("garbage"))),
    }
}

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route(
            "/kv/{key}",
            get(|Path(k): Path<String>| async move { answer(&k).await }),
        )
        .route(
            "/kv/{key}",
            put(|Path(k): Path<String>| async move { answer(&k).await }),
        )
        .route(
            "/kv/{key}/cas",
            post(|Path(k): Path<String>| async move { answer(&k).await }),
        );
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

fn class(o: &Outcome) -> &'static str {
    match o {
        Outcome::Ok { .. } => "ok",
        Outcome::Fail { .. } => "fail",
        Outcome::Info { .. } => "info",
    }
}

#[tokio::test]
async fn every_answer_maps_to_the_right_outcome() {
    let addr = serve().await;
    // A port nothing listens on: the connection is refused, so nothing can have happened.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = NodeClient::new(
        vec![("n1".into(), addr), ("n9".into(), closed)],
        Duration::from_millis(300),
    )
    .unwrap();
    let write = OpKind::Write(5);
    let cas = OpKind::Cas { from: 1, to: 2 };
    let cases = [
        ("ok", OpKind::Read, "ok"),
        ("ok", write.clone(), "ok"),
        ("not-leader", write.clone(), "fail"),
        ("cas-failed", cas.clone(), "fail"),
        ("timeout", write.clone(), "info"),
        ("timeout", OpKind::Read, "fail"),
        ("confused", cas.clone(), "info"),
        ("garbage", write.clone(), "info"),
        ("hang", write.clone(), "info"),
        ("hang", OpKind::Read, "fail"),
    ];
    for (key, kind, want) in cases {
        let a = client.run_op(0, &op(key, kind.clone())).await;
        assert_eq!(class(&a.outcome), want, "{key} {kind:?}: {a:?}");
    }
    let a = client.run_op(0, &op("ok", OpKind::Read)).await;
    assert_eq!(
        a.outcome,
        Outcome::Ok {
            read: Some(workloads::ReadValue::Int(7))
        }
    );
    let a = client.run_op(0, &op("absent", OpKind::Read)).await;
    assert_eq!(a.outcome, Outcome::Ok { read: None });
    let a = client.run_op(0, &op("not-leader", OpKind::Read)).await;
    assert_eq!(a.leader.as_deref(), Some("n2"), "the leader hint is kept");
    let a = client.run_op(1, &op("ok", write)).await;
    assert_eq!(class(&a.outcome), "fail", "refused connection: {a:?}");
    assert_eq!(a.node, "n9");
}
