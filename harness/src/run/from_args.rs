//! A run's options checked against each other and turned into its [`RunConfig`]; the checks that need
//! more than the options themselves follow in [`super::validate`].

use super::args::RunArgs;
use crate::settings::{
    CheckSettings, ClusterSettings, Expect, FaultSettings, OutputSettings, PacketDirection,
    PacketScope, PacketSettings, RunConfig, SystemKind, WorkloadSettings,
};
use nemesis::family::{disk, StartNeed};
use nemesis::FaultKind;
use node::api::Replication;
use workloads::WorkloadKind;

impl RunConfig {
    /// Check the options against each other; the error says what is wrong and what to do.
    pub fn from_args(a: &RunArgs) -> Result<RunConfig, String> {
        match &a.replay {
            Some(path) => super::replay::config(a, super::replay::load(path)?),
            None => RunConfig::build(a, None),
        }
    }

    /// The settings of `a`; with `replay`, its windows instead of a seeded schedule.
    pub fn build(a: &RunArgs, replay: Option<nemesis::ScheduleFile>) -> Result<RunConfig, String> {
        super::bounds::check(a)?;
        super::bounds::subnet(a)?;
        let faults = faults_of(a)?;
        check_workload(a)?;
        let mode = a.system.check_mode(a.mode.as_deref())?;
        check_system(a, &faults)?;
        let hosts_file = hosts_of(a, &faults)?;
        let nodes: Vec<String> = match &hosts_file {
            Some(f) => f.names(),
            None => (1..=a.nodes).map(|i| format!("n{i}")).collect(),
        };
        let name = match &a.name {
            Some(name) => name.clone(),
            None => default_name(a, &mode, &faults),
        };
        super::test_name::check(&name)?;
        let mut cfg = RunConfig::assemble(
            a,
            Chosen {
                name,
                faults,
                mode,
                nodes,
                hosts_file,
                replay,
            },
        );
        if cfg.faults.replay.is_none() {
            cfg.check_schedule()?;
        }
        super::validate::check(a, &cfg)?;
        cfg.run_bound = Some(super::bounds::run_bound(&cfg));
        Ok(cfg)
    }

    /// The config of `a`, with what [`RunConfig::build`] chose from it.
    fn assemble(a: &RunArgs, chosen: Chosen) -> RunConfig {
        let Chosen {
            name,
            faults,
            mode,
            nodes,
            hosts_file,
            replay,
        } = chosen;
        RunConfig {
            seed: a.seed.unwrap_or_else(rand::random),
            cluster: ClusterSettings {
                system: a.system,
                mode,
                node_cmd: a.node_cmd.clone(),
                replication: a.replication,
                replication_recorded: (a.system == SystemKind::Node).then_some(a.replication),
                nodes,
                subnet: a.subnet,
                heartbeat_ms: a.heartbeat_ms,
                election_timeout_ms: a.election_timeout_ms,
                lease_ms: a.lease_ms,
                max_drift: a.max_drift,
                lease_votes: a.lease_votes,
                health_timeout: a.health_timeout,
                node_bin: a.node_bin.clone(),
                hosts: a.hosts.clone(),
                hosts_file,
            },
            workload: WorkloadSettings {
                kind: a.workload,
                keys: if a.workload != WorkloadKind::Register {
                    a.keys
                } else {
                    1
                },
                routing: a.routing,
                concurrency: a.concurrency,
                rate: a.rate,
                op_timeout: crate::duration::whole_millis(a.op_timeout),
                time_limit: a.time_limit,
                settle: a.settle,
            },
            faults: FaultSettings {
                kinds: faults,
                partition_scope: a.partition_scope,
                interval: a.nemesis_interval,
                duration: a.fault_duration,
                skew_rate: super::assumptions::skew_rate(a),
                packets: packet_settings(a),
                replay,
            },
            check: CheckSettings {
                expect: a.expect,
                consistency: a.consistency,
                time_limit: a.check_time_limit,
            },
            output: OutputSettings {
                name,
                harness_version: env!("CARGO_PKG_VERSION"),
                store: a.store.clone(),
            },
            run_bound: None,
        }
    }

