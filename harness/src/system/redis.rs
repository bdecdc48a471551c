//! Redis with Sentinel from Debian's `redis-server` and `redis-sentinel` (Redis 7.0): each member is one
//! server and one sentinel in the member's namespace, bound to its address only, their configuration
//! files and data in its data directory. The first member starts as master, the others as its replicas;
//! every sentinel monitors it under the name `lh` with a majority quorum.
//!
//! A member is one `sh -c` that writes both configuration files (only when absent: Sentinel rewrites
//! them as it learns, and a restarted member must come back with what it had, as after a host crash),
//! starts the sentinel in the background and `exec`s the server. Both stay in the one process group
//! the harness kills, pauses and stops, so a fault hits both as it would a host; the sentinel also
//! gets SIGKILL when the server dies (`setpriv --pdeathsig`), so it cannot outlive its member.
//!
//! Sentinel's state is seeded in its file (`myid`, `known-replica`, `known-sentinel`) and the servers
//! sync replicas without delay (`repl-diskless-sync-delay 0`): otherwise the sentinels take about 10 s to
//! find each other, and the cluster is not healthy before that.

use super::{find_on_path, Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::redis::{MASTER_NAME, SENTINEL_PORT};
use workloads::{Client, RedisClient, RedisWrites};

const CLIENT_PORT: u16 = 6379;
/// How long a sentinel waits without an answer before it holds a server down, and how long a failover
/// may take: short enough that one fault (3 s by default) sees a failover.
const DOWN_AFTER_MS: u32 = 1000;
const FAILOVER_TIMEOUT_MS: u32 = 2000;
/// Redis rewrites its process title; keeping the configuration file's path in it lets a leak check find
/// every process of a run by its data directory, as for the other systems.
const TITLE: &str = "proc-title-template \"{title} {config-file} {listen-addr} {server-mode}\"";

pub struct RedisSystem {
    server: PathBuf,
    /// The sentinel program and the arguments before its configuration file.
    sentinel: (PathBuf, Vec<String>),
    writes: RedisWrites,
}

impl RedisSystem {
    /// Says what is missing (package, binary) when Redis or Sentinel cannot be started here.
    pub fn new(cfg: &RunConfig) -> Result<RedisSystem> {
        let (server, sentinel) = match &cfg.cluster.node_bin {
            // A given server runs the sentinel too, as `redis-sentinel` is that same program.
            Some(p) => (p.clone(), (p.clone(), vec!["--sentinel".to_string()])),
            None => {
                let server = find_on_path("redis-server").context(
                    "redis-server not found on the PATH: install the Debian package redis-server, or \
                     pass --node-bin",
                )?;
                let sentinel = find_on_path("redis-sentinel").context(
                    "redis-sentinel not found on the PATH: install the Debian package redis-sentinel",
                )?;
                (server, (sentinel, vec![]))
            }
        };
        if !server.is_file() {
            bail!("{} does not exist", server.display());
        }
        if find_on_path("setpriv").is_none() {
            bail!("setpriv not found on the PATH: install the Debian package util-linux");
        }
        let writes = match cfg.cluster.mode.as_str() {
            "wait" => RedisWrites::Wait,
            _ => RedisWrites::Async,
        };
        Ok(RedisSystem {
            server,
            sentinel,
            writes,
        })
    }
}

/// Single-quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A sentinel's id: 40 hex digits, fixed per member so every file can name every peer.
fn sentinel_id(index: usize) -> String {
    format!("{:040x}", index + 1)
}

/// `redis.conf` of `m`: the first member is master, the others replicate it.
fn server_config(m: &Member, all: &[Member]) -> Vec<String> {
    let mut lines = vec![
        format!("bind {}", m.client_addr.ip()),
        format!("port {CLIENT_PORT}"),
        "protected-mode no".to_string(),
        "daemonize no".into(),
        format!("dir \"{}\"", m.data_dir.display()),
        TITLE.into(),
        // Every acknowledged write is in the file before the answer leaves: a killed process loses
        // nothing the machine kept; what failover loses is Redis's own.
        "appendonly yes".into(),
        "appendfsync everysec".into(),
        "save \"\"".into(),
        "repl-diskless-sync yes".into(),
        "repl-diskless-sync-delay 0".into(),
    ];
    if let Some(first) = all.first().filter(|f| f.name != m.name) {
        lines.push(format!(
            "replicaof {} {CLIENT_PORT}",
            first.client_addr.ip()
        ));
    }
    lines
}

/// `sentinel.conf` of member number `i`, seeded with every peer so no discovery is needed.
fn sentinel_config(i: usize, all: &[Member]) -> Vec<String> {
    let m = &all[i];
    let quorum = all.len() / 2 + 1;
    let master = all
        .first()
        .map(|f| f.client_addr.ip())
        .unwrap_or(m.client_addr.ip());
    let mut lines = vec![
        format!("bind {}", m.client_addr.ip()),
        format!("port {SENTINEL_PORT}"),
        "protected-mode no".to_string(),
        "daemonize no".into(),
        format!("dir \"{}\"", m.data_dir.display()),
        TITLE.into(),
        format!("sentinel myid {}", sentinel_id(i)),
        format!("sentinel monitor {MASTER_NAME} {master} {CLIENT_PORT} {quorum}"),
        format!("sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}"),
        format!("sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}"),
        format!("sentinel parallel-syncs {MASTER_NAME} 1"),
    ];
    for (j, p) in all.iter().enumerate() {
        let ip = p.client_addr.ip();
        if j > 0 {
            lines.push(format!(
                "sentinel known-replica {MASTER_NAME} {ip} {CLIENT_PORT}"
            ));
        }
        if j != i {
            let id = sentinel_id(j);
            lines.push(format!(
                "sentinel known-sentinel {MASTER_NAME} {ip} {SENTINEL_PORT} {id}"
            ));
        }
    }
    lines
}

/// `[ -f name ] || printf lines > name`: written once, then left to Redis.
fn write_once(name: &str, lines: &[String]) -> String {
    let quoted: Vec<String> = lines.iter().map(|l| quote(l)).collect();
    format!(
        "{{ [ -f {name} ] || printf '%s\\n' {} > {name}; }}",
        quoted.join(" ")
    )
}

impl System for RedisSystem {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn client_port(&self) -> u16 {
        CLIENT_PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        let i = all
            .iter()
            .position(|p| p.name == m.name)
            .context("member not in its own cluster")?;
        let dir = m.data_dir.display().to_string();
        let (sentinel, sentinel_args) = &self.sentinel;
        let sentinel_args: Vec<String> = sentinel_args.iter().map(|a| quote(a)).collect();
        let script = format!(
            "cd {dir} && {server_cfg} && {sentinel_cfg} || exit 1\n\
             setpriv --pdeathsig KILL {sentinel} {dir}/sentinel.conf {sentinel_args} &\n\
             exec {server} {dir}/redis.conf",
            dir = quote(&dir),
            server_cfg = write_once("redis.conf", &server_config(m, all)),
            sentinel_cfg = write_once("sentinel.conf", &sentinel_config(i, all)),
            sentinel = quote(&sentinel.display().to_string()),
            sentinel_args = sentinel_args.join(" "),
            server = quote(&self.server.display().to_string()),
        );
        Ok(Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script],
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        let client = RedisClient::new(Member::addrs(all), timeout, self.writes)
            .map_err(anyhow::Error::msg)
            .context("creating the Redis client")?;
        Ok(Arc::new(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn members() -> Vec<Member> {
        (1..=3)
            .map(|i| Member {
                name: format!("n{i}"),
                client_addr: SocketAddr::from(([10, 9, 0, i], CLIENT_PORT)),
                data_dir: PathBuf::from(format!("/tmp/it's/n{i}")),
            })
            .collect()
    }

    #[test]
    fn the_first_member_is_master_and_the_others_replicate_it() {
        let all = members();
        let first = server_config(&all[0], &all);
        assert!(!first.iter().any(|l| l.starts_with("replicaof")));
        assert!(first.contains(&"bind 10.9.0.1".to_string()));
        let second = server_config(&all[1], &all);
        assert!(second.contains(&"replicaof 10.9.0.1 6379".to_string()));
        assert!(second.contains(&"repl-diskless-sync-delay 0".to_string()));
    }

    /// Each sentinel knows every peer but itself, and every replica, so none has to discover them.
    #[test]
    fn each_sentinel_is_seeded_with_its_peers_and_the_replicas() {
        let all = members();
        let lines = sentinel_config(1, &all);
        assert!(lines.contains(&"sentinel monitor lh 10.9.0.1 6379 2".to_string()));
        assert!(lines.contains(&format!("sentinel myid {}", sentinel_id(1))));
        let peers: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("sentinel known-sentinel"))
            .collect();
        assert_eq!(peers.len(), 2);
        assert!(peers.iter().all(|l| !l.contains(&sentinel_id(1))));
        let replicas = lines
            .iter()
            .filter(|l| l.starts_with("sentinel known-replica"))
            .count();
        assert_eq!(replicas, 2);
        assert_eq!(sentinel_id(0).len(), 40);
    }

    #[test]
    fn configuration_files_are_written_only_when_absent() {
        let script = write_once("redis.conf", &["dir /tmp/it's".to_string()]);
        assert_eq!(
            script,
            r"{ [ -f redis.conf ] || printf '%s\n' 'dir /tmp/it'\''s' > redis.conf; }"
        );
    }
}
