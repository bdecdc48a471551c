//! Packet faults on a host without netem, on the packets the node's address sends (its host is the
//! sender, so these are the host's own packets; no bridge is in between):
//!
//! - delay and loss: an iptables chain `lh<run>q<node>` jumped to from OUTPUT queues them to an NFQUEUE
//!   that `harness nemesis-delay` holds on the host (uploaded like the node, started under the run
//!   directory's `pkt/`). It delays each, or drops the asked share after the sender saw it sent: a drop in
//!   OUTPUT itself would hand the sender an error and an immediate resend. If the helper dies the queue is
//!   bypassed, which [`Hosts::packet_fault_health`] reports (the run is then invalid).
//! - duplication: an nftables `netdev` egress table `lh<run>d<node>` on the device carrying the address,
//!   `dup to` that device, marked so each packet is copied once.
//!
//! The host's SSH replies (its sshd port) are exempt, so the controller keeps its view of the host. A fault
//! is measured by a burst of UDP probes from the node's address to an echo on another host
//! ([`Hosts::measure_packets`]). Teardown and `harness clean --hosts` remove all of it by name.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::firewall::device_script;
use super::{shell_quote, Hosts, RemoteProcess, RemoteSpec};
use crate::packet::{self, rules, Aim, Burst, PacketFault};
use crate::{Error, PREFIX};

/// Where the packet helper is on each host, and where its output goes here.
#[derive(Clone, Debug)]
pub struct PacketHelper {
    /// Node → the helper's path on its host (the uploaded harness executable).
    pub remote: std::collections::BTreeMap<String, String>,
    /// The local directory for its logs (`<node>-packets.log`).
    pub log_dir: PathBuf,
}

/// A packet fault applied on a host, and the helper holding its queue.
#[derive(Debug)]
pub(super) struct HostFault {
    holder: Option<RemoteProcess>,
}

/// How a fault is applied on a host, for the history.
pub const HOST_MECHANISM: &str = "netfilter (host)";

/// How long the helper may take to bind its queue, and a probe echo to answer.
const BIND_WAIT: Duration = Duration::from_secs(5);

pub(super) fn queue_chain(run: &str, node: &str) -> String {
    format!("{PREFIX}{run}q{node}")
}

/// The chain queueing what the node receives (`--packet-direction both`), jumped to from INPUT.
pub(super) fn receive_chain(run: &str, node: &str) -> String {
    format!("{PREFIX}{run}r{node}")
}

pub(super) fn dup_table(run: &str, node: &str) -> String {
    format!("{PREFIX}{run}d{node}")
}

/// Which of a node's packets a fault on its host hits: what it sends; with `both_ways` also what it
/// receives; with `peers` only those to and from these addresses (the other nodes: clients untouched).
#[derive(Clone, Debug, Default)]
pub(super) struct HostAim {
    pub both_ways: bool,
    pub peers: Option<Vec<Ipv4Addr>>,
}

impl HostAim {
    /// `-d a/32` (or `-s`) once per peer, or one empty match for everyone.
    fn matches(&self, flag: &str) -> Vec<String> {
        match &self.peers {
            Some(p) => p.iter().map(|a| format!(" {flag} {a}/32")).collect(),
            None => vec![String::new()],
        }
    }
}

/// Queues what `addr` sends (and, aimed both ways, receives) to `queue`, except the sshd's own traffic;
/// bypassed while nothing holds the queue.
fn queue_install(
    (chain, rchain): (&str, &str),
    addr: Ipv4Addr,
    ssh_port: u16,
    queue: u16,
    aim: &HostAim,
) -> String {
    let target = format!("-j NFQUEUE --queue-num {queue} --queue-bypass");
    let mut script = format!(
        "set -e\niptables -w -N {chain}\niptables -w -A {chain} -p tcp --sport {ssh_port} -j RETURN\n"
    );
    for to in aim.matches("-d") {
        script += &format!("iptables -w -A {chain} -s {addr}/32{to} {target}\n");
    }
    if aim.both_ways {
        // Its own packets to itself were queued on the way out already.
        script += &format!(
            "iptables -w -N {rchain}\niptables -w -A {rchain} -i lo -j RETURN\n\
             iptables -w -A {rchain} -p tcp --dport {ssh_port} -j RETURN\n"
        );
        for from in aim.matches("-s") {
            script += &format!("iptables -w -A {rchain} -d {addr}/32{from} {target}\n");
        }
        script += &format!("iptables -w -I INPUT 1 -j {rchain}\n");
    }
    script + &format!("iptables -w -I OUTPUT 1 -j {chain}\n")
}

