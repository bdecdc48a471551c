//! A stand-in for real hosts, for tests: one network namespace per "host" on the harness's own bridge,
//! each running a real `sshd` (Debian `openssh-server`) with a generated host key, a generated client key,
//! and a known_hosts file written here. Nothing is reachable off the test bridge, and dropping the rig
//! removes every namespace, process and file it made.

use std::ffi::OsStr;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::netns::run_tool;
use crate::{in_netns, Error, ManagedProcess, NetConfig, Network, ProcessSpec, Subnet};

/// Where sshd insists on its privilege-separation directory.
const PRIVSEP_DIR: &str = "/run/sshd";

/// Rigs alive in this process, and whether one of them made [`PRIVSEP_DIR`]: the last one out removes it
/// (removing it under a live rig would make its sshd refuse every new connection).
static PRIVSEP: std::sync::Mutex<(usize, bool)> = std::sync::Mutex::new((0, false));

/// Three (or n) sshd hosts on a test bridge, and a control namespace to reach them from.
#[derive(Debug)]
pub struct SshRig {
    /// Declared first: the sshd processes go before the network.
    sshd: Vec<ManagedProcess>,
    net: Network,
    dir: PathBuf,
}

fn keygen(path: &Path) -> Result<String, Error> {
    let args = ["-q", "-t", "ed25519", "-N", "", "-C", "lh-rig", "-f"];
    let args: Vec<&OsStr> = args
        .iter()
        .map(OsStr::new)
        .chain([path.as_os_str()])
        .collect();
    run_tool("ssh-keygen", &args)?;
    std::fs::read_to_string(path.with_extension("pub"))
        .map_err(|e| Error::io("reading a generated public key", e))
}

impl SshRig {
    /// Whether this machine can host the rig (sshd and ssh-keygen installed); the reason if not.
    pub fn available() -> Result<(), String> {
        for p in ["/usr/sbin/sshd", "/usr/bin/ssh-keygen", "/usr/bin/ssh"] {
            if !Path::new(p).exists() {
                return Err(format!(
                    "{p} is missing (apt-get install openssh-server openssh-client)"
                ));
            }
        }
        Ok(())
    }

    /// Builds `nodes.len()` hosts on `subnet` under run id `run_id`; files go in `<tmp>/lh<run>rig`.
    pub fn start(run_id: &str, subnet: Subnet, nodes: &[String]) -> Result<SshRig, Error> {
        SshRig::start_limited(run_id, subnet, nodes, &[])
    }

    /// Like [`SshRig::start`], but commands on the hosts in `limited` get `PATH=/usr/bin:/bin`, where
    /// `nft` and `tc` (in sbin) are not found: a host missing the tools.
    pub fn start_limited(
        run_id: &str,
        subnet: Subnet,
        nodes: &[String],
        limited: &[&str],
    ) -> Result<SshRig, Error> {
        let net = Network::create(NetConfig {
            run_id: run_id.to_string(),
            subnet,
            nodes: nodes.to_vec(),
        })?;
        let dir = std::env::temp_dir().join(format!("{}{run_id}rig", crate::PREFIX));
        std::fs::create_dir_all(dir.join("remote"))
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut rig = SshRig {
            sshd: Vec::new(),
            net,
            dir,
        };
        {
            let mut privsep = PRIVSEP.lock().unwrap_or_else(|p| p.into_inner());
            privsep.0 += 1;
            if !Path::new(PRIVSEP_DIR).exists() {
                std::fs::create_dir_all(PRIVSEP_DIR)
                    .map_err(|e| Error::io("creating /run/sshd", e))?;
                privsep.1 = true;
            }
        }
        rig.build(nodes, limited)?;
        Ok(rig)
    }

