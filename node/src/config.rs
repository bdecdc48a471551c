//! Command-line flags and their validation into the settings the shell and the core run with.

use crate::api::{LeaseVotes, ReadMode, Replication};
use crate::raft::{self, NodeId};
use clap::{Parser, ValueEnum};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Exit code for bad arguments (as Jepsen and the rest of the harness).
pub const EXIT_BAD_ARGS: i32 = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A Raft key-value server with lease, ReadIndex and deliberately unsafe read modes.
///
/// Serves the client API (`/kv/{key}`, `/status`), peer RPCs (`/raft`) and the clock nemesis
/// (`/admin/clock`) on one HTTP listener. Logs go to stderr; the level comes from RUST_LOG (default info).
/// Peer messages need the cluster's secret from the environment variable LH_PEER_SECRET (16 to 1024
/// printable characters, the same on every node); without it they are accepted from anyone (a warning).
#[derive(Debug, Clone, Parser)]
#[command(name = "node", version)]
pub struct Args {
    /// This node's id; must appear in --peers.
    #[arg(long)]
    pub id: String,

    /// Address to serve HTTP on (clients, peers and admin), e.g. 10.77.0.11:7000.
    #[arg(long)]
    pub listen: SocketAddr,

    /// Every member including this one, as id=ip:port, comma separated:
    /// n1=10.77.0.11:7000,n2=10.77.0.12:7000,n3=10.77.0.13:7000
    #[arg(long, value_delimiter = ',', value_parser = parse_peer, required = true)]
    pub peers: Vec<(String, SocketAddr)>,

    /// Directory for the write-ahead log (DIR/wal.log); created if missing.
    #[arg(long)]
    pub data_dir: PathBuf,

    /// How reads are served: log, read-index, lease, follower-read (safe);
    /// leader-local, any-local, lease-no-wait (unsafe on purpose).
    #[arg(long, default_value = "lease")]
    pub read_mode: ReadMode,

    /// Write path: quorum (ack after Raft commit), sync-all (ack once every node has it durable;
    /// unavailable with a node down) or async (ack once in the leader's log; unsafe).
    #[arg(long, default_value = "quorum")]
    pub replication: Replication,

    /// Leader heartbeat interval, milliseconds.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,

    /// Minimum election timeout, milliseconds (the actual one is drawn from [min, 2*min)).
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms: u64,

    /// Follower lease countdown L_follower, milliseconds; the leader serves for
    /// L_follower * (1 - max_drift) / (1 + max_drift).
    #[arg(long, default_value_t = 1500)]
    pub lease_ms: u64,

    /// Lease mode: report (followers vote by the normal rules and report the remaining lease, which the
    /// new leader waits out before serving) or refuse (followers refuse votes while it runs).
    #[arg(long, default_value = "report")]
    pub lease_votes: LeaseVotes,

    /// Clock rate bound e assumed by the lease arithmetic (0.05 = rates within [0.95, 1.05]).
    #[arg(long, default_value_t = 0.05)]
    pub max_drift: f64,

    /// A client request the core has not answered within this many milliseconds gets 504 (outcome unknown).
    #[arg(long, default_value_t = 1000)]
    pub request_timeout_ms: u64,

    /// Seed for randomized election timeouts (default: derived from --id).
    #[arg(long)]
    pub seed: Option<u64>,

    /// How often the core's timers are advanced, milliseconds.
    #[arg(long, default_value_t = 5)]
    pub tick_ms: u64,

    /// Most log entries in one append message.
    #[arg(long, default_value_t = 256)]
    pub max_batch: usize,

    /// With --replication async: milliseconds a new entry waits on the leader before it is shipped to
    /// followers (the replication lag of asynchronous replication; writes are acknowledged at once).
    #[arg(long, default_value_t = 200)]
    pub async_lag_ms: u64,

    /// Snapshot the state machine durably and drop the log and WAL before it every this many applied
    /// entries (0: never; the log and WAL then grow for the whole run).
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,