/// Copies `pct`% of what `addr` sends (to the peers only, if aimed so; except the sshd's replies) on the
/// device carrying it. What a host receives it cannot copy: refused before this.
fn dup_install(table: &str, addr: Ipv4Addr, ssh_port: u16, pct: f64, aim: &HostAim) -> String {
    let mark = rules::DUP_MARK;
    let to = match &aim.peers {
        Some(p) => {
            let set: Vec<String> = p.iter().map(Ipv4Addr::to_string).collect();
            format!(" ip daddr {{ {} }}", set.join(", "))
        }
        None => String::new(),
    };
    format!(
        "set -e\n{}\nnft -f - <<LH_EOF\ntable netdev {table} {{\n  chain {table} {{\n    \
         type filter hook egress device \"$dev\" priority 0; policy accept;\n    \
         meta l4proto tcp th sport {ssh_port} accept\n    \
         ip saddr {addr}{to} meta mark != {mark:#x} numgen random mod 10000 < {} meta mark set {mark:#x} dup to \"$dev\"\n  \
         }}\n}}\nLH_EOF\n",
        device_script(addr),
        rules::threshold(pct)
    )
}

/// Removes the node's queue chains and dup table, whichever exist (idempotent).
pub(super) fn remove_script(run: &str, node: &str) -> String {
    let table = dup_table(run, node);
    let mut script = String::new();
    for (chain, hook) in [
        (queue_chain(run, node), "OUTPUT"),
        (receive_chain(run, node), "INPUT"),
    ] {
        script += &format!(
            "if command -v iptables >/dev/null 2>&1 && iptables -w -S {chain} >/dev/null 2>&1; then \
             iptables -w -D {hook} -j {chain} 2>/dev/null; iptables -w -F {chain}; iptables -w -X {chain}; fi\n"
        );
    }
    script
        + &format!(
            "if command -v nft >/dev/null 2>&1 && nft list table netdev {table} >/dev/null 2>&1; then \
             nft delete table netdev {table}; fi\ntrue\n"
        )
}

/// Prints `queue` if the jump to the node's chain is in OUTPUT, `dup` if its table exists, `bound` if
/// something holds its queue (the kernel's own list).
fn list_script(run: &str, node: &str, queue: u16) -> String {
    let (chain, table) = (queue_chain(run, node), dup_table(run, node));
    let rchain = receive_chain(run, node);
    format!(
        "iptables -w -S OUTPUT 2>/dev/null | grep -q -- '-j {chain}$' && echo queue\n\
         iptables -w -S INPUT 2>/dev/null | grep -q -- '-j {rchain}$' && echo queue\n\
         nft list table netdev {table} >/dev/null 2>&1 && echo dup\n\
         awk '$1 == {queue} {{f=1}} END {{if (f) print \"bound\"}}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null\ntrue\n"
    )
}

/// What a fault needs on the host: iptables for the queue, nft for the copy.
fn tool_for(fault: &PacketFault) -> &'static str {
    match fault {
        PacketFault::Duplicate { .. } => "nft",
        _ => "iptables",
    }
}

impl Hosts {
    /// Says where the packet helper is on each host (see [`PacketHelper`]); needed before a delay or
    /// loss, and for measuring any packet fault.
    pub fn set_packet_helper(&mut self, helper: PacketHelper) {
        self.helper = Some(helper);
    }

    /// The hosts that lack what `fault` needs, as `n3: iptables (Debian package iptables)` (empty: all
    /// have it). From the preflight.
    pub fn packet_tools_missing(&self, fault: &PacketFault) -> Vec<String> {
        let tool = tool_for(fault);
        let package = if tool == "nft" { "nftables" } else { tool };
        self.nodes()
            .into_iter()
            .filter(|n| !self.tools.get(n).is_some_and(|t| t.contains(tool)))
            .map(|n| format!("{n}: {tool} (Debian package {package})"))
            .collect()
    }

    fn queue_num(&self, node: &str) -> Result<u16, Error> {
        let i = self
            .nodes()
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        Ok(rules::QUEUE_BASE + i as u16)
    }

