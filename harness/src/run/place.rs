//! Where the nodes live: local network namespaces (the default) or remote hosts over SSH (`--hosts`).
//! Both are a [`nemesis::Net`]; this module only sets one up for a run (on hosts: the tools packet faults
//! need, and the programs to upload).

use crate::settings::{RunConfig, SystemKind};
use crate::system::node::resolve_node_bin;
use anyhow::{Context, Result};
use nemesis::hosts::{Hosts, HostsFile, HostsNet, PacketHelper};
use nemesis::{LocalNet, Net, NetConfig, Network};
use std::collections::BTreeMap;
use std::path::Path;

/// Builds the namespaces, or connects to and checks the hosts, all named by `run_id` (`lh<run_id>...`).
/// `client_port` is the system's port.
pub fn create(
    cfg: &RunConfig,
    run_id: String,
    hosts: Option<&HostsFile>,
    client_port: u16,
    log_dir: &Path,
) -> Result<Box<dyn Net>> {
    match hosts {
        None => Ok(Box::new(LocalNet::new(
            Network::create(NetConfig {
                run_id,
                subnet: cfg.cluster.subnet,
                nodes: cfg.cluster.nodes.clone(),
            })
            .context("setting up the test network")?,
        ))),
        Some(file) => {
            let mut hosts = Hosts::connect(file, &run_id).context("preparing the hosts")?;
            let packet_faults: Vec<_> = cfg.faults.kinds.iter().filter(|f| f.is_packet()).collect();
            for f in &packet_faults {
                // Only the kind matters here: which tool it needs.
                let spec = nemesis::family::packet::fault_of(**f, &Default::default());
                let missing = hosts.packet_tools_missing(&spec);
                anyhow::ensure!(
                    missing.is_empty(),
                    "{} on --hosts needs on each host what is missing here: {}",
                    f.name(),
                    missing.join(", ")
                );
            }
            hosts.set_probe_port(client_port);
            let upload = cfg.cluster.system == SystemKind::Node;
            let mut uploaded = BTreeMap::new();
            if upload {
                // To every host at once, before the first start.
                let local = resolve_node_bin(cfg.cluster.node_bin.as_deref())?.program;
                let started = std::time::Instant::now();
                for (node, remote) in hosts.upload_all(&local).context("uploading the node")? {
                    uploaded.insert((node, local.clone()), remote);
                }
                tracing::info!(elapsed = ?started.elapsed(), "uploaded {}", local.display());
            }
            if !packet_faults.is_empty() {
                // The packet helper is this executable (`harness nemesis-delay`, `nemesis-probe`).
                let local = std::env::current_exe().context("locating the harness executable")?;
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
            Ok(Box::new(HostsNet::new(hosts, upload, uploaded)))
        }
    }
}
