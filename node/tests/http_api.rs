//! The HTTP surface of a real node process: malformed requests get a 400 `ErrorBody` naming the problem
//! (and the node keeps serving), the clock endpoint works, bad flags exit 254, SIGTERM exits 0.

mod support;

use node::api::{ClockState, ErrorBody, ErrorCode, ReadResponse};
use reqwest::{Method, StatusCode};
use std::process::Command;
use std::time::Duration;
use support::{Client, Cluster, NODE_BIN};

const WITHIN: Duration = Duration::from_secs(10);

async fn send(
    client: &Client,
    method: Method,
    url: String,
    body: &'static str,
) -> (StatusCode, String) {
    let r = client
        .http
        .request(method, url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    (r.status(), r.text().await.unwrap())
}

fn error_body(text: &str) -> ErrorBody {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an ErrorBody ({e}): {text}"))
}

#[tokio::test]
async fn malformed_requests_get_400_with_a_message() {
    let cluster = Cluster::start(1, &[]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url("n1");

    let cases: &[(Method, &str, &'static str, &str)] = &[
        (Method::PUT, "/kv/a", r#"{"value": "#, "EOF while parsing"),
        (
            Method::PUT,
            "/kv/a",
            r#"{"value": "seven"}"#,
            "invalid type: string",
        ),
        (
            Method::PUT,
            "/kv/a",
            r#"{"value": 1.5}"#,
            "invalid type: floating point",
        ),
        (
            Method::PUT,
            "/kv/a",
            r#"{"valeu": 1}"#,
            "missing field `value`",
        ),
        (Method::PUT, "/kv/a", "", "the body is empty"),
        (
            Method::PUT,
            "/kv/a",
            "[1, 2]",
            "expected {\"value\": <integer>}",
        ),
        (
            Method::POST,
            "/kv/a/cas",
            r#"{"from": 1}"#,
            "missing field `to`",
        ),
        (
            Method::POST,
            "/kv/a/cas",
            r#"{"from": true, "to": 2}"#,
            "invalid type: boolean",
        ),
        (
            Method::POST,
            "/admin/clock",
            r#"{"rate": 0}"#,
            "rate must be",
        ),
        (
            Method::POST,
            "/admin/clock",
            r#"{"rate": "fast"}"#,
            "invalid type: string",
        ),
        (
            Method::POST,
            "/admin/clock",
            r#"{"offset_ms": 1e300}"#,
            "offset_ms must be",
        ),
        (
            Method::POST,
            "/raft",
            r#"[{"hello": 1}]"#,
            "bad peer message batch",
        ),
    ];
    for (method, path, body, needle) in cases {
        let (status, text) = send(&client, method.clone(), format!("{base}{path}"), body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body}: {text}"
        );
        let err = error_body(&text);
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert!(err.definite);
        assert_eq!(err.node, "n1");
        assert!(
            err.message.contains(needle),
            "{method} {path} {body}: message {:?} lacks {needle:?}",
            err.message
        );
    }

    let (status, text) = send(&client, Method::GET, format!("{base}/nope"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        error_body(&text).message.contains("no such endpoint"),
        "{text}"
    );
    let (status, text) = send(&client, Method::DELETE, format!("{base}/kv/a"), "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(error_body(&text).message.contains("not allowed"), "{text}");
    let long_key = "k".repeat(2000);
    let (status, text) = send(&client, Method::GET, format!("{base}/kv/{long_key}"), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_body(&text).message.contains("key must be"), "{text}");

    // None of that hurt the node: a good write and read still work.
    assert_eq!(client.write(&base, "a", 42).await, support::Outcome::Ok);
    let (status, text) = send(&client, Method::GET, format!("{base}/kv/a"), "").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let read: ReadResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(read.value, Some(42));
    assert_eq!(read.node, "n1");
    let (status, text) = send(&client, Method::GET, format!("{base}/kv/never-written"), "").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        serde_json::from_str::<ReadResponse>(&text).unwrap().value,
        None
    );
}

#[tokio::test]
async fn cas_and_clock_endpoints_behave_as_documented() {
    let cluster = Cluster::start(1, &["--read-mode", "log"]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url("n1");

    assert_eq!(client.cas(&base, "c", None, 1).await, support::Outcome::Ok);
    match client.cas(&base, "c", Some(5), 6).await {
        support::Outcome::Fail(e) => {
            assert_eq!(e.code, ErrorCode::CasFailed);
            assert!(e.definite);
        }
        other => panic!("cas with a wrong precondition: {other:?}"),
    }
    assert_eq!(
        client.cas(&base, "c", Some(1), 2).await,
        support::Outcome::Ok
    );
    assert_eq!(client.read(&base, "c").await.unwrap(), Some(2));

    let before = client.status(&base).await.unwrap().clock;
    let (status, text) = send(
        &client,
        Method::POST,
        format!("{base}/admin/clock"),
        r#"{"offset_ms": 5000, "rate": 1.5}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let after: ClockState = serde_json::from_str(&text).unwrap();
    assert_eq!(after.rate, 1.5);
    assert_eq!(after.offset_ms, 5000.0);
    assert!(
        after.now_ms >= before.now_ms + 5000.0,
        "{before:?} -> {after:?}"
    );
    let st = client.status(&base).await.unwrap();
    assert_eq!(st.clock.rate, 1.5);
    assert!(st.clock.now_ms >= after.now_ms);
    // The node keeps working with a skewed clock.
    assert_eq!(client.write(&base, "c", 3).await, support::Outcome::Ok);
}

#[tokio::test]
async fn sigterm_stops_the_node_with_exit_0() {
    let mut cluster = Cluster::start(1, &[]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    assert_eq!(
        cluster.terminate("n1"),
        Some(0),
        "{}",
        cluster.log_tail("n1", 20)
    );
    assert!(cluster.log_tail("n1", 5).contains("stopped"));
}

#[test]
fn bad_flags_exit_254_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--id",
                "n1",
                "--listen",
                "127.0.0.1:1",
                "--peers",
                "n2=127.0.0.1:2",
                "--data-dir",
                data,
            ],
            "not in --peers",
        ),
        (
            &[
                "--id",
                "n1",
                "--listen",
                "nowhere",
                "--peers",
                "n1=127.0.0.1:2",
                "--data-dir",
                data,
            ],
            "--listen",
        ),
        (
            &[
                "--id",
                "n1",
                "--listen",
                "127.0.0.1:1",
                "--peers",
                "n1=127.0.0.1:1",
                "--data-dir",
                data,
                "--read-mode",
                "fast",
            ],
            "unknown read mode",
        ),
        (
            &[
                "--id",
                "n1",
                "--listen",
                "127.0.0.1:1",
                "--peers",
                "n1=127.0.0.1:1",
                "--data-dir",
                data,
                "--max-drift",
                "2",
            ],
            "--max-drift",
        ),
        (
            &[
                "--id",
                "n1",
                "--listen",
                "127.0.0.1:1",
                "--peers",
                "n1=127.0.0.1:1",
                "--data-dir",
                data,
                "--election-timeout-ms",
                "10",
            ],
            "twice --heartbeat-ms",
        ),
        (&["--id", "n1"], "required"),
    ];
    for (args, needle) in cases {
        let out = Command::new(NODE_BIN).args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} lacks {needle:?}"
        );
    }
    // Nothing was created for a refused start.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let help = Command::new(NODE_BIN).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--read-mode",
        "--lease-ms",
        "--max-drift",
        "--request-timeout-ms",
        "--log-format",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn foreign_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wal.log"), b"someone else's file").unwrap();
    let addr = support::free_addrs(1)[0].to_string();
    let out = Command::new(NODE_BIN)
        .args([
            "--id",
            "n1",
            "--listen",
            &addr,
            "--peers",
            &format!("n1={addr}"),
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("not a node write-ahead log"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("wal.log")).unwrap(),
        b"someone else's file"
    );
}
