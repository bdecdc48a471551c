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
                // Absolute and present before the command starts: `{data_dir}` must work from any cwd.
                let data_dir = std::path::absolute(dir.node_dir(n)?.join("data"))
                    .context("resolving the data directory")?;
                std::fs::create_dir_all(&data_dir)
                    .with_context(|| format!("creating {}", data_dir.display()))?;
                Ok(Member {
                    name: n.clone(),
                    client_addr: SocketAddr::from((ip, system.client_port())),
                    data_dir,
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

    /// A client whose sessions send from their home node's session address (`--partition-scope all`).
    pub fn client_with_sessions(
        &self,
        system: &dyn System,
        timeout: Duration,
        session_addrs: &[std::net::IpAddr],
    ) -> Result<Arc<dyn Client>> {
        system.client_with_sessions(&self.members, timeout, session_addrs)
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
