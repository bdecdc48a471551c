//! The text of the rules each packet fault installs, and their `lh...` names. Pure, so it is unit-tested.
//!
//! - loss: an nftables `bridge` table in the bridge namespace, forward hook, matching the node's bridge
//!   port: the sender never sees the drop (dropping in its own namespace gives it EPERM and a resend).
//! - duplicate: an nftables `netdev` egress chain on the node's own veth, `dup to` that veth; the copy
//!   carries [`DUP_MARK`], so each packet is copied at most once.
//! - delay: an iptables chain in the bridge namespace's FORWARD (bridged packets pass it through
//!   br_netfilter) sending the node's packets to an NFQUEUE our delay thread holds; `--queue-bypass`
//!   lets them through if no thread is bound (which the landing check then reports).

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

pub(crate) fn loss_script(table: &str, port: &str, pct: f64) -> String {
    format!(
        "table bridge {table} {{\n  chain {table} {{\n    type filter hook forward priority 0; policy accept;\n    \
         iifname \"{port}\" numgen random mod 10000 < {} drop\n  }}\n}}\n",
        threshold(pct)
    )
}

pub(crate) fn dup_script(table: &str, veth: &str, pct: f64) -> String {
    format!(
        "table netdev {table} {{\n  chain {table} {{\n    type filter hook egress device \"{veth}\" priority 0; \
         policy accept;\n    meta mark != {DUP_MARK:#x} numgen random mod 10000 < {} meta mark set {DUP_MARK:#x} \
         dup to \"{veth}\"\n  }}\n}}\n",
        threshold(pct)
    )
}

/// `iptables` argument lists that install the delay chain, in order: the chain, its one rule, the jump.
pub(crate) fn delay_install(chain: &str, addr: &str, queue: u16) -> Vec<Vec<String>> {
    let q = queue.to_string();
    let src = format!("{addr}/32");
    [
        vec!["-N", chain],
        vec![
            "-A",
            chain,
            "-s",
            &src,
            "-j",
            "NFQUEUE",
            "--queue-num",
            &q,
            "--queue-bypass",
        ],
        vec!["-I", "FORWARD", "-j", chain],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
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

    #[test]
    fn scripts_match_only_the_nodes_link() {
        let l = loss_script("lhab1ln1", "lhab1n1b", 20.0);
        assert!(l.contains("table bridge lhab1ln1"), "{l}");
        assert!(
            l.contains("iifname \"lhab1n1b\" numgen random mod 10000 < 2000 drop"),
            "{l}"
        );
        let d = dup_script("lhab1dn1", "lhab1n1", 10.0);
        assert!(d.contains("hook egress device \"lhab1n1\""), "{d}");
        assert!(
            d.contains("meta mark != 0x4c48 numgen random mod 10000 < 1000 meta mark set 0x4c48 dup to \"lhab1n1\""),
            "{d}"
        );
        let q = delay_install("lhab1qn1", "10.77.0.11", 7);
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
}
