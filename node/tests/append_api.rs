//! `POST /kv/{key}/append` and `GET /kv/{key}?local=true` on a real 3-node cluster: lists in append
//! order on every read mode's path, a definite refusal for appends to an integer key, local reads served
//! by followers from their own applied state, and JSON arrays refused as bodies.

mod support;

use node::api::{ErrorBody, ErrorCode, ListReadResponse, ReadResponse};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use support::{Client, Cluster};

const WITHIN: Duration = Duration::from_secs(10);

async fn append(client: &Client, base: &str, key: &str, value: i64) -> (StatusCode, String) {
    let r = client
        .http
        .post(format!("{base}/kv/{key}/append"))
        .json(&serde_json::json!({ "value": value }))
        .send()
        .await
        .expect("append request");
    (r.status(), r.text().await.unwrap())
}

async fn get(client: &Client, url: String) -> (StatusCode, String) {
    let r = client.http.get(url).send().await.expect("get request");
    (r.status(), r.text().await.unwrap())
}

async fn appends_on(args: &[&str]) {
    let mode = args.join(" ");
    let cluster = Cluster::start(3, args);
    let client = Client::new();
    let leader = cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url(&leader);
    for v in [3, 7, 11] {
        let (status, body) = append(&client, &base, "l", v).await;
        assert_eq!(status, StatusCode::OK, "{mode}: append {v}: {body}");
    }
    let (status, body) = get(&client, format!("{base}/kv/l")).await;
    assert_eq!(status, StatusCode::OK, "{mode}: {body}");
    let read: ListReadResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(read.value, Some(vec![3, 7, 11]), "{mode}");
    assert_eq!(read.node, leader);

    // An absent key reads as null (the empty list).
    let (_, body) = get(&client, format!("{base}/kv/nothing")).await;
    let read: ReadResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(read.value, None);

    // Appending to an integer key changes nothing and says so definitely.
    assert_eq!(client.write(&base, "i", 5).await, support::Outcome::Ok);
    let (status, body) = append(&client, &base, "i", 6).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{mode}: {body}");
    let err: ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert!(
        err.definite && err.message.contains("not a list"),
        "{err:?}"
    );
    assert_eq!(client.read(&base, "i").await.unwrap(), Some(5));

    // Every node's own applied state converges on the same list; followers answer local reads themselves.
    for id in cluster.ids() {
        let url = format!("{}/kv/l?local=true", cluster.url(&id));
        let deadline = Instant::now() + WITHIN;
        loop {
            let (status, body) = get(&client, url.clone()).await;
            assert_eq!(status, StatusCode::OK, "{mode} {id}: {body}");
            let read: ListReadResponse = serde_json::from_str(&body).unwrap();
            assert_eq!(read.node, id);
            if read.value == Some(vec![3, 7, 11]) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{mode} {id} never converged: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn appends_build_lists_under_every_replication_path() {
    for args in [
        &["--read-mode", "lease"][..],
        &["--read-mode", "log"],
        &["--read-mode", "read-index"],
        &["--replication", "async", "--async-lag-ms", "20"],
    ] {
        appends_on(args).await;
    }
}

#[tokio::test]
async fn bad_local_queries_and_array_bodies_are_refused() {
    let cluster = Cluster::start(1, &[]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url("n1");
    let (status, body) = get(&client, format!("{base}/kv/a?lokal=1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("local=true"), "{body}");
    for (path, method) in [
        ("/kv/a", reqwest::Method::PUT),
        ("/kv/a/append", reqwest::Method::POST),
    ] {
        let r = client
            .http
            .request(method, format!("{base}{path}"))
            .header("content-type", "application/json")
            .body("[5]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let err: ErrorBody = r.json().await.unwrap();
        assert!(err.message.contains("JSON object"), "{err:?}");
    }
    // Nothing was written by the array bodies.
    assert_eq!(client.read(&base, "a").await.unwrap(), None);
}
