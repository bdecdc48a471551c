//! Options of a test run (`harness [OPTIONS]`), and their validation into a [`RunConfig`].

use super::guarantees::Expect;
use crate::duration;
use crate::system::SystemKind;
use clap::Args;
use nemesis::{FaultKind, Subnet};
use node::api::{LeaseVotes, Replication};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use workloads::{Routing, WorkloadKind};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Faults to inject, comma-separated: none, partition-leader, partition-follower, partition-random,
    /// partition-halves, partition-ring, partition-one-way, kill-leader, kill-random, kill-all, pause-leader,
    /// pause-random, clock-skew, corrupt-data, packet-delay, packet-loss, packet-duplicate (these three need
    /// the kernel's netem qdisc), all (every one but corrupt-data and the packet faults).
    #[arg(long, default_value = "partition-leader")]
    pub nemesis: String,

    /// System under test: node (ours), etcd (a real etcd cluster, Debian package etcd-server), or exec
    /// (any binary that speaks our HTTP protocol, started with --node-cmd; see docs/protocol.md).
    #[arg(long, default_value = "node")]
    pub system: SystemKind,

    /// Consistency mode. node: log, read-index, lease (default), follower-read (safe); leader-local,
    /// any-local, lease-no-wait (unsafe on purpose). etcd: linearizable (default) or serializable.
    /// exec: passed to the command as {mode}.
    #[arg(long)]
    pub mode: Option<String>,

    /// With --system exec: the command that starts one node, with placeholders {id}, {ip}, {port},
    /// {addr} (ip:port), {peers} (id=ip:port,...), {data_dir} and {mode}. Run through `sh -c 'exec ...'`.
    #[arg(long, value_name = "CMD")]
    pub node_cmd: Option<String>,

    /// Write path: quorum (ack after Raft commit), sync-all (ack once every node has it) or async (ack
    /// once in the leader's log).
    #[arg(long, default_value = "quorum")]
    pub replication: Replication,

    /// Workload: register (one key, read/write/cas), kv (many keys, checked per key) or append (lists per
    /// key, as Elle's list-append: session guarantees, convergence, lost writes and staleness too).
    #[arg(long, default_value = "register")]
    pub workload: WorkloadKind,

    /// Which guarantees decide the exit code: linearizable, sessions (read-your-writes, monotonic reads,
    /// monotonic writes, writes-follow-reads) or eventual (converged after heal, no lost writes). The
    /// last two need --workload append. Every checkable guarantee is reported either way.
    #[arg(long, default_value = "linearizable")]
    pub expect: Expect,

    /// After the final heal and the recovery wait: wait this long, then do the final reads and compare every
    /// node's local state.
    #[arg(long, default_value = "2s", value_parser = duration::parse)]
    pub settle: Duration,

    /// Number of keys for the kv and append workloads (1 to 10000).
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    pub keys: usize,

    /// Number of nodes in the cluster.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    pub nodes: usize,

    /// How long the workload runs: 15 (seconds), 15s, 2m. The whole run takes at most this plus 30 s for
    /// the cluster to become healthy, 20 s to recover after the last heal and 10 s (plus one
    /// --op-timeout) of concurrent final reads, then the check (bounded by --check-time-limit).
    #[arg(long, default_value = "20s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub time_limit: Duration,

    /// Seed for the fault schedule, targets, op mix and values (random if not given; always recorded).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Client routing, as a load balancer does it (docs/protocol.md, "Client routing"): sticky (each
    /// worker is a session with a home node, worker i on node i mod n; a not_leader hint is retried once;
    /// fails over to the next node when home is down), leader (follow hints, stay at the leader found),
    /// round-robin (each op to the next node; a hint is retried once).
    #[arg(long, default_value = "sticky")]
    pub routing: Routing,

    /// Concurrent client workers.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    pub concurrency: usize,

    /// Total operations per second across all workers.
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    pub rate: f64,

    /// Client timeout for one operation (connection included); a write or cas without an answer by then
    /// is recorded as `info`, a read as `fail`.
    #[arg(long, default_value = "1500ms", value_parser = duration::parse, allow_hyphen_values = true)]
    pub op_timeout: Duration,

    /// How long the cluster may take to become healthy at the start (every node answers /status and they
    /// agree on one leader, or all report none) before the run is invalid (exit 3).
    #[arg(long, default_value = "30s", value_parser = duration::parse)]
    pub health_timeout: Duration,

    /// What a partition cuts: peers (node-to-node traffic only; clients still reach every node) or all
    /// (also each client session from the nodes on the other side of its home node).
    #[arg(long, default_value = "peers")]
    pub partition_scope: nemesis::PartitionScope,

    /// Pause between the heal of one fault and the start of the next (±20%, seeded); the first fault
    /// starts after a warm-up of this, at most 2 s.
    #[arg(long, default_value = "6s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub nemesis_interval: Duration,

    /// How long each fault lasts before it is healed.
    #[arg(long, default_value = "3s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub fault_duration: Duration,

    /// Clock rate the clock-skew fault gives the leader (0.1 = runs at a tenth of real speed).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub skew_rate: f64,

    /// Delay packet-delay adds to every packet a node sends.
    #[arg(long, default_value = "200ms", value_parser = duration::parse, allow_hyphen_values = true)]
    pub packet_delay: Duration,

    /// Jitter of that delay (netem picks each packet's delay within ± this).
    #[arg(long, default_value = "50ms", value_parser = duration::parse, allow_hyphen_values = true)]
    pub packet_jitter: Duration,

    /// Percentage of the packets a node sends that packet-loss drops.
    #[arg(long, default_value_t = 30.0, allow_negative_numbers = true)]
    pub packet_loss: f64,

    /// Percentage of the packets a node sends that packet-duplicate sends twice.
    #[arg(long, default_value_t = 30.0, allow_negative_numbers = true)]
    pub packet_duplicate: f64,

    /// Private subnet for test addresses (on the harness's own bridge).
    #[arg(long, default_value = "10.77.0.0/24")]
    pub subnet: Subnet,

    /// Node heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    pub heartbeat_ms: u64,

    /// Node minimum election timeout in milliseconds.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    pub election_timeout_ms: u64,

    /// Lease length in milliseconds (lease and lease-no-wait modes).
    #[arg(long, default_value_t = 1500, allow_negative_numbers = true)]
    pub lease_ms: u64,

    /// Clock drift bound the nodes' lease arithmetic assumes (0.05 = rates within 5%).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub max_drift: f64,

    /// Lease mode: report (voters report the remaining lease; the new leader waits it out) or refuse
    /// (followers refuse votes while the old lease may run).
    #[arg(long, default_value = "report")]
    pub lease_votes: LeaseVotes,

    /// Where runs are stored: <store>/<name>/<timestamp>/.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,

    /// Test name (default: derived from mode, workload and nemesis).
    #[arg(long)]
    pub name: Option<String>,

    /// The program to start per node: a `node` binary (default: this harness itself, as `harness node ...`;
    /// nothing is built at run time) or, with --system etcd, the etcd binary (default: `etcd` on the PATH).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,

    /// Time limit for the linearizability check.
    #[arg(long, default_value = "60s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub check_time_limit: Duration,
}

