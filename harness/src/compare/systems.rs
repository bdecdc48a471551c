//! What the systems preset expects of each real system and mode: the guarantee its own documentation
//! promises (quoted in the reason), and the known bugs of the version Debian 12 ships that a cell may hit.
//! Where repeated runs showed an outcome is random, the expectation is the rate measured.

use super::expect::{check, Check, Expect, KnownBug, Want};
use super::plan::CellSpec;

const ZOOKEEPER_4785: KnownBug = KnownBug {
    id: "ZOOKEEPER-4785",
    what: "transactions lost while a restarted follower syncs with the leader",
    versions: "3.8.0 (Debian 12) to 3.8.3; fixed in 3.8.4",
    breaks: &["no_lost_writes", "linearizable"],
};

const NATS_4162: KnownBug = KnownBug {
    id: "nats-server#4162",
    what: "a restarted server serves stale values",
    versions: "2.9.10 (Debian 12); fixed in 2.9.17",
    breaks: &["linearizable", "read_your_writes", "monotonic_reads"],
};

const NATS_4320: KnownBug = KnownBug {
    id: "nats-server#4320",
    what: "two concurrent publishes expecting the same last sequence are both accepted, so a \
           compare-and-set (kv.update) loses an append",
    versions: "2.9.10 (Debian 12); fixed after 2.9.20",
    // A session that lost its own append no longer reads it.
    breaks: &["no_lost_writes", "linearizable", "read_your_writes"],
};

const REDIS_FAILOVER: KnownBug = KnownBug {
    id: "redis#6062/#12570",
    what: "acknowledged writes lost around a Sentinel failover",
    versions: "reported against 5.x to 7.x; 7.0.15 (Debian 12) not known to be fixed",
    breaks: &["no_lost_writes", "linearizable", "read_your_writes"],
};

const GALERA_2026: KnownBug = KnownBug {
    id: "MDEV-38974/38976/38977/38999",
    what: "Jepsen's 2026 Galera findings: committed transactions lost with crashes and partitions, lost \
           updates between members, stale reads",
    versions: "MariaDB 10.11 with galera-4 26.4 (Debian 12) among the affected",
    breaks: &["no_lost_writes", "linearizable", "read_your_writes"],
};

/// Rates of outcomes that came out random over repeated runs: (system, mode, fault, rate). ZooKeeper:
/// `harness compare --preset systems --systems zookeeper --modes plain --runs 10 --seed 100` and the same
/// with `--runs 3 --seed 1` (13 runs per cell, 15 s each); NATS: the same with `--systems nats --modes
/// direct --runs 10 --seed 100`. Redis: `harness --system redis --mode M
/// --workload append --nemesis F --time-limit 10s --seed S`, S = 1..13 (1..10, 1..5).
const RATES: &[(&str, &str, &str, &str)] = &[
    ("zookeeper", "plain", "none", "caught in 1 of 13"),
    (
        "zookeeper",
        "plain",
        "partition-leader",
        "caught in 0 of 13",
    ),
    ("zookeeper", "plain", "kill-leader", "caught in 0 of 13"),
    ("zookeeper", "plain", "pause-leader", "caught in 2 of 13"),
    (
        "nats",
        "direct",
        "none",
        "caught in 8 of 10, each with #4320's lost appends",
    ),
    (
        "nats",
        "direct",
        "partition-leader",
        "caught in 10 of 10, each with #4320's lost appends",
    ),
    (
        "nats",
        "direct",
        "kill-leader",
        "caught in 7 of 10, each with #4320's lost appends",
    ),
    (
        "nats",
        "direct",
        "pause-leader",
        "caught in 10 of 10, each with #4320's lost appends",
    ),
    ("redis", "async", "kill-leader", "lost in 12 of 13"),
    ("redis", "wait", "partition-leader", "lost in 8 of 10"),
    // `harness compare --preset systems --systems redis --modes wait --nemeses kill-leader,pause-leader
    // --runs 10 --seed 100` (and the linearizable rate of wait × kill-leader below).
    ("redis", "wait", "pause-leader", "lost in 9 of 10"),
    // Galera: `harness compare --preset systems --systems galera --modes sync-wait-0 --runs 10 --seed 100`.
    ("galera", "sync-wait-0", "none", "caught in 0 of 10"),
    (
        "galera",
        "sync-wait-0",
        "partition-random",
        "caught in 4 of 10",
    ),
    ("galera", "sync-wait-0", "kill-random", "caught in 4 of 10"),
    ("galera", "sync-wait-0", "pause-random", "caught in 4 of 10"),
    // Patroni: `harness compare --preset systems --systems patroni --modes async --nemeses kill-leader
    // --runs 10 --seed 100` (the preset's 100 ops/s); at 1000 ops/s (`--workload append --nemesis
    // kill-leader --time-limit 30s --fault-duration 10s --nemesis-interval 4s --rate 1000
    // --concurrency 20`), 4 of 8.
    (
        "patroni",
        "async",
        "kill-leader",
        "lost in 0 of 10 at the preset's 100 ops/s, 4 of 8 at 1000 ops/s",
    ),
    // `harness compare --preset systems --systems patroni --modes async --nemeses pause-leader --runs 10
    // --seed 100`: the paused primary's last acknowledged commits, not yet on the promoted standby.
    ("patroni", "async", "pause-leader", "lost in 5 of 10"),
];

