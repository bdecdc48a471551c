//! Nodes on remote hosts over SSH (`--hosts FILE`), instead of local namespaces: the same processes and
//! faults, placed elsewhere.
//!
//! - [`HostsFile`]: the file users write.
//! - [`Hosts`]: one SSH master connection per host, checked before anything starts (reachable, trusted
//!   host key, root, `nft` or `iptables`, `tc`, the listen address present); a per-run directory on each
//!   host; partitions in a table the run owns, verified by connecting from the hosts themselves; packet
//!   faults with netfilter and a helper on the host ([`packets`]: no netem needed), or `tc netem`;
//!   teardown that removes the run's processes, rules, qdiscs and files.
//! - [`RemoteProcess`]: a process on a host, killed, paused, resumed, restarted by pid.
//! - [`clean_hosts`]: sweeps what crashed runs left on the hosts.

mod clean;
mod file;
mod firewall;
mod net;
mod packets;
mod remote;
mod rig;
mod session;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub use clean::{clean_hosts, HostCleanReport};
pub use file::{HostSpec, HostsFile, DEFAULT_DIR};
pub use firewall::Firewall;
pub use net::HostsNet;
pub use packets::{PacketHelper, HOST_MECHANISM};
pub use remote::{RemoteProcess, RemoteSpec};
pub use rig::SshRig;