/// A validated run configuration: everything recorded in `config.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    pub name: String,
    pub seed: u64,
    pub faults: Vec<FaultKind>,
    pub system: SystemKind,
    /// The consistency mode, checked against the system.
    pub mode: String,
    pub node_cmd: Option<String>,
    #[serde(skip)]
    pub replication: Replication,
    /// The write path, recorded only for our node (the one system it configures).
    #[serde(rename = "replication", skip_serializing_if = "Option::is_none")]
    pub replication_recorded: Option<Replication>,
    pub workload: WorkloadKind,
    pub expect: Expect,
    pub settle_s: f64,
    pub keys: usize,
    pub nodes: Vec<String>,
    pub time_limit_s: f64,
    pub routing: Routing,
    pub concurrency: usize,
    pub rate: f64,
    pub op_timeout_ms: u64,
    pub health_timeout_s: f64,
    pub partition_scope: nemesis::PartitionScope,
    pub nemesis_interval_s: f64,
    pub fault_duration_s: f64,
    pub skew_rate: f64,
    pub subnet: String,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    pub lease_ms: u64,
    pub max_drift: f64,
    pub lease_votes: LeaseVotes,
    pub check_time_limit_s: f64,
    pub packets: super::faults::PacketSettings,
    pub harness_version: &'static str,
    #[serde(skip)]
    pub store: PathBuf,
    #[serde(skip)]
    pub node_bin: Option<PathBuf>,
    #[serde(skip)]
    pub subnet_parsed: Subnet,
}