    /// Disable PreVote (an isolated node that rejoins may then depose a healthy leader).
    #[arg(long)]
    pub no_pre_vote: bool,

    /// Disable CheckQuorum (a leader that lost its quorum keeps leading).
    #[arg(long)]
    pub no_check_quorum: bool,

    /// Most open HTTP connections (clients and peers). At the bound a new connection closes an idle or
    /// half-sent one, or is refused when all are busy; also kept below the open-file limit.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,

    /// A connection must send a complete request head within this many milliseconds (from the accept,
    /// or from the first byte of a keep-alive connection's next request), or it is closed.
    #[arg(long, default_value_t = 5000)]
    pub header_timeout_ms: u64,

    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn parse_peer(s: &str) -> Result<(String, SocketAddr), String> {
    let (id, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("peer '{s}' must look like id=ip:port, e.g. n1=10.77.0.11:7000"))?;
    let id = id.trim();
    if id.is_empty() {
        return Err(format!("peer '{s}' has an empty id"));
    }
    let addr = addr
        .trim()
        .parse()
        .map_err(|e| format!("peer '{s}': address '{addr}' is not ip:port ({e})"))?;
    Ok((id.to_string(), addr))
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("--id {id} is not in --peers ({known}); the peer list must include this node")]
    IdNotInPeers { id: String, known: String },
    #[error("--peers names {0} twice")]
    DuplicatePeer(String),
    #[error("--peers gives address {addr} to both {a} and {b}")]
    DuplicateAddr {
        addr: SocketAddr,
        a: String,
        b: String,
    },
    #[error("--{flag} must be greater than 0")]
    Zero { flag: &'static str },
    #[error("--election-timeout-ms ({election}) must be at least twice --heartbeat-ms ({heartbeat}), or followers time out between heartbeats")]
    ElectionVsHeartbeat { election: u64, heartbeat: u64 },
    #[error("--max-drift must be in [0, 1), got {0}")]
    BadDrift(f64),
    #[error("with --read-mode {mode} the leader's lease ({leader_ms:.0} ms = --lease-ms {lease} scaled by the drift bound) must exceed --heartbeat-ms ({heartbeat}), or it expires before it can be renewed")]
    LeaseTooShort {
        mode: ReadMode,
        lease: u64,
        leader_ms: f64,
        heartbeat: u64,
    },
    #[error("--{flag} must be at most {max}, got {got}")]
    TooLarge {
        flag: &'static str,
        max: u64,
        got: u64,
    },
    #[error("--tick-ms ({tick}) must be at most --heartbeat-ms ({heartbeat})")]
    TickTooLong { tick: u64, heartbeat: u64 },
}

/// Everything the node runs with, validated.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub raft: raft::Config,
    pub listen: SocketAddr,
    /// Every member's address (clients and peers use the same one), including this node.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    pub data_dir: PathBuf,
    pub request_timeout: Duration,
    pub tick: Duration,
    pub log_format: LogFormat,
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// From the environment (`LH_PEER_SECRET`), not a flag: set by the caller of `validate`.
    pub peer_secret: Option<crate::peer_auth::PeerSecret>,
}

/// Upper bounds of the connection options: beyond them the values are typos.
pub const MAX_MAX_CONNECTIONS: u64 = 1_000_000;
pub const MAX_HEADER_TIMEOUT_MS: u64 = 600_000;

impl NodeConfig {
    pub fn id(&self) -> &str {
        &self.raft.id
    }
}

