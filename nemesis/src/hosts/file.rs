//! The hosts file (`--hosts FILE`): which node runs on which machine, and how to reach it over SSH.
//!
//! TOML, one entry per node, plus optional `[defaults]`:
//!
//! ```toml
//! n1 = "root@10.0.0.11"
//! n2 = "root@10.0.0.12:2222"
//! n3 = { ssh = "root@10.0.0.13", port = 22, key = "/root/.ssh/lh", listen = "10.0.1.13" }
//!
//! [defaults]
//! key = "/root/.ssh/lh"             # identity file (else ssh's own defaults)
//! known_hosts = "/root/.ssh/known_hosts"  # host keys must be in here: never trusted on first use
//! ssh_config = "none"               # passed to `ssh -F` ("none": read no config file)
//! dir = "/var/tmp"                  # where each run's directory is made on the host
//! ```
//!
//! or a plain list, one `[name ]user@host[:port]` a line (names default to n1, n2, ... in order; `#` starts
//! a comment). `listen` is the address the system listens on and peers reach; it defaults to the host part
//! of the destination, which then must be an IPv4 address.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::layout::MAX_NODE_NAME_LEN;
use crate::Error;

/// Where the per-run directories go when the file does not say.
pub const DEFAULT_DIR: &str = "/var/tmp";

/// One node's host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// The node name (`n1`).
    pub name: String,
    /// `user@host` (or `host`), as ssh takes it.
    pub destination: String,
    /// The SSH port, if not ssh's default.
    pub port: Option<u16>,
    /// The identity file, if given.
    pub key: Option<PathBuf>,
    /// The address the system listens on and its peers and clients reach.
    pub listen: Ipv4Addr,
}

/// A parsed hosts file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostsFile {
    /// In file order (TOML: sorted by name, which is file order for n1, n2, ...).
    pub hosts: Vec<HostSpec>,
    /// `UserKnownHostsFile` for every connection.
    pub known_hosts: Option<PathBuf>,
    /// `ssh -F` for every connection.
    pub ssh_config: Option<String>,
    /// The parent of each per-run directory on the hosts.
    pub dir: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Short(String),
    Full(FullEntry),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullEntry {
    ssh: String,
    port: Option<u16>,
    key: Option<PathBuf>,
    listen: Option<Ipv4Addr>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Defaults {
    port: Option<u16>,
    key: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
    ssh_config: Option<String>,
    dir: Option<String>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::invalid("hosts file", message)
}

impl HostsFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<HostsFile, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading hosts file {}", path.display()), e))?;
        HostsFile::parse(&text).map_err(|e| match e {
            Error::Invalid { message, .. } => bad(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// Parses TOML, or a plain list when the text has no `=` outside comments.
    pub fn parse(text: &str) -> Result<HostsFile, Error> {
        let plain = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .all(|l| !l.contains('=') && !l.trim_start().starts_with('['));
        if plain {
            parse_plain(text)
        } else {
            parse_toml(text)
        }
    }

    /// The node names, in order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }
}

fn parse_toml(text: &str) -> Result<HostsFile, Error> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| bad(e.message().to_string() + &line_of(text, e.span())))?;
    let defaults: Defaults = match table.remove("defaults") {
        Some(v) => v
            .try_into()
            .map_err(|e: toml::de::Error| bad(format!("[defaults]: {}", e.message())))?,
        None => Defaults::default(),
    };
    let mut entries = BTreeMap::new();
    for (name, value) in table {
        let entry: Entry = value.try_into().map_err(|_| {
            bad(format!(
                "`{name}`: expected \"user@host\" or {{ ssh = \"user@host\", port = 22, key = \"...\", listen = \"10.0.0.11\" }}"
            ))
        })?;
        entries.insert(name, entry);
    }
    let hosts = entries
        .into_iter()
        .map(|(name, e)| match e {
            Entry::Short(dest) => host(name, &dest, defaults.port, defaults.key.clone(), None),
            Entry::Full(f) => host(
                name,
                &f.ssh,
                f.port.or(defaults.port),
                f.key.or_else(|| defaults.key.clone()),
                f.listen,
            ),
        })
        .collect::<Result<Vec<_>, _>>()?;
    finish(
        hosts,
        defaults.known_hosts,
        defaults.ssh_config,
        defaults.dir,
    )
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
        format!(" (line {line})")
    })
    .unwrap_or_default()
}

