//! Landing probes from inside the namespaces: a partition that is in place shows as cut pairs, one that
//! is not (a route removed behind our back) is caught and named, and after a heal every pair connects.

mod common;

use common::*;
use nemesis::{Partition, Probes};

#[test]
fn root_probes_see_cut_pairs_and_name_a_partition_that_did_not_land() {
    if !have_root("root_probes_see_cut_pairs_and_name_a_partition_that_did_not_land") {
        return;
    }
    let net = network(3);
    let all = nodes(3);
    let probes = Probes::start(&net).unwrap();

    let healed = probes.check(&net, &Partition::default()).unwrap();
    assert!(healed.landed(), "{:?}", healed.failures());
    assert_eq!(healed.pairs.len(), 6);

    let p = Partition::isolate("n1", &all);
    net.apply(&p).unwrap();
    let l = probes.check(&net, &p).unwrap();
    assert!(l.landed(), "{:?}", l.failures());
    let cut = |a: &str, b: &str| {
        l.pairs
            .iter()
            .find(|x| x.from == a && x.to == b)
            .is_some_and(|x| !x.connected)
    };
    assert!(cut("n1", "n2") && cut("n2", "n1") && cut("n3", "n1"));
    assert!(!cut("n2", "n3") && !cut("n3", "n2"));

    // Someone removes the routes between n1 and n2: the partition is no longer what we applied.
    let ns1 = net.node_netns("n1").unwrap().to_string();
    let ns2 = net.node_netns("n2").unwrap().to_string();
    let a1 = net.node_addr("n1").unwrap();
    let a2 = net.node_addr("n2").unwrap();
    ip(&["-n", &ns1, "route", "del", "blackhole", &format!("{a2}/32")]);
    ip(&["-n", &ns2, "route", "del", "blackhole", &format!("{a1}/32")]);
    let l = probes.check(&net, &p).unwrap();
    assert!(!l.landed());
    let failures = l.failures();
    assert_eq!(
        failures,
        vec![
            "n1 -> n2 (expected cut, connected)".to_string(),
            "n2 -> n1 (expected cut, connected)".to_string()
        ]
    );

    // Our heal must not trip over the routes that are gone; after it every pair connects.
    let _ = net.heal();
    let l = probes.check(&net, &Partition::default()).unwrap();
    assert!(l.landed(), "{:?}", l.failures());
}
