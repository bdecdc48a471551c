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

use rand::Rng;

use crate::netns::{
    check_privileges, enter_netns, ip, kill_pids, netns_exists, netns_pids, sysctl_in,
};
use crate::{Error, Partition, Subnet};

/// The prefix of every kernel object we create.
pub const PREFIX: &str = "lh";
/// The longest run id: `lh` + 5 + a 6-character node name + `b` is 14, within Linux's 15-byte names.
pub const MAX_RUN_ID_LEN: usize = 5;
/// The longest node name (see [`MAX_RUN_ID_LEN`]).
pub const MAX_NODE_NAME_LEN: usize = 6;
/// Host offset of the client namespace's address (`.2` in a /24).
pub const CLIENT_HOST: u32 = 2;
/// Host offset of the first node's address (`.11`); node *i* (0-based) gets `.11 + i`.
pub const FIRST_NODE_HOST: u32 = 11;

/// What network to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Names every object: 1 to 5 characters of `[a-z0-9]`. See [`generate_run_id`].
    pub run_id: String,
    /// Where addresses come from (default 10.77.0.0/24).
    pub subnet: Subnet,
    /// Node names, 1 to 6 characters of `[a-z0-9]` each, e.g. `n1`, `n2`, `n3`.
    pub nodes: Vec<String>,
}

/// A fresh random run id: 5 characters of `[a-z0-9]`.
pub fn generate_run_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..MAX_RUN_ID_LEN)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

fn is_simple_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// One namespace attached to the bridge.
#[derive(Clone, Debug)]
struct Host {
    ns: String,
    addr: Ipv4Addr,
    /// The veth end inside `ns`.
    veth: String,
    /// The veth end inside the bridge namespace.
    peer: String,
}

impl Host {
    fn new(prefix: &str, tag: &str, addr: Ipv4Addr) -> Self {
        Host {
            ns: format!("{prefix}{tag}"),
            addr,
            veth: format!("{prefix}{tag}"),
            peer: format!("{prefix}{tag}b"),
        }
    }
}

/// All names and addresses of a network, computed and checked before anything is created.
#[derive(Clone, Debug)]
struct Layout {
    run_id: String,
    subnet: Subnet,
    bridge_ns: String,
    bridge: String,
    client: Host,
    /// Node name → host, in configuration order.
    nodes: Vec<(String, Host)>,
}

impl Layout {
    fn plan(cfg: &NetConfig) -> Result<Layout, Error> {
        if !is_simple_name(&cfg.run_id, MAX_RUN_ID_LEN) {
            return Err(Error::invalid(
                "run id",
                format!(
                    "`{}`: use 1 to {MAX_RUN_ID_LEN} characters of a-z and 0-9",
                    cfg.run_id
                ),
            ));
        }
        cfg.subnet.validate()?;
        if cfg.nodes.is_empty() {
            return Err(Error::invalid(
                "node list",
                "no nodes given; a network needs at least one node",
            ));
        }
        let needed = FIRST_NODE_HOST - 1 + cfg.nodes.len() as u32;
        if needed > cfg.subnet.host_count() {
            return Err(Error::invalid(
                "subnet",
                format!(
                    "{} has {} host addresses but {} nodes need {needed} (nodes start at .{FIRST_NODE_HOST}); \
                     use a larger subnet",
                    cfg.subnet,
                    cfg.subnet.host_count(),
                    cfg.nodes.len()
                ),
            ));
        }
        let prefix = format!("{PREFIX}{}", cfg.run_id);
        let client = Host::new(
            &prefix,
            "c",
            cfg.subnet.host(CLIENT_HOST).expect("checked size"),
        );
        let mut nodes = Vec::new();
        for (i, name) in cfg.nodes.iter().enumerate() {
            if !is_simple_name(name, MAX_NODE_NAME_LEN) {
                return Err(Error::invalid(
                    "node name",
                    format!(
                        "`{name}`: use 1 to {MAX_NODE_NAME_LEN} characters of a-z and 0-9, e.g. n1"
                    ),
                ));
            }
            let addr = cfg
                .subnet
                .host(FIRST_NODE_HOST + i as u32)
                .expect("checked size");
            nodes.push((name.clone(), Host::new(&prefix, name, addr)));
        }
        let layout = Layout {
            run_id: cfg.run_id.clone(),
            subnet: cfg.subnet,
            bridge_ns: format!("{prefix}br"),
            bridge: format!("{prefix}br"),
            client,
            nodes,
        };
        // Namespaces must be distinct, and so must every link inside the bridge namespace.
        let mut namespaces = vec![layout.bridge_ns.as_str()];
        let mut bridge_links = vec![layout.bridge.as_str()];
        for h in layout.hosts() {
            namespaces.push(&h.ns);
            bridge_links.push(&h.peer);
        }
        for list in [&mut namespaces, &mut bridge_links] {
            let before = list.len();
            list.sort();
            list.dedup();
            if list.len() != before {
                return Err(Error::invalid(
                    "node list",
                    format!(
                        "{:?}: names must be unique and not `c` or `br` (reserved for the client and bridge)",
                        cfg.nodes
                    ),
                ));
            }
        }
        Ok(layout)
    }

