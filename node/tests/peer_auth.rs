//! Forged peer messages, as a client that reaches a node's port could send them: one `POST /raft` with
//! term u64::MAX used to wedge all three nodes for good. With the cluster's secret set, such a message is
//! refused (401) before it is read; with the secret (a peer gone bad) or on a cluster started without
//! one, its term is refused (400) and never adopted. Either way the cluster keeps its leader and term.

mod support;

use node::api::Role;
use reqwest::StatusCode;
use std::time::Duration;
use support::{role_and_term, Client, Cluster, LeaderRouter, Outcome, Spawn, SECRET};

const WITHIN: Duration = Duration::from_secs(10);

/// A batch with one message of each kind that could make a node adopt a term, all with term u64::MAX.
fn forged(from: &str, to: &str) -> serde_json::Value {
    let msg = |body: serde_json::Value| serde_json::json!({"from": from, "to": to, "term": u64::MAX, "body": body});
    serde_json::json!([
        msg(
            serde_json::json!({"Append": {"prev_index": 0, "prev_term": 0, "entries": [], "commit": 0, "round": 0}})
        ),
        msg(serde_json::json!({"Vote": {"last_index": u64::MAX, "last_term": u64::MAX}})),
        msg(serde_json::json!({"PreVote": {"last_index": u64::MAX, "last_term": u64::MAX}})),
        msg(
            serde_json::json!({"AppendResp": {"success": false, "match_index": 0, "reject_index": 0, "hint": 0, "last_index": 0, "round": 0}})
        ),
    ])
}

/// Send the forged batch to every node, naming another member as sender; the statuses it got.
async fn attack(cluster: &Cluster, client: &Client, secret: Option<&str>) -> Vec<StatusCode> {
    let ids = cluster.ids();
    let mut statuses = Vec::new();
    for (i, to) in ids.iter().enumerate() {
        let from = &ids[(i + 1) % ids.len()];
        let mut req = client
            .http
            .post(format!("{}/raft", cluster.url(to)))
            .json(&forged(from, to));
        if let Some(s) = secret {
            req = req.bearer_auth(s);
        }
        let resp = req.send().await.expect("the node answers");
        statuses.push(resp.status());
    }
    statuses
}

/// Every node's (role, term), for the leader's term.
async fn roles(cluster: &Cluster, client: &Client) -> Vec<Option<(Role, u64)>> {
    let mut out = Vec::new();
    for id in cluster.ids() {
        out.push(role_and_term(client, &cluster.url(&id)).await);
    }
    out
}

/// After the forged batches the cluster still has the same leader in the same term, and takes writes.
async fn keeps_its_leader(
    cluster: &Cluster,
    client: &Client,
    secret: Option<&str>,
) -> Vec<StatusCode> {
    let leader = cluster.wait_for_leader(client, WITHIN).await;
    let before = roles(cluster, client).await;
    let statuses = attack(cluster, client, secret).await;
    // Several election timeouts (300-600 ms): a node that had adopted the term would have moved by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = roles(cluster, client).await;
    assert_eq!(
        after, before,
        "roles and terms moved after the forged messages"
    );
    assert_eq!(cluster.wait_for_leader(client, WITHIN).await, leader);
    let mut router = LeaderRouter::new(client.clone(), cluster);
    assert_eq!(router.write("k", 1, WITHIN).await, Outcome::Ok);
    statuses
}

#[tokio::test]
async fn forged_max_term_messages_are_refused_with_and_without_the_secret() {
    let cluster = Cluster::start_with(3, &[], Spawn::with_secret());
    let client = Client::new();

    let without = keeps_its_leader(&cluster, &client, None).await;
    assert!(
        without.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{without:?}"
    );
    let wrong = attack(&cluster, &client, Some("not-the-secret-0123456789")).await;
    assert!(
        wrong.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{wrong:?}"
    );

    // A peer that has the secret still cannot make anyone adopt the term.
    let with = keeps_its_leader(&cluster, &client, Some(SECRET)).await;
    assert!(
        with.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "{with:?}"
    );

    for id in cluster.ids() {
        let log = std::fs::read_to_string(&cluster.node(&id).log).unwrap();
        assert!(log.contains("without the right peer secret"), "{id}: {log}");
        assert!(log.contains("past the largest usable term"), "{id}: {log}");
        assert!(
            !log.contains("is not set"),
            "{id} warned of a missing secret: {log}"
        );
    }
}

#[tokio::test]
async fn a_cluster_started_without_a_secret_warns_and_still_refuses_forged_terms() {
    let cluster = Cluster::start(3, &[]);
    let client = Client::new();
    let statuses = keeps_its_leader(&cluster, &client, None).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    let log = std::fs::read_to_string(&cluster.node("n1").log).unwrap();
    assert!(log.contains("LH_PEER_SECRET is not set"), "{log}");
}

#[test]
fn a_bad_secret_is_refused_at_start_with_254() {
    let dir = tempfile::tempdir().unwrap();
    let addr = support::free_addrs(1)[0];
    let mut child = std::process::Command::new(support::NODE_BIN)
        .args(["--id", "n1", "--listen", &addr.to_string()])
        .arg("--peers")
        .arg(format!("n1={addr}"))
        .arg("--data-dir")
        .arg(dir.path())
        .env("LH_PEER_SECRET", "short")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WITHIN;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a node with a 5-character secret started and kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(254), "{err}");
    assert!(
        err.contains("LH_PEER_SECRET must be 16 to 1024 characters, got 5"),
        "{err}"
    );
}
