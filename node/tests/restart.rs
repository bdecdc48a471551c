//! Durability across `kill -9`: three real node processes on loopback; every acknowledged write must be
//! read back after the leader is killed and restarted, and after the whole cluster is killed and restarted.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Client, Cluster, LeaderRouter, Outcome};

const WRITERS: usize = 8;
const KEYS_PER_WRITER: usize = 20;
const OP_WITHIN: Duration = Duration::from_secs(10);

/// What a key may hold: the last acknowledged value, or any value whose write had an unknown outcome
/// after it (a write that timed out can still commit later, but never behind a later acknowledged one).
#[derive(Debug, Default, Clone)]
struct Expect {
    acked: Option<i64>,
    maybe: Vec<i64>,
}

impl Expect {
    fn record(&mut self, value: i64, outcome: &Outcome) {
        match outcome {
            Outcome::Ok => {
                self.acked = Some(value);
                self.maybe.clear();
            }
            Outcome::Unknown(_) => self.maybe.push(value),
            Outcome::Fail(_) => {}
        }
    }

    fn allows(&self, v: Option<i64>) -> bool {
        v == self.acked || v.is_some_and(|x| self.maybe.contains(&x))
    }
}

type Model = Arc<Mutex<BTreeMap<String, Expect>>>;

fn key(w: usize, j: usize) -> String {
    format!("w{w}-k{j}")
}

/// `WRITERS` concurrent writers, each writing all its keys once per round (values unique per key).
/// Returns how many writes were acknowledged.
async fn write_rounds(cluster: &Cluster, model: &Model, rounds: std::ops::Range<i64>) -> usize {
    spawn_writers(cluster, model, rounds)
        .await
        .expect("writers")
}

/// The same, in the background, so the test can kill nodes meanwhile.
fn spawn_writers(
    cluster: &Cluster,
    model: &Model,
    rounds: std::ops::Range<i64>,
) -> tokio::task::JoinHandle<usize> {
    let routers: Vec<LeaderRouter> = (0..WRITERS)
        .map(|_| LeaderRouter::new(Client::new(), cluster))
        .collect();
    let model = model.clone();
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for (w, mut router) in routers.into_iter().enumerate() {
            let model = model.clone();
            let rounds = rounds.clone();
            tasks.push(tokio::spawn(async move {
                let mut acked = 0;
                for round in rounds {
                    for j in 0..KEYS_PER_WRITER {
                        let k = key(w, j);
                        let value = round * 1_000_000 + (w * 1000 + j) as i64;
                        let outcome = router.write(&k, value, OP_WITHIN).await;
                        if let Outcome::Fail(e) = &outcome {
                            panic!("write {k}={value} refused for {OP_WITHIN:?}: {e:?}");
                        }
                        acked += usize::from(outcome == Outcome::Ok);
                        model
                            .lock()
                            .unwrap()
                            .entry(k)
                            .or_default()
                            .record(value, &outcome);
                    }
                }
                acked
            }));
        }
        let mut acked = 0;
        for t in tasks {
            acked += t.await.expect("writer task");
        }
        acked
    })
}

/// Read every key through the leader and compare with the model.
async fn check_all_via_leader(cluster: &Cluster, model: &Model, when: &str) {
    let mut router = LeaderRouter::new(Client::new(), cluster);
    let expected = model.lock().unwrap().clone();
    assert_eq!(expected.len(), WRITERS * KEYS_PER_WRITER);
    for (k, exp) in &expected {
        let got = router
            .read(k, OP_WITHIN)
            .await
            .unwrap_or_else(|e| panic!("{when}: {e}"));
        assert!(
            exp.allows(got),
            "{when}: key {k} read {got:?}, expected {exp:?}"
        );
        assert!(
            got.is_some(),
            "{when}: key {k} lost (never-written keys are not in the model)"
        );
    }
}

