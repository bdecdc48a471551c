//! Measures how long the network operations take (needs root):
//! `cargo run --release -p nemesis --example net_timing -- [nodes] [rounds]`.

use std::time::{Duration, Instant};

use nemesis::{generate_run_id, NetConfig, Network, Partition, Subnet};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), nemesis::Error> {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    nemesis::check_privileges()?;
    let names: Vec<String> = (1..=nodes).map(|i| format!("n{i}")).collect();
    let (mut create, mut apply, mut heal, mut teardown) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut net = Network::create(NetConfig {
            run_id: generate_run_id(),
            subnet: Subnet::default(),
            nodes: names.clone(),
        })?;
        create.push(t.elapsed());
        let p = Partition::halves(&names[..nodes / 2], &names[nodes / 2..]);
        let t = Instant::now();
        net.apply(&p)?;
        apply.push(t.elapsed());
        let t = Instant::now();
        net.heal()?;
        heal.push(t.elapsed());
        let t = Instant::now();
        net.teardown()?;
        teardown.push(t.elapsed());
    }
    let drops = Partition::halves(&names[..nodes / 2], &names[nodes / 2..])
        .drops
        .len();
    println!("{nodes} nodes, {rounds} rounds, medians:");
    println!("  create   {:?}", median(create));
    println!(
        "  apply    {:?} (halves: {drops} blackhole routes)",
        median(apply)
    );
    println!("  heal     {:?}", median(heal));
    println!("  teardown {:?}", median(teardown));
    Ok(())
}
