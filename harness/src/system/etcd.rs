//! A real etcd cluster, one member per namespace, reached through its v3 HTTP/JSON gateway.

use super::{Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::{Client, EtcdClient, EtcdReads};

const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;

pub struct EtcdSystem {
    bin: PathBuf,
    reads: EtcdReads,
    /// Distinguishes this run's cluster (etcd refuses members of another cluster).
    token: String,
}

impl EtcdSystem {
    pub fn new(cfg: &RunConfig, bin: PathBuf) -> EtcdSystem {
        let reads = if cfg.cluster.mode == "serializable" {
            EtcdReads::Serializable
        } else {
            EtcdReads::Linearizable
        };
        EtcdSystem {
            bin,
            reads,
            token: format!("lh-{}", cfg.seed),
        }
    }
}

fn peer_url(m: &Member) -> String {
    format!("http://{}:{PEER_PORT}", m.client_addr.ip())
}

impl System for EtcdSystem {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn client_port(&self) -> u16 {
        CLIENT_PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        let cluster: Vec<String> = all
            .iter()
            .map(|p| format!("{}={}", p.name, peer_url(p)))
            .collect();
        let client_url = format!("http://{}", m.client_addr);
        let args = [
            ("--name", m.name.clone()),
            ("--data-dir", m.data_dir.display().to_string()),
            ("--listen-client-urls", client_url.clone()),
            ("--advertise-client-urls", client_url),
            ("--listen-peer-urls", peer_url(m)),
            ("--initial-advertise-peer-urls", peer_url(m)),
            ("--initial-cluster", cluster.join(",")),
            ("--initial-cluster-token", self.token.clone()),
            // Ignored on restart: the member rejoins from its data directory.
            ("--initial-cluster-state", "new".into()),
            ("--logger", "zap".into()),
            ("--log-outputs", "stderr".into()),
        ];
        Ok(Launch {
            program: self.bin.clone(),
            args: args
                .into_iter()
                .flat_map(|(k, v)| [k.to_string(), v])
                .collect(),
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        let client = EtcdClient::new(Member::addrs(all), timeout, self.reads)
            .context("creating the etcd client")?;
        Ok(Arc::new(client))
    }
}
