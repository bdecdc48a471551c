//! Packet faults on the packets a node sends, with standard netfilter parts (no netem needed): loss and
//! duplication by nftables, delay by an NFQUEUE that a thread of ours holds ([`rules`] says where each
//! lives). Every table, chain and queue is named `lh<run>...` and lives in one of the run's own namespaces,
//! so deleting those (teardown, `harness clean`) removes them too. While a fault is on, the node's veth
//! sends no GSO super-packets (`gso_max_segs 1`), so a percentage means per wire packet.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::netns::ip;
use crate::{Error, Netem, Network};

mod delay;
mod helper;
mod measure;
mod netfilter;
pub(crate) mod rules;

pub(crate) use helper::{delay_args, echo_args, send_args};
pub use helper::{helper_main, DELAY_COMMAND, PROBE_COMMAND};
pub use measure::{Burst, ECHO_PORT};
pub use netfilter::tool_available;

use delay::DelayWorker;
pub(crate) use measure::{BurstShape, LATE_CAP};

/// One packet fault on a node's outgoing packets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PacketFault {
    Delay { delay_ms: u64, jitter_ms: u64 },
    Loss { pct: f64 },
    Duplicate { pct: f64 },
}

/// Which of a node's packets a fault hits: what it sends (default) or also what it receives, to and from
/// anyone (default) or only the other nodes (clients untouched, as `--partition-scope peers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Aim {
    pub both_ways: bool,
    pub peers_only: bool,
}

impl Aim {
    /// How many legs of a probe's round trip the fault hits.
    fn legs(self) -> i32 {
        if self.both_ways {
            2
        } else {
            1
        }
    }
}

/// How a packet fault was applied, for the history.
pub const MECHANISM: &str = "netfilter";

impl PacketFault {
    /// The same fault as netem arguments (for `--hosts`, where netem does it).
    pub fn netem(&self) -> Netem {
        match *self {
            PacketFault::Delay {
                delay_ms,
                jitter_ms,
            } => Netem {
                delay_ms: Some((delay_ms, jitter_ms)),
                ..Netem::default()
            },
            PacketFault::Loss { pct } => Netem {
                loss_pct: Some(pct),
                ..Netem::default()
            },
            PacketFault::Duplicate { pct } => Netem {
                duplicate_pct: Some(pct),
                ..Netem::default()
            },
        }
    }

    /// What the fault asks for, in what a burst measures (ms of round trip, or percent): a round trip
    /// crosses it once, or twice when it hits both ways.
    pub fn asked(&self, aim: Aim) -> f64 {
        let k = aim.legs();
        match *self {
            PacketFault::Delay { delay_ms, .. } => delay_ms as f64 * f64::from(k),
            // Lost on either leg.
            PacketFault::Loss { pct } => 100.0 * (1.0 - (1.0 - pct / 100.0).powi(k)),
            // Each copy of a probe is echoed, and each echo may be copied again.
            PacketFault::Duplicate { pct } => 100.0 * ((1.0 + pct / 100.0).powi(k) - 1.0),
        }
    }

    /// What a burst measured of this fault (same unit as [`PacketFault::asked`]).
    pub fn measured(&self, b: &Burst) -> f64 {
        match self {
            PacketFault::Delay { .. } => b.rtt_ms_mean.unwrap_or(0.0),
            PacketFault::Loss { .. } => b.loss_pct(),
            PacketFault::Duplicate { .. } => b.duplicate_pct(),
        }
    }

    /// Whether a burst shows the fault on (`on`) or gone: on means at least half and at most twice what
    /// was asked (plus 2 points or 20 ms of noise); gone means under half.
    pub fn judge(&self, b: &Burst, aim: Aim, on: bool) -> Result<(), String> {
        let (asked, got) = (self.asked(aim), self.measured(b));
        let slack = match self {
            PacketFault::Delay { .. } => 20.0,
            _ => 2.0,
        };
        let unit = match self {
            PacketFault::Delay { .. } => "ms round trip",
            PacketFault::Loss { .. } => "% lost",
            PacketFault::Duplicate { .. } => "% duplicated",
        };
        let ok = if on {
            got >= asked / 2.0 && got <= asked * 2.0 + slack
        } else {
            got < asked / 2.0
        };
        if ok {
            return Ok(());
        }
        Err(format!(
            "measured {got:.1}{unit} over {} probes, asked {asked:.1}{unit} ({})",
            b.sent,
            if on {
                "expected between half and twice that"
            } else {
                "expected under half of it once healed"
            }
        ))
    }

    pub(crate) fn shape(&self, aim: Aim) -> BurstShape {
        match *self {
            PacketFault::Delay {
                delay_ms,
                jitter_ms,
            } => BurstShape {
                count: 40,
                gap: Duration::from_millis(10),
                linger: Duration::from_millis((delay_ms + jitter_ms) * aim.legs() as u64 + 300),
            },
            _ => BurstShape {
                count: 600,
                gap: Duration::from_millis(1),
                linger: Duration::from_millis(300),
            },
        }
    }
}