    fn hosts(&self) -> impl Iterator<Item = &Host> {
        std::iter::once(&self.client).chain(self.nodes.iter().map(|(_, h)| h))
    }

    fn node(&self, name: &str) -> Option<&Host> {
        self.nodes.iter().find(|(n, _)| n == name).map(|(_, h)| h)
    }
}

/// A live test network. Torn down by [`Network::teardown`] or, failing that, on drop.
///
/// `Network` is `Send + Sync`: partitions may be applied from any thread.
#[derive(Debug)]
pub struct Network {
    layout: Layout,
    /// Namespaces we created and have not yet deleted, in creation order. Only these are ever deleted.
    created: Vec<String>,
    current: Mutex<Partition>,
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
            current: Mutex::new(Partition::default()),
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
        let all_ns = std::iter::once(&l.bridge_ns).chain(l.hosts().map(|h| &h.ns));
        for ns in all_ns {
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
        if self.created.is_empty() {
            return Ok(());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(run: &str, nodes: &[&str]) -> NetConfig {
        NetConfig {
            run_id: run.into(),
            subnet: Subnet::default(),
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn layout_names_and_addresses() {
        let l = Layout::plan(&cfg("ab1", &["n1", "n2", "n3"])).unwrap();
        assert_eq!(l.bridge_ns, "lhab1br");
        assert_eq!(l.client.ns, "lhab1c");
        assert_eq!(l.client.peer, "lhab1cb");
        assert_eq!(l.client.addr, Ipv4Addr::new(10, 77, 0, 2));
        let n3 = l.node("n3").unwrap();
        assert_eq!(
            (n3.ns.as_str(), n3.veth.as_str(), n3.peer.as_str()),
            ("lhab1n3", "lhab1n3", "lhab1n3b")
        );
        assert_eq!(n3.addr, Ipv4Addr::new(10, 77, 0, 13));
        let longest = Layout::plan(&cfg("abcde", &["abcdef"])).unwrap();
        for h in longest.hosts() {
            assert!(h.peer.len() <= 15 && h.veth.len() <= 15, "{h:?}");
        }
    }

    #[test]
    fn layout_rejects_bad_input() {
        let cases = [
            (cfg("ABC", &["n1"]), "run id"),
            (cfg("abcdef", &["n1"]), "run id"),
            (cfg("", &["n1"]), "run id"),
            (cfg("ab", &[]), "no nodes"),
            (cfg("ab", &["n1", "n1"]), "unique"),
            (cfg("ab", &["c"]), "reserved"),
            (cfg("ab", &["br"]), "reserved"),
            (cfg("ab", &["node-1"]), "node name"),
            (cfg("ab", &["toolong1"]), "node name"),
        ];
        for (c, needle) in cases {
            let err = Layout::plan(&c).unwrap_err().to_string();
            assert!(err.contains(needle), "{c:?}: {err}");
        }
        let mut small = cfg("ab", &["n1", "n2", "n3", "n4", "n5"]);
        small.subnet = "10.1.1.0/28".parse().unwrap();
        let err = Layout::plan(&small).unwrap_err().to_string();
        assert!(err.contains("larger subnet"), "{err}");
    }

    #[test]
    fn run_ids_are_valid() {
        for _ in 0..50 {
            let id = generate_run_id();
            assert!(is_simple_name(&id, MAX_RUN_ID_LEN), "{id}");
        }
    }
}
