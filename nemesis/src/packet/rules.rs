//! The text of the rules each packet fault installs, and their `lh...` names. Pure, so it is unit-tested.
//!
//! - loss: an nftables `bridge` table in the bridge namespace, forward hook, matching the node's bridge
//!   port: the sender never sees the drop (dropping in its own namespace gives it EPERM and a resend).
//! - duplicate: an nftables `netdev` egress chain on the node's own veth, `dup to` that veth (and, for
//!   what it receives, on its bridge port); the copy carries [`DUP_MARK`], so each packet is copied once.
//! - delay: an iptables chain in the bridge namespace's FORWARD (bridged packets pass it through
//!   br_netfilter) sending the node's packets to an NFQUEUE our delay thread holds; `--queue-bypass`
//!   lets them through if no thread is bound (which the landing check then reports).
//!
//! Each hits what the node sends; [`Link::both_ways`] adds what it receives, and [`Link::peers`] narrows
//! both to the other nodes, so clients are untouched.

/// Marks a duplicated packet (and its original) so the egress chain never copies it again.
pub(crate) const DUP_MARK: u32 = 0x4c48;

/// The queue numbers our delay threads bind (per namespace, so only ours are there): base + node index.
pub(crate) const QUEUE_BASE: u16 = 0x4c00;

/// A share in percent as the `numgen random mod 10000 < N` threshold (0.01% steps).
pub(crate) fn threshold(pct: f64) -> u32 {
    (pct.clamp(0.0, 100.0) * 100.0).round() as u32
}

/// Table (and chain) dropping `pct`% of what `node` sends, in the bridge namespace.
pub(crate) fn loss_table(prefix: &str, node: &str) -> String {
    format!("{prefix}l{node}")
}

/// Table (and chain) duplicating `pct`% of what `node` sends, in the node's namespace.
pub(crate) fn dup_table(prefix: &str, node: &str) -> String {
    format!("{prefix}d{node}")
}

/// The iptables chain queueing `node`'s packets for delay, in the bridge namespace (28 bytes at most:
/// `lh` + 5 + `q` + 6 = 14).
pub(crate) fn delay_chain(prefix: &str, node: &str) -> String {
    format!("{prefix}q{node}")
}

/// The target's link as the rules see it, and which of its packets a fault hits.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    /// The node's veth (in its namespace), its port on the bridge and its address.
    pub veth: String,
    pub port: String,
    pub addr: String,
    /// Only packets to and from these (the other nodes' bridge ports and addresses): clients untouched.
    pub peers: Option<(Vec<String>, Vec<String>)>,
    /// Also the packets the node receives, not only those it sends.
    pub both_ways: bool,
}

/// `{ "a", "b" }` (nft anonymous set of names) or `{ 10.0.0.1, ... }` of addresses.
fn set(items: &[String], quote: bool) -> String {
    let q = if quote { "\"" } else { "" };
    let inner: Vec<String> = items.iter().map(|i| format!("{q}{i}{q}")).collect();
    format!("{{ {} }}", inner.join(", "))
}

fn table(family: &str, name: &str, hook: &str, rules: &[String]) -> String {
    let body: Vec<String> = rules.iter().map(|r| format!("    {r}\n")).collect();
    format!(
        "table {family} {name} {{\n  chain {name} {{\n    type filter hook {hook} priority 0; policy accept;\n{}  }}\n}}\n",
        body.concat()
    )
}

pub(crate) fn loss_script(name: &str, link: &Link, pct: f64) -> String {
    let draw = format!("numgen random mod 10000 < {} drop", threshold(pct));
    let other = |dir: &str| {
        link.peers.as_ref().map_or(String::new(), |(ports, _)| {
            format!("{dir} {} ", set(ports, true))
        })
    };
    let mut rules = vec![format!(
        "iifname \"{}\" {}{draw}",
        link.port,
        other("oifname")
    )];
    if link.both_ways {
        rules.push(format!(
            "oifname \"{}\" {}{draw}",
            link.port,
            other("iifname")
        ));
    }
    table("bridge", name, "forward", &rules)
}

/// Duplicates what leaves `dev` (the node's veth for its sends, its bridge port for what it receives),
/// only to or from `peers` when given.
fn dup_script(name: &str, dev: &str, peers: Option<String>, pct: f64) -> String {
    let only = peers.map_or(String::new(), |p| format!("{p} "));
    let rule = format!(
        "meta mark != {DUP_MARK:#x} {only}numgen random mod 10000 < {} meta mark set {DUP_MARK:#x} \
         dup to \"{dev}\"",
        threshold(pct)
    );
    table("netdev", name, &format!("egress device \"{dev}\""), &[rule])
}

/// In the node's namespace: copies of what it sends.
pub(crate) fn dup_out_script(name: &str, link: &Link, pct: f64) -> String {
    let peers = link
        .peers
        .as_ref()
        .map(|(_, addrs)| format!("ip daddr {}", set(addrs, false)));
    dup_script(name, &link.veth, peers, pct)
}

/// In the bridge namespace: copies of what it receives (with `both_ways`).
pub(crate) fn dup_in_script(name: &str, link: &Link, pct: f64) -> String {
    let peers = link
        .peers
        .as_ref()
        .map(|(_, addrs)| format!("ip saddr {}", set(addrs, false)));
    dup_script(name, &link.port, peers, pct)
}