fn measured_rate(c: &CellSpec) -> &'static str {
    let system = c.system.as_deref().unwrap_or_default();
    RATES
        .iter()
        .find(|(s, m, f, _)| *s == system && *m == c.mode && *f == c.nemesis)
        .map_or(
            "not measured for this fault; either verdict is accepted",
            |r| r.3,
        )
}

/// What a cell of the systems preset should show, and why.
pub fn expected(system: &str, c: &CellSpec) -> Expect {
    match system {
        "zookeeper" => zookeeper(c),
        "nats" => nats(c),
        "redis" => redis(c),
        "galera" => galera(c),
        "patroni" => patroni(c),
        _ => Expect::new(vec![], "no expectation recorded for this system"),
    }
}

fn holds(guarantees: &[&'static str]) -> Vec<Check> {
    guarantees.iter().map(|g| check(g, Want::Holds)).collect()
}

/// Reads that may be stale at the measured rate; writes that commit on a quorum are kept.
fn stale_reads_sometimes(c: &CellSpec) -> Vec<Check> {
    vec![
        check("linearizable", Want::Sometimes(measured_rate(c))),
        check("no_lost_writes", Want::Holds),
    ]
}

fn zookeeper(c: &CellSpec) -> Expect {
    let bugs: &[KnownBug] = if c.nemesis.starts_with("kill") {
        &[ZOOKEEPER_4785]
    } else {
        &[]
    };
    let e = if c.mode == "sync" {
        Expect::new(
            holds(&["linearizable", "read_your_writes", "no_lost_writes"]),
            "sync() before each read: \"If it is important that Client A and Client B read the same \
             value, Client B should call the sync() method from the ZooKeeper API method before it \
             performs its read\" (Programmer's Guide); writes commit on a quorum",
        )
    } else {
        Expect::new(
            stale_reads_sometimes(c),
            "plain reads are answered by the server the session is connected to: \"ZooKeeper does not \
             guarantee that at every instance in time, two different clients will have identical views \
             of ZooKeeper data\" (Programmer's Guide); writes commit on a quorum",
        )
    };
    e.with_bugs(bugs)
}

fn nats(c: &CellSpec) -> Expect {
    // Every append is a compare-and-set on the key's last revision (kv.update), which #4320 breaks.
    let bugs: &[KnownBug] = if c.nemesis.starts_with("kill") {
        &[NATS_4320, NATS_4162]
    } else {
        &[NATS_4320]
    };
    let e = if c.mode == "leader" {
        Expect::new(
            holds(&["linearizable", "read_your_writes", "no_lost_writes"]),
            "direct gets off: a direct get \"retrieves a message from any server (not only the leader) as \
             long as the stream has been created with a AllowDirect option\" (nats.c docs), so without it \
             every get is the stream leader's; a write is acknowledged once a quorum of replicas stored it",
        )
    } else {
        Expect::new(
            stale_reads_sometimes(c),
            "direct gets (the clients' default for KV): \"If true, and the stream has more than one \
             replica, each replica will respond to direct get requests for individual messages, not only \
             the leader\" (stream config allow_direct): a replica answers from what it has",
        )
    };
    e.with_bugs(bugs)
}

fn redis(c: &CellSpec) -> Expect {
    use Want::*;
    let lost = |w: Want| check("no_lost_writes", w);
    let f = c.nemesis.as_str();
    let (checks, why) = match (c.mode.as_str(), f) {
        (_, "none") => (
            holds(&["linearizable", "no_lost_writes"]),
            "with no failover every op goes to the master Sentinel names (\"SENTINEL \
             get-master-addr-by-name\"), which has every write it acknowledged",
        ),
        ("async", "partition-leader" | "pause-leader") => (
            vec![lost(Broken)],
            "\"Redis + Sentinel as a whole are an eventually consistent system where the merge function is \
             last failover wins ... so there is always a window for losing acknowledged writes\" (Sentinel \
             docs): the cut-off or paused master keeps acknowledging writes the new master never gets",
        ),
        ("async", _) => (
            vec![lost(Sometimes(measured_rate(c)))],
            "\"Redis uses by default asynchronous replication\": writes the killed master acknowledged but \
             had not yet sent are gone when a replica is promoted",
        ),
        ("wait", "kill-leader") => (
            vec![
                lost(Holds),
                check("linearizable", Sometimes("caught in 10 of 10")),
            ],
            "WAIT 1 after each write: \"if a given write is transferred to one or more replicas, it is more \
             likely (but not guaranteed) that if the master fails, we'll be able to promote ... a replica \
             that received the write\" (WAIT docs); the restarted old master may answer reads before \
             Sentinel demotes it",
        ),
        ("wait", _) => (
            vec![lost(Sometimes(measured_rate(c)))],
            "\"WAIT does not make Redis a strongly consistent store ... it is possible to still lose a write \
             synchronously replicated to multiple replicas\" (WAIT docs): a replica still attached to the old \
             master confirms its last writes, then resyncs from the new master and drops them",
        ),
        _ => (vec![], "no expectation recorded for this mode"),
    };
    let bugs: &[KnownBug] = if f == "none" { &[] } else { &[REDIS_FAILOVER] };
    Expect::new(checks, why).with_bugs(bugs)
}

fn galera(c: &CellSpec) -> Expect {
    let e = if c.mode == "sync-wait-1" {
        Expect::new(
            vec![
                check("linearizable", Want::Holds),
                check("no_lost_writes", Want::Holds),
            ],
            "wsrep_sync_wait=1 \"Performs causality checks for read operations\": \"the node waits for \
             synchronization before executing the query\" (MariaDB docs); a commit is certified by every \
             member of the primary component",
        )
    } else {
        Expect::new(
            stale_reads_sometimes(c),
            "wsrep_sync_wait=0 \"Disables causality checks\" (MariaDB docs): a member answers a read from \
             what it has applied, which may not yet hold a write another member committed",
        )
    };
    let bugs: &[KnownBug] = if c.nemesis == "none" {
        &[]
    } else {
        &[GALERA_2026]
    };
    e.with_bugs(bugs)
}

fn patroni(c: &CellSpec) -> Expect {
    use Want::*;
    let lost = |w: Want| check("no_lost_writes", w);
    let (checks, why) = match (c.mode.as_str(), c.nemesis.as_str()) {
        ("sync", _) => (
            holds(&["linearizable", "no_lost_writes"]),
            "synchronous_mode: \"Patroni will not promote a standby unless it is certain that the standby \
             contains all transactions that may have returned a successful commit status to client\" \
             (Patroni, \"Replication modes\"); every op goes to the primary Patroni names",
        ),
        (_, "none") => (
            holds(&["linearizable", "no_lost_writes"]),
            "with no failover every op goes to the one primary Patroni's /cluster names: \"In asynchronous \
             mode the cluster is allowed to lose some committed transactions\" only \"to ensure \
             availability\" on failover (Patroni, \"Replication modes\")",
        ),
        (_, "partition-leader") => (
            vec![lost(Broken)],
            "\"Any transactions that have not been replicated to that standby remain in a 'forked \
             timeline' on the primary, and are effectively unrecoverable\" (Patroni, \"Replication \
             modes\"): the cut-off primary acknowledges commits until it demotes itself after \
             retry_timeout",
        ),
        _ => (
            vec![lost(Sometimes(measured_rate(c)))],
            "\"In asynchronous mode the cluster is allowed to lose some committed transactions to ensure \
             availability\" (Patroni, \"Replication modes\"): a loss needs a standby behind the primary \
             when it fails, which on one machine is rare",
        ),
    };
    Expect::new(checks, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::plan::{preset_cells, Narrowing, Preset};
    use serde_json::json;

    #[test]
    fn every_system_cell_has_a_documented_expectation() {
        let cells = preset_cells(Preset::Systems, &Narrowing::default());
        assert!(!cells.is_empty());
        for c in &cells {
            let e = expected(c.system.as_deref().unwrap(), c);
            assert!(!e.checks.is_empty(), "{}", c.label());
            assert!(
                e.why.contains('"'),
                "{}: the reason quotes the docs",
                c.label()
            );
        }
    }

    #[test]
    fn a_break_a_known_bug_explains_is_not_a_failed_expectation() {
        let cells = preset_cells(Preset::Systems, &Narrowing::default());
        let c = cells
            .iter()
            .find(|c| c.label() == "nats leader × none")
            .expect("cell");
        let e = expected("nats", c);
        let lost = json!({"guarantees": {"linearizable": false, "read_your_writes": true},
                          "lost_writes": {"count": 3, "judged": 40}});
        assert_eq!(
            e.judge(1, &lost),
            super::super::expect::Verdict::KnownBug(vec!["nats-server#4320"])
        );
        // The same break where no known bug explains it is unexpected.
        let zk = cells
            .iter()
            .find(|c| c.label() == "zookeeper sync × none")
            .expect("cell");
        assert!(matches!(
            expected("zookeeper", zk).judge(1, &lost),
            super::super::expect::Verdict::Unexpected(_)
        ));
    }
}