    /// Every fault asked for must get a window: a run too short for them would not test what was asked.
    /// The schedule fits them all whenever the options allow it, whatever the seed.
    fn check_schedule(&self) -> Result<(), String> {
        let f = &self.faults;
        let needed = nemesis::min_time_limit(f.kinds.len(), f.interval, f.duration);
        if self.workload.time_limit > needed {
            return Ok(());
        }
        let windows = self.schedule();
        let missing: Vec<&str> = f
            .kinds
            .iter()
            .filter(|f| !windows.iter().any(|w| w.kind == **f))
            .map(|f| f.name())
            .collect();
        Err(format!(
            "--time-limit {}s is too short for {} fault(s) of {}s with --nemesis-interval {}s between them \
             (at its lowest jitter, 0.8): it needs more than {:.1}s, so {} would never run; give a longer \
             --time-limit or a shorter --nemesis-interval / --fault-duration",
            self.workload.time_limit.as_secs_f64(),
            f.kinds.len(),
            f.duration.as_secs_f64(),
            f.interval.as_secs_f64(),
            needed.as_secs_f64(),
            missing.join(", ")
        ))
    }
}

/// What [`RunConfig::build`] chose or derived from the options, for [`RunConfig::assemble`].
struct Chosen {
    name: String,
    faults: Vec<FaultKind>,
    mode: String,
    nodes: Vec<String>,
    hosts_file: Option<nemesis::hosts::HostsFile>,
    replay: Option<nemesis::ScheduleFile>,
}

/// The faults `--nemesis` names. A kind needing more nodes than the cluster has (a ring of 3 is no
/// partition, see [`FaultKind::min_nodes`]) is dropped from `all` and refused when named.
fn faults_of(a: &RunArgs) -> Result<Vec<FaultKind>, String> {
    let mut faults = nemesis::parse_nemeses(&a.nemesis).map_err(|e| e.to_string())?;
    let fits = |f: &FaultKind| usize::from(f.min_nodes()) <= a.nodes;
    if let Some(f) = faults.iter().find(|f| !fits(f)) {
        if !a.nemesis.split(',').any(|n| n.trim() == "all") {
            let n = f.min_nodes();
            return Err(format!(
                "{f} needs at least {n} nodes (--nodes {n} or more)"
            ));
        }
        faults.retain(fits);
    }
    Ok(faults)
}

/// `--expect` other than linearizable needs histories that show session guarantees.
fn check_workload(a: &RunArgs) -> Result<(), String> {
    super::txn::validate(a)?;
    if a.expect != Expect::Linearizable && a.workload != WorkloadKind::Append {
        return Err(format!(
            "--expect {} needs --workload append (only append histories show session guarantees \
             and lost writes)",
            a.expect
        ));
    }
    Ok(())
}

/// What the system under test allows: its node command, faults, clock hook, session addresses and
/// replication.
fn check_system(a: &RunArgs, faults: &[FaultKind]) -> Result<(), String> {
    if a.system == SystemKind::Exec && a.node_cmd.is_none() {
        return Err("--system exec needs --node-cmd (the command that starts one node)".into());
    }
    if a.system != SystemKind::Exec && a.node_cmd.is_some() {
        return Err("--node-cmd goes with --system exec".into());
    }
    if let Some(why) = a.system.fault_refusal(faults) {
        return Err(why);
    }
    // A family that needs the clock API says so (StartNeed); only some systems have it.
    let needs_clock = |f: &&FaultKind| f.family().start_needs.contains(&StartNeed::ClockEndpoint);
    if let (false, Some(f)) = (a.system.has_clock_hook(), faults.iter().find(needs_clock)) {
        return Err(format!(
            "{f} needs a system whose clock the harness can skew through \
             POST /admin/clock (node, exec); {} has none",
            a.system
        ));
    }
    if !a.system.binds_session_addrs() && a.partition_scope == nemesis::PartitionScope::All {
        return Err(format!(
            "--partition-scope all needs clients that bind a source address per session \
             (node, exec); the {} client has none",
            a.system
        ));
    }
    if a.system != SystemKind::Node && a.replication != Replication::Quorum {
        return Err(format!(
            "--replication {} is a mode of our node; {} has no such option",
            a.replication, a.system
        ));
    }
    Ok(())
}