/// `iptables` argument lists that install the delay chain, in order: the chain, its rules, the jump.
pub(crate) fn delay_install(chain: &str, link: &Link, queue: u16) -> Vec<Vec<String>> {
    let me = format!("{}/32", link.addr);
    let others: Vec<Option<String>> = match &link.peers {
        Some((_, addrs)) => addrs.iter().map(|a| Some(format!("{a}/32"))).collect(),
        None => vec![None],
    };
    let mut out = vec![vec!["-N".to_string(), chain.to_string()]];
    let mut ways = vec![("-s", "-d")];
    if link.both_ways {
        ways.push(("-d", "-s"));
    }
    for (mine, theirs) in ways {
        for other in &others {
            let mut r = vec!["-A".to_string(), chain.into(), mine.into(), me.clone()];
            if let Some(o) = other {
                r.extend([theirs.to_string(), o.clone()]);
            }
            r.extend(
                [
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &queue.to_string(),
                    "--queue-bypass",
                ]
                .map(String::from),
            );
            out.push(r);
        }
    }
    out.push(["-I", "FORWARD", "-j", chain].map(String::from).to_vec());
    out
}

/// The lists that remove it again, jump first, so no packet meets a half-removed chain.
pub(crate) fn delay_remove(chain: &str) -> Vec<Vec<String>> {
    [
        vec!["-D", "FORWARD", "-j", chain],
        vec!["-F", chain],
        vec!["-X", chain],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_hundredths_of_a_percent() {
        assert_eq!(threshold(20.0), 2000);
        assert_eq!(threshold(0.5), 50);
        assert_eq!(threshold(100.0), 10000);
        assert_eq!(threshold(250.0), 10000);
    }

    #[test]
    fn every_name_carries_the_run_prefix() {
        for name in [
            loss_table("lhab1", "n1"),
            dup_table("lhab1", "n1"),
            delay_chain("lhab1", "n123456"),
        ] {
            assert!(name.starts_with("lhab1") && name.len() <= 28, "{name}");
        }
    }

    fn link(peers: bool, both_ways: bool) -> Link {
        Link {
            veth: "lhab1n1".into(),
            port: "lhab1n1b".into(),
            addr: "10.77.0.11".into(),
            peers: peers.then(|| {
                (
                    vec!["lhab1n2b".into(), "lhab1n3b".into()],
                    vec!["10.77.0.12".into(), "10.77.0.13".into()],
                )
            }),
            both_ways,
        }
    }

    #[test]
    fn scripts_match_only_the_nodes_link() {
        let l = loss_script("lhab1ln1", &link(false, false), 20.0);
        assert!(l.contains("table bridge lhab1ln1"), "{l}");
        assert!(
            l.contains("iifname \"lhab1n1b\" numgen random mod 10000 < 2000 drop"),
            "{l}"
        );
        assert!(!l.contains("oifname"), "{l}");
        let d = dup_out_script("lhab1dn1", &link(false, false), 10.0);
        assert!(d.contains("hook egress device \"lhab1n1\""), "{d}");
        assert!(
            d.contains("meta mark != 0x4c48 numgen random mod 10000 < 1000 meta mark set 0x4c48 dup to \"lhab1n1\""),
            "{d}"
        );
        let q = delay_install("lhab1qn1", &link(false, false), 7);
        assert_eq!(q.len(), 3);
        assert_eq!(
            q[1].join(" "),
            "-A lhab1qn1 -s 10.77.0.11/32 -j NFQUEUE --queue-num 7 --queue-bypass"
        );
        assert_eq!(q[2].join(" "), "-I FORWARD -j lhab1qn1");
        assert_eq!(
            delay_remove("lhab1qn1")[0].join(" "),
            "-D FORWARD -j lhab1qn1"
        );
    }

    #[test]
    fn peers_and_both_ways_leave_clients_alone_and_add_the_way_in() {
        let l = loss_script("t", &link(true, true), 20.0);
        assert!(
            l.contains("iifname \"lhab1n1b\" oifname { \"lhab1n2b\", \"lhab1n3b\" } numgen"),
            "{l}"
        );
        assert!(
            l.contains("oifname \"lhab1n1b\" iifname { \"lhab1n2b\", \"lhab1n3b\" } numgen"),
            "{l}"
        );
        let d = dup_in_script("t", &link(true, true), 10.0);
        assert!(d.contains("egress device \"lhab1n1b\""), "{d}");
        assert!(
            d.contains("ip saddr { 10.77.0.12, 10.77.0.13 } numgen"),
            "{d}"
        );
        let q = delay_install("c", &link(true, true), 7);
        let q: Vec<String> = q.iter().map(|r| r.join(" ")).collect();
        assert_eq!(q.len(), 6, "{q:?}");
        assert!(q.contains(
            &"-A c -s 10.77.0.11/32 -d 10.77.0.13/32 -j NFQUEUE --queue-num 7 --queue-bypass"
                .to_string()
        ));
        assert!(q.contains(
            &"-A c -d 10.77.0.11/32 -s 10.77.0.12/32 -j NFQUEUE --queue-num 7 --queue-bypass"
                .to_string()
        ));
    }
}