impl RunConfig {
    /// Check the options against each other; the error says what is wrong and what to do.
    pub fn from_args(a: &RunArgs) -> Result<RunConfig, String> {
        let mut faults = nemesis::parse_nemeses(&a.nemesis).map_err(|e| e.to_string())?;
        // In a cluster of 3 or fewer every node is every other's neighbour: a ring is no partition.
        if a.nodes <= 3 && faults.contains(&FaultKind::PartitionRing) {
            if a.nemesis.split(',').any(|n| n.trim() == "all") {
                faults.retain(|f| *f != FaultKind::PartitionRing);
            } else {
                return Err("partition-ring needs at least 4 nodes (--nodes 4 or more)".into());
            }
        }
        if !(1..=9).contains(&a.nodes) {
            return Err(format!("--nodes {} is out of range; use 1 to 9", a.nodes));
        }
        if a.concurrency == 0 || a.concurrency > 256 {
            return Err(format!(
                "--concurrency {} is out of range; use 1 to 256",
                a.concurrency
            ));
        }
        if !(a.rate > 0.0 && a.rate <= 100_000.0) {
            return Err(format!(
                "--rate {} is out of range; use a positive number of ops/s",
                a.rate
            ));
        }
        if a.time_limit < Duration::from_secs(1) {
            return Err("--time-limit must be at least 1s".into());
        }
        if a.workload != WorkloadKind::Register && a.keys == 0 {
            return Err(format!(
                "--keys must be at least 1 for the {} workload",
                a.workload
            ));
        }
        if a.expect != Expect::Linearizable && a.workload != WorkloadKind::Append {
            return Err(format!(
                "--expect {} needs --workload append (only append histories show session guarantees \
                 and lost writes)",
                a.expect
            ));
        }
        if a.fault_duration.is_zero() || a.nemesis_interval.is_zero() {
            return Err("--fault-duration and --nemesis-interval must be more than 0".into());
        }
        if !(a.skew_rate > 0.0 && a.skew_rate <= 10.0) {
            return Err("--skew-rate must be in (0, 10]".into());
        }
        if !(0.0..0.5).contains(&a.max_drift) {
            return Err("--max-drift must be in [0, 0.5)".into());
        }
        if a.heartbeat_ms == 0 || a.election_timeout_ms < 2 * a.heartbeat_ms {
            return Err("--election-timeout-ms must be at least twice --heartbeat-ms (> 0)".into());
        }
        let needs_leader = faults.iter().any(|f| {
            matches!(
                f,
                FaultKind::PartitionFollower
                    | FaultKind::PartitionHalves
                    | FaultKind::PartitionRing
            )
        });
        if faults.contains(&FaultKind::PartitionRandom) && a.nodes < 2 {
            return Err("partition-random needs at least 2 nodes".into());
        }
        if needs_leader && a.nodes < 3 {
            return Err(
                "partition faults other than partition-leader need at least 3 nodes".into(),
            );
        }
        let mode = a.system.check_mode(a.mode.as_deref())?;
        if a.system == SystemKind::Exec && a.node_cmd.is_none() {
            return Err("--system exec needs --node-cmd (the command that starts one node)".into());
        }
        if a.system != SystemKind::Exec && a.node_cmd.is_some() {
            return Err("--node-cmd goes with --system exec".into());
        }
        if a.system == SystemKind::Etcd && faults.contains(&FaultKind::ClockSkew) {
            return Err(
                "clock-skew needs a system whose clock the harness can skew through \
                        POST /admin/clock (node, exec); etcd has none"
                    .into(),
            );
        }
        if a.health_timeout < Duration::from_secs(1) {
            return Err("--health-timeout must be at least 1s".into());
        }
        if a.system == SystemKind::Etcd && a.partition_scope == nemesis::PartitionScope::All {
            return Err(
                "--partition-scope all needs clients that bind a source address per session \
                 (node, exec); the etcd client has none"
                    .into(),
            );
        }
        if a.system != SystemKind::Node && a.replication != Replication::Quorum {
            return Err(format!(
                "--replication {} is a mode of our node; {} has no such option",
                a.replication, a.system
            ));
        }
        let nodes: Vec<String> = (1..=a.nodes).map(|i| format!("n{i}")).collect();
        let fault_names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
        let nemesis_name = if fault_names.is_empty() {
            "none".to_string()
        } else {
            fault_names.join("+")
        };
        let name = a.name.clone().unwrap_or_else(|| {
            let repl = match a.replication {
                Replication::Quorum => String::new(),
                r => format!("-{r}"),
            };
            format!("{}-{mode}{repl}-{}-{nemesis_name}", a.system, a.workload)
        });
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!("--name '{name}' must be a plain directory name"));
        }
        let cfg = RunConfig {
            name,
            seed: a.seed.unwrap_or_else(rand::random),
            faults,
            system: a.system,
            mode,
            node_cmd: a.node_cmd.clone(),
            replication: a.replication,
            replication_recorded: (a.system == SystemKind::Node).then_some(a.replication),
            workload: a.workload,
            expect: a.expect,
            settle_s: a.settle.as_secs_f64(),
            keys: if a.workload != WorkloadKind::Register {
                a.keys
            } else {
                1
            },
            nodes,
            time_limit_s: a.time_limit.as_secs_f64(),
            routing: a.routing,
            concurrency: a.concurrency,
            rate: a.rate,
            op_timeout_ms: a.op_timeout.as_millis() as u64,
            health_timeout_s: a.health_timeout.as_secs_f64(),
            partition_scope: a.partition_scope,
            nemesis_interval_s: a.nemesis_interval.as_secs_f64(),
            fault_duration_s: a.fault_duration.as_secs_f64(),
            skew_rate: a.skew_rate,
            subnet: a.subnet.to_string(),
            heartbeat_ms: a.heartbeat_ms,
            election_timeout_ms: a.election_timeout_ms,
            lease_ms: a.lease_ms,
            max_drift: a.max_drift,
            lease_votes: a.lease_votes,
            check_time_limit_s: a.check_time_limit.as_secs_f64(),
            packets: super::faults::PacketSettings {
                delay_ms: a.packet_delay.as_millis() as u64,
                jitter_ms: a.packet_jitter.as_millis() as u64,
                loss_pct: a.packet_loss,
                duplicate_pct: a.packet_duplicate,
            },
            harness_version: env!("CARGO_PKG_VERSION"),
            store: a.store.clone(),
            node_bin: a.node_bin.clone(),
            subnet_parsed: a.subnet,
        };
        cfg.check_schedule()?;
        super::validate::check(a, &cfg)?;
        Ok(cfg)
    }

    /// Every fault asked for must get a window: a run too short for them would not test what was asked.
    fn check_schedule(&self) -> Result<(), String> {
        let windows = self.schedule();
        let missing: Vec<&str> = self
            .faults
            .iter()
            .filter(|f| !windows.iter().any(|w| w.kind == **f))
            .map(|f| f.name())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "--time-limit {}s leaves room for {} fault window(s) of {}s, {}s apart, so {} would never run: \
             give a longer --time-limit or a shorter --nemesis-interval / --fault-duration",
            self.time_limit_s,
            windows.len(),
            self.fault_duration_s,
            self.nemesis_interval_s,
            missing.join(", ")
        ))
    }

    /// The mode as the summary shows it: our node also names its write path.
    pub fn mode_label(&self) -> String {
        match self.replication_recorded {
            Some(r) => format!("{} (replication {r})", self.mode),
            None => self.mode.clone(),
        }
    }

    /// Any binary may be leaderless (docs/protocol.md allows `"leader": null` everywhere); our node and
    /// etcd always elect one, so for them a cluster with no leader is still electing.
    pub fn may_be_leaderless(&self) -> bool {
        self.system == SystemKind::Exec
    }

    pub fn health_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.health_timeout_s)
    }

    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(self.time_limit_s)
    }

    pub fn workload_config(&self) -> workloads::WorkloadConfig {
        workloads::WorkloadConfig {
            kind: self.workload,
            keys: self.keys,
            concurrency: self.concurrency,
            rate: self.rate,
            seed: self.seed,
            op_timeout: Duration::from_millis(self.op_timeout_ms),
            routing: self.routing,
            ..workloads::WorkloadConfig::default()
        }
    }

    pub fn schedule(&self) -> Vec<nemesis::FaultWindow> {
        nemesis::schedule(&nemesis::ScheduleConfig {
            faults: self.faults.clone(),
            seed: self.seed,
            time_limit: self.time_limit(),
            interval: Duration::from_secs_f64(self.nemesis_interval_s),
            duration: Duration::from_secs_f64(self.fault_duration_s),
        })
    }

    /// The checker model for this workload: our register is a cas-register; kv is checked per key.
    pub fn model(&self) -> checker::ModelKind {
        match self.workload {
            WorkloadKind::Register => checker::ModelKind::CasRegister,
            WorkloadKind::Kv => checker::ModelKind::Kv,
            WorkloadKind::Append => checker::ModelKind::ListAppend,
        }
    }
}
