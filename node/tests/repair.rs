//! A node that lost part of its write-ahead log is repaired by the leader (real processes): cut a
//! follower's WAL in half, restart it, and the cluster keeps taking writes with the other follower down,
//! which needs the repaired one. A WAL damaged before its tail (a bad record followed by good ones) makes
//! the node refuse to start, naming the file and byte offset, and leaves the file as it was.

mod support;

use std::fs;
use std::time::{Duration, Instant};
use support::{Client, Cluster, LeaderRouter, Outcome};

const WITHIN: Duration = Duration::from_secs(15);

async fn commit_index(client: &Client, cluster: &Cluster, id: &str) -> u64 {
    client
        .status(&cluster.url(id))
        .await
        .map_or(0, |s| s.commit_index)
}

#[tokio::test]
async fn a_follower_whose_wal_was_cut_in_half_is_repaired() {
    let mut cluster = Cluster::start(3, &["--read-mode", "read-index"]);
    let client = Client::new();
    let leader = cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url(&leader);
    for v in 0..300 {
        assert_eq!(
            client.write(&base, &format!("k{}", v % 50), v).await,
            Outcome::Ok
        );
    }
    let followers: Vec<String> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    let (cut, other) = (&followers[0], &followers[1]);
    let target = commit_index(&client, &cluster, &leader).await;
    let deadline = Instant::now() + WITHIN;
    while commit_index(&client, &cluster, cut).await < target {
        assert!(
            Instant::now() < deadline,
            "{cut} never caught up before the cut"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    cluster.kill(cut);
    let wal = cluster.node(cut).data_dir.join("wal.log");
    let len = fs::metadata(&wal).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    cluster.restart(cut);

    // The leader finds what it lost and resends it: its commit index catches up.
    let target = commit_index(&client, &cluster, &leader).await;
    let deadline = Instant::now() + WITHIN;
    while commit_index(&client, &cluster, cut).await < target {
        assert!(
            Instant::now() < deadline,
            "{cut} was never repaired:\n{}",
            cluster.log_tail(cut, 20)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // With the other follower down, every write needs the repaired node.
    cluster.kill(other);
    let mut router = LeaderRouter::new(client.clone(), &cluster);
    for v in 1000..1020 {
        let outcome = router.write("after", v, WITHIN).await;
        assert_eq!(outcome, Outcome::Ok, "write {v} with {other} down");
    }
    for v in 250..300 {
        let got = router.read(&format!("k{}", v % 50), WITHIN).await.unwrap();
        assert_eq!(got, Some(v), "k{}", v % 50);
    }
}

#[tokio::test]
async fn a_wal_corrupt_before_its_tail_refuses_to_start() {
    let mut cluster = Cluster::start(1, &["--read-mode", "log"]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url("n1");
    for v in 0..100 {
        assert_eq!(client.write(&base, "k", v).await, Outcome::Ok);
    }
    assert_eq!(cluster.terminate("n1"), Some(0));
    let wal = cluster.node("n1").data_dir.join("wal.log");
    let mut bytes = fs::read(&wal).unwrap();
    // Flip a byte inside a record's payload in the middle (a quoted key name: inside a record for sure).
    let mid = bytes.len() / 2;
    let at = mid + bytes[mid..].windows(3).position(|w| w == b"\"k\"").unwrap() + 1;
    bytes[at] = b'j' ^ 0x80;
    fs::write(&wal, &bytes).unwrap();

    cluster.restart("n1");
    let code = cluster.wait_exit("n1", WITHIN);
    let log = cluster.log_tail("n1", 5);
    assert_eq!(code, Some(255), "{log}");
    assert!(log.contains(&wal.display().to_string()), "{log}");
    assert!(
        log.contains("is corrupt") && log.contains(" byte "),
        "{log}"
    );
    assert_eq!(fs::read(&wal).unwrap(), bytes, "the WAL was changed");
}
