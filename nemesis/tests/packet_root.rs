//! Packet faults without netem (nftables and an NFQUEUE thread), measured from inside the namespaces:
//! each lands with its effect within tolerance on the target's packets only, and is gone after the heal.
//! Needs root, `nft` and `iptables`; skips otherwise (fails on CI).

mod common;

use common::*;
use nemesis::{in_netns, Burst, Network, PacketAim, PacketFault};
use std::net::UdpSocket;
use std::time::Duration;

fn ready(test: &str) -> bool {
    if !have_root(test) {
        return false;
    }
    for tool in ["nft", "iptables"] {
        if let Err(why) = nemesis::tool_available(tool) {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test} cannot run on CI (CI=true): {why}");
            }
            eprintln!("skipping {test}: {why}");
            return false;
        }
    }
    true
}

fn measure(net: &Network, node: &str, f: &PacketFault, aim: PacketAim) -> Burst {
    let b = net.measure_packets(node, f, aim).unwrap();
    eprintln!("{node} under {f:?}: {b:?}");
    b
}

/// Applies `f` to n1, checks the measured effect is within `tol` of what was asked, that n2 is
/// untouched, and that the heal removes every rule and the effect.
fn lands_and_heals(f: PacketFault, tol: f64) {
    let one = PacketAim::default();
    let net = network(3);
    assert_eq!(net.shape("n1", &f, one).unwrap(), "netfilter");
    assert!(net.shaped("n1").unwrap());
    assert!(!net.shaped("n2").unwrap());
    let on = measure(&net, "n1", &f, one);
    let got = f.measured(&on);
    assert!(
        (got - f.asked(one)).abs() <= tol,
        "asked {}, measured {got} ({on:?})",
        f.asked(one)
    );
    assert!(f.judge(&on, one, true).is_ok());
    assert!(on.sent >= 40);
    let other = measure(&net, "n2", &f, one);
    assert!(
        f.judge(&other, one, false).is_ok(),
        "n2 is untouched: {other:?}"
    );
    assert_eq!(net.packet_fault_health("n1").map(|h| h.is_ok()), Some(true));
    net.unshape("n1").unwrap();
    assert!(!net.shaped("n1").unwrap(), "every rule removed");
    let off = measure(&net, "n1", &f, one);
    assert!(f.judge(&off, one, false).is_ok(), "healed: {off:?}");
    // A busy machine may lose a probe at the echo; a rule left behind would lose ~20%.
    assert!(off.loss_pct() < 2.0, "nothing lost once healed: {off:?}");
    assert_eq!(off.extra, 0, "nothing duplicated once healed: {off:?}");
}

#[test]
fn root_packet_loss_lands_on_one_node_and_heals() {
    if ready("root_packet_loss_lands_on_one_node_and_heals") {
        lands_and_heals(PacketFault::Loss { pct: 20.0 }, 8.0);
    }
}

#[test]
fn root_packet_duplicate_lands_on_one_node_and_heals() {
    if ready("root_packet_duplicate_lands_on_one_node_and_heals") {
        lands_and_heals(PacketFault::Duplicate { pct: 20.0 }, 8.0);
    }
}

#[test]
fn root_packet_delay_lands_on_one_node_and_heals() {
    if ready("root_packet_delay_lands_on_one_node_and_heals") {
        let f = PacketFault::Delay {
            delay_ms: 200,
            jitter_ms: 20,
        };
        lands_and_heals(f, 40.0);
    }
}

/// Teardown with a fault still on stops the delay thread and removes the namespaces (and so every rule).
#[test]
fn root_teardown_with_packet_faults_on_leaves_nothing() {
    if !ready("root_teardown_with_packet_faults_on_leaves_nothing") {
        return;
    }
    let mut net = network(3);
    let prefix = format!("lh{}", net.run_id());
    let both = PacketAim {
        both_ways: true,
        peers_only: false,
    };
    let delay = PacketFault::Delay {
        delay_ms: 50,
        jitter_ms: 0,
    };
    net.shape("n1", &delay, both).unwrap();
    net.shape("n2", &PacketFault::Loss { pct: 10.0 }, both)
        .unwrap();
    net.shape("n3", &PacketFault::Duplicate { pct: 10.0 }, both)
        .unwrap();
    net.teardown().unwrap();
    assert!(namespaces_with_prefix(&prefix).is_empty());
}

/// Share of 300 UDP probes from the client namespace to an echo in `node`'s that came back.
fn client_answered(net: &Network, node: &str) -> usize {
    let addr = net.node_addr(node).unwrap();
    let echo = in_netns(net.node_netns(node).unwrap(), || {
        UdpSocket::bind((addr, 7411))
    })
    .unwrap()
    .unwrap();
    let probe = in_netns(net.client_netns(), || {
        UdpSocket::bind((net.client_addr(), 0))
    })
    .unwrap()
    .unwrap();
    echo.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut answered = 0;
    let mut buf = [0u8; 8];
    for i in 0..300u32 {
        probe.send_to(&i.to_be_bytes(), (addr, 7411)).unwrap();
        if let Ok((n, from)) = echo.recv_from(&mut buf) {
            echo.send_to(&buf[..n], from).unwrap();
        }
        answered += usize::from(probe.recv(&mut buf).is_ok());
    }
    answered
}

/// Aimed at the links between nodes, both ways: a round trip between nodes meets the fault twice, the
/// client's traffic not at all.
#[test]
fn root_packet_faults_on_peer_links_both_ways_leave_clients_alone() {
    if !ready("root_packet_faults_on_peer_links_both_ways_leave_clients_alone") {
        return;
    }
    let aim = PacketAim {
        both_ways: true,
        peers_only: true,
    };
    let net = network(3);
    for (f, tol) in [
        (PacketFault::Loss { pct: 20.0 }, 8.0),
        (PacketFault::Duplicate { pct: 20.0 }, 10.0),
        (
            PacketFault::Delay {
                delay_ms: 100,
                jitter_ms: 10,
            },
            40.0,
        ),
    ] {
        net.shape("n1", &f, aim).unwrap();
        let on = measure(&net, "n1", &f, aim);
        let got = f.measured(&on);
        assert!(
            (got - f.asked(aim)).abs() <= tol,
            "{f:?}: asked {}, measured {got}",
            f.asked(aim)
        );
        let answered = client_answered(&net, "n1");
        assert!(answered >= 297, "{f:?}: the client got {answered} of 300");
        net.unshape("n1").unwrap();
        assert!(!net.shaped("n1").unwrap());
    }
}

/// A delay thread that ends while its fault is on lets packets through undelayed (`--queue-bypass`): the
/// health check says so, and the measured round trip shows it.
#[test]
fn root_a_dead_delay_thread_is_reported() {
    if !ready("root_a_dead_delay_thread_is_reported") {
        return;
    }
    let net = network(3);
    let f = PacketFault::Delay {
        delay_ms: 200,
        jitter_ms: 0,
    };
    net.shape("n1", &f, PacketAim::default()).unwrap();
    assert!(matches!(net.packet_fault_health("n1"), Some(Ok(_))));
    net.end_delay_thread("n1");
    let health = net.packet_fault_health("n1").unwrap().unwrap_err();
    assert!(health.contains("died") && health.contains("n1"), "{health}");
    let b = measure(&net, "n1", &f, PacketAim::default());
    assert!(f.judge(&b, PacketAim::default(), true).is_err(), "{b:?}");
    net.unshape("n1").unwrap();
    assert_eq!(net.packet_fault_health("n1"), None);
}
