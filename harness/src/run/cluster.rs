//! The cluster of `node` processes under test: one process per namespace, started, killed, paused and
//! restarted with the same data directory.

use super::args::RunConfig;
use crate::store::RunDir;
use anyhow::{bail, Context, Result};
use nemesis::{ManagedProcess, Network, ProcessSpec};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The port every node listens on, inside its own namespace.
pub const NODE_PORT: u16 = 7000;

pub struct NodeCluster {
    procs: BTreeMap<String, ManagedProcess>,
    addrs: Vec<(String, SocketAddr)>,
}

impl NodeCluster {
    /// Start one `node` per node namespace. Must be called from a long-lived thread (the main thread):
    /// the processes die with the thread that spawned them (PR_SET_PDEATHSIG).
    pub fn start(
        cfg: &RunConfig,
        net: &Network,
        dir: &RunDir,
        node_bin: &Path,
    ) -> Result<NodeCluster> {
        let addrs: Vec<(String, SocketAddr)> = cfg
            .nodes
            .iter()
            .map(|n| {
                let ip = net
                    .node_addr(n)
                    .with_context(|| format!("no address for {n}"))?;
                Ok((n.clone(), SocketAddr::from((ip, NODE_PORT))))
            })
            .collect::<Result<_>>()?;
        let peers = addrs
            .iter()
            .map(|(n, a)| format!("{n}={a}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut procs = BTreeMap::new();
        for (i, (name, addr)) in addrs.iter().enumerate() {
            let node_dir = dir.node_dir(name)?;
            let args = vec![
                "--id".into(),
                name.clone(),
                "--listen".into(),
                addr.to_string(),
                "--peers".into(),
                peers.clone(),
                "--data-dir".into(),
                node_dir.join("data").display().to_string(),
                "--read-mode".into(),
                cfg.mode.to_string(),
                "--replication".into(),
                cfg.replication.to_string(),
                "--heartbeat-ms".into(),
                cfg.heartbeat_ms.to_string(),
                "--election-timeout-ms".into(),
                cfg.election_timeout_ms.to_string(),
                "--lease-ms".into(),
                cfg.lease_ms.to_string(),
                "--max-drift".into(),
                cfg.max_drift.to_string(),
                "--seed".into(),
                (cfg.seed.wrapping_add(i as u64)).to_string(),
            ];
            let spec = ProcessSpec {
                name: name.clone(),
                netns: Some(net.node_netns(name).context("node namespace")?.to_string()),
                program: node_bin.to_path_buf(),
                args,
                log_path: node_dir.join("node.log"),
                env: vec![("RUST_LOG".into(), "info".into())],
            };
            let proc =
                ManagedProcess::spawn(spec).with_context(|| format!("starting node {name}"))?;
            procs.insert(name.clone(), proc);
        }
        Ok(NodeCluster { procs, addrs })
    }

    pub fn addrs(&self) -> Vec<(String, SocketAddr)> {
        self.addrs.clone()
    }

    pub fn names(&self) -> Vec<String> {
        self.addrs.iter().map(|(n, _)| n.clone()).collect()
    }

    fn proc(&mut self, node: &str) -> Result<&mut ManagedProcess> {
        self.procs
            .get_mut(node)
            .with_context(|| format!("no such node {node}"))
    }

    pub fn kill(&mut self, node: &str) -> Result<()> {
        Ok(self.proc(node)?.kill()?)
    }

    pub fn restart(&mut self, node: &str) -> Result<()> {
        Ok(self.proc(node)?.restart()?)
    }

    pub fn pause(&mut self, node: &str) -> Result<()> {
        Ok(self.proc(node)?.pause()?)
    }

    pub fn resume(&mut self, node: &str) -> Result<()> {
        Ok(self.proc(node)?.resume()?)
    }

    /// Nodes whose process has exited on its own (not killed by us): a crash of the system under test.
    pub fn exited(&mut self) -> Vec<String> {
        self.procs
            .iter_mut()
            .filter_map(|(n, p)| (!p.is_running()).then(|| n.clone()))
            .collect()
    }

    /// SIGTERM every node, then SIGKILL whatever is left after `grace`.
    pub fn stop_all(&mut self, grace: Duration) {
        for (name, p) in self.procs.iter_mut() {
            if let Err(e) = p.stop(grace) {
                tracing::warn!("stopping {name}: {e}");
            }
        }
    }
}

/// Find the `node` binary: `--node-bin`, else next to this executable. When run through cargo
/// (`cargo run -p harness`), build it first so it is never stale.
pub fn resolve_node_bin(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.is_file() {
            bail!("--node-bin {} does not exist", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().context("locating the harness executable")?;
    let dir = exe
        .parent()
        .context("harness executable has no parent directory")?;
    // Integration tests run from target/<profile>/deps; the binaries live one level up.
    let profile_dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    let candidate = profile_dir.join("node");
    if let Ok(cargo) = std::env::var("CARGO") {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."));
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(workspace)
            .args(["build", "--quiet", "-p", "node", "--bin", "node"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            cmd.arg("--target-dir").arg(target);
        }
        let status = cmd
            .status()
            .context("running cargo to build the node binary")?;
        if !status.success() {
            bail!("building the node binary failed (cargo build -p node)");
        }
    }
    if !candidate.is_file() {
        bail!(
            "node binary not found at {}; build it with `cargo build -p node` or pass --node-bin",
            candidate.display()
        );
    }
    Ok(candidate)
}
