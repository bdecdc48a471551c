//! The test network on real namespaces, links, routes and sockets. Needs root; skips otherwise.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use common::*;
use nemesis::{in_netns, NetConfig, Network, Partition, Subnet};

/// Every ordered pair among nodes and the client, with a listener on each.
fn all_pairs(net: &Network) -> Vec<(String, String, Ipv4Addr)> {
    let mut hosts: Vec<(String, String, Ipv4Addr)> = net
        .nodes()
        .into_iter()
        .map(|n| {
            (
                n.clone(),
                net.node_netns(&n).unwrap().to_string(),
                net.node_addr(&n).unwrap(),
            )
        })
        .collect();
    hosts.push((
        "client".into(),
        net.client_netns().into(),
        net.client_addr(),
    ));
    let mut pairs = Vec::new();
    for (a, a_ns, _) in &hosts {
        for (b, _, b_addr) in &hosts {
            if a != b {
                pairs.push((format!("{a}->{b}"), a_ns.clone(), *b_addr));
            }
        }
    }
    pairs
}

fn listeners(net: &Network) -> Vec<std::net::TcpListener> {
    let mut ls: Vec<_> = net
        .nodes()
        .iter()
        .map(|n| listen(net.node_netns(n).unwrap(), net.node_addr(n).unwrap()))
        .collect();
    ls.push(listen(net.client_netns(), net.client_addr()));
    ls
}

fn ns(net: &Network, n: &str) -> String {
    net.node_netns(n).unwrap().to_string()
}

fn addr(net: &Network, n: &str) -> Ipv4Addr {
    net.node_addr(n).unwrap()
}

#[test]
fn root_partition_isolate_one_way_and_heal() {
    if !have_root("root_partition_isolate_one_way_and_heal") {
        return;
    }
    let mut net = network(3);
    let prefix = format!("lh{}", net.run_id());
    assert!(
        !root_links().iter().any(|l| l.starts_with(&prefix)),
        "no link of ours may appear in the root namespace"
    );
    let _ls = listeners(&net);
    for (what, from, to) in all_pairs(&net) {
        assert!(works(&from, to), "{what} should connect on a fresh network");
    }
    let before = net.route_snapshot().unwrap();
    for table in before.values() {
        assert!(
            !table.contains("default"),
            "no default route anywhere: {table}"
        );
    }

    // Isolate n1: cut from n2 and n3 both ways; n2<->n3 and the client keep working.
    let p = Partition::isolate("n1", &net.nodes());
    net.apply(&p).unwrap();
    assert_eq!(net.current(), p);
    for (a, b) in [("n1", "n2"), ("n1", "n3"), ("n2", "n1"), ("n3", "n1")] {
        assert!(
            blocked(&ns(&net, a), addr(&net, b)),
            "{a}->{b} should be cut"
        );
    }
    assert!(works(&ns(&net, "n2"), addr(&net, "n3")));
    assert!(works(&ns(&net, "n3"), addr(&net, "n2")));
    for n in ["n1", "n2", "n3"] {
        assert!(
            works(net.client_netns(), addr(&net, n)),
            "client->{n} must survive partitions"
        );
    }
    assert_ne!(net.route_snapshot().unwrap(), before);

    // One way n1 -x-> n2 (replaces the isolation). TCP fails both ways (the SYN-ACK is dropped), but
    // datagrams n2 -> n1 still arrive while n1 -> n2 cannot even be sent.
    let one = Partition::one_way("n1", "n2");
    net.apply(&one).unwrap();
    assert_eq!(net.current(), one);
    assert!(
        works(&ns(&net, "n1"), addr(&net, "n3")),
        "the isolation was replaced"
    );
    let n1_err = connect(&ns(&net, "n1"), addr(&net, "n2"), Duration::from_secs(5)).unwrap_err();
    assert_ne!(
        n1_err.kind(),
        std::io::ErrorKind::TimedOut,
        "blackhole fails locally: {n1_err}"
    );
    assert!(blocked(&ns(&net, "n2"), addr(&net, "n1")));
    let (n1, n2) = (addr(&net, "n1"), addr(&net, "n2"));
    let rx = in_netns(&ns(&net, "n1"), || UdpSocket::bind((n1, PORT)))
        .unwrap()
        .unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let tx = in_netns(&ns(&net, "n2"), || UdpSocket::bind((n2, PORT)))
        .unwrap()
        .unwrap();
    tx.send_to(b"hello", (n1, PORT)).unwrap();
    let mut buf = [0u8; 16];
    let (len, from) = rx
        .recv_from(&mut buf)
        .expect("n2 -> n1 datagrams pass a one-way n1 -x-> n2 drop");
    assert_eq!(
        (&buf[..len], from.ip()),
        (&b"hello"[..], std::net::IpAddr::V4(n2))
    );
    assert!(
        rx.send_to(b"back", (n2, PORT)).is_err(),
        "n1 -> n2 is blackholed"
    );

    // Heal restores everything, and the route tables equal the ones before.
    net.heal().unwrap();
    assert!(net.current().is_empty());
    assert_eq!(net.route_snapshot().unwrap(), before);
    for (what, from, to) in all_pairs(&net) {
        assert!(works(&from, to), "{what} should connect after heal");
    }
    net.heal().unwrap();

    let err = net
        .apply(&Partition::one_way("n1", "n9"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("n9"), "{err}");
    assert!(net.current().is_empty());

    net.teardown().unwrap();
    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
    net.teardown().unwrap();
    assert!(
        net.apply(&p).is_err(),
        "a torn-down network refuses partitions"
    );
}

#[test]
fn root_ring_on_five_nodes() {
    if !have_root("root_ring_on_five_nodes") {
        return;
    }
    let net = network(5);
    let _ls = listeners(&net);
    let nodes = net.nodes();
    net.apply(&Partition::ring(&nodes)).unwrap();
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            let d = i.abs_diff(j);
            if d == 0 {
                continue;
            }
            if d == 1 || d == 4 {
                assert!(works(&ns(&net, a), addr(&net, b)), "{a}->{b} neighbours");
            } else {
                assert!(
                    blocked(&ns(&net, a), addr(&net, b)),
                    "{a}->{b} not neighbours"
                );
            }
        }
    }
}

