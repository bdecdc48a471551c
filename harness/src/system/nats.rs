//! A real NATS cluster with JetStream from Debian's `nats-server` (2.9), one server per namespace, all
//! configured on the command line: server name = member name, one route to every member, JetStream's
//! store in the member's data directory, monitoring (`/jsz`, where the client finds the stream leader) on
//! its own port.

use super::{find_on_path, Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::nats::MONITOR_PORT;
use workloads::{Client, NatsClient, NatsReads};

const CLIENT_PORT: u16 = 4222;
const CLUSTER_PORT: u16 = 6222;

pub struct NatsSystem {
    bin: PathBuf,
    reads: NatsReads,
}

impl NatsSystem {
    /// Says what is missing when nats-server cannot be started here.
    pub fn new(cfg: &RunConfig) -> Result<NatsSystem> {
        let bin = match &cfg.cluster.node_bin {
            Some(p) => p.clone(),
            None => find_on_path("nats-server").context(
                "nats-server not found on the PATH: install the Debian package nats-server, or pass \
                 --node-bin",
            )?,
        };
        if !bin.is_file() {
            bail!("{} does not exist", bin.display());
        }
        let reads = if cfg.cluster.mode == "leader" {
            NatsReads::Leader
        } else {
            NatsReads::Direct
        };
        Ok(NatsSystem { bin, reads })
    }
}

fn route(m: &Member) -> String {
    format!("nats://{}:{CLUSTER_PORT}", m.client_addr.ip())
}

impl System for NatsSystem {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn client_port(&self) -> u16 {
        CLIENT_PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        let ip = m.client_addr.ip().to_string();
        let routes: Vec<String> = all.iter().map(route).collect();
        let args = [
            ("--name", m.name.clone()),
            ("--addr", ip.clone()),
            ("--port", CLIENT_PORT.to_string()),
            ("--http_port", MONITOR_PORT.to_string()),
            ("--cluster_name", "lh".into()),
            ("--cluster", route(m)),
            ("--routes", routes.join(",")),
            ("--store_dir", m.data_dir.display().to_string()),
        ];
        let mut args: Vec<String> = args
            .into_iter()
            .flat_map(|(k, v)| [k.to_string(), v])
            .collect();
        args.push("--jetstream".into());
        Ok(Launch {
            program: self.bin.clone(),
            args,
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        let client = NatsClient::new(Member::addrs(all), timeout, self.reads)
            .context("creating the NATS client")?;
        Ok(Arc::new(client))
    }
}
