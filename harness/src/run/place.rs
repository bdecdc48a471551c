//! Where the nodes live: local network namespaces (the default) or remote hosts over SSH (`--hosts`).
//! The run, the cluster and the fault runner go through [`Place`]; only it knows which.

use crate::settings::{RunConfig, SystemKind};
use crate::system::node::resolve_node_bin;
use anyhow::{Context, Result};
use nemesis::hosts::{Hosts, HostsFile, PacketHelper, RemoteSpec};
use nemesis::{
    FaultKind, ManagedProcess, NetConfig, Network, PacketAim, PacketFault, Partition, ProcessSpec,
    Supervised,
};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub enum Place {
    Local(Network),
    Hosts(HostsPlace),
}

pub struct HostsPlace {
    hosts: Hosts,
    /// Upload the program before the first start (our node: the harness executable or --node-bin).
    upload: bool,
    /// Local program path → remote path, per node: one upload per host and run.
    uploaded: Mutex<BTreeMap<(String, PathBuf), String>>,
}

impl Place {
    /// Builds the namespaces, or connects to and checks the hosts, all named by `run_id` (`lh<run_id>...`).
    /// `client_port` is the system's port.
    pub fn create(
        cfg: &RunConfig,
        run_id: String,
        hosts: Option<&HostsFile>,
        client_port: u16,
        log_dir: &Path,
    ) -> Result<Place> {
        match hosts {
            None => Ok(Place::Local(
                Network::create(NetConfig {
                    run_id,
                    subnet: cfg.subnet_parsed,
                    nodes: cfg.nodes.clone(),
                })
                .context("setting up the test network")?,
            )),
            Some(file) => {
                let mut hosts = Hosts::connect(file, &run_id).context("preparing the hosts")?;
                let packet_faults: Vec<_> = cfg.faults.iter().filter(|f| f.is_packet()).collect();
                for f in &packet_faults {
                    // Only the kind matters here: which tool it needs.
                    let spec = match f {
                        FaultKind::PacketDuplicate => PacketFault::Duplicate { pct: 0.0 },
                        FaultKind::PacketLoss => PacketFault::Loss { pct: 0.0 },
                        _ => PacketFault::Delay {
                            delay_ms: 0,
                            jitter_ms: 0,
                        },
                    };
                    let missing = hosts.packet_tools_missing(&spec);
                    anyhow::ensure!(
                        missing.is_empty(),
                        "{} on --hosts needs on each host what is missing here: {}",
                        f.name(),
                        missing.join(", ")
                    );
                }
                hosts.set_probe_port(client_port);
                let upload = cfg.system == SystemKind::Node;
                let mut uploaded = BTreeMap::new();
                if upload {
                    // To every host at once, before the first start.
                    let local = resolve_node_bin(cfg.node_bin.as_deref())?.program;
                    let started = std::time::Instant::now();
                    for (node, remote) in hosts.upload_all(&local).context("uploading the node")? {
                        uploaded.insert((node, local.clone()), remote);
                    }
                    tracing::info!(elapsed = ?started.elapsed(), "uploaded {}", local.display());
                }
                if !packet_faults.is_empty() {
                    // The packet helper is this executable (`harness nemesis-delay`, `nemesis-probe`).
                    let local =
                        std::env::current_exe().context("locating the harness executable")?;
                    let mut remote = BTreeMap::new();
                    for node in hosts.nodes() {
                        let key = (node.clone(), local.clone());
                        let path = match uploaded.get(&key) {
                            Some(p) => p.clone(),
                            None => hosts
                                .upload(&node, &local)
                                .context("uploading the packet helper")?,
                        };
                        uploaded.insert(key, path.clone());
                        remote.insert(node, path);
                    }
                    hosts.set_packet_helper(PacketHelper {
                        remote,
                        log_dir: log_dir.to_path_buf(),
                    });
                }
                Ok(Place::Hosts(HostsPlace {
                    hosts,
                    upload,
                    uploaded: Mutex::new(uploaded),
                }))
            }
        }
    }

    pub fn node_addr(&self, node: &str) -> Option<Ipv4Addr> {
        match self {
            Place::Local(n) => n.node_addr(node),
            Place::Hosts(h) => h.hosts.node_addr(node),
        }
    }

    /// The namespace client threads must enter, if any (on hosts, clients run where the harness runs).
    pub fn client_netns(&self) -> Option<String> {
        match self {
            Place::Local(n) => Some(n.client_netns().to_string()),
            Place::Hosts(_) => None,
        }
    }

    /// The node's data directory where it runs: on a host, inside the run's directory there.
    pub fn remote_data_dir(&self, node: &str) -> Option<PathBuf> {
        match self {
            Place::Local(_) => None,
            Place::Hosts(h) => h.hosts.run_dir(node).map(|d| PathBuf::from(d).join("data")),
        }
    }

    pub fn apply(&self, p: &Partition) -> Result<(), nemesis::Error> {
        match self {
            Place::Local(n) => n.apply(p),
            Place::Hosts(h) => h.hosts.apply(p),
        }
    }

    pub fn heal(&self) -> Result<(), nemesis::Error> {
        match self {
            Place::Local(n) => n.heal(),
            Place::Hosts(h) => h.hosts.heal(),
        }
    }