#[test]
fn root_teardown_on_panic() {
    if !have_root("root_teardown_on_panic") {
        return;
    }
    let run = run_id();
    let prefix = format!("lh{run}");
    let cfg = NetConfig {
        run_id: run,
        subnet: "192.168.77.0/24".parse().unwrap(),
        nodes: nodes(3),
    };
    let result = std::panic::catch_unwind(|| {
        let net = Network::create(cfg).unwrap();
        net.apply(&Partition::isolate("n2", &net.nodes())).unwrap();
        assert_eq!(
            namespaces_with_prefix(&prefix).len(),
            5,
            "3 nodes + client + bridge"
        );
        panic!("test failure while the network is up");
    });
    assert!(result.is_err());
    assert_eq!(
        namespaces_with_prefix(&prefix),
        Vec::<String>::new(),
        "Drop tore the network down"
    );
}

#[test]
fn root_client_cannot_escape_when_bridge_is_gone() {
    if !have_root("root_client_cannot_escape_when_bridge_is_gone") {
        return;
    }
    let mut net = network(2);
    let _ls = listeners(&net);
    let client = net.client_netns().to_string();
    assert!(works(&client, addr(&net, "n1")));
    let routes = ip(&["-n", &client, "route", "show"]);
    assert_eq!(
        routes.lines().count(),
        1,
        "only the connected subnet route: {routes}"
    );
    assert!(routes.starts_with("10.77.0.0/24 "), "{routes}");

    let root_links_before = root_links();
    ip(&["netns", "del", net.bridge_netns()]);
    // Deleting a namespace is asynchronous: its veths (and their peers) go away shortly after.
    let veth = client.clone();
    assert!(
        eventually(Duration::from_secs(20), || ip(&[
            "-n", &client, "-o", "link", "show"
        ])
        .lines()
        .all(|l| !l.contains(&veth))),
        "the client's veth disappears with the bridge namespace"
    );
    for target in [
        addr(&net, "n1"),
        Ipv4Addr::new(1, 1, 1, 1),
        Ipv4Addr::new(10, 77, 1, 1),
    ] {
        let err = connect(&client, target, Duration::from_secs(5)).unwrap_err();
        assert_ne!(
            err.kind(),
            std::io::ErrorKind::TimedOut,
            "connect to {target} must fail at once (no route), not hang: {err}"
        );
    }
    let prefix = format!("lh{}", net.run_id());
    assert!(!root_links().iter().any(|l| l.starts_with(&prefix)));
    let new_links: Vec<String> = root_links()
        .into_iter()
        .filter(|l| !root_links_before.contains(l))
        .collect();
    assert!(
        new_links.iter().all(|l| !l.starts_with(&prefix)),
        "nothing of ours in the root namespace: {new_links:?}"
    );
    net.teardown().unwrap();
    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
}

#[test]
fn root_create_is_all_or_nothing_and_spares_existing_namespaces() {
    if !have_root("root_create_is_all_or_nothing_and_spares_existing_namespaces") {
        return;
    }
    let run = run_id();
    let prefix = format!("lh{run}");
    let squatter = format!("{prefix}n2");
    ip(&["netns", "add", &squatter]);
    struct DelOnDrop(String);
    impl Drop for DelOnDrop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }
    let _guard = DelOnDrop(squatter.clone());

    let err = Network::create(NetConfig {
        run_id: run,
        subnet: Subnet::default(),
        nodes: nodes(3),
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        namespaces_with_prefix(&prefix),
        vec![squatter.clone()],
        "what create made is gone; the namespace it did not make is untouched"
    );
}

#[test]
fn root_enter_client_netns_moves_only_this_thread() {
    if !have_root("root_enter_client_netns_moves_only_this_thread") {
        return;
    }
    let net = network(1);
    let ours = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let client_ino = std::fs::metadata(format!("/run/netns/{}", net.client_netns())).unwrap();
    let inside = std::thread::scope(|s| {
        s.spawn(|| {
            net.enter_client_netns().unwrap();
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .join()
        .unwrap()
    });
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        inside.to_string_lossy(),
        format!("net:[{}]", client_ino.ino())
    );
    assert_ne!(inside, ours);
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        ours
    );
}

#[test]
fn root_failed_apply_leaves_the_network_healed() {
    if !have_root("root_failed_apply_leaves_the_network_healed") {
        return;
    }
    let net = network(3);
    let before = net.route_snapshot().unwrap();
    // Break n3 behind the network's back: routes can no longer be added there.
    let n3 = ns(&net, "n3");
    ip(&["netns", "del", &n3]);
    let err = net
        .apply(&Partition::isolate("n1", &net.nodes()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("ip -n {n3} route add blackhole")),
        "{err}"
    );
    assert!(
        net.current().is_empty(),
        "nothing of the failed partition stays recorded"
    );
    for n in ["n1", "n2"] {
        let namespace = ns(&net, n);
        assert_eq!(
            ip(&["-n", &namespace, "route", "show", "table", "all"]),
            before[&namespace],
            "{n}"
        );
    }
}
