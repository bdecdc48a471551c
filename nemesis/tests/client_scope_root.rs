//! `--partition-scope all` on real namespaces: a partition also cuts nodes off from the client sessions
//! homed on the other side, while sessions homed on the node's own side and the harness's own address
//! still reach it. Needs root; skips otherwise.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use common::*;
use nemesis::{in_netns, Network, Partition};

const ECHO_PORT: u16 = 7412;

/// A UDP echo server inside `node`'s namespace; returns once it is bound.
fn echo(net: &Network, node: &str) {
    let addr = net.node_addr(node).unwrap();
    let sock = in_netns(net.node_netns(node).unwrap(), || {
        UdpSocket::bind((addr, ECHO_PORT))
    })
    .unwrap()
    .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
}

/// Whether a datagram from `from` (an address of the client namespace) to `to` comes back.
fn answered(net: &Network, from: Ipv4Addr, to: Ipv4Addr) -> bool {
    in_netns(net.client_netns(), || {
        let s = UdpSocket::bind((from, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 8];
        (0..3).any(|_| s.send_to(b"ping", (to, ECHO_PORT)).is_ok() && s.recv_from(&mut buf).is_ok())
    })
    .unwrap()
}

#[test]
fn root_scope_all_cuts_the_sessions_homed_across_the_partition() {
    if !have_root("root_scope_all_cuts_the_sessions_homed_across_the_partition") {
        return;
    }
    let net = network(3);
    let nodes = net.nodes();
    let sessions = net.add_session_addrs().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(net.add_session_addrs().unwrap(), sessions, "idempotent");
    for n in &nodes {
        echo(&net, n);
    }
    let addr = |n: &str| net.node_addr(n).unwrap();
    for (i, _) in nodes.iter().enumerate() {
        for n in &nodes {
            assert!(answered(&net, sessions[i], addr(n)), "before: {i} -> {n}");
        }
    }
    let p = Partition::isolate("n1", &nodes);
    net.apply(&p).unwrap();
    net.cut_clients(&p).unwrap();
    // Sessions homed on n1 reach n1 (same side) but not n2, n3; the others the other way round.
    let want = |home: usize, n: &str| (home == 0) == (n == "n1");
    for (home, s) in sessions.iter().enumerate() {
        for n in &nodes {
            assert_eq!(
                answered(&net, *s, addr(n)),
                want(home, n),
                "session homed on {} -> {n}",
                nodes[home]
            );
        }
    }
    // The harness's own address (probes, nemesis) is never cut.
    for n in &nodes {
        assert!(answered(&net, net.client_addr(), addr(n)), "probe -> {n}");
    }
    assert_eq!(net.client_cuts().len(), 4);
    net.heal().unwrap();
    assert!(net.client_cuts().is_empty());
    for s in &sessions {
        for n in &nodes {
            assert!(answered(&net, *s, addr(n)), "after heal: {s} -> {n}");
        }
    }
}

#[test]
fn root_cut_clients_needs_session_addresses() {
    if !have_root("root_cut_clients_needs_session_addresses") {
        return;
    }
    let net = network(3);
    let e = net
        .cut_clients(&Partition::isolate("n1", &net.nodes()))
        .unwrap_err();
    assert!(e.to_string().contains("session addresses"), "{e}");
}
