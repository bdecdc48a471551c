//! The test network: one namespace per node and one for clients, joined by veth pairs to a bridge that
//! lives in its own namespace, so the root namespace never gets a single link, route or address.
//!
//! ```text
//!   lh<run>n1 [lh<run>n1 .11] ──veth── [lh<run>n1b]─┐
//!   lh<run>n2 [lh<run>n2 .12] ──veth── [lh<run>n2b]─┼─ bridge lh<run>br, in namespace lh<run>br
//!   lh<run>c  [lh<run>c  .2 ] ──veth── [lh<run>cb ]─┘
//! ```
//!
//! No namespace has a default route, only the connected subnet route, so nothing can leave the machine.
//! Partitions are blackhole routes (`ip route add blackhole <to>/32` inside `from`'s namespace).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard};

use crate::layout::Layout;
use crate::netns::{
    check_privileges, enter_netns, ip, kill_pids, netns_exists, netns_pids, sysctl_in,
};
use crate::owner::{self, Owner};
use crate::{Error, NetConfig, Partition, Subnet};

mod clients;

/// A live test network. Torn down by [`Network::teardown`] or, failing that, on drop.
///
/// `Network` is `Send + Sync`: partitions may be applied from any thread.
#[derive(Debug)]
pub struct Network {
    layout: Layout,
    /// Namespaces we created and have not yet deleted, in creation order. Only these are ever deleted.
    created: Vec<String>,
    /// Whether our owner marker is written (removed once every namespace is gone).
    marked: bool,
    current: Mutex<Partition>,
    /// Partitions that reach clients too (`--partition-scope all`).
    clients: Mutex<clients::ClientCuts>,
    /// Packet faults on nodes ([`crate::packet`]).
    packets: Mutex<crate::packet::AppliedFaults>,
}

impl Network {
    /// Builds the network. All or nothing: on any failure, whatever was created is removed again.
    ///
    /// Fails if any of its namespaces already exists (a concurrent run with the same id, or a leftover that
    /// `clean_leftovers` removes); existing namespaces are never touched.
    pub fn create(cfg: NetConfig) -> Result<Network, Error> {
        let layout = Layout::plan(&cfg)?;
        check_privileges()?;
        let mut net = Network {
            layout,
            created: Vec::new(),
            marked: false,
            current: Mutex::new(Partition::default()),
            clients: Mutex::default(),
            packets: Mutex::default(),
        };
        match net.build() {
            Ok(()) => {
                tracing::info!(run = %net.layout.run_id, subnet = %net.layout.subnet, "network created");
                Ok(net)
            }
            Err(e) => {
                if let Err(cleanup) = net.teardown() {
                    tracing::error!(error = %cleanup, "removing a half-built network");
                }
                Err(e)
            }
        }
    }