/// What is applied on one node, so it can be removed exactly.
#[derive(Debug)]
pub(crate) struct Applied {
    fault: PacketFault,
    aim: Aim,
    gso_before: Option<String>,
    worker: Option<DelayWorker>,
}

/// The packet faults on a network's nodes.
pub(crate) type AppliedFaults = BTreeMap<String, Applied>;

impl Network {
    /// Applies `fault` to the packets `node` sends (replacing any packet fault of ours on it). All or
    /// nothing: on failure whatever was added is removed again.
    pub fn shape(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<&'static str, Error> {
        self.unshape(node)?;
        let mut applied = Applied {
            fault: *fault,
            aim,
            gso_before: None,
            worker: None,
        };
        match self.install(node, &mut applied) {
            Ok(()) => {
                self.packets_lock().insert(node.to_string(), applied);
                tracing::info!(node, ?fault, ?aim, "packet fault applied");
                Ok(MECHANISM)
            }
            Err(e) => {
                if let Err(undo) = self.uninstall(node, &mut applied) {
                    tracing::error!(error = %undo, "removing a half-applied packet fault");
                }
                Err(e)
            }
        }
    }

    fn install(&self, node: &str, applied: &mut Applied) -> Result<(), Error> {
        let link = self.rule_link(node, applied.aim)?;
        let ns = self.node_link(node)?.0.to_string();
        applied.gso_before = Some(gso_max_segs(&ns, &link.veth)?);
        ip(&[
            "-n",
            &ns,
            "link",
            "set",
            "dev",
            &link.veth,
            "gso_max_segs",
            "1",
        ])?;
        let prefix = self.prefix();
        let bridge = self.bridge_netns();
        match applied.fault {
            PacketFault::Loss { pct } => {
                let table = rules::loss_table(&prefix, node);
                netfilter::nft_script(bridge, &rules::loss_script(&table, &link, pct))
            }
            PacketFault::Duplicate { pct } => {
                let table = rules::dup_table(&prefix, node);
                netfilter::nft_script(&ns, &rules::dup_out_script(&table, &link, pct))?;
                if link.both_ways {
                    netfilter::nft_script(bridge, &rules::dup_in_script(&table, &link, pct))?;
                }
                Ok(())
            }
            PacketFault::Delay {
                delay_ms,
                jitter_ms,
            } => {
                let spec = delay::Spec {
                    delay: Duration::from_millis(delay_ms),
                    jitter: Duration::from_millis(jitter_ms),
                    loss_pct: 0.0,
                };
                let queue = self.queue_num(node)?;
                applied.worker = Some(DelayWorker::start(Some(bridge), queue, spec)?);
                let chain = rules::delay_chain(&prefix, node);
                for args in rules::delay_install(&chain, &link, queue) {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    netfilter::iptables(bridge, &args)?;
                }
                Ok(())
            }
        }
    }

    /// `node`'s link as the rules name it, with the peers when only node-to-node packets are hit.
    fn rule_link(&self, node: &str, aim: Aim) -> Result<rules::Link, Error> {
        let (_, veth) = self.node_link(node)?;
        let addr = |n: &str| {
            self.node_addr(n)
                .map(|a| a.to_string())
                .ok_or_else(|| Error::UnknownNode(n.into()))
        };
        let peers = if aim.peers_only {
            let others: Vec<String> = self.nodes().into_iter().filter(|n| n != node).collect();
            let ports = others
                .iter()
                .map(|n| self.bridge_port(n))
                .collect::<Result<_, _>>()?;
            let addrs = others.iter().map(|n| addr(n)).collect::<Result<_, _>>()?;
            Some((ports, addrs))
        } else {
            None
        };
        Ok(rules::Link {
            veth: veth.to_string(),
            port: self.bridge_port(node)?,
            addr: addr(node)?,
            peers,
            both_ways: aim.both_ways,
        })
    }

    /// Removes the packet fault on `node`, if any. An error says what could not be removed, or that the
    /// delay thread had died while the fault was on (the fault did not hold).
    pub fn unshape(&self, node: &str) -> Result<(), Error> {
        let Some(mut applied) = self.packets_lock().remove(node) else {
            return Ok(());
        };
        self.uninstall(node, &mut applied)
    }

