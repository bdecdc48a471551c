//! A real MariaDB Galera cluster from Debian's `mariadb-server` (10.11) and `galera-4`, one `mariadbd`
//! per namespace bound to its own address, configured on the command line only (`--no-defaults`: no
//! file of the machine's own MariaDB is read). The launch command itself, so it works again on a restart:
//!
//! - initialises the member's database directory (`<data>/db`) with `mariadb-install-db` the first time;
//! - bootstraps a new cluster (`--wsrep-new-cluster`) on the first member's first start only, marked by
//!   `<data>/bootstrapped` outside the database directory (a state transfer may rewrite that one); every
//!   other start joins the members' `gcomm://` addresses, so a killed member rejoins the cluster that went
//!   on without it (by IST, or a state transfer by rsync) instead of founding a second one;
//! - runs `mariadbd` as the `mysql` user (Galera's rsync state transfer fails as root) through `setpriv`,
//!   which keeps the parent-death signal a change of user would otherwise clear, so the server still dies
//!   with the harness. Socket and pid file stay in the member's directory.
//!
//! Grant tables are skipped: the cluster lives on the test bridge only, and clients log in without a
//! password. Group communication reacts in seconds (`evs.*` timeouts), not the default 5 to 15 s, so a
//! killed or cut-off member leaves, and comes back, within a fault's window.

