//! The pure plan of a network: every namespace, link name and address, checked before anything exists.

use std::net::Ipv4Addr;

use rand::Rng;

use crate::{Error, Subnet};

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
pub(crate) struct Host {
    pub(crate) ns: String,
    pub(crate) addr: Ipv4Addr,
    /// The veth end inside `ns`.
    pub(crate) veth: String,
    /// The veth end inside the bridge namespace.
    pub(crate) peer: String,
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
pub(crate) struct Layout {
    pub(crate) run_id: String,
    pub(crate) subnet: Subnet,
    pub(crate) bridge_ns: String,
    pub(crate) bridge: String,
    pub(crate) client: Host,
    /// Node name → host, in configuration order.
    pub(crate) nodes: Vec<(String, Host)>,
}

impl Layout {
    pub(crate) fn plan(cfg: &NetConfig) -> Result<Layout, Error> {
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

    pub(crate) fn hosts(&self) -> impl Iterator<Item = &Host> {
        std::iter::once(&self.client).chain(self.nodes.iter().map(|(_, h)| h))
    }

    pub(crate) fn node(&self, name: &str) -> Option<&Host> {
        self.nodes.iter().find(|(n, _)| n == name).map(|(_, h)| h)
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