    fn uninstall(&self, node: &str, applied: &mut Applied) -> Result<(), Error> {
        let prefix = self.prefix();
        let mut first_err = None;
        let mut note = |r: Result<(), Error>| {
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        };
        let (ns, veth) = self.node_link(node)?;
        match applied.fault {
            PacketFault::Loss { .. } => {
                let table = rules::loss_table(&prefix, node);
                note(delete_table(self.bridge_netns(), "bridge", &table));
            }
            PacketFault::Duplicate { .. } => {
                let table = rules::dup_table(&prefix, node);
                note(delete_table(ns, "netdev", &table));
                note(delete_table(self.bridge_netns(), "netdev", &table));
            }
            PacketFault::Delay { .. } => {
                let chain = rules::delay_chain(&prefix, node);
                note(remove_delay_chain(self.bridge_netns(), &chain));
                if let Some(mut w) = applied.worker.take() {
                    note(w.stop().map_err(Error::Privileges));
                }
            }
        }
        if let Some(segs) = applied.gso_before.take() {
            note(ip(&["-n", ns, "link", "set", "dev", veth, "gso_max_segs", &segs]).map(drop));
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Whether any rule, chain or thread of a packet fault of ours is on `node` now (read back from the
    /// kernel, not from memory).
    pub fn shaped(&self, node: &str) -> Result<bool, Error> {
        let prefix = self.prefix();
        let (ns, _) = self.node_link(node)?;
        let bridge = nft_tables(self.bridge_netns())?;
        let own = nft_tables(ns)?;
        let chain = rules::delay_chain(&prefix, node);
        let queued = netfilter::iptables(self.bridge_netns(), &["-S", "FORWARD"])?
            .contains(&format!("-j {chain}"));
        let dup = rules::dup_table(&prefix, node);
        Ok(bridge.contains(&rules::loss_table(&prefix, node))
            || bridge.contains(&dup)
            || own.contains(&dup)
            || queued)
    }

    /// Whether the fault on `node` still holds: for a delay, that its thread lives (and how many packets
    /// it delayed so far). `None` when no packet fault is on it.
    pub fn packet_fault_health(&self, node: &str) -> Option<Result<u64, String>> {
        let faults = self.packets_lock();
        let applied = faults.get(node)?;
        Some(match &applied.worker {
            Some(w) if !w.alive() => Err(format!(
                "the packet-delay thread of {node} died: its packets went on undelayed"
            )),
            Some(w) => Ok(w.held()),
            None => Ok(0),
        })
    }

    /// Measures `fault` on `node` with a burst of probes to an echo in another node's namespace (a peer,
    /// so the probes cross the fault whatever its aim; one without a fault of its own where there is one).
    pub fn measure_packets(
        &self,
        node: &str,
        fault: &PacketFault,
        aim: Aim,
    ) -> Result<Burst, Error> {
        let (ns, _) = self.node_link(node)?;
        let place = |n: &str| {
            let ns = self.node_netns(n);
            ns.zip(self.node_addr(n))
                .ok_or_else(|| Error::UnknownNode(n.into()))
        };
        let (_, from) = place(node)?;
        let faulted: Vec<String> = self.packets_lock().keys().cloned().collect();
        let peer = probe_peer(node, self.nodes(), &faulted).ok_or_else(|| {
            Error::invalid(
                "network",
                "packet faults are measured against a second node",
            )
        })?;
        let (echo_ns, echo) = place(&peer)?;
        measure::burst(ns, from, echo_ns, echo, fault.shape(aim))
    }

    /// Ends `node`'s delay thread while its rules stay, as a crash of it would: for tests of
    /// [`Network::packet_fault_health`].
    #[doc(hidden)]
    pub fn end_delay_thread(&self, node: &str) {
        if let Some(w) = self
            .packets_lock()
            .get_mut(node)
            .and_then(|a| a.worker.as_mut())
        {
            let _ = w.stop();
        }
    }

    /// Stops every delay thread (part of teardown: a thread's queue socket would keep the bridge
    /// namespace alive after its name is gone).
    pub(crate) fn stop_packet_threads(&self) {
        for (node, mut applied) in std::mem::take(&mut *self.packets_lock()) {
            if let Some(mut w) = applied.worker.take() {
                if let Err(e) = w.stop() {
                    tracing::warn!(node, "packet-delay thread: {e}");
                }
            }
        }
    }

    fn queue_num(&self, node: &str) -> Result<u16, Error> {
        let i = self
            .nodes()
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        Ok(rules::QUEUE_BASE + i as u16)
    }
}

fn delete_table(ns: &str, family: &str, table: &str) -> Result<(), Error> {
    if !nft_tables(ns)?.contains(&table.to_string()) {
        return Ok(());
    }
    netfilter::nft(ns, &["delete", "table", family, table]).map(drop)
}

fn remove_delay_chain(ns: &str, chain: &str) -> Result<(), Error> {
    let present = netfilter::iptables(ns, &["-S"])?;
    for args in rules::delay_remove(chain) {
        let wanted = match args[0].as_str() {
            "-D" => present.contains(&format!("-A FORWARD -j {chain}")),
            _ => present.contains(&format!("-N {chain}")),
        };
        if wanted {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            netfilter::iptables(ns, &args)?;
        }
    }
    Ok(())
}

/// The names of the nftables tables in namespace `ns` (`nft list tables`: `table <family> <name>`).
fn nft_tables(ns: &str) -> Result<Vec<String>, Error> {
    Ok(netfilter::nft(ns, &["list", "tables"])?
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(String::from))
        .collect())
}

/// A link's `gso_max_segs` (from `ip -d link show`), to restore it after the fault.
fn gso_max_segs(ns: &str, dev: &str) -> Result<String, Error> {
    let shown = ip(&["-d", "-n", ns, "link", "show", "dev", dev])?;
    let mut words = shown.split_whitespace();
    words
        .find(|w| *w == "gso_max_segs")
        .and_then(|_| words.next())
        .map(String::from)
        .ok_or_else(|| Error::invalid("link", format!("no gso_max_segs shown for {dev}: {shown}")))
}

/// Whom `node`'s probes go to: another node without a packet fault of its own where there is one, so
/// only `node`'s fault is measured; else any other node. Shared by namespaces and hosts.
pub(crate) fn probe_peer(node: &str, nodes: Vec<String>, faulted: &[String]) -> Option<String> {
    let others: Vec<String> = nodes.into_iter().filter(|n| n != node).collect();
    others
        .iter()
        .find(|n| !faulted.contains(n))
        .or(others.first())
        .cloned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn probes_go_to_a_peer_without_a_fault_of_its_own() {
        let nodes = || ["n1", "n2", "n3"].map(String::from).to_vec();
        let f = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::probe_peer("n1", nodes(), &f(&["n1", "n2"])).as_deref(),
            Some("n3")
        );
        assert_eq!(
            super::probe_peer("n1", nodes(), &f(&["n1", "n2", "n3"])).as_deref(),
            Some("n2")
        );
        assert_eq!(super::probe_peer("n1", f(&["n1"]), &[]), None);
    }
    use super::*;

    fn burst(sent: u32, answered: u32, extra: u32, rtt: Option<f64>) -> Burst {
        Burst {
            sent,
            answered,
            extra,
            rtt_ms_mean: rtt,
            rtt_ms_max: rtt,
        }
    }

    #[test]
    fn judging_needs_at_least_half_and_at_most_twice() {
        let one = Aim::default();
        let loss = PacketFault::Loss { pct: 20.0 };
        assert!(loss.judge(&burst(600, 480, 0, None), one, true).is_ok());
        let err = loss
            .judge(&burst(600, 560, 0, None), one, true)
            .unwrap_err();
        assert!(
            err.contains("6.7% lost") && err.contains("asked 20"),
            "{err}"
        );
        assert!(loss.judge(&burst(600, 200, 0, None), one, true).is_err());
        assert!(loss.judge(&burst(600, 598, 0, None), one, false).is_ok());
        assert!(loss.judge(&burst(600, 480, 0, None), one, false).is_err());
        let dup = PacketFault::Duplicate { pct: 10.0 };
        assert!(dup.judge(&burst(600, 600, 60, None), one, true).is_ok());
        assert!(dup.judge(&burst(600, 600, 0, None), one, true).is_err());
        let delay = PacketFault::Delay {
            delay_ms: 200,
            jitter_ms: 50,
        };
        assert!(delay
            .judge(&burst(40, 40, 0, Some(201.0)), one, true)
            .is_ok());
        assert!(delay
            .judge(&burst(40, 40, 0, Some(0.2)), one, true)
            .is_err());
        assert!(delay
            .judge(&burst(40, 40, 0, Some(0.2)), one, false)
            .is_ok());
        assert!(delay.judge(&burst(40, 0, 0, None), one, true).is_err());
    }

    #[test]
    fn both_ways_doubles_what_a_round_trip_meets() {
        let both = Aim {
            both_ways: true,
            peers_only: true,
        };
        let d = PacketFault::Delay {
            delay_ms: 200,
            jitter_ms: 0,
        };
        assert_eq!(d.asked(both), 400.0);
        assert!((PacketFault::Loss { pct: 20.0 }.asked(both) - 36.0).abs() < 1e-9);
        assert!((PacketFault::Duplicate { pct: 20.0 }.asked(both) - 44.0).abs() < 1e-9);
        assert!(PacketFault::Loss { pct: 20.0 }
            .judge(&burst(600, 480, 0, None), both, true)
            .is_ok());
    }

    #[test]
    fn netem_equivalents() {
        let d = PacketFault::Delay {
            delay_ms: 100,
            jitter_ms: 20,
        };
        assert_eq!(d.netem().args().join(" "), "delay 100ms 20ms");
        assert_eq!(
            PacketFault::Loss { pct: 5.0 }.netem().args().join(" "),
            "loss 5%"
        );
    }
}