    fn build(&mut self, nodes: &[String], limited: &[&str]) -> Result<(), Error> {
        let d = self.dir.clone();
        let client_pub = keygen(&d.join("id"))?;
        let auth = d.join("authorized_keys");
        std::fs::write(&auth, &client_pub).map_err(|e| Error::io("writing authorized_keys", e))?;
        let mut known = String::new();
        let mut hosts_toml = String::new();
        for n in nodes {
            let addr = self.net.node_addr(n).expect("planned");
            let host_key = d.join(format!("host_{n}"));
            let host_pub = keygen(&host_key)?;
            known += &format!(
                "{addr} {}\n",
                host_pub
                    .trim()
                    .rsplit_once(' ')
                    .map_or(host_pub.trim(), |(k, _)| k)
            );
            let cfg = d.join(format!("sshd_{n}.conf"));
            let mut text = format!(
                "Port 22\nListenAddress {addr}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 StrictModes no\nPrintMotd no\nMaxSessions 64\nMaxStartups 64\n",
                host_key.display(),
                auth.display()
            );
            if limited.contains(&n.as_str()) {
                text += "SetEnv PATH=/usr/bin:/bin\n";
            }
            std::fs::write(&cfg, text).map_err(|e| Error::io("writing sshd config", e))?;
            let proc = ManagedProcess::spawn(ProcessSpec {
                name: format!("sshd-{n}"),
                netns: self.net.node_netns(n).map(str::to_string),
                program: PathBuf::from("/usr/sbin/sshd"),
                args: vec![
                    "-D".into(),
                    "-e".into(),
                    "-f".into(),
                    cfg.display().to_string(),
                ],
                log_path: d.join(format!("sshd_{n}.log")),
                env: vec![],
            })?;
            self.sshd.push(proc);
            hosts_toml += &format!("{n} = \"root@{addr}\"\n");
        }
        let known_path = d.join("known_hosts");
        std::fs::write(&known_path, known).map_err(|e| Error::io("writing known_hosts", e))?;
        hosts_toml += &format!(
            "\n[defaults]\nkey = \"{}\"\nknown_hosts = \"{}\"\nssh_config = \"none\"\ndir = \"{}\"\n",
            d.join("id").display(),
            known_path.display(),
            self.remote_dir().display()
        );
        let mut f = std::fs::File::create(self.hosts_file())
            .map_err(|e| Error::io("writing the hosts file", e))?;
        f.write_all(hosts_toml.as_bytes())
            .map_err(|e| Error::io("writing the hosts file", e))?;
        for n in nodes {
            self.wait_port(self.net.node_addr(n).expect("planned"), 22)?;
        }
        Ok(())
    }

    fn wait_port(&self, addr: Ipv4Addr, port: u16) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let sa = SocketAddr::from((addr, port));
        loop {
            let ok = in_netns(self.net.client_netns(), || {
                TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_ok()
            })?;
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("sshd_n1.log")).unwrap_or_default();
                return Err(Error::invalid(
                    "ssh rig",
                    format!("sshd on {sa} never listened: {log}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The hosts file for these hosts (TOML, with key, known_hosts and a remote `dir` inside the rig).
    pub fn hosts_file(&self) -> PathBuf {
        self.dir.join("hosts.toml")
    }

    /// The `dir` the hosts file names: every run directory goes in here.
    pub fn remote_dir(&self) -> PathBuf {
        self.dir.join("remote")
    }

    /// The rig's own files (keys, configs, sshd logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The namespace the control side (the harness) runs in: its only routes are the test bridge.
    pub fn control_netns(&self) -> &str {
        self.net.client_netns()
    }

    /// The namespace of a host, for checks from outside SSH (its nft ruleset, its qdiscs).
    pub fn host_netns(&self, node: &str) -> Option<&str> {
        self.net.node_netns(node)
    }

    /// A host's address.
    pub fn host_addr(&self, node: &str) -> Option<Ipv4Addr> {
        self.net.node_addr(node)
    }

    /// Whether the sshd of every host is still running.
    pub fn sshd_running(&mut self) -> bool {
        self.sshd.iter_mut().all(|p| p.is_running())
    }
}

impl Drop for SshRig {
    fn drop(&mut self) {
        for p in &mut self.sshd {
            let _ = p.stop(Duration::from_secs(2));
        }
        self.sshd.clear();
        if let Err(e) = self.net.teardown() {
            tracing::error!(error = %e, "ssh rig network teardown");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let mut privsep = PRIVSEP.lock().unwrap_or_else(|p| p.into_inner());
        privsep.0 -= 1;
        if privsep.0 == 0 && privsep.1 {
            let _ = std::fs::remove_dir(PRIVSEP_DIR);
            privsep.1 = false;
        }
    }
}
