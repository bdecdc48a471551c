//! Landing probes: after a partition is applied (or healed), check from inside the namespaces that every
//! cut pair cannot connect and every other pair can. Each node namespace gets a listener of ours on
//! [`PROBE_PORT`], independent of the system under test (a crashed or paused node must not look cut).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use serde::Serialize;

use crate::netns::in_netns;
use crate::{Error, Network, Partition};

/// The port our probe listeners use inside each node namespace (the systems under test use others).
pub const PROBE_PORT: u16 = 7999;
/// How long a probe connect may take before the pair counts as cut, in ms (the harness derives its
/// shortest fault duration from it).
pub const CONNECT_TIMEOUT_MS: u64 = 700;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(CONNECT_TIMEOUT_MS);

/// One directed probe: a TCP connect from `from`'s namespace to `to`'s probe listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairProbe {
    pub from: String,
    pub to: String,
    /// What the partition says: a connect needs packets both ways, so a drop either way cuts it.
    pub expect_connect: bool,
    pub connected: bool,
}

/// The result of one probe round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Landing {
    pub pairs: Vec<PairProbe>,
}

impl Landing {
    /// Whether every pair behaved as the partition says.
    pub fn landed(&self) -> bool {
        self.pairs.iter().all(|p| p.expect_connect == p.connected)
    }

    /// The pairs that did not, as `n1 -> n2 (expected cut, connected)`.
    pub fn failures(&self) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|p| p.expect_connect != p.connected)
            .map(|p| {
                let (want, got) = if p.expect_connect {
                    ("connected", "cut")
                } else {
                    ("cut", "connected")
                };
                format!("{} -> {} (expected {want}, {got})", p.from, p.to)
            })
            .collect()
    }
}

/// Listeners of ours, one per node namespace; dropped with the value.
#[derive(Debug)]
pub struct Probes {
    listeners: Vec<(String, TcpListener)>,
}

impl Probes {
    /// Binds a listener in every node namespace of `net`.
    pub fn start(net: &Network) -> Result<Probes, Error> {
        let mut listeners = Vec::new();
        for node in net.nodes() {
            let (ns, addr) = node_place(net, &node)?;
            let l = in_netns(&ns, || TcpListener::bind((addr, PROBE_PORT)))?
                .map_err(|e| Error::io(format!("binding the probe listener in {ns}"), e))?;
            l.set_nonblocking(true)
                .map_err(|e| Error::io("probe listener", e))?;
            listeners.push((node, l));
        }
        Ok(Probes { listeners })
    }

    /// Connects every ordered pair of nodes (in parallel) and compares with `expected`.
    pub fn check(&self, net: &Network, expected: &Partition) -> Result<Landing, Error> {
        self.drain();
        let nodes = net.nodes();
        let mut jobs = Vec::new();
        for from in &nodes {
            for to in nodes.iter().filter(|t| *t != from) {
                let (ns, _) = node_place(net, from)?;
                let (_, addr) = node_place(net, to)?;
                let cut = expected.drops.contains(&(from.clone(), to.clone()))
                    || expected.drops.contains(&(to.clone(), from.clone()));
                jobs.push((from.clone(), to.clone(), ns, addr, !cut));
            }
        }
        let pairs = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(from, to, ns, addr, expect_connect)| {
                    s.spawn(move || {
                        let mut connected = connect(&ns, addr);
                        // A connect that should work gets a second chance (a busy machine), a cut one not.
                        if !connected && expect_connect {
                            connected = connect(&ns, addr);
                        }
                        PairProbe {
                            from,
                            to,
                            expect_connect,
                            connected,
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("probe thread"))
                .collect()
        });
        self.drain();
        Ok(Landing { pairs })
    }

    /// Accepts (and closes) the connections probes made, so the backlog never fills.
    fn drain(&self) {
        for (_, l) in &self.listeners {
            while l.accept().is_ok() {}
        }
    }
}

fn node_place(net: &Network, node: &str) -> Result<(String, Ipv4Addr), Error> {
    let ns = net
        .node_netns(node)
        .ok_or_else(|| Error::UnknownNode(node.into()))?;
    let addr = net
        .node_addr(node)
        .ok_or_else(|| Error::UnknownNode(node.into()))?;
    Ok((ns.to_string(), addr))
}

fn connect(ns: &str, to: Ipv4Addr) -> bool {
    let addr = SocketAddr::from((to, PROBE_PORT));
    in_netns(ns, || {
        TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).is_ok()
    })
    .unwrap_or(false)
}
