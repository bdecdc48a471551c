//! A real ZooKeeper ensemble from Debian's `zookeeperd` (ZooKeeper 3.8), one server per namespace, started
//! as Debian's own init script does (`java -cp zookeeper.jar QuorumPeerMain zoo.cfg`) with a `zoo.cfg` and
//! `myid` written into the member's data directory by the launch command itself (so it works on any host).
//! The AdminServer is off: Debian's class path lacks `servlet-api`, and it would not start anyway; the
//! leader is read from the `srvr` four-letter word instead, which the configuration whitelists.

use super::{find_on_path, Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::{Client, ZkClient, ZkReads};

const CLIENT_PORT: u16 = 2181;
const QUORUM_PORT: u16 = 2888;
const ELECTION_PORT: u16 = 3888;
/// Where Debian's `zookeeperd` (through `libzookeeper-java`) puts the server.
const JAR: &str = "/usr/share/java/zookeeper.jar";
/// Logging as Debian's init script sets it up, to the console (the member's node.log).
const LOG_JARS: [&str; 2] = [
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];
const LOG_CONFIG: &str = "/etc/zookeeper/conf/log4j.properties";

pub struct ZkSystem {
    java: PathBuf,
    reads: ZkReads,
}

impl ZkSystem {
    /// Says what is missing (package, binary) when ZooKeeper cannot be started here.
    pub fn new(cfg: &RunConfig) -> Result<ZkSystem> {
        let java = match &cfg.cluster.node_bin {
            Some(p) => p.clone(),
            None => find_on_path("java").context(
                "java not found on the PATH: ZooKeeper needs a Java runtime (the Debian package \
                 zookeeperd brings one), or pass its path with --node-bin",
            )?,
        };
        if !java.is_file() {
            bail!("{} does not exist", java.display());
        }
        if !Path::new(JAR).is_file() {
            bail!("ZooKeeper is not installed: {JAR} is missing (install the Debian package zookeeperd)");
        }
        let reads = if cfg.cluster.mode == "sync" {
            ZkReads::Sync
        } else {
            ZkReads::Plain
        };
        Ok(ZkSystem { java, reads })
    }
}

/// Single-quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `zoo.cfg` for `m`. Ticks of 500 ms: a follower is dropped after 5 s without the leader (`syncLimit`),
/// sessions last 1 to 10 s.
fn config(m: &Member, all: &[Member]) -> Vec<String> {
    let mut lines = vec![
        "tickTime=500".to_string(),
        "initLimit=20".into(),
        "syncLimit=10".into(),
        format!("dataDir={}", m.data_dir.display()),
        format!("clientPortAddress={}", m.client_addr.ip()),
        format!("clientPort={CLIENT_PORT}"),
        "admin.enableServer=false".into(),
        "4lw.commands.whitelist=srvr".into(),
        // Snapshots and logs of a short run stay small; nothing to purge.
        "autopurge.purgeInterval=0".into(),
    ];
    for (i, p) in all.iter().enumerate() {
        let ip = p.client_addr.ip();
        lines.push(format!(
            "server.{}={ip}:{QUORUM_PORT}:{ELECTION_PORT}",
            i + 1
        ));
    }
    lines
}

impl System for ZkSystem {
    fn name(&self) -> &'static str {
        "zookeeper"
    }

    fn client_port(&self) -> u16 {
        CLIENT_PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        let id = all
            .iter()
            .position(|p| p.name == m.name)
            .context("member not in its own cluster")?
            + 1;
        let dir = m.data_dir.display().to_string();
        let mut cp = vec![JAR];
        cp.extend(LOG_JARS.iter().filter(|j| Path::new(j).is_file()));
        let jvm = [
            // Three JVMs share a small machine: start fast, stay small.
            "-Xms32m".to_string(),
            "-Xmx256m".into(),
            "-XX:+UseSerialGC".into(),
            "-XX:TieredStopAtLevel=1".into(),
            format!("-Dlog4j.configuration=file:{LOG_CONFIG}"),
            "-Dzookeeper.root.logger=INFO,CONSOLE".into(),
            format!("-Dzookeeper.log.dir={dir}"),
            "-cp".into(),
            cp.join(":"),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
            "zoo.cfg".into(),
        ];
        let cfg_lines: Vec<String> = config(m, all).iter().map(|l| quote(l)).collect();
        let script = format!(
            "cd {dir} && printf '%s\\n' {cfg} > zoo.cfg && echo {id} > myid && exec {java} {jvm}",
            dir = quote(&dir),
            cfg = cfg_lines.join(" "),
            java = quote(&self.java.display().to_string()),
            jvm = jvm.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        );
        Ok(Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script],
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        Ok(Arc::new(ZkClient::new(
            Member::addrs(all),
            timeout,
            self.reads,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn each_server_is_listed_with_its_id_and_4lw_srvr_is_allowed() {
        let all: Vec<Member> = (1..=3)
            .map(|i| Member {
                name: format!("n{i}"),
                client_addr: SocketAddr::from(([10, 9, 0, i], CLIENT_PORT)),
                data_dir: PathBuf::from(format!("/tmp/it's/n{i}")),
            })
            .collect();
        let lines = config(&all[1], &all);
        assert!(lines.contains(&"server.3=10.9.0.3:2888:3888".to_string()));
        assert!(lines.contains(&"clientPortAddress=10.9.0.2".to_string()));
        assert!(lines.contains(&"4lw.commands.whitelist=srvr".to_string()));
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
