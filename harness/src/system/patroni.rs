//! PostgreSQL 15 under Patroni 3.0.2 (Debian's `patroni`, `postgresql-15`, `etcd-server`), one member per
//! namespace: an etcd member (the DCS, reached through Patroni's `etcd3` client, etcd's v3 JSON gateway)
//! and Patroni, which runs PostgreSQL, all bound to the member's address. `patroni.yml` is written into
//! the member's data directory by the launch command itself.
//!
//! PostgreSQL refuses to run as root: etcd and Patroni run as `postgres` on a data directory it owns.
//! The member is one process tree in a PID namespace of its own (`unshare --pid --kill-child`): killing
//! the process we started kills the namespace, PostgreSQL's children included. Pausing needs more:
//! PostgreSQL puts the postmaster and each of its children in a session of its own (`setsid`), out of
//! reach of a signal to the member's process group. A watcher in the namespace (its own session too)
//! sees Patroni, the namespace's init, stopped by the group's SIGSTOP and stops every process of the
//! namespace, then continues them once Patroni runs again: the whole member freezes, as a host would.

use super::{find_on_path, Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::patroni::{PASSWORD, REST_PORT, USER};
use workloads::{Client, PatroniClient};

const PG_PORT: u16 = 5432;
const ETCD_CLIENT_PORT: u16 = 2379;
const ETCD_PEER_PORT: u16 = 2380;
/// Debian's PostgreSQL 15 programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// python3-etcd: Patroni's etcd and etcd3 clients import it.
const PYTHON_ETCD: &str = "/usr/lib/python3/dist-packages/etcd/__init__.py";
/// The longest path a Unix socket can have (`sun_path`, less its terminating NUL).
const SOCKET_PATH_MAX: usize = 107;
/// How often the pause watcher looks at the namespace's init.
const WATCH_INTERVAL: &str = "0.05";

pub struct PatroniSystem {
    patroni: PathBuf,
    etcd: PathBuf,
    sync: bool,
    subnet: String,
    /// Distinguishes this run's etcd cluster.
    token: String,
}

/// A program on the PATH, or what to install.
fn program(name: &str, package: &str) -> Result<PathBuf> {
    find_on_path(name).with_context(|| {
        format!("{name} not found on the PATH: install the Debian package {package}")
    })
}

impl PatroniSystem {
    /// Says what is missing (package, program, user) when Patroni cannot be started here.
    pub fn new(cfg: &RunConfig) -> Result<PatroniSystem> {
        let patroni = match &cfg.cluster.node_bin {
            Some(p) => p.clone(),
            None => program("patroni", "patroni")?,
        };
        if !patroni.is_file() {
            bail!("{} does not exist", patroni.display());
        }
        let etcd = program("etcd", "etcd-server")?;
        for (name, package) in [("unshare", "util-linux"), ("setpriv", "util-linux")] {
            program(name, package)?;
        }
        if !Path::new(PG_BIN).join("postgres").is_file() {
            bail!("PostgreSQL 15 is not installed: {PG_BIN}/postgres is missing (install the Debian package postgresql-15)");
        }
        if !Path::new(PYTHON_ETCD).is_file() {
            bail!("python3-etcd is not installed: {PYTHON_ETCD} is missing (install the Debian package python3-etcd)");
        }
        if nix::unistd::User::from_name(USER).ok().flatten().is_none() {
            bail!("there is no user {USER} to run PostgreSQL as (the Debian package postgresql-common makes it)");
        }
        Ok(PatroniSystem {
            patroni,
            etcd,
            sync: cfg.cluster.mode == "sync",
            subnet: cfg.cluster.subnet.to_string(),
            token: format!("lh-{}", cfg.seed),
        })
    }

    /// `patroni.yml` for `m` (JSON, which YAML reads as is).
    fn config(&self, m: &Member, all: &[Member]) -> Value {
        let ip = m.client_addr.ip();
        let dir = m.data_dir.display().to_string();
        let hosts: Vec<String> = all
            .iter()
            .map(|p| format!("{}:{ETCD_CLIENT_PORT}", p.client_addr.ip()))
            .collect();
        json!({
            "scope": "lh",
            "name": m.name,
            "restapi": {"listen": format!("{ip}:{REST_PORT}"), "connect_address": format!("{ip}:{REST_PORT}")},
            "etcd3": {"hosts": hosts},
            "bootstrap": {"dcs": self.dcs()},
            "postgresql": {
                "listen": format!("{ip}:{PG_PORT}"),
                "connect_address": format!("{ip}:{PG_PORT}"),
                "data_dir": format!("{dir}/pg"),
                "bin_dir": PG_BIN,
                "pgpass": format!("{dir}/pgpass"),
                "authentication": {
                    "superuser": {"username": USER, "password": PASSWORD},
                    "replication": {"username": "replicator", "password": PASSWORD},
                },
                "parameters": {
                    "unix_socket_directories": socket_dir(&dir),
                    // Kept in the data directory, not in /dev/shm where a killed server would leave it.
                    "dynamic_shared_memory_type": "mmap",
                    "shared_buffers": "16MB",
                },
                "pg_hba": self.pg_hba(),
                // A primary that was killed rejoins as a standby: rewound, or copied anew if that fails.
                "remove_data_directory_on_rewind_failure": true,
                "remove_data_directory_on_diverged_timelines": true,
            },
            "watchdog": {"mode": "off"},
        })
    }

    /// The cluster-wide settings. Short timings for short runs: the leader key lives 6 s (`ttl`), checked
    /// every second (`loop_wait`), with 2 s for a DCS request (`retry_timeout`); Patroni asks
    /// `loop_wait + 2 × retry_timeout <= ttl`.
    fn dcs(&self) -> Value {
        json!({
            "ttl": 6,
            "loop_wait": 1,
            "retry_timeout": 2,
            "maximum_lag_on_failover": 1_048_576,
            "synchronous_mode": self.sync,
            "postgresql": {
                "use_pg_rewind": true,
                "use_slots": true,
                // pg_rewind needs it (no data checksums here).
                "parameters": {"wal_log_hints": "on"},
            },
        })
    }

    fn pg_hba(&self) -> Vec<String> {
        let net = &self.subnet;
        vec![
            "local all all trust".into(),
            format!("host replication replicator {net} scram-sha-256"),
            format!("host all all {net} scram-sha-256"),
        ]
    }

    fn etcd_args(&self, m: &Member, all: &[Member]) -> Vec<String> {
        let ip = m.client_addr.ip();
        let client = format!("http://{ip}:{ETCD_CLIENT_PORT}");
        let peer = format!("http://{ip}:{ETCD_PEER_PORT}");
        let cluster: Vec<String> = all
            .iter()
            .map(|p| format!("{}=http://{}:{ETCD_PEER_PORT}", p.name, p.client_addr.ip()))
            .collect();
        let args = [
            ("--name", m.name.clone()),
            ("--data-dir", format!("{}/etcd", m.data_dir.display())),
            ("--listen-client-urls", client.clone()),
            ("--advertise-client-urls", client),
            ("--listen-peer-urls", peer.clone()),
            ("--initial-advertise-peer-urls", peer),
            ("--initial-cluster", cluster.join(",")),
            ("--initial-cluster-token", self.token.clone()),
            // Ignored on restart: the member rejoins from its data directory.
            ("--initial-cluster-state", "new".into()),
            ("--logger", "zap".into()),
            ("--log-outputs", "stderr".into()),
        ];
        let mut args: Vec<String> = args
            .into_iter()
            .flat_map(|(k, v)| [k.to_string(), v])
            .collect();
        // A member cut off and back must not force an election with its inflated term: Patroni would
        // be without its DCS for a moment, and demotes the primary after retry_timeout.
        args.push("--pre-vote=true".into());
        args
    }

    /// The member's shell script: files, ownership, then etcd and Patroni as `postgres`.
    fn script(&self, m: &Member, all: &[Member]) -> String {
        let dir = quote(&m.data_dir.display().to_string());
        let yml = serde_json::to_string_pretty(&self.config(m, all)).unwrap_or_default();
        // `--pdeathsig keep`: the kernel clears the parent-death signal on a change of user, and Patroni,
        // the namespace's init, must keep the one `unshare --kill-child` gave it, or it would outlive a
        // killed harness.
        let as_pg = format!(
            "setpriv --reuid={USER} --regid={USER} --init-groups --pdeathsig keep env HOME={dir} \
             LC_ALL=C.UTF-8"
        );
        let etcd: Vec<String> = self.etcd_args(m, all).iter().map(|a| quote(a)).collect();
        [
            "set -e".to_string(),
            format!("cd {dir}"),
            "mkdir -p etcd".into(),
            format!("printf '%s\\n' {} > patroni.yml", quote(&yml)),
            format!("chown -R {USER}:{USER} ."),
            format!(
                "{as_pg} test -w . || {{ echo \"lh: {USER} cannot reach \"{dir}\": every directory above \
                 it must be traversable (chmod o+x)\" >&2; exit 1; }}"
            ),
            format!(
                "{as_pg} {etcd} {args} >> etcd.log 2>&1 &",
                etcd = quote(&self.etcd.display().to_string()),
                args = etcd.join(" ")
            ),
            format!("setsid sh -c {} &", quote(&pause_watcher())),
            format!(
                "exec {as_pg} {patroni} patroni.yml",
                patroni = quote(&self.patroni.display().to_string())
            ),
        ]
        .join("\n")
    }
}

/// A loop that freezes the whole namespace while its init (Patroni) is stopped, and thaws it after.
/// `kill -1` signals every process of the namespace but init and the watcher itself; the watcher has no
/// child when it signals (`read` and `set` are built in), so it never stops its own `sleep`.
fn pause_watcher() -> String {
    [
        "frozen=0",
        format!("while sleep {WATCH_INTERVAL}; do").as_str(),
        "  read -r stat < /proc/1/stat || exit 0",
        "  set -- $stat",
        "  if [ \"$3\" = T ] && [ $frozen = 0 ]; then kill -s STOP -- -1; frozen=1",
        "  elif [ \"$3\" != T ] && [ $frozen = 1 ]; then kill -s CONT -- -1; frozen=0; fi",
        "done",
    ]
    .join("\n")
}

/// The data directory, when PostgreSQL's socket fits in it; otherwise no Unix socket at all (Patroni
/// and clients use TCP), never a directory shared with a system PostgreSQL.
fn socket_dir(dir: &str) -> String {
    let socket = format!("{dir}/.s.PGSQL.{PG_PORT}");
    if socket.len() <= SOCKET_PATH_MAX {
        dir.to_string()
    } else {
        String::new()
    }
}

/// Single-quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl System for PatroniSystem {
    fn name(&self) -> &'static str {
        "patroni"
    }

    fn client_port(&self) -> u16 {
        PG_PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        // A PID namespace of its own: when the process we started dies, so does every process of the
        // member (the kernel kills a namespace with its init).
        let args = [
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--ipc",
            "/bin/sh",
            "-c",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(self.script(m, all));
        Ok(Launch {
            program: PathBuf::from("unshare"),
            args,
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        let client = PatroniClient::new(Member::addrs(all), timeout)
            .context("creating the PostgreSQL client")?;
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
                client_addr: SocketAddr::from(([10, 9, 0, i], PG_PORT)),
                data_dir: PathBuf::from(format!("/tmp/it's/n{i}")),
            })
            .collect()
    }

    fn system(sync: bool) -> PatroniSystem {
        PatroniSystem {
            patroni: "/usr/bin/patroni".into(),
            etcd: "/usr/bin/etcd".into(),
            sync,
            subnet: "10.9.0.0/24".into(),
            token: "lh-1".into(),
        }
    }

    #[test]
    fn every_member_binds_its_own_address_and_lists_every_etcd() {
        let all = members();
        let c = system(false).config(&all[1], &all);
        assert_eq!(c["name"], "n2");
        assert_eq!(c["postgresql"]["listen"], "10.9.0.2:5432");
        assert_eq!(c["restapi"]["listen"], "10.9.0.2:8008");
        assert_eq!(c["etcd3"]["hosts"][2], "10.9.0.3:2379");
        assert_eq!(
            c["postgresql"]["parameters"]["unix_socket_directories"],
            "/tmp/it's/n2"
        );
        assert_eq!(c["bootstrap"]["dcs"]["synchronous_mode"], false);
        assert_eq!(system(true).dcs()["synchronous_mode"], true);
        let dcs = system(false).dcs();
        let t = |k: &str| dcs[k].as_u64().unwrap();
        assert!(t("loop_wait") + 2 * t("retry_timeout") <= t("ttl"));
        let etcd = system(false).etcd_args(&all[0], &all).join(" ");
        assert!(etcd.contains("n3=http://10.9.0.3:2380"), "{etcd}");
    }

    /// Each member is a PID namespace whose init (Patroni) dies with the harness, and a pause reaches
    /// every process in it.
    #[test]
    fn a_member_is_a_pid_namespace_with_patroni_as_its_init() {
        let all = members();
        let launch = system(false).launch(&all[0], &all).unwrap();
        assert_eq!(launch.args[..3], ["--pid", "--fork", "--kill-child"]);
        let script = launch.args.last().unwrap();
        let last = script.lines().last().unwrap();
        assert!(
            last.starts_with("exec setpriv") && last.contains("--pdeathsig keep"),
            "{last}"
        );
        assert!(script.contains("kill -s STOP -- -1"), "{script}");
        assert!(script.contains(r"cd '/tmp/it'\''s/n1'"), "{script}");
    }

    #[test]
    fn a_socket_path_too_long_for_unix_means_no_socket() {
        assert_eq!(socket_dir("/short"), "/short");
        assert_eq!(socket_dir(&"/d".repeat(60)), "");
    }
}
