//! `--replication sync-all` on real processes: writes are acknowledged while every node is up, become
//! unavailable (definite 503, or 504 while the leader has not noticed yet) with one follower down although a
//! quorum remains, and come back when it returns; every acknowledged write is then on every node.

mod support;

use node::api::ErrorCode;
use std::time::{Duration, Instant};
use support::{Client, Cluster, Outcome};

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn sync_all_writes_need_every_node() {
    let mut cluster = Cluster::start(
        3,
        &["--replication", "sync-all", "--read-mode", "read-index"],
    );
    let client = Client::new();
    let leader = cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url(&leader);
    for v in 0..20 {
        assert_eq!(client.write(&base, "k", v).await, Outcome::Ok, "write {v}");
        // Acknowledged means every node has it durable: each log already reaches the write's index
        // (no other writer, so the leader's last index is this write's).
        let index = client.status(&base).await.unwrap().last_log_index;
        for id in cluster.ids() {
            let st = client.status(&cluster.url(&id)).await.unwrap();
            assert!(st.last_log_index >= index, "{id} after write {v}: {st:?}");
        }
    }

    let follower = cluster.ids().into_iter().find(|id| *id != leader).unwrap();
    cluster.kill(&follower);
    // Within an election timeout or so the leader notices and refuses at once (definite 503); before that
    // writes wait and end 504 (unknown). None is acknowledged.
    let deadline = Instant::now() + WITHIN;
    let mut refused = false;
    let mut v = 100;
    while Instant::now() < deadline && !refused {
        v += 1;
        match client.write(&base, "k", v).await {
            Outcome::Ok => panic!("write {v} acknowledged with {follower} down"),
            Outcome::Fail(e) => {
                assert_eq!(e.code, ErrorCode::Unavailable, "{e:?}");
                assert!(e.message.contains(&follower), "{e:?}");
                refused = true;
            }
            Outcome::Unknown(_) => {}
        }
    }
    assert!(refused, "writes were never refused with {follower} down");
    // Reads still work: a quorum is up.
    assert!(client.read(&base, "k").await.is_ok());

    cluster.restart(&follower);
    let deadline = Instant::now() + WITHIN;
    loop {
        v += 1;
        if client.write(&base, "k", v).await == Outcome::Ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes never came back after {follower} restarted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let index = client.status(&base).await.unwrap().last_log_index;
    let st = client.status(&cluster.url(&follower)).await.unwrap();
    assert!(
        st.last_log_index >= index,
        "{follower} after the write: {st:?}"
    );
}
