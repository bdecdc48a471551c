//! Our own `node`: a Raft key-value server with a read mode per run.

use super::{Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::{Client, NodeClient};

/// The port every node listens on, inside its own namespace.
pub const NODE_PORT: u16 = 7000;

pub struct NodeSystem {
    pub bin: NodeProgram,
    /// The node flags this run sets (read mode, replication, timing, seed).
    pub flags: Vec<(String, String)>,
    /// Seeds each node's election timer differently: `seed + member number`.
    pub seed: u64,
    /// This run's peer secret, passed to every node in its environment (never on a command line, so it
    /// shows in no `ps`), so clients cannot forge peer messages.
    pub peer_secret: String,
}

/// A fresh random peer secret: 32 bytes as hex.
fn new_peer_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl NodeSystem {
    pub fn new(cfg: &RunConfig, bin: NodeProgram) -> NodeSystem {
        let flags = [
            ("--read-mode", cfg.cluster.mode.clone()),
            ("--replication", cfg.cluster.replication.to_string()),
            ("--heartbeat-ms", cfg.cluster.heartbeat_ms.to_string()),
            (
                "--election-timeout-ms",
                cfg.cluster.election_timeout_ms.to_string(),
            ),
            ("--lease-ms", cfg.cluster.lease_ms.to_string()),
            ("--max-drift", cfg.cluster.max_drift.to_string()),
            ("--lease-votes", cfg.cluster.lease_votes.to_string()),
        ];
        NodeSystem {
            bin,
            flags: flags.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            seed: cfg.seed,
            peer_secret: new_peer_secret(),
        }
    }
}

impl System for NodeSystem {
    fn name(&self) -> &'static str {
        "node"
    }

    fn client_port(&self) -> u16 {
        NODE_PORT
    }

    fn launch(&self, member: &Member, all: &[Member]) -> Result<Launch> {
        let peers: Vec<String> = all
            .iter()
            .map(|m| format!("{}={}", m.name, m.client_addr))
            .collect();
        let number = all.iter().position(|m| m.name == member.name).unwrap_or(0);
        let mut args = self.bin.args.clone();
        args.extend([
            "--id".to_string(),
            member.name.clone(),
            "--listen".into(),
            member.client_addr.to_string(),
            "--peers".into(),
            peers.join(","),
            "--data-dir".into(),
            member.data_dir.display().to_string(),
            "--seed".into(),
            self.seed.wrapping_add(number as u64).to_string(),
        ]);
        for (flag, value) in &self.flags {
            args.push(flag.clone());
            args.push(value.clone());
        }
        Ok(Launch {
            program: self.bin.program.clone(),
            args,
            env: vec![
                ("RUST_LOG".into(), "info".into()),
                (
                    node::peer_auth::PEER_SECRET_ENV.into(),
                    self.peer_secret.clone(),
                ),
            ],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        let client =
            NodeClient::new(Member::addrs(all), timeout).context("creating the node client")?;
        Ok(Arc::new(client))
    }

    fn client_with_sessions(
        &self,
        all: &[Member],
        timeout: Duration,
        session_addrs: &[std::net::IpAddr],
    ) -> Result<Arc<dyn Client>> {
        super::node_client_with_sessions(all, timeout, session_addrs)
    }
}

/// The program that runs one node, and the arguments before the node's own.
#[derive(Debug, Clone)]
pub struct NodeProgram {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// How to start a node: `--node-bin`, else this very executable as `harness node ...`, so one build
/// serves both and a run never builds anything.
pub fn resolve_node_bin(explicit: Option<&Path>) -> Result<NodeProgram> {
    if let Some(p) = explicit {
        if !p.is_file() {
            bail!("--node-bin {} does not exist", p.display());
        }
        return Ok(NodeProgram {
            program: p.to_path_buf(),
            args: vec![],
        });
    }
    let exe = std::env::current_exe().context("locating the harness executable")?;
    Ok(NodeProgram {
        program: exe,
        args: vec!["node".into()],
    })
}
