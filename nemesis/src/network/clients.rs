//! `--partition-scope all`: a partition also cuts nodes off from the clients on the other side.
//!
//! Each client session binds to the source address of its home node's "side" (one extra address per node
//! in the client namespace: `.11 + n + i` for home node *i* of *n*, see [`Network::add_session_addrs`]).
//! Cutting node X off from the sessions homed on node H is a blackhole route for H's session address
//! inside X's namespace: X's answers never reach those sessions (their connects time out), while sessions
//! homed on X's own side, and the harness's own probes from `.2`, still reach X.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::Network;
use crate::layout::FIRST_NODE_HOST;
use crate::netns::ip;
use crate::{Error, Partition};

/// The client-side cuts in force: (node whose namespace has the route, home node whose sessions it drops).
#[derive(Debug, Default)]
pub(crate) struct ClientCuts {
    /// Session address per node, in configuration order; empty until added.
    pub(crate) addrs: Vec<Ipv4Addr>,
    pub(crate) cut: BTreeSet<(String, String)>,
}

impl Network {
    /// Give the client namespace one source address per node (sessions homed on node *i* use the *i*-th),
    /// so partitions can reach clients too. Returns them in node order; idempotent.
    pub fn add_session_addrs(&self) -> Result<Vec<Ipv4Addr>, Error> {
        self.ensure_live()?;
        let mut cuts = self.clients_lock();
        if !cuts.addrs.is_empty() {
            return Ok(cuts.addrs.clone());
        }
        let l = &self.layout;
        let n = l.nodes.len() as u32;
        let prefix = l.subnet.prefix.to_string();
        let mut addrs = Vec::new();
        for i in 0..n {
            let addr = l.subnet.host(FIRST_NODE_HOST + n + i).ok_or_else(|| {
                Error::invalid(
                    "subnet",
                    format!(
                        "{} is too small for a session address per node (needs .{}); use a larger subnet",
                        l.subnet,
                        FIRST_NODE_HOST + 2 * n - 1
                    ),
                )
            })?;
            let cidr = format!("{addr}/{prefix}");
            ip(&[
                "-n",
                &l.client.ns,
                "addr",
                "add",
                &cidr,
                "dev",
                &l.client.veth,
            ])?;
            addrs.push(addr);
        }
        cuts.addrs = addrs.clone();
        Ok(addrs)
    }

    /// Cut every node off from the sessions homed on a node it cannot reach under `p` (either way),
    /// replacing any earlier client cuts. Needs [`Network::add_session_addrs`] first.
    pub fn cut_clients(&self, p: &Partition) -> Result<(), Error> {
        self.ensure_live()?;
        let mut cuts = self.clients_lock();
        if cuts.addrs.is_empty() {
            return Err(Error::invalid(
                "partition scope",
                "cutting clients needs session addresses (add_session_addrs) first",
            ));
        }
        let wanted: BTreeSet<(String, String)> = p
            .drops
            .iter()
            .flat_map(|(a, b)| [(a.clone(), b.clone()), (b.clone(), a.clone())])
            .filter(|(a, b)| a != b)
            .collect();
        let stale: Vec<_> = cuts.cut.difference(&wanted).cloned().collect();
        for (node, home) in stale {
            self.client_route(&cuts, "del", &node, &home)?;
            cuts.cut.remove(&(node, home));
        }
        for (node, home) in wanted {
            if !cuts.cut.contains(&(node.clone(), home.clone())) {
                self.client_route(&cuts, "add", &node, &home)?;
                cuts.cut.insert((node, home));
            }
        }
        Ok(())
    }

    /// Remove every client cut (part of [`Network::heal`]).
    pub(crate) fn heal_clients(&self) -> Result<(), Error> {
        let mut cuts = self.clients_lock();
        let mut first_err = None;
        for (node, home) in std::mem::take(&mut cuts.cut) {
            if let Err(e) = self.client_route(&cuts, "del", &node, &home) {
                cuts.cut.insert((node, home));
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The client cuts in force: (node, home node whose sessions it cannot reach).
    pub fn client_cuts(&self) -> Vec<(String, String)> {
        self.clients_lock().cut.iter().cloned().collect()
    }

    /// `ip -n <node ns> route add|del blackhole <session address of home>/32`.
    fn client_route(
        &self,
        cuts: &ClientCuts,
        verb: &str,
        node: &str,
        home: &str,
    ) -> Result<(), Error> {
        let ns = &self
            .layout
            .node(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?
            .ns;
        let i = self
            .layout
            .nodes
            .iter()
            .position(|(n, _)| n == home)
            .ok_or_else(|| Error::UnknownNode(home.into()))?;
        let dest = format!("{}/32", cuts.addrs[i]);
        ip(&["-n", ns, "route", verb, "blackhole", &dest]).map(drop)
    }

    pub(super) fn clients_lock(&self) -> std::sync::MutexGuard<'_, ClientCuts> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}
