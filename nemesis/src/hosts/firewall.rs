//! Partitions and packet faults on a host, as shell scripts run over SSH.
//!
//! Partitions live in one nftables table the run owns (`inet lh<run>`), replaced atomically on every change
//! and deleted on heal; where `nft` is missing, in one iptables chain `lh<run>` with a single jump from
//! OUTPUT. No other table, chain or rule is ever read into a change or deleted (Jepsen's heal once flushed
//! every chain: jepsen#600). A dropped pair (from, to) is `ip daddr <to> drop` on from's output, the same
//! one-way cut as a blackhole route.

use std::net::Ipv4Addr;

/// How a host filters packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firewall {
    /// `nft` (preferred).
    Nft,
    /// `iptables`, where `nft` is missing.
    Iptables,
}

/// The table or chain name a run owns on every host.
pub fn owned_name(run_id: &str) -> String {
    format!("{}{run_id}", crate::PREFIX)
}

impl Firewall {
    /// A script that makes the run's rules drop exactly `to` (output to these addresses), replacing any
    /// earlier set. Empty `to` removes the run's table or chain entirely.
    pub fn script(self, run_id: &str, to: &[Ipv4Addr]) -> String {
        let name = owned_name(run_id);
        match self {
            // Declaring then deleting the table makes the delete succeed whether or not it exists; the
            // whole file is one transaction, so there is no moment without the old or the new rules.
            Firewall::Nft => {
                let mut s = format!(
                    "nft -f - <<'LH_EOF'\ntable inet {name} {{}}\ndelete table inet {name}\n"
                );
                if !to.is_empty() {
                    s += &format!(
                        "table inet {name} {{\n  chain output {{\n    type filter hook output priority 0; policy accept;\n"
                    );
                    for a in to {
                        s += &format!("    ip daddr {a} drop\n");
                    }
                    s += "  }\n}\n";
                }
                s + "LH_EOF\n"
            }
            Firewall::Iptables => {
                let mut s = format!(
                    "iptables -w -D OUTPUT -j {name} 2>/dev/null; iptables -w -F {name} 2>/dev/null; iptables -w -X {name} 2>/dev/null\n"
                );
                if !to.is_empty() {
                    s += &format!("iptables -w -N {name}\n");
                    for a in to {
                        s += &format!("iptables -w -A {name} -d {a}/32 -j DROP\n");
                    }
                    s += &format!("iptables -w -I OUTPUT 1 -j {name}\n");
                }
                s + "true\n"
            }
        }
    }

    /// A script that lists the run's rules, one dropped address per line (empty when healed).
    pub fn list_script(self, run_id: &str) -> String {
        let name = owned_name(run_id);
        match self {
            Firewall::Nft => format!(
                "nft list table inet {name} 2>/dev/null | sed -n 's/.*ip daddr \\([0-9.]*\\) drop.*/\\1/p'"
            ),
            Firewall::Iptables => format!(
                "iptables -w -S {name} 2>/dev/null | sed -n 's/.*-d \\([0-9.]*\\)\\/32 -j DROP.*/\\1/p'"
            ),
        }
    }
}

/// The script that finds the device carrying `addr` and puts `netem ARGS` on it as the root qdisc, unless
/// a root qdisc someone else configured is there (only the kernel's defaults are replaced).
pub fn netem_script(addr: Ipv4Addr, netem_args: &str) -> String {
    format!(
        "{}\ncase \"$(tc qdisc show dev \"$dev\" root)\" in\n  *netem*|'qdisc noqueue'*|'qdisc pfifo_fast'*|'qdisc fq_codel'*|'qdisc mq'*|'qdisc fq '*|'') ;;\n  *) echo \"lh: $dev has a root qdisc the harness did not create; not touching it\" >&2; exit 3 ;;\nesac\ntc qdisc replace dev \"$dev\" root netem {netem_args}\n",
        device_script(addr)
    )
}

/// The script that removes a netem root qdisc the harness put on the device carrying `addr` (and nothing else).
pub fn netem_clear_script(addr: Ipv4Addr) -> String {
    format!(
        "{}\nif tc qdisc show dev \"$dev\" root | grep -q netem; then tc qdisc del dev \"$dev\" root; fi\ntrue\n",
        device_script(addr)
    )
}

pub(crate) fn device_script(addr: Ipv4Addr) -> String {
    format!(
        "dev=$(ip -o -4 addr show | awk '$4 ~ /^{}\\// {{print $2; exit}}')\n[ -n \"$dev\" ] || {{ echo \"lh: no device has address {addr}\" >&2; exit 3; }}",
        addr.to_string().replace('.', "\\.")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> String {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[test]
    fn nft_script_owns_one_table() {
        let s = Firewall::Nft.script("ab1", &[Ipv4Addr::new(10, 0, 0, 12)]);
        assert!(s.contains("delete table inet lhab1\n"), "{s}");
        assert!(s.contains("ip daddr 10.0.0.12 drop"), "{s}");
        assert!(!s.contains("flush ruleset"), "{s}");
        let heal = Firewall::Nft.script("ab1", &[]);
        assert!(!heal.contains("chain"), "{heal}");
        for s in [s, heal] {
            assert_eq!(run(&s), "", "{s}");
        }
    }

    #[test]
    fn iptables_script_touches_only_its_chain_and_jump() {
        let s = Firewall::Iptables.script("ab1", &[Ipv4Addr::new(10, 0, 0, 12)]);
        for line in s.lines() {
            assert!(line.contains("lhab1") || line == "true", "{line}");
        }
        assert!(s.contains("-A lhab1 -d 10.0.0.12/32 -j DROP"), "{s}");
        assert_eq!(run(&s), "");
    }

    #[test]
    fn netem_scripts_parse() {
        let a = Ipv4Addr::new(10, 0, 0, 11);
        for s in [netem_script(a, "delay 100ms"), netem_clear_script(a)] {
            assert_eq!(run(&s), "", "{s}");
            assert!(s.contains("10\\.0\\.0\\.11"), "{s}");
        }
    }
}
