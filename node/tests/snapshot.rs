//! Snapshots on real processes: restart from snapshot plus WAL tail; `kill -9` at random moments while
//! snapshots are written every few entries loses no acknowledged write; a follower that missed compacted
//! entries is brought up to date with the leader's snapshot (InstallSnapshot).

mod support;

use rand::Rng;
use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};
use support::{Client, Cluster, LeaderRouter, Outcome};

const WITHIN: Duration = Duration::from_secs(15);

fn file_len(cluster: &Cluster, id: &str, name: &str) -> u64 {
    fs::metadata(cluster.node(id).data_dir.join(name)).map_or(0, |m| m.len())
}

#[tokio::test]
async fn restart_loads_the_snapshot_and_replays_the_tail() {
    let mut cluster = Cluster::start(1, &["--read-mode", "log", "--snapshot-every", "50"]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let base = cluster.url("n1");
    for v in 0..230 {
        assert_eq!(
            client.write(&base, &format!("k{}", v % 20), v).await,
            Outcome::Ok
        );
    }
    let st = client.status(&base).await.unwrap();
    assert!(
        file_len(&cluster, "n1", "snapshot.bin") > 0,
        "no snapshot written"
    );
    // The WAL holds only what follows the last snapshot (at most 50 entries of ~60 bytes, plus headers).
    let wal = file_len(&cluster, "n1", "wal.log");
    assert!(wal < 8_000, "the WAL was not compacted: {wal} bytes");
    cluster.kill("n1");
    cluster.restart("n1");
    cluster.wait_for_leader(&client, WITHIN).await;
    let after = client.status(&base).await.unwrap();
    assert!(after.commit_index >= st.commit_index, "{st:?} -> {after:?}");
    for k in 0..20 {
        let last = (0..230).filter(|v| v % 20 == k).max().unwrap();
        assert_eq!(
            client.read(&base, &format!("k{k}")).await.unwrap(),
            Some(last),
            "k{k}"
        );
    }
    assert!(
        cluster.log_tail("n1", 30).contains("snapshot_index="),
        "{}",
        cluster.log_tail("n1", 30)
    );
}

#[tokio::test]
async fn kill_9_while_snapshotting_loses_no_acknowledged_write() {
    // A snapshot every 3 entries: with writers running, the node is nearly always writing one.
    let mut cluster = Cluster::start(1, &["--read-mode", "log", "--snapshot-every", "3"]);
    let client = Client::new();
    let base = cluster.url("n1");
    // key -> (last acknowledged value, values written with an unknown outcome since).
    let mut model: BTreeMap<String, (Option<i64>, Vec<i64>)> = BTreeMap::new();
    let mut rng = rand::thread_rng();
    let mut next = 0i64;
    for cycle in 0..12 {
        cluster.wait_for_leader(&client, WITHIN).await;
        let killer = Instant::now() + Duration::from_millis(rng.gen_range(5..120));
        // Eight concurrent writers until the kill moment.
        let mut tasks = Vec::new();
        for w in 0..8 {
            let client = client.clone();
            let base = base.clone();
            let start = next + w * 10_000;
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                let mut v = start;
                while Instant::now() < killer {
                    let key = format!("w{w}-k{}", v % 4);
                    let outcome = client.write(&base, &key, v).await;
                    done.push((key, v, outcome));
                    v += 1;
                }
                done
            }));
        }
        tokio::time::sleep_until(killer.into()).await;
        cluster.kill("n1");
        for t in tasks {
            for (key, v, outcome) in t.await.unwrap() {
                let e = model.entry(key).or_default();
                match outcome {
                    Outcome::Ok => *e = (Some(v), Vec::new()),
                    Outcome::Unknown(_) => e.1.push(v),
                    Outcome::Fail(_) => {}
                }
            }
        }
        next += 100_000;
        cluster.restart("n1");
        cluster.wait_for_leader(&client, WITHIN).await;
        for (key, (acked, maybe)) in &model {
            let got = client.read(&base, key).await.expect("read after restart");
            assert!(
                got == *acked || got.is_some_and(|g| maybe.contains(&g)),
                "cycle {cycle}: {key} reads {got:?}, last acknowledged {acked:?} (unknown: {maybe:?})"
            );
        }
    }
    assert!(model.values().filter(|(a, _)| a.is_some()).count() > 8);
    assert!(file_len(&cluster, "n1", "snapshot.bin") > 0);
}

#[tokio::test]
async fn a_follower_behind_the_compacted_log_gets_the_snapshot() {
    let mut cluster = Cluster::start(3, &["--read-mode", "read-index", "--snapshot-every", "40"]);
    let client = Client::new();
    let leader = cluster.wait_for_leader(&client, WITHIN).await;
    let followers: Vec<String> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    let (behind, other) = (followers[0].clone(), followers[1].clone());
    cluster.kill(&behind);
    let base = cluster.url(&leader);
    for v in 0..300 {
        assert_eq!(
            client.write(&base, &format!("k{}", v % 30), v).await,
            Outcome::Ok
        );
    }
    cluster.restart(&behind);
    let target = client.status(&base).await.unwrap().commit_index;
    let deadline = Instant::now() + WITHIN;
    loop {
        let st = client.status(&cluster.url(&behind)).await;
        if st.as_ref().is_some_and(|s| s.commit_index >= target) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{behind} never caught up: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        file_len(&cluster, &behind, "snapshot.bin") > 0,
        "{behind} got no snapshot"
    );
    // Its own state has everything, and with the other follower down the cluster needs it.
    for k in 0..30 {
        let url = format!("{}/kv/k{k}?local=true", cluster.url(&behind));
        let body: serde_json::Value = client
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["value"].as_i64(), Some(270 + k), "k{k} on {behind}");
    }
    cluster.kill(&other);
    let mut router = LeaderRouter::new(client.clone(), &cluster);
    for v in 1000..1010 {
        assert_eq!(
            router.write("after", v, WITHIN).await,
            Outcome::Ok,
            "with {other} down"
        );
    }
}