/// Panics with `sh`'s complaint if `script` is not valid shell syntax (`sh -n`): for the tests of code
/// that writes scripts for hosts and for systems' launch commands.
#[doc(hidden)]
pub fn assert_shell_syntax(script: &str) {
    let out = std::process::Command::new("sh")
        .args(["-n", "-c", script])
        .output()
        .expect("running sh -n");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

use session::{ssh_error, Shared};

use crate::{Error, Partition};

/// A live set of hosts for one run. Torn down by [`Hosts::teardown`] or on drop.
#[derive(Debug)]
pub struct Hosts {
    shared: Arc<Shared>,
    file: HostsFile,
    run_id: String,
    firewalls: BTreeMap<String, Firewall>,
    /// The port partition probes connect to (the system's client port).
    probe_port: u16,
    current: Mutex<Partition>,
    netem: Mutex<BTreeSet<String>>,
    /// Hosts whose kernel has no netem qdisc (from the preflight).
    no_netem: BTreeSet<String>,
    /// The packet-fault tools each host has (`nft`, `iptables`; from the preflight).
    tools: BTreeMap<String, BTreeSet<String>>,
    /// Where the packet helper is on each host, once uploaded.
    helper: Option<PacketHelper>,
    packet_faults: Mutex<BTreeMap<String, packets::HostFault>>,
    /// One channel per host held open for the run's life: `harness clean --hosts` sees the run is live.
    keepers: Vec<RemoteProcess>,
    live: bool,
}

/// What every host must have; checked remotely before anything starts. Prints `fw=nft` or `fw=iptables`.
fn preflight_script(listen: Ipv4Addr) -> String {
    let escaped = listen.to_string().replace('.', "\\.");
    format!(
        r#"missing=""
[ "$(id -u)" = 0 ] || {{ echo "not root: partitions and packet faults need root on the host" >&2; exit 3; }}
for t in tc ip setsid bash timeout awk; do command -v $t >/dev/null 2>&1 || missing="$missing $t"; done
if command -v nft >/dev/null 2>&1; then echo fw=nft
elif command -v iptables >/dev/null 2>&1; then echo fw=iptables
else missing="$missing nft(or iptables)"; fi
[ -z "$missing" ] || {{ echo "missing tools:$missing (install nftables and iproute2)" >&2; exit 3; }}
# Packet faults need iptables (delay, loss) or nft (duplication): said here, so a run is refused before it starts.
for t in nft iptables; do command -v $t >/dev/null 2>&1 && echo has=$t; done
# netem is optional (packet faults use netfilter), reported for `Hosts::netem`.
if [ -e /sys/module/sch_netem ] || modprobe -n -q sch_netem 2>/dev/null; then echo netem=yes; else echo netem=no; fi
ip -o -4 addr show | awk '{{print $4}}' | grep -q '^{escaped}/' || {{ echo "no interface has the listen address {listen}" >&2; exit 3; }}
"#
    )
}

impl Hosts {
    /// Connects to every host and checks it; then makes the run's directory on each. All or nothing:
    /// nothing is created on any host unless every host passed.
    pub fn connect(file: &HostsFile, run_id: &str) -> Result<Hosts, Error> {
        let shared = Arc::new(Shared::connect(file)?);
        let jobs = file
            .hosts
            .iter()
            .map(|h| (h.name.clone(), preflight_script(h.listen)))
            .collect();
        let mut firewalls = BTreeMap::new();
        let mut no_netem = BTreeSet::new();
        let mut tools = BTreeMap::new();
        for (h, r) in file.hosts.iter().zip(shared.sh_all(jobs)) {
            let out = r.map_err(|e| match e {
                Error::Ssh { host, message } => ssh_error(
                    &host,
                    message.rsplit("): ").next().unwrap_or(&message).to_string(),
                ),
                other => other,
            })?;
            let fw = if out.contains("fw=nft") {
                Firewall::Nft
            } else {
                Firewall::Iptables
            };
            firewalls.insert(h.name.clone(), fw);
            if out.contains("netem=no") {
                no_netem.insert(h.name.clone());
            }
            let has = out
                .lines()
                .filter_map(|l| l.strip_prefix("has="))
                .map(|t| t.trim().to_string())
                .collect();
            tools.insert(h.name.clone(), has);
        }
        let hosts = Hosts {
            shared,
            file: file.clone(),
            run_id: run_id.to_string(),
            firewalls,
            probe_port: 22,
            current: Mutex::new(Partition::default()),
            netem: Mutex::default(),
            no_netem,
            tools,
            helper: None,
            packet_faults: Mutex::default(),
            keepers: Vec::new(),
            live: true,
        };
        let mut hosts = hosts;
        let jobs = file
            .hosts
            .iter()
            .map(|h| {
                let dir = hosts.run_dir(&h.name).expect("known host");
                (
                    h.name.clone(),
                    format!("set -e; [ ! -e {dir} ] || {{ echo '{dir} already exists' >&2; exit 3; }}; mkdir -p {dir}/data {dir}/bin {dir}/keeper; echo {table} > {dir}/run", table = firewall::owned_name(run_id)),
                )
            })
            .collect();
        for r in hosts.shared.sh_all(jobs) {
            r?;
        }
        // Started on every host at once (each start waits for its pid over SSH).
        let keepers: Vec<Result<RemoteProcess, Error>> = std::thread::scope(|s| {
            let started: Vec<_> = file
                .hosts
                .iter()
                .map(|h| {
                    let spec = RemoteSpec {
                        name: h.name.clone(),
                        dir: format!("{}/keeper", hosts.run_dir(&h.name).expect("known")),
                        program: "sleep".into(),
                        args: vec!["2147483647".into()],
                        env: vec![],
                        log_path: "/dev/null".into(),
                    };
                    let shared = hosts.shared.clone();
                    s.spawn(move || RemoteProcess::spawn(shared, spec))
                })
                .collect();
            started
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for k in keepers {
            hosts.keepers.push(k?);
        }
        tracing::info!(run = run_id, hosts = ?file.names(), "hosts ready");
        Ok(hosts)
    }

    /// The run id every remote object is named with.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Node names, in file order.
    pub fn nodes(&self) -> Vec<String> {
        self.file.names()
    }

    /// The address a node's system listens on.
    pub fn node_addr(&self, node: &str) -> Option<Ipv4Addr> {
        self.shared.specs.get(node).map(|h| h.listen)
    }

    /// The firewall each host uses.
    pub fn firewall(&self, node: &str) -> Option<Firewall> {
        self.firewalls.get(node).copied()
    }

    /// The node's run directory on its host (`<dir>/lh<run><node>`): data, uploaded binaries, pid files.
    pub fn run_dir(&self, node: &str) -> Option<String> {
        self.shared
            .specs
            .contains_key(node)
            .then(|| format!("{}/{}{}{node}", self.file.dir, crate::PREFIX, self.run_id))
    }

    /// Partition probes connect to this port (the system's client port: reachable unless cut).
    pub fn set_probe_port(&mut self, port: u16) {
        self.probe_port = port;
    }

    /// Copies `local` to `<run dir>/bin/<file name>` on the node's host, executable. Returns the remote path.
    pub fn upload(&self, node: &str, local: &Path) -> Result<String, Error> {
        let name = local
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| {
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            })
            .ok_or_else(|| {
                Error::invalid(
                    "binary",
                    format!("{}: use a plain file name", local.display()),
                )
            })?;
        let dir = self
            .run_dir(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        let remote = format!("{dir}/bin/{name}");
        let session = self.shared.session(node)?;
        let local = local.to_path_buf();
        let host = node.to_string();
        let target = remote.clone();
        self.shared.block(async move {
            let mut file = tokio::fs::File::open(&local)
                .await
                .map_err(|e| Error::io(format!("opening {}", local.display()), e))?;
            let mut child = session
                .command("sh")
                .arg("-c")
                .arg(format!(
                    "cat > {target}.part && chmod 755 {target}.part && mv {target}.part {target}"
                ))
                .stdin(openssh::Stdio::piped())
                .stdout(openssh::Stdio::null())
                .stderr(openssh::Stdio::piped())
                .spawn()
                .await
                .map_err(|e| ssh_error(&host, format!("uploading: {e}")))?;
            let mut stdin = child.stdin().take().expect("piped");
            let copied = tokio::io::copy(&mut file, &mut stdin).await;
            drop(stdin);
            let out = child
                .wait_with_output()
                .await
                .map_err(|e| ssh_error(&host, format!("uploading: {e}")))?;
            copied.map_err(|e| ssh_error(&host, format!("uploading {}: {e}", local.display())))?;
            if !out.status.success() {
                return Err(ssh_error(
                    &host,
                    format!(
                        "uploading to {target}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ));
            }
            Ok(())
        })?;
        Ok(remote)
    }

    /// Uploads `local` to every host at once; the remote path (the same layout on each).
    pub fn upload_all(&self, local: &Path) -> Result<BTreeMap<String, String>, Error> {
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .nodes()
                .into_iter()
                .map(|n| s.spawn(move || self.upload(&n, local).map(|p| (n, p))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }

    /// Whether `program` can be run on the node's host (a path that is executable, or a name on its PATH).
    pub fn has_program(&self, node: &str, program: &str) -> Result<bool, Error> {
        let quoted = shell_quote(program);
        let out = self.shared.sh(
            node,
            &format!("command -v {quoted} >/dev/null 2>&1 && echo yes || echo no"),
        )?;
        Ok(out.trim() == "yes")
    }

    /// Starts `spec` on its host (`spec.name` is the node).
    pub fn spawn(&self, spec: RemoteSpec) -> Result<RemoteProcess, Error> {
        self.ensure_live()?;
        RemoteProcess::spawn(self.shared.clone(), spec)
    }

    fn ensure_live(&self) -> Result<(), Error> {
        if self.live {
            Ok(())
        } else {
            Err(Error::TornDown(self.run_id.clone()))
        }
    }

    fn lock(&self) -> MutexGuard<'_, Partition> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `p` the partition: on each host whose cut set changes, the run's rules are replaced in one
    /// step. Then checks from every host that exactly the cut pairs cannot connect. On failure the hosts
    /// are left healed.
    pub fn apply(&self, p: &Partition) -> Result<(), Error> {
        self.ensure_live()?;
        for (a, b) in &p.drops {
            for n in [a, b] {
                if !self.shared.specs.contains_key(n) {
                    return Err(Error::UnknownNode(n.clone()));
                }
            }
        }
        let mut current = self.lock();
        let result = self.set_rules(&current, p).and_then(|()| {
            *current = p.clone();
            self.verify(p)
        });
        if let Err(e) = result {
            let healed = Partition::default();
            if let Err(undo) = self.set_rules(
                &Partition {
                    drops: p.drops.union(&current.drops).cloned().collect(),
                },
                &healed,
            ) {
                tracing::error!(error = %undo, "rolling back a partially applied partition");
            }
            *current = healed;
            return Err(e);
        }
        tracing::info!(partition = %p.describe(), "partition applied on hosts");
        Ok(())
    }

    /// Removes the run's rules on every host and checks that every pair connects again.
    pub fn heal(&self) -> Result<(), Error> {
        self.ensure_live()?;
        let mut current = self.lock();
        let healed = Partition::default();
        self.set_rules(&current, &healed)?;
        *current = healed.clone();
        self.verify(&healed)?;
        tracing::info!("hosts healed");
        Ok(())
    }

    /// The partition currently applied.
    pub fn current(&self) -> Partition {
        self.lock().clone()
    }

    fn cut_from(&self, p: &Partition, from: &str) -> Vec<Ipv4Addr> {
        p.drops
            .iter()
            .filter(|(a, b)| a == from && a != b)
            .filter_map(|(_, b)| self.node_addr(b))
            .collect()
    }

    fn set_rules(&self, old: &Partition, new: &Partition) -> Result<(), Error> {
        let jobs: Vec<(String, String)> = self
            .nodes()
            .into_iter()
            .filter_map(|n| {
                let want = self.cut_from(new, &n);
                (want != self.cut_from(old, &n)).then(|| {
                    let script = self.firewalls[&n].script(&self.run_id, &want);
                    (n, script)
                })
            })
            .collect();
        self.shared
            .sh_all(jobs)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map(drop)
    }

    /// Checks on every host that exactly the pairs `p` cuts are dropped by the run's rules (read back from
    /// the kernel), and that every other pair connects (a refused connection counts: packets flow). Waiting
    /// out a dropped SYN would only measure a timeout, so cut pairs are checked by their rules. A mismatch
    /// is asked again a few times before it counts (a rule change and a loaded host take a moment).
    pub fn verify(&self, p: &Partition) -> Result<(), Error> {
        let mut last = Ok(());
        for attempt in 0..4 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            last = self.verify_once(p);
            match &last {
                Err(Error::NotLanded(_)) => continue,
                _ => return last,
            }
        }
        last
    }

    fn verify_once(&self, p: &Partition) -> Result<(), Error> {
        let nodes = self.nodes();
        let jobs: Vec<(String, String)> = nodes
            .iter()
            .map(|from| {
                // The kernel's own word for the cut pairs: the addresses our rules drop.
                let mut script = format!(
                    "{} | sed 's/^/rule /'\n",
                    self.firewalls[from].list_script(&self.run_id)
                );
                // Traffic for the open pairs: a connect that succeeds or is refused got through.
                for to in nodes.iter().filter(|t| *t != from) {
                    if p.drops.contains(&(from.clone(), to.clone())) {
                        continue;
                    }
                    let addr = self.node_addr(to).expect("known");
                    script += &format!(
                        "( r=$(timeout 5 bash -c 'exec 3<>/dev/tcp/{addr}/{port}' 2>&1); c=$?; \
                         case \"$c:$r\" in 0:*|*refused*) echo \"{to} open\";; *) echo \"{to} blocked $c $r\";; esac ) &\n",
                        port = self.probe_port
                    );
                }
                (from.clone(), script + "wait\n")
            })
            .collect();
        let results = self.shared.sh_all(jobs);
        for (from, r) in nodes.iter().zip(results) {
            let out = r?;
            let mut rules: Vec<Ipv4Addr> = out
                .lines()
                .filter_map(|l| l.strip_prefix("rule ")?.trim().parse().ok())
                .collect();
            let mut want = self.cut_from(p, from);
            rules.sort();
            want.sort();
            if rules != want {
                return Err(Error::NotLanded(format!(
                    "{from} drops {rules:?} but should drop {want:?}"
                )));
            }
            for line in out.lines().filter(|l| !l.starts_with("rule ")) {
                if let Some((to, why)) = line.split_once(" blocked") {
                    return Err(Error::NotLanded(format!(
                        "{from} → {to} should be open but cannot connect (exit{why})"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The nodes whose host has no netem qdisc (only [`Hosts::netem`] needs it).
    pub fn without_netem(&self) -> Vec<String> {
        self.no_netem.iter().cloned().collect()
    }

    /// Puts `netem ARGS` (e.g. `delay 100ms 20ms`) on the device carrying the node's address.
    pub fn netem(&self, node: &str, netem_args: &str) -> Result<(), Error> {
        self.ensure_live()?;
        let addr = self
            .node_addr(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        let dir = self.run_dir(node).expect("known");
        // Recorded first, so a crash in between still lets `harness clean --hosts` find it.
        self.netem.lock().unwrap().insert(node.to_string());
        self.shared
            .sh(
                node,
                &format!("echo {addr} > {dir}/netem\n{}", firewall::netem_script(addr, netem_args)),
            )
            .map_err(|e| match e {
                Error::Ssh { host, message } if message.contains("qdisc kind is unknown") => ssh_error(
                    &host,
                    "this kernel has no netem (sch_netem): packet faults cannot run on this host",
                ),
                other => other,
            })?;
        let shown = self.shared.sh(
            node,
            &format!(
                "{}\ntc qdisc show dev \"$dev\" root",
                firewall::device_script(addr)
            ),
        )?;
        if !shown.contains("netem") {
            return Err(Error::NotLanded(format!(
                "no netem qdisc on {node} after adding it: {shown}"
            )));
        }
        Ok(())
    }

    /// Removes the netem qdisc this run put on the node's host, if any.
    pub fn clear_netem(&self, node: &str) -> Result<(), Error> {
        let addr = self
            .node_addr(node)
            .ok_or_else(|| Error::UnknownNode(node.into()))?;
        let dir = self.run_dir(node).expect("known");
        self.shared.sh(
            node,
            &format!("{}rm -f {dir}/netem\n", firewall::netem_clear_script(addr)),
        )?;
        self.netem.lock().unwrap().remove(node);
        Ok(())
    }

    /// What the run has on a host right now: the addresses its rules drop, and whether its directory
    /// exists. Lets a test check that teardown left nothing.
    pub fn leftovers(&self, node: &str) -> Result<String, Error> {
        let fw = self.firewalls[node];
        let dir = self.run_dir(node).expect("known");
        self.shared.sh(
            node,
            &format!(
                "{}; [ -e {dir} ] && echo \"dir {dir}\"; true",
                fw.list_script(&self.run_id)
            ),
        )
    }

    /// Removes the run's rules, netem qdiscs and directories on every host (processes are the cluster's:
    /// stop them first; the watcher kills any that remain when their channel closes). Idempotent.
    pub fn teardown(&mut self) -> Result<(), Error> {
        if !self.live {
            return Ok(());
        }
        let netem: BTreeSet<String> = std::mem::take(&mut *self.netem.lock().unwrap());
        self.drop_packet_faults();
        self.keepers.clear();
        let jobs = self
            .nodes()
            .into_iter()
            .map(|n| {
                let dir = self.run_dir(&n).expect("known");
                let addr = self.node_addr(&n).expect("known");
                let mut script = self.firewalls[&n].script(&self.run_id, &[]);
                script += &self.packet_teardown_script(&n);
                if netem.contains(&n) {
                    script += &firewall::netem_clear_script(addr);
                }
                // Whatever still runs from the run directory (a wrapper whose channel has not closed yet).
                script += &format!(
                    "for f in {dir}/node.pid {dir}/wrapper.pid {dir}/keeper/node.pid {dir}/keeper/wrapper.pid; do [ -f $f ] && p=$(cat $f) && kill -9 -$p $p 2>/dev/null; done\nrm -rf {dir}\n"
                );
                (n, script)
            })
            .collect();
        let mut first = None;
        for r in self.shared.sh_all(jobs) {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        self.live = false;
        self.lock().drops.clear();
        match first {
            None => {
                tracing::info!(run = %self.run_id, "hosts torn down");
                Ok(())
            }
            Some(e) => Err(e),
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            tracing::error!(run = %self.run_id, error = %e, "hosts teardown on drop failed");
        }
    }
}

/// Single-quotes a word for `sh`.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