/// The `--hosts` file, loaded, and what it does not support yet.
fn hosts_of(
    a: &RunArgs,
    faults: &[FaultKind],
) -> Result<Option<nemesis::hosts::HostsFile>, String> {
    let Some(p) = &a.hosts else {
        return Ok(None);
    };
    let hosts_file = nemesis::hosts::HostsFile::load(p).map_err(|e| format!("--hosts: {e}"))?;
    if a.partition_scope == nemesis::PartitionScope::All {
        return Err("--partition-scope all is not supported with --hosts".into());
    }
    if faults.contains(&disk::CORRUPT_DATA) {
        return Err(
            "corrupt-data is not supported with --hosts yet (it edits the data directory locally)"
                .into(),
        );
    }
    Ok(Some(hosts_file))
}

/// The test's name without `--name`: system, mode (and replication when not quorum), workload, nemeses.
fn default_name(a: &RunArgs, mode: &str, faults: &[FaultKind]) -> String {
    let fault_names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
    let nemesis_name = if fault_names.is_empty() {
        "none".to_string()
    } else {
        fault_names.join("+")
    };
    let repl = match a.replication {
        Replication::Quorum => String::new(),
        r => format!("-{r}"),
    };
    super::test_name::fit(format!(
        "{}-{mode}{repl}-{}-{nemesis_name}",
        a.system, a.workload
    ))
}