fn parse_plain(text: &str) -> Result<HostsFile, Error> {
    let mut hosts = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (name, dest) = match fields[..] {
            [dest] => (format!("n{}", hosts.len() + 1), dest),
            [name, dest] => (name.to_string(), dest),
            _ => {
                return Err(bad(format!(
                    "line {}: `{line}`: expected `[name ]user@host[:port]`",
                    i + 1
                )))
            }
        };
        hosts.push(host(name, dest, None, None, None)?);
    }
    finish(hosts, None, None, None)
}

/// One entry: `user@host[:port]` split, the listen address found.
fn host(
    name: String,
    dest: &str,
    port: Option<u16>,
    key: Option<PathBuf>,
    listen: Option<Ipv4Addr>,
) -> Result<HostSpec, Error> {
    let valid_name = (1..=MAX_NODE_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid_name {
        return Err(bad(format!(
            "node name `{name}`: use 1 to {MAX_NODE_NAME_LEN} characters of a-z and 0-9, e.g. n1"
        )));
    }
    let (destination, port) = match dest.rsplit_once(':') {
        Some((d, p)) => {
            let p: u16 = p.parse().map_err(|_| {
                bad(format!(
                    "{name}: `{dest}`: the port after `:` is not a number"
                ))
            })?;
            (d.to_string(), Some(p))
        }
        None => (dest.to_string(), port),
    };
    let host_part = destination.rsplit('@').next().unwrap_or_default();
    if host_part.is_empty()
        || destination.starts_with('-')
        || destination.chars().any(|c| c.is_whitespace())
    {
        return Err(bad(format!(
            "{name}: `{dest}` is not a user@host destination"
        )));
    }
    let listen = match listen {
        Some(a) => a,
        None => host_part.parse().map_err(|_| {
            bad(format!(
                "{name}: `{host_part}` is not an IPv4 address; give the address the system listens on \
                 with {{ ssh = \"{dest}\", listen = \"10.0.0.11\" }}"
            ))
        })?,
    };
    if listen.is_unspecified() || listen.is_broadcast() || listen.is_multicast() {
        return Err(bad(format!(
            "{name}: listen address {listen} cannot be reached"
        )));
    }
    Ok(HostSpec {
        name,
        destination,
        port,
        key,
        listen,
    })
}

fn finish(
    hosts: Vec<HostSpec>,
    known_hosts: Option<PathBuf>,
    ssh_config: Option<String>,
    dir: Option<String>,
) -> Result<HostsFile, Error> {
    if hosts.is_empty() {
        return Err(bad(
            "no hosts in it; add lines like n1 = \"root@10.0.0.11\"",
        ));
    }
    for (i, a) in hosts.iter().enumerate() {
        if let Some(b) = hosts[..i].iter().find(|b| b.name == a.name) {
            return Err(bad(format!("node {} is listed twice", b.name)));
        }
        if let Some(b) = hosts[..i].iter().find(|b| b.listen == a.listen) {
            return Err(bad(format!(
                "{} and {} both listen on {}: each node needs its own address",
                b.name, a.name, a.listen
            )));
        }
    }
    let dir = dir.unwrap_or_else(|| DEFAULT_DIR.to_string());
    // It goes unquoted into the scripts run on the hosts: only characters no shell reads as syntax.
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/._-".contains(&b);
    if !dir.starts_with('/') || !dir.bytes().all(plain) {
        return Err(bad(format!(
            "dir `{dir}`: use an absolute path of letters, digits and / . _ -"
        )));
    }
    if let Some(k) = &known_hosts {
        if !k.is_file() {
            return Err(bad(format!(
                "known_hosts {} does not exist (host keys are never trusted on first use)",
                k.display()
            )));
        }
    }
    for h in &hosts {
        if let Some(k) = h.key.as_ref().filter(|k| !k.is_file()) {
            return Err(bad(format!(
                "{}: key file {} does not exist",
                h.name,
                k.display()
            )));
        }
    }
    Ok(HostsFile {
        hosts,
        known_hosts,
        ssh_config,
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_short_and_full_entries() {
        let f = HostsFile::parse(
            r#"
n1 = "root@10.0.0.11"
n2 = "admin@10.0.0.12:2222"
n3 = { ssh = "root@db3.example", listen = "10.0.1.13", port = 2200 }
[defaults]
port = 22
ssh_config = "none"
dir = "/srv/lh"
"#,
        )
        .unwrap();
        assert_eq!(f.names(), ["n1", "n2", "n3"]);
        assert_eq!(f.hosts[0].port, Some(22));
        assert_eq!(f.hosts[0].listen, Ipv4Addr::new(10, 0, 0, 11));
        assert_eq!(f.hosts[1].destination, "admin@10.0.0.12");
        assert_eq!(f.hosts[1].port, Some(2222));
        assert_eq!(f.hosts[2].destination, "root@db3.example");
        assert_eq!(f.hosts[2].port, Some(2200));
        assert_eq!(f.hosts[2].listen, Ipv4Addr::new(10, 0, 1, 13));
        assert_eq!(f.ssh_config.as_deref(), Some("none"));
        assert_eq!(f.dir, "/srv/lh");
    }

    #[test]
    fn plain_list_names_in_order() {
        let f = HostsFile::parse(
            "# three hosts\nroot@10.0.0.11\nroot@10.0.0.12:2222  # second\n\ndb root@10.0.0.13\n",
        )
        .unwrap();
        assert_eq!(f.names(), ["n1", "n2", "db"]);
        assert_eq!(f.hosts[1].port, Some(2222));
        assert_eq!(f.dir, DEFAULT_DIR);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let cases = [
            ("", "no hosts"),
            ("n1 = 5", "expected \"user@host\""),
            ("n1 = \"root@db.example\"", "not an IPv4 address"),
            ("n1 = \"root@10.0.0.1:x\"", "not a number"),
            ("Node-1 = \"root@10.0.0.1\"", "node name"),
            (
                "n1 = \"root@10.0.0.1\"\nn2 = \"root@10.0.0.1\"",
                "both listen",
            ),
            (
                "n1 = { ssh = \"root@10.0.0.1\", bogus = 1 }",
                "expected \"user@host\"",
            ),
            ("[defaults]\nprot = 22\nn1 = \"r@10.0.0.1\"", "[defaults]"),
            (
                "n1 = \"r@10.0.0.1\"\n[defaults]\ndir = \"relative\"",
                "absolute",
            ),
            (
                "n1 = \"r@10.0.0.1\"\n[defaults]\ndir = \"/var/tmp;reboot\"",
                "letters, digits",
            ),
            (
                "n1 = \"r@10.0.0.1\"\n[defaults]\ndir = \"/var/tmp\\t|reboot\"",
                "letters, digits",
            ),
            (
                "n1 = \"r@10.0.0.1\"\n[defaults]\nknown_hosts = \"/nonexistent/kh\"",
                "does not exist",
            ),
            ("n1 = \"r@10.0.0.1\"\nn1 = \"r@10.0.0.2\"", "line 2"),
            ("a b c", "expected `[name ]user@host[:port]`"),
            ("root@0.0.0.0", "cannot be reached"),
        ];
        for (text, needle) in cases {
            let err = HostsFile::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