/// Wait until `id` has applied everything the leader had committed when we asked.
async fn wait_caught_up(cluster: &Cluster, client: &Client, id: &str) {
    let leader = cluster.wait_for_leader(client, OP_WITHIN).await;
    let target = client
        .status(&cluster.url(&leader))
        .await
        .expect("leader status")
        .commit_index;
    let deadline = std::time::Instant::now() + OP_WITHIN;
    loop {
        if let Some(st) = client.status(&cluster.url(id)).await {
            if st.applied_index >= target {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} did not catch up to index {target}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn leader_kill_and_cluster_kill_keep_every_acknowledged_write() {
    let mut cluster = Cluster::start(3, &["--read-mode", "read-index"]);
    let client = Client::new();
    let model: Model = Arc::default();

    let first = cluster.wait_for_leader(&client, OP_WITHIN).await;
    let acked = write_rounds(&cluster, &model, 1..2).await;
    assert!(acked > 0, "no write was acknowledged before the kill");

    // Kill the leader while overwrites are in flight.
    let overwrite = spawn_writers(&cluster, &model, 2..4);
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.kill(&first);
    let acked_during = overwrite.await.expect("writers");
    eprintln!("killed leader {first}; {acked_during} overwrites acknowledged around the kill");

    let second = cluster.wait_for_leader(&client, OP_WITHIN).await;
    assert_ne!(second, first, "a killed node cannot lead");
    check_all_via_leader(&cluster, &model, "after killing the leader").await;

    // The old leader comes back from its WAL and catches up; it then points clients at the leader.
    cluster.restart(&first);
    wait_caught_up(&cluster, &client, &first).await;
    let leader = cluster.wait_for_leader(&client, OP_WITHIN).await;
    if leader != first {
        let err = client
            .read(&cluster.url(&first), &key(0, 0))
            .await
            .expect_err("read-index reads are served by the leader only")
            .expect("an error body");
        assert_eq!(err.code, node::api::ErrorCode::NotLeader);
        assert!(err.definite);
        assert_eq!(err.leader.as_deref(), Some(leader.as_str()));
        assert_eq!(
            err.leader_addr,
            Some(cluster.node(&leader).addr.to_string())
        );
    }
    write_rounds(&cluster, &model, 4..5).await;
    check_all_via_leader(&cluster, &model, "after restarting the old leader").await;

    // Everything acknowledged must be on disk: kill every node at once and start them all again.
    for id in cluster.ids() {
        cluster.kill(&id);
    }
    for id in cluster.ids() {
        cluster.restart(&id);
    }
    cluster.wait_for_leader(&client, OP_WITHIN).await;
    check_all_via_leader(&cluster, &model, "after killing and restarting all nodes").await;
}

#[tokio::test]
async fn restarted_leader_serves_every_acknowledged_write_itself() {
    // follower-read: a follower answers from its own state machine once it has applied the leader's read
    // index, so reads sent to the restarted node show what its WAL replay plus catch-up rebuilt.
    let mut cluster = Cluster::start(3, &["--read-mode", "follower-read"]);
    let client = Client::new();
    let model: Model = Arc::default();

    let first = cluster.wait_for_leader(&client, OP_WITHIN).await;
    write_rounds(&cluster, &model, 1..2).await;
    cluster.kill(&first);
    cluster.wait_for_leader(&client, OP_WITHIN).await;
    // Writes the killed node never saw: it must learn them from the new leader.
    write_rounds(&cluster, &model, 2..3).await;
    cluster.restart(&first);
    wait_caught_up(&cluster, &client, &first).await;

    let base = cluster.url(&first);
    let expected = model.lock().unwrap().clone();
    for (k, exp) in &expected {
        let got = client
            .read(&base, k)
            .await
            .unwrap_or_else(|e| panic!("restarted node refused a read of {k}: {e:?}"));
        assert!(
            exp.allows(got),
            "restarted {first}: key {k} read {got:?}, expected {exp:?}"
        );
        assert!(got.is_some(), "restarted {first}: key {k} lost");
    }
}
