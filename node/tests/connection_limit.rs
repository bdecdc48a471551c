//! 2,000 half-sent connections against one node whose open-file limit starts at 1024 (a common default):
//! they used to silence it (every descriptor taken, nothing logged) until they gave up. Now the node raises
//! its limit, bounds its connections (closing half-sent ones to make room), so other clients are served
//! and its peers keep the cluster's leader, and it logs that the bound was hit.

mod support;

use std::time::Duration;
use support::{role_and_term, Client, Cluster, Outcome, Spawn};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const WITHIN: Duration = Duration::from_secs(10);
const HALF_SENT: usize = 2_000;

/// Open `n` connections that each send the start of a request head and never finish it.
async fn half_sent(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        // The node may close or refuse some of them: that is its business; keep what stays open.
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await
        else {
            continue;
        };
        if s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_ok()
        {
            held.push(s);
        }
    }
    held
}

#[tokio::test]
async fn half_sent_connections_do_not_silence_a_node_and_the_bound_is_logged() {
    // This test holds about 4,000 sockets itself.
    let want = 2 * HALF_SENT as u64 + 512;
    match support::set_soft_nofile(want) {
        Ok(got) if got >= want => {}
        other => {
            let why =
                format!("needs an open-file limit of {want} for the test itself, got {other:?}");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipping: {why}");
            return;
        }
    }
    let spawn = Spawn {
        nofile: Some(1024),
        ..Spawn::with_secret()
    };
    let cluster = Cluster::start_with(3, &[], spawn);
    let client = Client::new();
    let leader = cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url(&leader);
    let before = role_and_term(&client, &base).await.expect("leader status");

    let addr = cluster.node(&leader).addr;
    let mut held = half_sent(addr, HALF_SENT).await;
    // While they are open (well within the 5 s head timeout), other clients are served...
    assert!(client.status(&base).await.is_some(), "status not served");
    assert_eq!(client.write(&base, "k", 1).await, Outcome::Ok);
    // ... also while more keep coming, and the peers keep the leader in the same term.
    let more = tokio::spawn(half_sent(addr, HALF_SENT));
    for v in 2..20 {
        assert_eq!(client.write(&base, "k", v).await, Outcome::Ok, "write {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    held.extend(more.await.unwrap());
    assert_eq!(role_and_term(&client, &base).await, Some(before));
    assert_eq!(client.read(&base, "k").await.unwrap(), Some(19));

    let log = std::fs::read_to_string(&cluster.node(&leader).log).unwrap();
    assert!(log.contains("connection limit reached"), "{log}");
    assert!(log.contains("raised the open-file limit"), "{log}");
    drop(held);
}