impl Args {
    pub fn validate(self) -> Result<NodeConfig, ConfigError> {
        let mut peers = BTreeMap::new();
        for (id, addr) in &self.peers {
            if peers.insert(id.clone(), *addr).is_some() {
                return Err(ConfigError::DuplicatePeer(id.clone()));
            }
        }
        for (a, addr_a) in &peers {
            if let Some((b, _)) = peers.iter().find(|(b, addr_b)| *b > a && *addr_b == addr_a) {
                return Err(ConfigError::DuplicateAddr {
                    addr: *addr_a,
                    a: a.clone(),
                    b: b.clone(),
                });
            }
        }
        if !peers.contains_key(&self.id) {
            return Err(ConfigError::IdNotInPeers {
                id: self.id,
                known: peers.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        for (flag, v) in [
            ("heartbeat-ms", self.heartbeat_ms),
            ("election-timeout-ms", self.election_timeout_ms),
            ("request-timeout-ms", self.request_timeout_ms),
            ("tick-ms", self.tick_ms),
            ("max-batch", self.max_batch as u64),
            ("max-connections", self.max_connections as u64),
            ("header-timeout-ms", self.header_timeout_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero { flag });
            }
        }
        for (flag, got, max) in [
            (
                "max-connections",
                self.max_connections as u64,
                MAX_MAX_CONNECTIONS,
            ),
            (
                "header-timeout-ms",
                self.header_timeout_ms,
                MAX_HEADER_TIMEOUT_MS,
            ),
        ] {
            if got > max {
                return Err(ConfigError::TooLarge { flag, max, got });
            }
        }
        if self.election_timeout_ms < 2 * self.heartbeat_ms {
            return Err(ConfigError::ElectionVsHeartbeat {
                election: self.election_timeout_ms,
                heartbeat: self.heartbeat_ms,
            });
        }
        if self.tick_ms > self.heartbeat_ms {
            return Err(ConfigError::TickTooLong {
                tick: self.tick_ms,
                heartbeat: self.heartbeat_ms,
            });
        }
        if !(self.max_drift.is_finite() && (0.0..1.0).contains(&self.max_drift)) {
            return Err(ConfigError::BadDrift(self.max_drift));
        }
        let leader_ms = self.lease_ms as f64 * (1.0 - self.max_drift) / (1.0 + self.max_drift);
        if matches!(self.read_mode, ReadMode::Lease | ReadMode::LeaseNoWait)
            && leader_ms <= self.heartbeat_ms as f64
        {
            return Err(ConfigError::LeaseTooShort {
                mode: self.read_mode,
                lease: self.lease_ms,
                leader_ms,
                heartbeat: self.heartbeat_ms,
            });
        }
        let seed = self.seed.unwrap_or_else(|| seed_from_id(&self.id));
        Ok(NodeConfig {
            raft: raft::Config {
                id: self.id,
                members: peers.keys().cloned().collect(),
                read_mode: self.read_mode,
                replication: self.replication,
                heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
                election_timeout: Duration::from_millis(self.election_timeout_ms),
                lease: Duration::from_millis(self.lease_ms),
                lease_votes: self.lease_votes,
                max_drift: self.max_drift,
                pre_vote: !self.no_pre_vote,
                check_quorum: !self.no_check_quorum,
                max_batch: self.max_batch,
                async_lag: Duration::from_millis(self.async_lag_ms),
                snapshot_every: self.snapshot_every,
                seed,
            },
            listen: self.listen,
            peers,
            data_dir: self.data_dir,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            tick: Duration::from_millis(self.tick_ms),
            log_format: self.log_format,
            max_connections: self.max_connections,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            peer_secret: None,
        })
    }
}

/// FNV-1a: a stable, distinct default seed per node id.
fn seed_from_id(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEERS: &str = "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003";

    fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
        parse_as("n1", extra)
    }

    fn parse_as(id: &str, extra: &[&str]) -> Result<Args, clap::Error> {
        let mut argv = vec![
            "node",
            "--id",
            id,
            "--listen",
            "127.0.0.1:7001",
            "--peers",
            PEERS,
            "--data-dir",
            "/tmp/x",
        ];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv)
    }