/// `--packet-*`.
fn packet_settings(a: &RunArgs) -> PacketSettings {
    PacketSettings {
        delay_ms: a.packet_delay.as_millis() as u64,
        jitter_ms: a.packet_jitter.as_millis() as u64,
        loss_pct: a.packet_loss,
        duplicate_pct: a.packet_duplicate,
        target: a.packet_target,
        both_ways: a.packet_direction == PacketDirection::Both,
        peers_only: a.packet_scope == PacketScope::Peers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::args::parse_for_test;

    fn from(argv: &[&str]) -> Result<RunConfig, String> {
        let store = tempfile::tempdir().unwrap();
        let mut v = vec!["--store", store.path().to_str().unwrap()];
        v.extend_from_slice(argv);
        RunConfig::from_args(&parse_for_test(&v))
    }

    /// A kind that needs more nodes than the cluster has is refused by name and dropped from `all`;
    /// the rule is the kind's own (min_nodes), not a list here.
    #[test]
    fn a_fault_the_cluster_is_too_small_for_is_refused_by_name_and_dropped_from_all() {
        let e = from(&["--nodes", "3", "--nemesis", "partition-ring"]).unwrap_err();
        assert!(e.contains("partition-ring needs at least 4 nodes"), "{e}");
        let e = from(&["--nodes", "2", "--nemesis", "partition-halves"]).unwrap_err();
        assert!(e.contains("partition-halves needs at least 3 nodes"), "{e}");
        let cfg = from(&["--nodes", "3", "--nemesis", "all", "--time-limit", "120s"]).unwrap();
        let kinds = &cfg.faults.kinds;
        assert!(
            !kinds.iter().any(|f| f.name() == "partition-ring"),
            "{kinds:?}"
        );
        assert!(
            kinds.iter().any(|f| f.name() == "partition-halves"),
            "{kinds:?}"
        );
        let cfg = from(&["--nodes", "4", "--nemesis", "all", "--time-limit", "120s"]).unwrap();
        assert!(cfg
            .faults
            .kinds
            .iter()
            .any(|f| f.name() == "partition-ring"));
    }

    /// Whether the faults fit depends on the options, not the seed (it was refused for seed 12 and
    /// accepted for seed 11).
    #[test]
    fn the_schedule_refusal_does_not_depend_on_the_seed() {
        for seed in 0..200 {
            let s = seed.to_string();
            let two = ["--nemesis", "partition-leader,kill-leader", "--seed", &s];
            let cfg = from(&[&two[..], &["--time-limit", "15"]].concat()).unwrap();
            for f in &cfg.faults.kinds {
                assert!(cfg.schedule().iter().any(|w| w.kind == *f), "seed {seed}");
            }
            // 2 s warm-up + 3 s + 4.8 s + 3 s = 12.8 s: refused at it, for every seed.
            let err = from(&[&two[..], &["--time-limit", "12.8"]].concat()).unwrap_err();
            assert!(err.contains("needs more than 12.8s"), "{err}");
        }
    }

    /// config.json keeps the keys and value formats it had when the settings were one flat struct:
    /// durations as float seconds (`*_s`) or integer milliseconds (`*_ms`), each group flattened.
    #[test]
    fn config_json_keeps_its_keys_and_formats() {
        let cfg = from(&["--seed", "7", "--time-limit", "8s"]).unwrap();
        let mut value = serde_json::to_value(&cfg).unwrap();
        let bound = value.as_object_mut().unwrap().remove("run_bound").unwrap();
        assert!(bound["total_s"].is_f64(), "{bound}");
        assert_eq!(
            bound["phases"][0][0], "set-up, teardown and report",
            "{bound}"
        );
        assert!(bound["phases"][0][1].is_f64(), "{bound}");
        let expected = serde_json::json!({
            "check_time_limit_s": 60.0, "concurrency": 10, "election_timeout_ms": 300,
            "expect": "linearizable", "fault_duration_s": 3.0, "faults": ["partition-leader"],
            "harness_version": env!("CARGO_PKG_VERSION"), "health_timeout_s": 30.0, "heartbeat_ms": 50,
            "hosts": null, "keys": 1, "lease_ms": 1500, "lease_votes": "report", "max_drift": 0.05,
            "mode": "lease", "name": "node-lease-register-partition-leader", "nemesis_interval_s": 6.0,
            "node_cmd": null, "nodes": ["n1", "n2", "n3"], "op_timeout_ms": 1500,
            "packets": {"both_ways": false, "delay_ms": 200, "duplicate_pct": 30.0, "jitter_ms": 50,
                        "loss_pct": 30.0, "peers_only": false, "target": "random"},
            "partition_scope": "peers", "rate": 100.0, "replication": "quorum", "routing": "sticky",
            "seed": 7, "settle_s": 2.0, "skew_rate": 0.97, "subnet": "10.77.0.0/24", "system": "node",
            "time_limit_s": 8.0, "workload": "register"
        });
        assert_eq!(value, expected);

        // The optional keys appear when set, as before.
        let txn = ["--workload", "txn-append", "--consistency", "serializable"];
        let value = serde_json::to_value(from(&txn).unwrap()).unwrap();
        assert_eq!(value["consistency"], "serializable");
        assert_eq!(value["workload"], "txn-append");
    }

    /// What config.json records of each duration reads back as the duration the run used.
    #[test]
    fn config_json_durations_round_trip() {
        use crate::duration::{millis, secs};
        let odd = [
            "--time-limit",
            "12.8",
            "--settle",
            "1.5s",
            "--op-timeout",
            "300ms",
            "--health-timeout",
            "2m",
            "--nemesis-interval",
            "4.3",
            "--fault-duration",
            "1.7s",
            "--check-time-limit",
            "90s",
        ];
        for argv in [&[][..], &odd[..]] {
            let cfg = from(argv).unwrap();
            let v = serde_json::to_value(&cfg).unwrap();
            let s = |k: &str| secs::deserialize(v[k].clone()).unwrap();
            assert_eq!(s("time_limit_s"), cfg.workload.time_limit, "{argv:?}");
            assert_eq!(s("settle_s"), cfg.workload.settle, "{argv:?}");
            assert_eq!(
                s("health_timeout_s"),
                cfg.cluster.health_timeout,
                "{argv:?}"
            );
            assert_eq!(s("nemesis_interval_s"), cfg.faults.interval, "{argv:?}");
            assert_eq!(s("fault_duration_s"), cfg.faults.duration, "{argv:?}");
            assert_eq!(s("check_time_limit_s"), cfg.check.time_limit, "{argv:?}");
            let op = millis::deserialize(v["op_timeout_ms"].clone()).unwrap();
            assert_eq!(op, cfg.workload.op_timeout, "{argv:?}");
        }
    }
}
