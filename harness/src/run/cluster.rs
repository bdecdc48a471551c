//! The cluster under test: one member process per namespace, started, killed, paused and restarted with
//! the same data directory. The same for every system; what differs is in [`crate::system`].

use crate::store::RunDir;
use crate::system::{Member, System};
use anyhow::{bail, Context, Result};
use nemesis::{ManagedProcess, Network, ProcessSpec};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::Client;

pub struct NodeCluster {
    procs: BTreeMap<String, ManagedProcess>,
    members: Vec<Member>,
}

impl NodeCluster {
    /// Start one member per node namespace. Must be called from a long-lived thread (the main thread):
    /// the processes die with the thread that spawned them (PR_SET_PDEATHSIG).
    pub fn start(
        system: &dyn System,
        nodes: &[String],
        net: &Network,
        dir: &RunDir,
    ) -> Result<NodeCluster> {
        let members: Vec<Member> = nodes
            .iter()
            .map(|n| {
                let ip = net
                    .node_addr(n)
                    .with_context(|| format!("no address for {n}"))?;
                let node_dir = dir.node_dir(n)?;
                Ok(Member {
                    name: n.clone(),
                    client_addr: SocketAddr::from((ip, system.client_port())),
                    data_dir: node_dir.join("data"),
                })
            })
            .collect::<Result<_>>()?;
        let mut procs = BTreeMap::new();
        for m in &members {
            let launch = system.launch(m, &members)?;
            let spec = ProcessSpec {
                name: m.name.clone(),
                netns: Some(
                    net.node_netns(&m.name)
                        .context("node namespace")?
                        .to_string(),
                ),
                program: launch.program,
                args: launch.args,
                log_path: dir.node_dir(&m.name)?.join("node.log"),
                env: launch.env,
            };
            let proc = ManagedProcess::spawn(spec)
                .with_context(|| format!("starting {} {}", system.name(), m.name))?;
            procs.insert(m.name.clone(), proc);
        }
        Ok(NodeCluster { procs, members })
    }

    pub fn client(&self, system: &dyn System, timeout: Duration) -> Result<Arc<dyn Client>> {
        system.client(&self.members, timeout)
    }

    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
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

    /// A node's data directory.
    pub fn data_dir(&self, node: &str) -> Option<PathBuf> {
        self.members
            .iter()
            .find(|m| m.name == node)
            .map(|m| m.data_dir.clone())
    }

    /// The state letter of a node's process (`S`/`R` running, `T` stopped), or None if it is not running.
    pub fn state(&mut self, node: &str) -> Option<char> {
        let p = self.procs.get_mut(node)?;
        if !p.is_running() {
            return None;
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.pid()?)).ok()?;
        nemesis::proc_state(&stat)
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
