//! [`Net`] on remote hosts (`--hosts`): the hosts' firewall rules cut links and shape packets, processes
//! start over SSH, and a program the hosts lack is uploaded once per host and run.

use super::{Hosts, RemoteSpec, HOST_MECHANISM};
use crate::net::{Net, PartitionCheck};
use crate::packet::{Aim, Burst, PacketFault};
use crate::{Error, Partition, ProcessSpec, Supervised};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct HostsNet {
    hosts: Hosts,
    /// Upload the program before its first start (our node), rather than expect it installed.
    upload: bool,
    /// (node, local program path) → its remote path: one upload per host and run.
    uploaded: Mutex<BTreeMap<(String, PathBuf), String>>,
}

impl HostsNet {
    /// `uploaded`: what set-up already copied to the hosts, (node, local path) → remote path.
    pub fn new(hosts: Hosts, upload: bool, uploaded: BTreeMap<(String, PathBuf), String>) -> Self {
        HostsNet {
            hosts,
            upload,
            uploaded: Mutex::new(uploaded),
        }
    }

    fn uploaded_program(&self, node: &str, local: &Path) -> Result<String, Error> {
        let key = (node.to_string(), local.to_path_buf());
        if let Some(p) = self.uploaded.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let remote = self.hosts.upload(node, local).map_err(|e| Error::Ssh {
            host: node.to_string(),
            message: format!("uploading {}: {e}", local.display()),
        })?;
        self.uploaded.lock().unwrap().insert(key, remote.clone());
        Ok(remote)
    }
}

impl Net for HostsNet {
    fn node_addr(&self, node: &str) -> Option<Ipv4Addr> {
        self.hosts.node_addr(node)
    }

    fn client_netns(&self) -> Option<String> {
        None
    }

    fn remote_data_dir(&self, node: &str) -> Option<PathBuf> {
        self.hosts
            .run_dir(node)
            .map(|d| PathBuf::from(d).join("data"))
    }

    fn spawn(&self, spec: ProcessSpec) -> Result<Box<dyn Supervised>, Error> {
        let node = spec.name.clone();
        let program = if self.upload {
            self.uploaded_program(&node, &spec.program)?
        } else {
            let p = spec.program.display().to_string();
            if !self.hosts.has_program(&node, &p)? {
                return Err(Error::Ssh {
                    host: node,
                    message: format!("{p} is not installed there"),
                });
            }
            p
        };
        let dir = self
            .hosts
            .run_dir(&node)
            .ok_or_else(|| Error::UnknownNode(node.clone()))?;
        Ok(Box::new(self.hosts.spawn(RemoteSpec {
            name: node,
            dir,
            program,
            args: spec.args,
            env: spec.env,
            log_path: spec.log_path,
        })?))
    }

    fn apply(&self, p: &Partition) -> Result<(), Error> {
        self.hosts.apply(p)
    }

    fn heal(&self) -> Result<(), Error> {
        self.hosts.heal()
    }

    /// Checked on the hosts themselves: the run's rules read back, the open pairs connected.
    fn check_partition(&self, expected: &Partition) -> PartitionCheck {
        let checked = self.hosts.verify(expected);
        PartitionCheck {
            event: Some(
                json!({"landed": checked.is_ok(), "checked": "from the hosts",
                               "partition": expected.describe()}),
            ),
            missed: checked.err().map(|e| e.to_string()),
        }
    }

    fn shape(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<&'static str, Error> {
        self.hosts.shape(node, fault, aim)
    }

    fn unshape(&self, node: &str) -> Result<(), Error> {
        self.hosts.unshape(node)
    }

    fn measure_packets(&self, node: &str, fault: &PacketFault, aim: Aim) -> Result<Burst, Error> {
        self.hosts.measure_packets(node, fault, aim)
    }

    fn packet_fault_health(&self, node: &str) -> Option<Result<u64, String>> {
        self.hosts.packet_fault_health(node)
    }

    fn packet_mechanism(&self) -> &'static str {
        HOST_MECHANISM
    }

    fn shaped(&self, node: &str) -> Result<bool, Error> {
        self.hosts.shaped(node)
    }

    fn teardown(&mut self) -> Result<(), Error> {
        self.hosts.teardown()
    }
}
