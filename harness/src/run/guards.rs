//! A run's teardown, owned by guards: each piece of set-up that must be undone is wrapped in a type whose
//! `Drop` undoes it, and [`Started`] holds them in the reverse order of set-up (Rust drops fields top to
//! bottom), so the nodes stop first, then the client runtime shuts down, then the network goes. An early
//! return or an error during set-up drops whatever was made so far, in the same reverse order.

use super::cluster::NodeCluster;
use super::probe::Probe;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;
use workloads::Client;

/// How long the nodes get to exit on SIGTERM, and the client runtime's tasks to end, at teardown.
const GRACE: Duration = Duration::from_secs(2);

/// The network (namespaces, or the hosts' rules), torn down when dropped.
pub struct Network(pub Box<dyn nemesis::Net>);

impl Deref for Network {
    type Target = dyn nemesis::Net;
    fn deref(&self) -> &(dyn nemesis::Net + 'static) {
        &*self.0
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Err(e) = self.0.teardown() {
            tracing::warn!("network teardown: {e}");
        }
    }
}

/// The runtime the clients run on (its threads live in the client namespace), shut down when dropped,
/// waiting at most [`GRACE`] for its tasks.
pub struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl ClientRuntime {
    pub fn new(rt: tokio::runtime::Runtime) -> Self {
        ClientRuntime(Some(rt))
    }
}

impl Deref for ClientRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("taken only on drop")
    }
}

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_timeout(GRACE);
        }
    }
}

/// The node processes, stopped when dropped: SIGTERM, then SIGKILL after [`GRACE`].
pub struct Nodes(pub NodeCluster);

impl Deref for Nodes {
    type Target = NodeCluster;
    fn deref(&self) -> &NodeCluster {
        &self.0
    }
}

impl DerefMut for Nodes {
    fn deref_mut(&mut self) -> &mut NodeCluster {
        &mut self.0
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.0.stop_all(GRACE);
    }
}

/// A started run: what the phases from warm-up to the final reads use. Dropping it tears the run down,
/// field by field from the top: the reverse of the order [`super::Run::start`] set them up in.
pub struct Started {
    pub nodes: Nodes,
    pub client_rt: ClientRuntime,
    pub net: Network,
    /// The client every session and probe uses, and the probe that asks the nodes about their state.
    pub client: Arc<dyn Client>,
    pub probe: Probe,
}
