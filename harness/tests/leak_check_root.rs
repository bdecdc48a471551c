//! The tests' leak check beside other runs: it counts only what the runs in its own store created (by
//! the run id config.json records), so another run's network appearing meanwhile is not a leftover,
//! while a namespace or process of its own run still is.

mod common;

use common::*;
use nemesis::{NetConfig, Network, Subnet};
use std::path::Path;
use std::process::Command;

const SHORT: &[&str] = &["--time-limit", "3s", "--nemesis", "none", "--settle", "0s"];

/// Another run's network (as a concurrent `harness` would make), alive until dropped.
fn foreign_network() -> Network {
    Network::create(NetConfig {
        run_id: format!("z{}", &nemesis::generate_run_id()[..4]),
        subnet: Subnet::default(),
        nodes: vec!["n1".into(), "n2".into()],
    })
    .expect("create the other run's network")
}

#[test]
fn root_leak_check_ignores_a_run_that_starts_beside_it() {
    let Some(_one_at_a_time) = cluster_test("root_leak_check_ignores_a_run_that_starts_beside_it")
    else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let mut other = None;
    let out = leaves_nothing(store.path(), || {
        let out = harness(SHORT, store.path());
        // Appears during the checked span and is still there when the check looks.
        other = Some(foreign_network());
        out
    });
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let ids = store_run_ids(store.path());
    assert_eq!(ids.len(), 1, "one run, one run id: {ids:?}");
    let mut other = other.unwrap();
    assert!(nemesis::netns_exists(other.client_netns()));
    other.teardown().unwrap();
}

#[test]
fn root_leak_check_still_sees_its_own_runs_leftovers() {
    let Some(_one_at_a_time) = cluster_test("root_leak_check_still_sees_its_own_runs_leftovers")
    else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let out = harness(SHORT, store.path());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let id = store_run_ids(store.path()).pop().expect("the run's id");
    // What a crashed run would leave: a namespace named by its id and a process naming its store.
    let ns = format!("lh{id}n1");
    let ok = Command::new("ip").args(["netns", "add", &ns]).status();
    assert!(ok.is_ok_and(|s| s.success()), "ip netns add {ns}");
    let data = store.path().join("stray");
    std::fs::write(&data, "").unwrap();
    let mut stray = Command::new("tail")
        .arg("-f")
        .arg(&data)
        .spawn()
        .expect("start tail");
    let caught = std::panic::catch_unwind(|| leaves_nothing(store.path(), || ()));
    let _ = stray.kill();
    let _ = stray.wait();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    let msg = caught
        .expect_err("a leftover namespace and process of the store's own run went unseen")
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(msg.contains(&ns), "{msg}");
    assert!(msg.contains(&stray.id().to_string()), "{msg}");
    assert_eq!(leftover_namespaces(store.path()), Vec::<String>::new());
    assert!(!Path::new("/run/netns").join(&ns).exists());
}
