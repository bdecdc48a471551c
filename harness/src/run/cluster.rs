//! The cluster under test: one member process per namespace, started, killed, paused and restarted with
//! the same data directory. The same for every system; what differs is in [`crate::system`].

use crate::store::RunDir;
use crate::system::{Member, System};
use anyhow::{Context, Result};
use nemesis::{ProcessSpec, Supervised};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::Client;

pub struct NodeCluster {
    procs: BTreeMap<String, Box<dyn Supervised>>,
    members: Vec<Member>,
}

impl NodeCluster {
    /// Start one member per node namespace. Must be called from a long-lived thread (the main thread):
    /// the processes die with the thread that spawned them (PR_SET_PDEATHSIG).
    pub fn start(
        system: &dyn System,
        nodes: &[String],
        net: &dyn nemesis::Net,
        dir: &RunDir,
    ) -> Result<NodeCluster> {
        let members: Vec<Member> = nodes
            .iter()
            .map(|n| {
                let ip = net
                    .node_addr(n)
                    .with_context(|| format!("no address for {n}"))?;
                // Absolute and present before the command starts: `{data_dir}` must work from any cwd.
                let data_dir = match net.remote_data_dir(n) {
                    Some(remote) => remote,
                    None => {
                        let d = std::path::absolute(dir.node_dir(n)?.join("data"))
                            .context("resolving the data directory")?;
                        std::fs::create_dir_all(&d)
                            .with_context(|| format!("creating {}", d.display()))?;
                        d
                    }
                };
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
                netns: None, // filled in by the place
                program: launch.program,
                args: launch.args,
                log_path: dir.node_dir(&m.name)?.join("node.log"),
                env: launch.env,
            };
            let proc = net
                .spawn(spec)
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

    fn proc(&mut self, node: &str) -> Result<&mut Box<dyn Supervised>> {
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
        // Read where the process runs (its host's /proc with --hosts).
        self.procs.get_mut(node)?.state()
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

/// Process control as the fault families see it.
impl nemesis::family::Nodes for NodeCluster {
    fn names(&self) -> Vec<String> {
        NodeCluster::names(self)
    }
    fn kill(&mut self, node: &str) -> Result<()> {
        NodeCluster::kill(self, node)
    }
    fn restart(&mut self, node: &str) -> Result<()> {
        NodeCluster::restart(self, node)
    }
    fn pause(&mut self, node: &str) -> Result<()> {
        NodeCluster::pause(self, node)
    }
    fn resume(&mut self, node: &str) -> Result<()> {
        NodeCluster::resume(self, node)
    }
    fn data_dir(&self, node: &str) -> Option<PathBuf> {
        NodeCluster::data_dir(self, node)
    }
    fn state(&mut self, node: &str) -> Option<char> {
        NodeCluster::state(self, node)
    }
}