use super::{find_on_path, Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::{Client, GaleraClient};

const CLIENT_PORT: u16 = 3306;
const GCOMM_PORT: u16 = 4567;
const IST_PORT: u16 = 4568;
const SST_PORT: u16 = 4444;
/// Where Debian's `galera-4` puts the provider.
const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";
/// Failure detection in about 2 s, and an install round within 4 s; a write-set cache of 16 MB, not the
/// default 128 MB preallocated on disk for each member of each run (a run's writes fit many times over).
const PROVIDER_OPTIONS: &str = "evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;\
                   evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S;\
                   gcache.size=16M";
/// Small redo logs and buffer pool: three servers share a small machine, and a state transfer copies
/// the logs.
const INNODB: [&str; 2] = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=64M"];

pub struct GaleraSystem {
    mariadbd: PathBuf,
    install_db: PathBuf,
    sync_wait: u8,
    /// The store, absolute: directories from here down are the run's own, made traversable for `mysql`.
    store: PathBuf,
}

impl GaleraSystem {
    /// Says what is missing (package, binary, user, a store `mysql` cannot reach) before anything starts.
    pub fn new(cfg: &RunConfig) -> Result<GaleraSystem> {
        if cfg.cluster.hosts.is_some() {
            bail!(
                "--system galera runs in local namespaces only; --hosts is not supported with it"
            );
        }
        let mariadbd = match &cfg.cluster.node_bin {
            Some(p) => p.clone(),
            None => PathBuf::from("/usr/sbin/mariadbd"),
        };
        if !mariadbd.is_file() {
            bail!(
                "{} does not exist: install the Debian package mariadb-server, or pass --node-bin",
                mariadbd.display()
            );
        }
        let install_db = find_on_path("mariadb-install-db")
            .or_else(|| Some(PathBuf::from("/usr/bin/mariadb-install-db")).filter(|p| p.is_file()))
            .context("mariadb-install-db not found: install the Debian package mariadb-server")?;
        if !Path::new(PROVIDER).is_file() {
            bail!("Galera is not installed: {PROVIDER} is missing (install the Debian package galera-4)");
        }
        for tool in ["rsync", "setpriv"] {
            find_on_path(tool).with_context(|| {
                format!("{tool} not found on the PATH (Galera's state transfer needs rsync; setpriv is in util-linux)")
            })?;
        }
        let store = std::path::absolute(&cfg.output.store).context("resolving the store")?;
        reachable_by_mysql(&store)?;
        Ok(GaleraSystem {
            mariadbd,
            install_db,
            sync_wait: if cfg.cluster.mode == "sync-wait-1" {
                1
            } else {
                0
            },
            store,
        })
    }

    /// `mariadbd`'s options for `m` (without the bootstrap flag, which the launch script adds).
    fn server_args(&self, m: &Member, all: &[Member]) -> Vec<String> {
        let ip = m.client_addr.ip();
        let db = m.data_dir.join("db").display().to_string();
        let peers: Vec<String> = all
            .iter()
            .map(|p| format!("{}:{GCOMM_PORT}", p.client_addr.ip()))
            .collect();
        let mut args = vec![
            // First, or it is ignored: no my.cnf of this machine.
            "--no-defaults".to_string(),
            format!("--datadir={db}"),
            // Relative to the data directory (the server changes into it first): a socket path may be at
            // most 107 bytes, and a store's can be longer.
            "--socket=mysqld.sock".into(),
            format!("--pid-file={db}/mysqld.pid"),
            format!("--tmpdir={}", m.data_dir.join("tmp").display()),
            format!("--bind-address={ip}"),
            format!("--port={CLIENT_PORT}"),
            "--skip-grant-tables".into(),
            "--skip-name-resolve".into(),
            "--performance-schema=OFF".into(),
            "--binlog-format=ROW".into(),
            "--default-storage-engine=InnoDB".into(),
            "--innodb-autoinc-lock-mode=2".into(),
            "--wsrep-on=ON".into(),
            format!("--wsrep-provider={PROVIDER}"),
            "--wsrep-cluster-name=lh".into(),
            format!("--wsrep-node-name={}", m.name),
            format!("--wsrep-node-address={ip}"),
            format!("--wsrep-cluster-address=gcomm://{}", peers.join(",")),
            format!(
                "--wsrep-provider-options=gmcast.listen_addr=tcp://{ip}:{GCOMM_PORT};\
                 ist.recv_addr={ip}:{IST_PORT};{PROVIDER_OPTIONS}"
            ),
            "--wsrep-sst-method=rsync".into(),
            format!("--wsrep-sst-receive-address={ip}:{SST_PORT}"),
            format!("--wsrep-sync-wait={}", self.sync_wait),
        ];
        args.extend(INNODB.iter().map(|s| s.to_string()));
        args
    }

    /// The run's directories from the store down to `dir`, which `mysql` must be able to pass.
    fn run_dirs(&self, dir: &Path) -> Vec<PathBuf> {
        dir.ancestors()
            .take_while(|d| d.starts_with(&self.store))
            .map(Path::to_path_buf)
            .collect()
    }
}

/// Single-quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn quote_all<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every existing directory above the store must let `mysql` through: the server runs as that user.
fn reachable_by_mysql(store: &Path) -> Result<()> {
    let user = nix::unistd::User::from_name("mysql")
        .ok()
        .flatten()
        .context("no user mysql on this machine: install the Debian package mariadb-server")?;
    for dir in store.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        let mode = meta.mode();
        let passes = mode & 0o001 != 0
            || (meta.uid() == user.uid.as_raw() && mode & 0o100 != 0)
            || (meta.gid() == user.gid.as_raw() && mode & 0o010 != 0);
        if !passes {
            bail!(
                "the user mysql cannot reach the store {}: {} is not traversable for it (mariadbd must \
                 not run as root); make it so (chmod o+x) or pass --store under a directory that is",
                store.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

impl System for GaleraSystem {
    fn name(&self) -> &'static str {
        "galera"
    }

    fn client_port(&self) -> u16 {
        CLIENT_PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        let first = all.first().is_some_and(|f| f.name == m.name);
        let dir = m.data_dir.display().to_string();
        let dirs: Vec<String> = self
            .run_dirs(&m.data_dir)
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let install = [
            self.install_db.display().to_string(),
            "--no-defaults".into(),
            "--user=mysql".into(),
            format!("--datadir={dir}/db"),
            // Its own, not /tmp: servers bootstrapping side by side clash on temporary table names there.
            format!("--tmpdir={dir}/tmp"),
            "--auth-root-authentication-method=normal".into(),
            "--skip-test-db".into(),
            INNODB[0].into(),
        ];
        let bootstrap = if first {
            "if [ ! -e bootstrapped ]; then : > bootstrapped; set -- --wsrep-new-cluster; fi; "
        } else {
            ""
        };
        let server = quote_all(
            &[
                vec![self.mariadbd.display().to_string()],
                self.server_args(m, all),
            ]
            .concat(),
        );
        let as_mysql = "setpriv --reuid=mysql --regid=mysql --init-groups --pdeathsig keep --";
        // After a crash the saved state has no position (seqno -1), and the member would rejoin by a full
        // state transfer, whose donor a next fault may kill (the joiner then aborts). As Debian's
        // galera_recovery does before each start under systemd: recover the position from the storage
        // engine and pass it on, so the member rejoins by IST from the write-set cache.
        let recover = format!(
            "if [ -e db/grastate.dat ] && grep -q '^seqno: *-1' db/grastate.dat; then \
             {as_mysql} {server} --wsrep-recover --disable-log-error 2>recover.log || true; \
             pos=$(sed -n 's/.*WSREP: Recovered position: *//p' recover.log | tail -n 1); \
             if [ -n \"$pos\" ]; then set -- \"$@\" \"--wsrep-start-position=$pos\"; fi; fi; "
        );
        let script = format!(
            "set -e; chmod a+x {dirs}; cd {dir}; mkdir -p db tmp; chown mysql:mysql db tmp; \
             if [ ! -d db/mysql ]; then {install} >install.log 2>&1 || \
             {{ echo 'mariadb-install-db failed:'; cat install.log; exit 1; }}; fi; set --; {bootstrap}\
             {recover}exec {as_mysql} {server} \"$@\"",
            dirs = quote_all(&dirs),
            dir = quote(&dir),
            install = quote_all(&install),
        );
        Ok(Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script],
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        Ok(Arc::new(GaleraClient::new(Member::addrs(all), timeout)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn system(mode: u8) -> GaleraSystem {
        GaleraSystem {
            mariadbd: PathBuf::from("/usr/sbin/mariadbd"),
            install_db: PathBuf::from("/usr/bin/mariadb-install-db"),
            sync_wait: mode,
            store: PathBuf::from("/s"),
        }
    }

    fn members() -> Vec<Member> {
        (1..=3)
            .map(|i| Member {
                name: format!("n{i}"),
                client_addr: SocketAddr::from(([10, 9, 0, i], CLIENT_PORT)),
                data_dir: PathBuf::from(format!("/s/run/nodes/n{i}/data")),
            })
            .collect()
    }

    /// Each member binds its own address and lists every member; only the first may bootstrap, and
    /// only once (the marker file), so a restarted first member joins the others.
    #[test]
    fn members_bind_their_own_address_and_only_the_first_bootstraps_once() {
        let all = members();
        let args = system(1).server_args(&all[1], &all);
        assert!(args.contains(&"--bind-address=10.9.0.2".to_string()));
        assert!(args.contains(
            &"--wsrep-cluster-address=gcomm://10.9.0.1:4567,10.9.0.2:4567,10.9.0.3:4567"
                .to_string()
        ));
        assert!(args.contains(&"--wsrep-sync-wait=1".to_string()));
        assert_eq!(args[0], "--no-defaults");
        let script = |i: usize| system(0).launch(&all[i], &all).unwrap().args[1].clone();
        assert!(script(0).contains("if [ ! -e bootstrapped ]"));
        assert!(!script(1).contains("--wsrep-new-cluster"));
        assert!(script(2).contains("'--wsrep-sync-wait=0'"));
        // A restart after a crash recovers its position first (IST, not a full state transfer).
        assert!(script(1).contains("--wsrep-recover --disable-log-error 2>recover.log"));
        assert!(script(1).contains("--wsrep-start-position=$pos"));
        for i in 0..3 {
            nemesis::hosts::assert_shell_syntax(&script(i));
        }
    }

    /// Only the run's own directories are made traversable, never the store's parents.
    #[test]
    fn only_directories_under_the_store_are_opened() {
        let dirs = system(0).run_dirs(Path::new("/s/run/nodes/n1/data"));
        assert_eq!(dirs.first(), Some(&PathBuf::from("/s/run/nodes/n1/data")));
        assert_eq!(dirs.last(), Some(&PathBuf::from("/s")));
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
