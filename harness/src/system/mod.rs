//! Systems under test. Adding one is one file: an implementation of [`System`], which says how to start a
//! member (program and arguments) and how to talk to the cluster. Starting, killing, pausing and
//! restarting the processes is the same for every system ([`crate::run::cluster`]).

pub mod node;

use anyhow::Result;
use std::net::SocketAddr;
use std::path::PathBuf;
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
}