    #[test]
    fn defaults_are_sane() {
        let cfg = parse(&[]).unwrap().validate().unwrap();
        assert_eq!(cfg.raft.members, vec!["n1", "n2", "n3"]);
        assert_eq!(cfg.raft.read_mode, ReadMode::Lease);
        assert_eq!(cfg.raft.replication, Replication::Quorum);
        assert_eq!(cfg.raft.lease, Duration::from_millis(1500));
        assert!(cfg.raft.pre_vote && cfg.raft.check_quorum);
        assert_eq!(cfg.request_timeout, Duration::from_secs(1));
        assert_eq!(cfg.peers["n2"], "127.0.0.1:7002".parse().unwrap());
        // Default seeds differ per node so elections do not collide.
        let other = Args::try_parse_from([
            "node",
            "--id",
            "n2",
            "--listen",
            "127.0.0.1:7002",
            "--peers",
            PEERS,
            "--data-dir",
            "d",
        ])
        .unwrap()
        .validate()
        .unwrap();
        assert_ne!(cfg.raft.seed, other.raft.seed);
    }

    #[test]
    fn flags_are_parsed() {
        let cfg = parse(&[
            "--read-mode",
            "read-index",
            "--replication",
            "async",
            "--seed",
            "7",
            "--no-pre-vote",
            "--log-format",
            "json",
        ])
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(cfg.raft.read_mode, ReadMode::ReadIndex);
        assert_eq!(cfg.raft.replication, Replication::Async);
        assert_eq!(cfg.raft.seed, 7);
        assert!(!cfg.raft.pre_vote);
        assert_eq!(cfg.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse(&["--read-mode", "fast"]).unwrap_err().to_string();
        assert!(err.contains("unknown read mode 'fast'"), "{err}");
        let err = Args::try_parse_from([
            "node",
            "--id",
            "n1",
            "--listen",
            "x",
            "--peers",
            PEERS,
            "--data-dir",
            "d",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("--listen"), "{err}");
        let err = Args::try_parse_from([
            "node",
            "--id",
            "n1",
            "--listen",
            "127.0.0.1:1",
            "--peers",
            "n1:7000",
            "--data-dir",
            "d",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("id=ip:port"), "{err}");
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let e = |extra: &[&str]| parse(extra).unwrap().validate().unwrap_err();
        let stranger = parse_as("n9", &[]).unwrap().validate().unwrap_err();
        assert!(matches!(stranger, ConfigError::IdNotInPeers { .. }));
        assert!(stranger.to_string().contains("n1, n2, n3"), "{stranger}");
        assert!(matches!(
            e(&["--election-timeout-ms", "60"]),
            ConfigError::ElectionVsHeartbeat { .. }
        ));
        assert!(matches!(
            e(&["--max-drift", "1.5"]),
            ConfigError::BadDrift(_)
        ));
        assert!(matches!(
            e(&["--lease-ms", "40"]),
            ConfigError::LeaseTooShort { .. }
        ));
        // A short lease is fine where no lease is used.
        parse(&["--lease-ms", "40", "--read-mode", "log"])
            .unwrap()
            .validate()
            .unwrap();
        assert!(matches!(
            e(&["--max-connections", "0"]),
            ConfigError::Zero {
                flag: "max-connections"
            }
        ));
        let big = e(&["--header-timeout-ms", "600001"]);
        assert!(matches!(big, ConfigError::TooLarge { .. }), "{big}");
        assert!(big
            .to_string()
            .contains("--header-timeout-ms must be at most 600000"));
        assert!(matches!(
            e(&["--heartbeat-ms", "0"]),
            ConfigError::Zero {
                flag: "heartbeat-ms"
            }
        ));
        let dup = Args::try_parse_from([
            "node",
            "--id",
            "n1",
            "--listen",
            "127.0.0.1:1",
            "--peers",
            "n1=127.0.0.1:1,n2=127.0.0.1:1",
            "--data-dir",
            "d",
        ])
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(matches!(dup, ConfigError::DuplicateAddr { .. }), "{dup}");
    }
}
