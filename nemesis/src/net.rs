//! Where a run's nodes live, as one trait (Jepsen's `Net` protocol): local network namespaces
//! ([`LocalNet`], the default) or remote hosts over SSH ([`crate::hosts::HostsNet`], `--hosts`). The
//! harness and the fault families go through [`Net`]; only the two implementations know which.

use crate::landing::Probes;
use crate::packet::{Aim, Burst, PacketFault};
use crate::{Error, ManagedProcess, Network, Partition, ProcessSpec, Supervised};
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;

/// What checking a partition found: the `landing` event's fields (the harness adds the fault's name),
/// and why it did not land, if it did not.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionCheck {
    pub event: Option<Value>,
    pub missed: Option<String>,
}

/// The network of one run: its nodes' addresses, where their processes start, and the network faults.
pub trait Net: Send + Sync {
    fn node_addr(&self, node: &str) -> Option<Ipv4Addr>;

    /// The namespace client threads must enter, if any (on hosts, clients run where the harness runs).
    fn client_netns(&self) -> Option<String>;

    /// The node's data directory where it runs, when it is not the local one (on a host, inside the
    /// run's directory there).
    fn remote_data_dir(&self, node: &str) -> Option<PathBuf>;

    /// Starts one node's process where it lives.
    fn spawn(&self, spec: ProcessSpec) -> Result<Box<dyn Supervised>, Error>;

    /// Cuts the links `p` names, replacing any earlier partition (Jepsen's `drop-all!`).
    fn apply(&self, p: &Partition) -> Result<(), Error>;

    /// Restores every link.
    fn heal(&self) -> Result<(), Error>;

    /// `--partition-scope all`: also cuts the client sessions homed across the cut.
    fn cut_clients(&self, _p: &Partition) -> Result<(), Error> {
        Err(unsupported("--partition-scope all"))
    }

    /// One client address per node, so that sessions can be cut with their home node.
    fn add_session_addrs(&self) -> Result<Vec<Ipv4Addr>, Error> {
        Err(unsupported("--partition-scope all"))
    }

    /// Checks that exactly `expected` is cut: every cut pair cannot connect, every other pair can.
    fn check_partition(&self, expected: &Partition) -> PartitionCheck;

    /// Applies a packet fault to what `node` sends (and, aimed both ways, receives); returns how.
    fn shape(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<&'static str, Error>;

    fn unshape(&self, node: &str) -> Result<(), Error>;

    /// Measures the packet fault on `node` with a burst of probes.
    fn measure_packets(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<Burst, Error>;

    /// Whether the packet fault on `node` still holds (its delay thread or host helper lives).
    fn packet_fault_health(&self, node: &str) -> Option<Result<u64, String>>;

    /// How packet faults are applied here, for the history.
    fn packet_mechanism(&self) -> &'static str;

    /// Whether `node` has packet rules of this run.
    fn shaped(&self, node: &str) -> Result<bool, Error>;

    /// Removes everything this run made (idempotent).
    fn teardown(&mut self) -> Result<(), Error>;
}

pub(crate) fn unsupported(what: &str) -> Error {
    Error::invalid("option", format!("{what} is not supported with --hosts"))
}

/// Local network namespaces: a [`Network`], and the landing probes inside it (started at the first
/// partition check, stopped before the namespaces go).
pub struct LocalNet {
    net: Network,
    probes: Mutex<Option<Probes>>,
}

impl LocalNet {
    pub fn new(net: Network) -> Self {
        LocalNet {
            net,
            probes: Mutex::new(None),
        }
    }

    pub fn network(&self) -> &Network {
        &self.net
    }
}

impl Net for LocalNet {
    fn node_addr(&self, node: &str) -> Option<Ipv4Addr> {
        self.net.node_addr(node)
    }

    fn client_netns(&self) -> Option<String> {
        Some(self.net.client_netns().to_string())
    }

    fn remote_data_dir(&self, _node: &str) -> Option<PathBuf> {
        None
    }

    fn spawn(&self, mut spec: ProcessSpec) -> Result<Box<dyn Supervised>, Error> {
        spec.netns = self.net.node_netns(&spec.name).map(str::to_string);
        Ok(Box::new(ManagedProcess::spawn(spec)?))
    }

    fn apply(&self, p: &Partition) -> Result<(), Error> {
        self.net.apply(p)
    }

    fn heal(&self) -> Result<(), Error> {
        self.net.heal()
    }

    fn cut_clients(&self, p: &Partition) -> Result<(), Error> {
        self.net.cut_clients(p)
    }

    fn add_session_addrs(&self) -> Result<Vec<Ipv4Addr>, Error> {
        self.net.add_session_addrs()
    }

    /// Probes every node pair from inside the namespaces, with listeners of ours (independent of the
    /// system under test, so a crashed or paused node does not look cut).
    fn check_partition(&self, expected: &Partition) -> PartitionCheck {
        let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        if probes.is_none() {
            match Probes::start(&self.net) {
                Ok(p) => *probes = Some(p),
                Err(e) => {
                    return PartitionCheck {
                        event: None,
                        missed: Some(format!("cannot start the landing probes: {e}")),
                    }
                }
            }
        }
        let probes = probes.as_ref().expect("started above");
        match probes.check(&self.net, expected) {
            Ok(landing) => {
                let failures = landing.failures();
                PartitionCheck {
                    event: Some(json!({"landed": landing.landed(), "pairs": landing.pairs})),
                    missed: (!failures.is_empty()).then(|| failures.join(", ")),
                }
            }
            Err(e) => PartitionCheck {
                event: None,
                missed: Some(format!("probing failed: {e}")),
            },
        }
    }

    fn shape(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<&'static str, Error> {
        self.net.shape(node, fault, aim)
    }

    fn unshape(&self, node: &str) -> Result<(), Error> {
        self.net.unshape(node)
    }

    fn measure_packets(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<Burst, Error> {
        self.net.measure_packets(node, fault, aim)
    }

    fn packet_fault_health(&self, node: &str) -> Option<Result<u64, String>> {
        self.net.packet_fault_health(node)
    }

    fn packet_mechanism(&self) -> &'static str {
        crate::packet::MECHANISM
    }

    fn shaped(&self, node: &str) -> Result<bool, Error> {
        self.net.shaped(node)
    }

    fn teardown(&mut self) -> Result<(), Error> {
        // The probe listeners live in the namespaces: close them before the namespaces go.
        self.probes
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.net.teardown()
    }
}
