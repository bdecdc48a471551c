//! Systems under test. Adding one is one file: an implementation of [`System`], which says how to start a
//! member (program and arguments) and how to talk to the cluster. Starting, killing, pausing and
//! restarting the processes is the same for every system ([`crate::run::cluster`]).

pub mod etcd;
pub mod exec;
pub mod galera;
pub mod nats;
pub mod node;
pub mod patroni;
pub mod redis;
pub mod zookeeper;

use crate::settings::{RunConfig, SystemKind};
use anyhow::{bail, Context, Result};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::Client;

/// One member of the cluster, as placed by the harness.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// Where clients reach it (its address on the test bridge, and the system's client port).
    pub client_addr: SocketAddr,
    /// Its own data directory (kept across restarts).
    pub data_dir: PathBuf,
}

impl Member {
    /// Every member's name and client address, as the clients take them.
    pub fn addrs(all: &[Member]) -> Vec<(String, SocketAddr)> {
        all.iter()
            .map(|m| (m.name.clone(), m.client_addr))
            .collect()
    }
}

/// How to start a member: the program, its arguments and environment.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub trait System {
    /// The name users type (`--system`).
    fn name(&self) -> &'static str;
    /// The port members serve clients on, inside their namespaces.
    fn client_port(&self) -> u16;
    /// The command that starts `member` of a cluster of `all`.
    fn launch(&self, member: &Member, all: &[Member]) -> Result<Launch>;
    /// A client for the whole cluster; `timeout` bounds each request.
    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>>;
    /// A client whose sessions homed on member *i* send from `session_addrs[i]` (`--partition-scope all`).
    fn client_with_sessions(
        &self,
        all: &[Member],
        timeout: Duration,
        session_addrs: &[IpAddr],
    ) -> Result<Arc<dyn Client>> {
        let _ = (all, timeout, session_addrs);
        bail!(
            "--partition-scope all is not supported with --system {}",
            self.name()
        )
    }
}

/// Our protocol's client, with a source address per home node.
pub fn node_client_with_sessions(
    all: &[Member],
    timeout: Duration,
    session_addrs: &[IpAddr],
) -> Result<Arc<dyn Client>> {
    let client = workloads::NodeClient::new(Member::addrs(all), timeout)
        .and_then(|c| c.with_session_addrs(session_addrs))
        .context("creating the client")?;
    Ok(Arc::new(client))
}

/// The adapter for this run's system.
pub fn for_run(cfg: &RunConfig) -> Result<Box<dyn System>> {
    Ok(match cfg.cluster.system {
        SystemKind::Node => {
            let bin = node::resolve_node_bin(cfg.cluster.node_bin.as_deref())?;
            Box::new(node::NodeSystem::new(cfg, bin))
        }
        SystemKind::Etcd => {
            let bin = match &cfg.cluster.node_bin {
                Some(p) => p.clone(),
                None => find_on_path("etcd").context(
                    "etcd not found on the PATH: install the Debian package etcd-server, or pass --node-bin",
                )?,
            };
            if !bin.is_file() {
                bail!("{} does not exist", bin.display());
            }
            Box::new(etcd::EtcdSystem::new(cfg, bin))
        }
        SystemKind::Exec => Box::new(exec::ExecSystem::new(cfg)?),
        SystemKind::Zookeeper => Box::new(zookeeper::ZkSystem::new(cfg)?),
        SystemKind::Nats => Box::new(nats::NatsSystem::new(cfg)?),
        SystemKind::Redis => Box::new(redis::RedisSystem::new(cfg)?),
        SystemKind::Galera => Box::new(galera::GaleraSystem::new(cfg)?),
        SystemKind::Patroni => Box::new(patroni::PatroniSystem::new(cfg)?),
    })
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| Path::new(p).is_file())
}