    pub fn cut_clients(&self, p: &Partition) -> Result<(), nemesis::Error> {
        match self {
            Place::Local(n) => n.cut_clients(p),
            Place::Hosts(_) => Err(hosts_unsupported("--partition-scope all")),
        }
    }

    pub fn add_session_addrs(&self) -> Result<Vec<Ipv4Addr>, nemesis::Error> {
        match self {
            Place::Local(n) => n.add_session_addrs(),
            Place::Hosts(_) => Err(hosts_unsupported("--partition-scope all")),
        }
    }

    /// Starts one node's process where it lives.
    pub fn spawn(&self, mut spec: ProcessSpec) -> Result<Box<dyn Supervised>> {
        match self {
            Place::Local(n) => {
                spec.netns = n.node_netns(&spec.name).map(str::to_string);
                Ok(Box::new(ManagedProcess::spawn(spec)?))
            }
            Place::Hosts(h) => Ok(Box::new(h.spawn(spec)?)),
        }
    }

    /// The local network, for what only namespaces have (the landing probes run inside them).
    pub fn local(&self) -> Option<&Network> {
        match self {
            Place::Local(n) => Some(n),
            Place::Hosts(_) => None,
        }
    }

    /// On hosts: checks from the hosts that exactly `expected` is cut (the run's rules read back, the
    /// open pairs connected). None for namespaces, whose probes run inside them.
    pub fn verify_on_hosts(&self, expected: &Partition) -> Option<Result<(), nemesis::Error>> {
        match self {
            Place::Local(_) => None,
            Place::Hosts(h) => Some(h.hosts.verify(expected)),
        }
    }

    /// Applies a packet fault to what `node` sends; returns how: `netfilter` in namespaces, `netfilter
    /// (host)` on hosts (rules and a helper on the node's host); neither needs netem.
    pub fn shape(
        &self,
        node: &str,
        fault: &PacketFault,
        aim: PacketAim,
    ) -> Result<&'static str, nemesis::Error> {
        match self {
            Place::Local(n) => n.shape(node, fault, aim),
            Place::Hosts(h) => h.hosts.shape(node, fault, aim),
        }
    }

    pub fn unshape(&self, node: &str) -> Result<(), nemesis::Error> {
        match self {
            Place::Local(n) => n.unshape(node),
            Place::Hosts(h) => h.hosts.unshape(node),
        }
    }

    /// Measures the packet fault on what `node` sends with a burst of probes (from inside the namespaces,
    /// or between the hosts).
    pub fn measure_packets(
        &self,
        node: &str,
        fault: &PacketFault,
        aim: PacketAim,
    ) -> Result<nemesis::Burst, nemesis::Error> {
        match self {
            Place::Local(n) => n.measure_packets(node, fault, aim),
            Place::Hosts(h) => h.hosts.measure_packets(node, fault, aim),
        }
    }

    /// Whether the packet fault on `node` still holds (its delay thread or host helper lives).
    pub fn packet_fault_health(&self, node: &str) -> Option<Result<u64, String>> {
        match self {
            Place::Local(n) => n.packet_fault_health(node),
            Place::Hosts(h) => h.hosts.packet_fault_health(node),
        }
    }

    /// How packet faults are applied here, for the history.
    pub fn packet_mechanism(&self) -> &'static str {
        match self {
            Place::Local(_) => nemesis::PACKET_MECHANISM,
            Place::Hosts(_) => nemesis::hosts::HOST_MECHANISM,
        }
    }

    pub fn shaped(&self, node: &str) -> Result<bool, nemesis::Error> {
        match self {
            Place::Local(n) => n.shaped(node),
            Place::Hosts(h) => h.hosts.shaped(node),
        }
    }

    pub fn teardown(&mut self) -> Result<(), nemesis::Error> {
        match self {
            Place::Local(n) => n.teardown(),
            Place::Hosts(h) => h.hosts.teardown(),
        }
    }
}

fn hosts_unsupported(what: &str) -> nemesis::Error {
    nemesis::Error::Invalid {
        what: "option",
        message: format!("{what} is not supported with --hosts"),
    }
}

impl HostsPlace {
    fn spawn(&self, spec: ProcessSpec) -> Result<nemesis::hosts::RemoteProcess> {
        let node = spec.name.clone();
        let program = if self.upload {
            self.uploaded_program(&node, &spec.program)?
        } else {
            let p = spec.program.display().to_string();
            if !self.hosts.has_program(&node, &p)? {
                anyhow::bail!("{p} is not installed on the host of {node}");
            }
            p
        };
        let dir = self.hosts.run_dir(&node).context("no run directory")?;
        Ok(self.hosts.spawn(RemoteSpec {
            name: node,
            dir,
            program,
            args: spec.args,
            env: spec.env,
            log_path: spec.log_path,
        })?)
    }

    fn uploaded_program(&self, node: &str, local: &Path) -> Result<String> {
        let key = (node.to_string(), local.to_path_buf());
        if let Some(p) = self.uploaded.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let remote = self
            .hosts
            .upload(node, local)
            .with_context(|| format!("uploading {} to {node}", local.display()))?;
        self.uploaded.lock().unwrap().insert(key, remote.clone());
        Ok(remote)
    }
}
