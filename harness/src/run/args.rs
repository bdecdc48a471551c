//! Options of a test run (`harness [OPTIONS]`), as the command line gives them.
//! `RunConfig::from_args` ([`super::from_args`]) checks them into the run's settings.

use crate::duration;
use crate::settings::{Expect, PacketDirection, PacketScope, PacketTarget, SystemKind};
use clap::Args;
use nemesis::Subnet;
use node::api::{LeaseVotes, Replication};
use std::path::PathBuf;
use std::time::Duration;
use workloads::{Routing, WorkloadKind};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Faults to inject, comma-separated: none, partition-leader, partition-follower, partition-random,
    /// partition-halves, partition-ring, partition-one-way, kill-leader, kill-random, kill-all, pause-leader,
    /// pause-random, clock-skew, corrupt-data, packet-delay, packet-loss, packet-duplicate (these three need
    /// nft and iptables; on --hosts, the hosts' iptables and nft), all (every one but corrupt-data and the packet faults).
    #[arg(long, default_value = "partition-leader")]
    pub nemesis: String,

    /// System under test: node (ours), etcd (a real etcd cluster, Debian package etcd-server), exec
    /// (any binary that speaks our HTTP protocol, started with --node-cmd; see docs/protocol.md),
    /// zookeeper (Debian package zookeeperd), nats (JetStream KV, Debian package nats-server), redis
    /// (a server and a sentinel per node, Debian packages redis-server and redis-sentinel), galera
    /// (MariaDB Galera, Debian packages mariadb-server and galera-4; leaderless) or patroni (PostgreSQL 15
    /// under Patroni with etcd, Debian packages patroni, postgresql-15, etcd-server).
    #[arg(long, default_value = "node")]
    pub system: SystemKind,

    /// Consistency mode. node: log, read-index, lease (default), follower-read (safe); leader-local,
    /// any-local, lease-no-wait (unsafe on purpose). etcd: linearizable (default) or serializable.
    /// zookeeper: plain (default) or sync. nats: direct (default) or leader. redis: async (default) or
    /// wait (`WAIT 1` after each write). galera: sync-wait-0 (default) or sync-wait-1. patroni: async
    /// (default) or sync (synchronous_mode). exec: passed to the command as {mode}.
    #[arg(long)]
    pub mode: Option<String>,

    /// With --system exec: the command that starts one node, with placeholders {id}, {ip}, {port},
    /// {addr} (ip:port), {peers} (id=ip:port,...), {data_dir} and {mode}, each filled in as one quoted
    /// shell word. Run through `sh -c 'exec ...'`.
    #[arg(long, value_name = "CMD")]
    pub node_cmd: Option<String>,

    /// Write path: quorum (ack after Raft commit), sync-all (ack once every node has it) or async (ack
    /// once in the leader's log).
    #[arg(long, default_value = "quorum")]
    pub replication: Replication,

    /// Workload: register (one key, read/write/cas), kv (many keys, checked per key), append (lists per
    /// key, as Elle's list-append: session guarantees, convergence, lost writes and staleness too), or
    /// txn-append / txn-register (transactions of 2-4 micro-ops over --keys keys, POST /txn, checked
    /// as Elle does against --consistency).
    #[arg(long, default_value = "register")]
    pub workload: WorkloadKind,

    /// Which guarantees decide the exit code: linearizable, sessions (read-your-writes, monotonic reads,
    /// monotonic writes, writes-follow-reads) or eventual (converged after heal, no lost writes). The
    /// last two need --workload append. Every checkable guarantee is reported either way.
    #[arg(long, default_value = "linearizable")]
    pub expect: Expect,

    /// With --workload txn-append or txn-register: the model transactions are checked against:
    /// strict-serializable (default), serializable, snapshot-isolation, repeatable-read,
    /// read-committed or read-uncommitted.
    #[arg(long, value_name = "MODEL")]
    pub consistency: Option<checker::txn::Consistency>,

    /// After the final heal and the recovery wait: wait this long, then do the final reads and compare every
    /// node's local state (0 to 10m).
    #[arg(long, default_value = "2s", value_parser = duration::parse)]
    pub settle: Duration,

    /// Number of keys for the kv and append workloads (1 to 10000).
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    pub keys: usize,

    /// Number of nodes in the cluster (1 to 9).
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    pub nodes: usize,

    /// How long the workload runs: 15 (seconds), 15s, 2m (1s to 24h). The whole run's bound, computed from
    /// the options, is in config.json (`run_bound`) and the README ("How long a run takes").
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

    /// Concurrent client workers (sessions, 1 to 256). 10 puts at least three on every node of a 3-node cluster, so
    /// one of a node's sessions is still reading while another waits out a write the node cannot commit.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub concurrency: usize,

    /// Total operations per second across all workers (more than 0, at most 100000).
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    pub rate: f64,

    /// Client timeout for one operation (connection included; 10ms to 60s); a write or cas without an
    /// answer by then is recorded as `info`, a read as `fail`.
    #[arg(long, default_value = "1500ms", value_parser = duration::parse, allow_hyphen_values = true)]
    pub op_timeout: Duration,

    /// How long the cluster may take to become healthy at the start (every node answers /status and they
    /// agree on one leader, or all report none) before the run is invalid (exit 3); 1s to 10m.
    #[arg(long, default_value = "30s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub health_timeout: Duration,

    /// What a partition cuts: peers (node-to-node traffic only; clients still reach every node) or all
    /// (also each client session from the nodes on the other side of its home node).
    #[arg(long, default_value = "peers")]
    pub partition_scope: nemesis::PartitionScope,

    /// Pause between the heal of one fault and the start of the next (±20%, seeded; 1s to 1h); the first
    /// fault starts after a warm-up of this, at most 2 s.
    #[arg(long, default_value = "6s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub nemesis_interval: Duration,

    /// How long each fault lasts before it is healed (1s, what a landing check needs to see it, to 1h).
    #[arg(long, default_value = "3s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub fault_duration: Duration,

    /// Clock rate the clock-skew fault gives the leader (0.1 = runs at a tenth of real speed; more than
    /// 0, at most 10). Default: 0.1 when clock-skew is named, far outside the drift bound the lease
    /// assumes; with --nemesis all, 1 - 0.6 x --max-drift (0.97), inside it.
    #[arg(long, allow_negative_numbers = true)]
    pub skew_rate: Option<f64>,

    /// Delay packet-delay adds to every packet a node sends (1ms to 10s).
    #[arg(long, default_value = "200ms", value_parser = duration::parse, allow_hyphen_values = true)]
    pub packet_delay: Duration,

    /// Jitter of that delay (each packet's delay is drawn uniformly within ± this; 0 to 10s).
    #[arg(long, default_value = "50ms", value_parser = duration::parse, allow_hyphen_values = true)]
    pub packet_jitter: Duration,

    /// Percentage of the packets a node sends that packet-loss drops (more than 0, at most 100).
    #[arg(long, default_value_t = 30.0, allow_negative_numbers = true)]
    pub packet_loss: f64,

    /// Percentage of the packets a node sends that packet-duplicate sends twice (more than 0, at most 100).
    #[arg(long, default_value_t = 30.0, allow_negative_numbers = true)]
    pub packet_duplicate: f64,

    /// Whose sent packets the packet faults hit: random (a random node each time), leader or follower.
    #[arg(long, value_enum, default_value = "random")]
    pub packet_target: PacketTarget,

    /// Which of the target's packets: out (what it sends, default) or both (also what it receives).
    #[arg(long, value_enum, default_value = "out")]
    pub packet_direction: PacketDirection,

    /// To and from whom: all (default) or peers (only the other nodes; clients untouched, as
    /// --partition-scope peers). Not with --hosts.
    #[arg(long, value_enum, default_value = "all")]
    pub packet_scope: PacketScope,

    /// Private subnet for test addresses (on the harness's own bridge): /28 or larger, with room for the
    /// client at .2 and the nodes from .11 (twice as many with --partition-scope all).
    #[arg(long, default_value = "10.77.0.0/24")]
    pub subnet: Subnet,

    /// Node heartbeat interval in milliseconds (5 to 10000).
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    pub heartbeat_ms: u64,

    /// Node minimum election timeout in milliseconds (twice --heartbeat-ms to 60000).
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    pub election_timeout_ms: u64,

    /// Lease length in milliseconds (lease and lease-no-wait modes; 1 to 60000, and the leader's share
    /// after the drift margin must exceed --heartbeat-ms).
    #[arg(long, default_value_t = 1500, allow_negative_numbers = true)]
    pub lease_ms: u64,

    /// Clock drift bound the nodes' lease arithmetic assumes (0.05 = rates within 5%; 0 to below 0.5).
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
    /// nothing is built at run time) or, with --system etcd, the etcd binary (default: `etcd` on the PATH);
    /// zookeeper: the java binary; nats: nats-server; redis: redis-server (which then runs the sentinels
    /// too, with --sentinel); patroni: the patroni program.
    #[arg(long)]
    pub node_bin: Option<PathBuf>,

    /// Time limit for the linearizability check (1s to 24h).
    #[arg(long, default_value = "60s", value_parser = duration::parse, allow_hyphen_values = true)]
    pub check_time_limit: Duration,

    /// Run the nodes on these hosts over SSH instead of local namespaces (README, "On real hosts"): a TOML
    /// file (`n1 = "root@10.0.0.11"`, ...) or one `user@host[:port]` a line. Sets the node names.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,

    /// Run exactly the fault schedule in FILE (a run's schedule.json; docs/schedule.md): its faults at
    /// their offsets, its seed and its time limit, with the other options as given here.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["nemesis", "seed", "time_limit"])]
    pub replay: Option<PathBuf>,
}

/// For unit tests: the run options a command line gives (`harness` is put in front of `argv`).
#[cfg(test)]
pub fn parse_for_test(argv: &[&str]) -> RunArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        run: RunArgs,
    }
    let v = std::iter::once("harness").chain(argv.iter().copied());
    Wrapper::try_parse_from(v).unwrap().run
}
