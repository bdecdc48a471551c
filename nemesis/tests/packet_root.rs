//! Packet faults without netem (nftables and an NFQUEUE thread), measured from inside the namespaces:
//! each lands with its effect within tolerance on the target's packets only, and is gone after the heal.
//! Needs root, `nft` and `iptables`; skips otherwise (fails on CI).

mod common;

use common::*;
use nemesis::{Burst, Network, PacketFault};

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

fn measure(net: &Network, node: &str, f: &PacketFault) -> Burst {
    let b = net.measure_packets(node, f).unwrap();
    eprintln!("{node} under {f:?}: {b:?}");
    b
}

/// Applies `f` to n1, checks the measured effect is within `tol` of what was asked, that n2 is
/// untouched, and that the heal removes every rule and the effect.
fn lands_and_heals(f: PacketFault, tol: f64) {
    let net = network(2);
    assert_eq!(net.shape("n1", &f).unwrap(), "netfilter");
    assert!(net.shaped("n1").unwrap());
    assert!(!net.shaped("n2").unwrap());
    let on = measure(&net, "n1", &f);
    let got = f.measured(&on);
    assert!(
        (got - f.asked()).abs() <= tol,
        "asked {}, measured {got} ({on:?})",
        f.asked()
    );
    assert!(f.judge(&on, true).is_ok());
    assert!(on.sent >= 40);
    let other = measure(&net, "n2", &f);
    assert!(f.judge(&other, false).is_ok(), "n2 is untouched: {other:?}");
    assert_eq!(net.packet_fault_health("n1").map(|h| h.is_ok()), Some(true));
    net.unshape("n1").unwrap();
    assert!(!net.shaped("n1").unwrap(), "every rule removed");
    let off = measure(&net, "n1", &f);
    assert!(f.judge(&off, false).is_ok(), "healed: {off:?}");
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
    net.shape(
        "n1",
        &PacketFault::Delay {
            delay_ms: 50,
            jitter_ms: 0,
        },
    )
    .unwrap();
    net.shape("n2", &PacketFault::Loss { pct: 10.0 }).unwrap();
    net.shape("n3", &PacketFault::Duplicate { pct: 10.0 })
        .unwrap();
    net.teardown().unwrap();
    assert!(namespaces_with_prefix(&prefix).is_empty());
}