    fn ssh_port(&self, node: &str) -> u16 {
        self.shared
            .specs
            .get(node)
            .and_then(|h| h.port)
            .unwrap_or(22)
    }

    fn helper_path(&self, node: &str) -> Result<String, Error> {
        self.helper
            .as_ref()
            .and_then(|h| h.remote.get(node).cloned())
            .ok_or_else(|| {
                Error::invalid(
                    "packet faults",
                    format!("no packet helper was uploaded to the host of {node}"),
                )
            })
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, HostFault>> {
        self.packet_faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `fault` to what `node`'s address sends on its host (and, aimed both ways, receives; aimed
    /// at peers, only to and from the other nodes), replacing any packet fault of ours there, with
    /// netfilter: no netem needed. All or nothing. Returns how it was applied.
    pub fn shape(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<&'static str, Error> {
        self.ensure_live()?;
        if aim.both_ways && matches!(fault, PacketFault::Duplicate { .. }) {
            return Err(Error::invalid(
                "packet faults",
                "on --hosts a duplication hits only what a node sends (a host cannot copy what it \
                 receives): use --packet-direction out",
            ));
        }
        self.unshape(node)?;
        let addr = self
            .node_addr(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        let peers = aim.peers_only.then(|| {
            self.nodes()
                .iter()
                .filter(|n| n.as_str() != node)
                .filter_map(|n| self.node_addr(n))
                .collect()
        });
        let host_aim = HostAim {
            both_ways: aim.both_ways,
            peers,
        };
        if let Some(m) = self
            .packet_tools_missing(fault)
            .into_iter()
            .find(|m| m.starts_with(&format!("{node}:")))
        {
            return Err(Error::invalid(
                "packet faults",
                format!("the host lacks what this fault needs: {m}"),
            ));
        }
        let port = self.ssh_port(node);
        let mut applied = HostFault { holder: None };
        let result = match *fault {
            PacketFault::Duplicate { pct } => self
                .shared
                .sh(
                    node,
                    &dup_install(&dup_table(&self.run_id, node), addr, port, pct, &host_aim),
                )
                .map(drop),
            _ => {
                let queue = self.queue_num(node)?;
                self.start_holder(node, queue, fault).and_then(|h| {
                    applied.holder = Some(h);
                    let chains = (
                        &queue_chain(&self.run_id, node)[..],
                        &receive_chain(&self.run_id, node)[..],
                    );
                    self.shared
                        .sh(node, &queue_install(chains, addr, port, queue, &host_aim))
                        .map(drop)
                })
            }
        };
        if let Err(e) = result {
            if let Err(undo) = self.remove(node, &mut applied) {
                tracing::error!(error = %undo, "removing a half-applied packet fault on {node}");
            }
            return Err(e);
        }
        self.faults().insert(node.to_string(), applied);
        tracing::info!(node, ?fault, "packet fault applied on its host");
        Ok(HOST_MECHANISM)
    }

    /// Starts the helper holding `queue` and waits until the kernel lists the queue as bound.
    fn start_holder(
        &self,
        node: &str,
        queue: u16,
        fault: &PacketFault,
    ) -> Result<RemoteProcess, Error> {
        let program = self.helper_path(node)?;
        let dir = format!("{}/pkt", self.run_dir(node).expect("known"));
        self.shared.sh(node, &format!("mkdir -p {dir}"))?;
        let log_dir = self.helper.as_ref().expect("checked").log_dir.clone();
        let mut holder = self.spawn(RemoteSpec {
            name: node.into(),
            dir,
            program,
            args: packet::delay_args(queue, fault),
            env: vec![],
            log_path: log_dir.join(format!("{node}-packets.log")),
        })?;
        let deadline = Instant::now() + BIND_WAIT;
        loop {
            let listed = self.shared.sh(
                node,
                &format!(
                    "awk '$1 == {queue}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null; true"
                ),
            )?;
            if !listed.trim().is_empty() {
                return Ok(holder);
            }
            if !holder.is_running() {
                return Err(Error::NotLanded(format!(
                    "the packet helper on {node} exited ({:?}) before binding NFQUEUE {queue}: see {}-packets.log",
                    holder.last_exit(),
                    node
                )));
            }
            if Instant::now() > deadline {
                return Err(Error::NotLanded(format!(
                    "the packet helper on {node} did not bind NFQUEUE {queue} within {BIND_WAIT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn remove(&self, node: &str, applied: &mut HostFault) -> Result<(), Error> {
        // Rules first, so no packet is queued to a helper that is going away.
        let removed = self
            .shared
            .sh(node, &remove_script(&self.run_id, node))
            .map(drop);
        if let Some(mut h) = applied.holder.take() {
            // SIGTERM: it lets what it holds go on before exiting.
            if let Err(e) = h.stop(Duration::from_secs(2)) {
                tracing::warn!(node, error = %e, "stopping the packet helper");
            }
        }
        removed
    }

    /// Removes the packet fault of ours on `node`'s host, if any (rules, then the helper).
    pub fn unshape(&self, node: &str) -> Result<(), Error> {
        let Some(mut applied) = self.faults().remove(node) else {
            return Ok(());
        };
        self.remove(node, &mut applied)
    }

    /// Whether any packet fault of ours (a netem qdisc, our chain or table, a bound queue) is on `node`'s
    /// host now, read back from the host's kernel.
    pub fn shaped(&self, node: &str) -> Result<bool, Error> {
        let addr = self
            .node_addr(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        let queue = self.queue_num(node)?;
        let out = self.shared.sh(
            node,
            &format!(
                "{}\n{{\n{}\ntc qdisc show dev \"$dev\" root\n}}",
                device_script(addr),
                list_script(&self.run_id, node, queue)
            ),
        )?;
        Ok(out
            .lines()
            .any(|l| matches!(l.trim(), "queue" | "dup" | "bound") || l.contains("netem")))
    }

    /// Whether the fault on `node` still holds: for a delay or loss, that its helper on the host runs.
    /// `None` when no packet fault of ours is on it.
    pub fn packet_fault_health(&self, node: &str) -> Option<Result<u64, String>> {
        let mut faults = self.faults();
        let applied = faults.get_mut(node)?;
        let Some(h) = applied.holder.as_mut() else {
            return Some(Ok(0));
        };
        Some(if h.is_running() {
            Ok(0)
        } else {
            Err(format!(
                "the packet helper (NFQUEUE holder) on the host of {node} died (exit {:?}): its packets went on unaffected",
                h.last_exit()
            ))
        })
    }

    /// Kills `node`'s packet helper while its rules stay, as a crash would: for tests of
    /// [`Hosts::packet_fault_health`].
    #[doc(hidden)]
    pub fn kill_packet_helper(&self, node: &str) -> Result<(), Error> {
        match self.faults().get_mut(node).and_then(|a| a.holder.as_mut()) {
            Some(h) => h.kill(),
            None => Ok(()),
        }
    }

    /// Measures `fault` on `node` with a burst of UDP probes from its address to an echo on another host
    /// (one without a packet fault of its own, where there is one: a peer, so an aim at peers hits the
    /// probes too); both ends run the packet helper.
    pub fn measure_packets(
        &self,
        node: &str,
        fault: &PacketFault,
        aim: Aim,
    ) -> Result<Burst, Error> {
        self.ensure_live()?;
        let from = self
            .node_addr(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        let faulted: Vec<String> = self.faults().keys().cloned().collect();
        let peer = packet::probe_peer(node, self.nodes(), &faulted).ok_or_else(|| {
            Error::invalid("hosts", "packet faults are measured against a second host")
        })?;
        let to = SocketAddr::from((self.node_addr(&peer).expect("known"), packet::ECHO_PORT));
        let shape = fault.shape(aim);
        // The echo outlives any burst: warm-up, probes at up to three times their pace on a loaded host, and
        // the longest wait for late answers.
        let limit = BIND_WAIT * 2 + shape.gap * shape.count * 3 + shape.linger + packet::LATE_CAP;
        let command = |n: &str, args: Vec<String>| -> Result<String, Error> {
            let words: Vec<String> = std::iter::once(self.helper_path(n)?)
                .chain(args)
                .map(|w| shell_quote(&w))
                .collect();
            Ok(format!("exec {}", words.join(" ")))
        };
        let jobs = vec![
            (peer.clone(), command(&peer, packet::echo_args(to, limit))?),
            (
                node.to_string(),
                command(node, packet::send_args(from, to, shape, BIND_WAIT))?,
            ),
        ];
        let mut results = self.shared.sh_all(jobs).into_iter();
        let echo = results.next().expect("two jobs");
        let sent = results.next().expect("two jobs")?;
        echo?;
        serde_json::from_str(sent.trim()).map_err(|e| {
            Error::invalid(
                "packet probe",
                format!("unreadable burst from {node}: {e}: {sent}"),
            )
        })
    }

    /// The script that removes every packet fault of the run on `node`'s host and its helper (teardown).
    pub(super) fn packet_teardown_script(&self, node: &str) -> String {
        let dir = self.run_dir(node).expect("known");
        format!(
            "{}for f in {dir}/pkt/node.pid {dir}/pkt/wrapper.pid; do [ -f $f ] && p=$(cat $f) && kill -9 -$p $p 2>/dev/null; done\n",
            remove_script(&self.run_id, node)
        )
    }

    /// Stops every helper (part of teardown; their rules go with the teardown script).
    pub(super) fn drop_packet_faults(&self) {
        let faults = std::mem::take(&mut *self.faults());
        for (node, mut f) in faults {
            if let Some(mut h) = f.holder.take() {
                if let Err(e) = h.kill() {
                    tracing::warn!(node, error = %e, "killing the packet helper");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::hosts::assert_shell_syntax as parses;

    #[test]
    fn host_scripts_name_only_the_runs_objects_and_parse() {
        let a = Ipv4Addr::new(10, 0, 0, 11);
        let chains = (
            &queue_chain("ab1", "n1")[..],
            &receive_chain("ab1", "n1")[..],
        );
        let q = queue_install(chains, a, 22, 0x4c00, &HostAim::default());
        assert!(!q.contains("INPUT"), "{q}");
        assert!(q.contains("-A lhab1qn1 -p tcp --sport 22 -j RETURN"), "{q}");
        assert!(
            q.contains("-A lhab1qn1 -s 10.0.0.11/32 -j NFQUEUE --queue-num 19456 --queue-bypass"),
            "{q}"
        );
        assert!(q.contains("-I OUTPUT 1 -j lhab1qn1"), "{q}");
        let d = dup_install(&dup_table("ab1", "n1"), a, 2222, 20.0, &HostAim::default());
        assert!(d.contains("table netdev lhab1dn1"), "{d}");
        assert!(d.contains("th sport 2222 accept"), "{d}");
        assert!(
            d.contains("ip saddr 10.0.0.11 meta mark != 0x4c48 numgen random mod 10000 < 2000"),
            "{d}"
        );
        let r = remove_script("ab1", "n1");
        for line in r.lines().filter(|l| *l != "true") {
            assert!(
                ["lhab1qn1", "lhab1rn1", "lhab1dn1"]
                    .iter()
                    .any(|name| line.contains(name)),
                "{line}"
            );
        }
        for s in [q, d, r, list_script("ab1", "n1", 7)] {
            parses(&s);
        }
    }

    /// Both ways at the peers: what the node sends to each peer and receives from each, nothing else
    /// (clients and the sshd untouched).
    #[test]
    fn host_rules_aimed_both_ways_at_peers_name_each_peer() {
        let a = Ipv4Addr::new(10, 0, 0, 11);
        let aim = HostAim {
            both_ways: true,
            peers: Some(vec![
                Ipv4Addr::new(10, 0, 0, 12),
                Ipv4Addr::new(10, 0, 0, 13),
            ]),
        };
        let q = queue_install(("lhab1qn1", "lhab1rn1"), a, 22, 9, &aim);
        let target = "-j NFQUEUE --queue-num 9 --queue-bypass";
        for peer in ["10.0.0.12", "10.0.0.13"] {
            let out = format!("-A lhab1qn1 -s 10.0.0.11/32 -d {peer}/32 {target}");
            let inn = format!("-A lhab1rn1 -d 10.0.0.11/32 -s {peer}/32 {target}");
            assert!(q.contains(&out) && q.contains(&inn), "{q}");
        }
        assert_eq!(q.matches("NFQUEUE").count(), 4, "{q}");
        assert!(q.contains("-A lhab1rn1 -p tcp --dport 22 -j RETURN"), "{q}");
        assert!(q.contains("-I INPUT 1 -j lhab1rn1"), "{q}");
        let d = dup_install("lhab1dn1", a, 22, 5.0, &aim);
        assert!(
            d.contains("ip saddr 10.0.0.11 ip daddr { 10.0.0.12, 10.0.0.13 } meta mark"),
            "{d}"
        );
        parses(&q);
        parses(&d);
    }
}