    fn build(&mut self) -> Result<(), Error> {
        let l = self.layout.clone();
        let all_ns: Vec<String> = std::iter::once(&l.bridge_ns)
            .chain(l.hosts().map(|h| &h.ns))
            .cloned()
            .collect();
        // Marked before the first namespace exists, so no moment has a namespace without an owner.
        owner::write_marker(&self.prefix(), &Owner::me(all_ns.clone()))?;
        self.marked = true;
        owner::register(&self.prefix(), all_ns.clone());
        for ns in &all_ns {
            if netns_exists(ns) {
                return Err(Error::invalid(
                    "run id",
                    format!(
                        "network namespace {ns} already exists (another run with id `{}`, or a leftover of a \
                         crashed run: `harness clean` removes those)",
                        l.run_id
                    ),
                ));
            }
            ip(&["netns", "add", ns])?;
            self.created.push(ns.clone());
            // Before any link exists, so new links inherit "default" and never speak IPv6.
            for key in [
                "net.ipv6.conf.default.disable_ipv6",
                "net.ipv6.conf.all.disable_ipv6",
            ] {
                match sysctl_in(ns, key, "1") {
                    Err(Error::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound => {}
                    other => other?,
                }
            }
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let br_ns = l.bridge_ns.as_str();
        ip(&["-n", br_ns, "link", "add", &l.bridge, "type", "bridge"])?;
        ip(&["-n", br_ns, "link", "set", &l.bridge, "up"])?;
        let cidr_len = l.subnet.prefix.to_string();
        for h in l.hosts() {
            ip(&[
                "link", "add", &h.veth, "netns", &h.ns, "type", "veth", "peer", "name", &h.peer,
                "netns", br_ns,
            ])?;
            ip(&["-n", br_ns, "link", "set", &h.peer, "master", &l.bridge])?;
            ip(&["-n", br_ns, "link", "set", &h.peer, "up"])?;
            let addr = format!("{}/{cidr_len}", h.addr);
            ip(&["-n", &h.ns, "addr", "add", &addr, "dev", &h.veth])?;
            ip(&["-n", &h.ns, "link", "set", &h.veth, "up"])?;
        }
        Ok(())
    }

    /// `lh` + run id: the start of every object name.
    pub fn prefix(&self) -> String {
        format!("{}{}", crate::PREFIX, self.layout.run_id)
    }

    /// The run id every object name carries.
    pub fn run_id(&self) -> &str {
        &self.layout.run_id
    }

    /// The subnet addresses come from.
    pub fn subnet(&self) -> Subnet {
        self.layout.subnet
    }

    /// Node names, in configuration order.
    pub fn nodes(&self) -> Vec<String> {
        self.layout.nodes.iter().map(|(n, _)| n.clone()).collect()
    }

    /// A node's address (`.11`, `.12`, ... in configuration order).
    pub fn node_addr(&self, node: &str) -> Option<Ipv4Addr> {
        self.layout.node(node).map(|h| h.addr)
    }

    /// A node's namespace and the name of its link in there (for `tc`).
    pub(crate) fn node_link(&self, node: &str) -> Result<(&str, &str), Error> {
        self.layout
            .node(node)
            .map(|h| (h.ns.as_str(), h.veth.as_str()))
            .ok_or_else(|| Error::UnknownNode(node.into()))
    }

    /// A node's port on the bridge (its veth's other end, in the bridge namespace).
    pub(crate) fn bridge_port(&self, node: &str) -> Result<String, Error> {
        self.layout
            .node(node)
            .map(|h| h.peer.clone())
            .ok_or_else(|| Error::UnknownNode(node.into()))
    }

    pub(crate) fn packets_lock(&self) -> MutexGuard<'_, crate::packet::AppliedFaults> {
        self.packets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client namespace's address (`.2`).
    pub fn client_addr(&self) -> Ipv4Addr {
        self.layout.client.addr
    }

    /// A node's namespace name (`lh<run><node>`).
    pub fn node_netns(&self, node: &str) -> Option<&str> {
        self.layout.node(node).map(|h| h.ns.as_str())
    }

    /// The client namespace's name (`lh<run>c`).
    pub fn client_netns(&self) -> &str {
        &self.layout.client.ns
    }

    /// The bridge namespace's name (`lh<run>br`).
    pub fn bridge_netns(&self) -> &str {
        &self.layout.bridge_ns
    }

    /// Moves the CURRENT THREAD into the client namespace (`setns`), e.g. in tokio's `on_thread_start`,
    /// so that every client socket starts where the only route is the test bridge.
    pub fn enter_client_netns(&self) -> Result<(), Error> {
        self.ensure_live()?;
        enter_netns(&self.layout.client.ns)
    }

    fn ensure_live(&self) -> Result<(), Error> {
        if self.created.is_empty() {
            Err(Error::TornDown(self.layout.run_id.clone()))
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> MutexGuard<'_, Partition> {
        // A panic while holding the lock leaves a consistent value (we update it step by step).
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the current partition with `p`. Only the difference is changed (routes in both stay), so
    /// there is no moment of full connectivity in between. On failure the network is left fully healed.
    pub fn apply(&self, p: &Partition) -> Result<(), Error> {
        self.ensure_live()?;
        for (from, to) in &p.drops {
            for n in [from, to] {
                if self.layout.node(n).is_none() {
                    return Err(Error::UnknownNode(n.clone()));
                }
            }
        }
        let wanted: Vec<&(String, String)> = p.drops.iter().filter(|(a, b)| a != b).collect();
        let mut current = self.lock();
        let stale: Vec<(String, String)> = current
            .drops
            .iter()
            .filter(|d| !wanted.contains(d))
            .cloned()
            .collect();
        let result = stale
            .into_iter()
            .try_for_each(|(from, to)| {
                self.route("del", &from, &to)?;
                current.drops.remove(&(from, to));
                Ok(())
            })
            .and_then(|()| {
                wanted.into_iter().try_for_each(|(from, to)| {
                    if !current.drops.contains(&(from.clone(), to.clone())) {
                        self.route("add", from, to)?;
                        current.drops.insert((from.clone(), to.clone()));
                    }
                    Ok(())
                })
            });
        if let Err(e) = result {
            // Roll back to a known state: fully healed.
            if let Err(undo) = self.heal_locked(&mut current) {
                tracing::error!(error = %undo, "rolling back a partially applied partition");
            }
            return Err(e);
        }
        tracing::info!(partition = %p.describe(), "partition applied");
        Ok(())
    }

    /// Removes every blackhole route we added, restoring the route tables exactly as before.
    pub fn heal(&self) -> Result<(), Error> {
        self.ensure_live()?;
        let mut current = self.lock();
        self.heal_locked(&mut current)?;
        self.heal_clients()?;
        tracing::info!("network healed");
        Ok(())
    }

    fn heal_locked(&self, current: &mut Partition) -> Result<(), Error> {
        let mut first_err = None;
        for (from, to) in std::mem::take(&mut current.drops) {
            if let Err(e) = self.route("del", &from, &to) {
                // Keep it recorded so a later heal retries it.
                current.drops.insert((from, to));
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// `ip -n <from ns> route add|del blackhole <to addr>/32`.
    fn route(&self, verb: &str, from: &str, to: &str) -> Result<(), Error> {
        let from_ns = &self
            .layout
            .node(from)
            .ok_or_else(|| Error::UnknownNode(from.into()))?
            .ns;
        let to_addr = self
            .layout
            .node(to)
            .ok_or_else(|| Error::UnknownNode(to.into()))?
            .addr;
        let dest = format!("{to_addr}/32");
        ip(&["-n", from_ns, "route", verb, "blackhole", &dest]).map(drop)
    }

    /// The partition currently applied.
    pub fn current(&self) -> Partition {
        self.lock().clone()
    }

    /// `ip route show table all` for every node and the client namespace, keyed by namespace: lets a
    /// caller check that a heal restored the tables exactly.
    pub fn route_snapshot(&self) -> Result<BTreeMap<String, String>, Error> {
        self.ensure_live()?;
        self.layout
            .hosts()
            .map(|h| {
                Ok((
                    h.ns.clone(),
                    ip(&["-n", &h.ns, "route", "show", "table", "all"])?,
                ))
            })
            .collect()
    }

    /// Removes everything this network created: kills processes still inside its namespaces (never
    /// ourselves), then deletes the namespaces, which takes their links and routes with them.
    /// Idempotent; also run on drop. Only namespaces this value created are touched.
    pub fn teardown(&mut self) -> Result<(), Error> {
        let result = self.delete_namespaces();
        if self.created.is_empty() && self.marked {
            owner::remove_marker(&self.prefix());
            owner::unregister(&self.prefix());
            self.marked = false;
        }
        result
    }

    fn delete_namespaces(&mut self) -> Result<(), Error> {
        if self.created.is_empty() {
            return Ok(());
        }
        self.stop_packet_threads();
        let mut first_err = None;
        let mut remaining = Vec::new();
        for ns in std::mem::take(&mut self.created).into_iter().rev() {
            if !netns_exists(&ns) {
                continue;
            }
            match netns_pids(&ns) {
                Ok(pids) if !pids.is_empty() => {
                    let killed = kill_pids(&pids);
                    tracing::warn!(%ns, ?killed, "killed processes left in namespace at teardown");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%ns, error = %e, "listing processes in namespace"),
            }
            if let Err(e) = ip(&["netns", "del", &ns]) {
                remaining.push(ns);
                first_err.get_or_insert(e);
            }
        }
        remaining.reverse();
        self.created = remaining;
        self.lock().drops.clear();
        self.clients_lock().cut.clear();
        match first_err {
            None => {
                tracing::info!(run = %self.layout.run_id, "network torn down");
                Ok(())
            }
            Some(e) => Err(e),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            tracing::error!(run = %self.layout.run_id, error = %e, "network teardown on drop failed");
        }
    }
}
