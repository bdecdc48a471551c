//! A run's options checked against each other and turned into its [`RunConfig`]; the checks that need
//! more than the options themselves follow in [`super::validate`].

use super::args::RunArgs;
use crate::settings::{
    Expect, PacketDirection, PacketScope, PacketSettings, RunConfig, SystemKind,
};
use nemesis::FaultKind;
use node::api::Replication;
use std::time::Duration;
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
        check_node_count(a, &faults)?;
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
        if cfg.replay.is_none() {
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
            consistency: a.consistency,
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
            skew_rate: super::assumptions::skew_rate(a),
            subnet: a.subnet.to_string(),
            heartbeat_ms: a.heartbeat_ms,
            election_timeout_ms: a.election_timeout_ms,
            lease_ms: a.lease_ms,
            max_drift: a.max_drift,
            lease_votes: a.lease_votes,
            check_time_limit_s: a.check_time_limit.as_secs_f64(),
            packets: packet_settings(a),
            harness_version: env!("CARGO_PKG_VERSION"),
            store: a.store.clone(),
            node_bin: a.node_bin.clone(),
            subnet_parsed: a.subnet,
            hosts: a.hosts.clone(),
            hosts_file,
            run_bound: None,
            replay,
        }
    }

    /// Every fault asked for must get a window: a run too short for them would not test what was asked.
    /// The schedule fits them all whenever the options allow it, whatever the seed.
    fn check_schedule(&self) -> Result<(), String> {
        let interval = Duration::from_secs_f64(self.nemesis_interval_s);
        let duration = Duration::from_secs_f64(self.fault_duration_s);
        let needed = nemesis::min_time_limit(self.faults.len(), interval, duration);
        if self.time_limit() > needed {
            return Ok(());
        }
        let windows = self.schedule();
        let missing: Vec<&str> = self
            .faults
            .iter()
            .filter(|f| !windows.iter().any(|w| w.kind == **f))
            .map(|f| f.name())
            .collect();
        Err(format!(
            "--time-limit {}s is too short for {} fault(s) of {}s with --nemesis-interval {}s between them \
             (at its lowest jitter, 0.8): it needs more than {:.1}s, so {} would never run; give a longer \
             --time-limit or a shorter --nemesis-interval / --fault-duration",
            self.time_limit_s,
            self.faults.len(),
            self.fault_duration_s,
            self.nemesis_interval_s,
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

/// The faults `--nemesis` names. In a cluster of 3 or fewer every node is every other's neighbour: a ring
/// is no partition (dropped from `all`, refused when named).
fn faults_of(a: &RunArgs) -> Result<Vec<FaultKind>, String> {
    let mut faults = nemesis::parse_nemeses(&a.nemesis).map_err(|e| e.to_string())?;
    if a.nodes <= 3 && faults.contains(&FaultKind::PartitionRing) {
        if a.nemesis.split(',').any(|n| n.trim() == "all") {
            faults.retain(|f| *f != FaultKind::PartitionRing);
        } else {
            return Err("partition-ring needs at least 4 nodes (--nodes 4 or more)".into());
        }
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

/// The partition faults that need more than one or two nodes.
fn check_node_count(a: &RunArgs, faults: &[FaultKind]) -> Result<(), String> {
    let needs_leader = faults.iter().any(|f| {
        matches!(
            f,
            FaultKind::PartitionFollower | FaultKind::PartitionHalves | FaultKind::PartitionRing
        )
    });
    if faults.contains(&FaultKind::PartitionRandom) && a.nodes < 2 {
        return Err("partition-random needs at least 2 nodes".into());
    }
    if needs_leader && a.nodes < 3 {
        return Err("partition faults other than partition-leader need at least 3 nodes".into());
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
    if !a.system.has_clock_hook() && faults.contains(&FaultKind::ClockSkew) {
        return Err(format!(
            "clock-skew needs a system whose clock the harness can skew through \
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
    if faults.contains(&FaultKind::CorruptData) {
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

    /// Whether the faults fit depends on the options, not the seed (it was refused for seed 12 and
    /// accepted for seed 11).
    #[test]
    fn the_schedule_refusal_does_not_depend_on_the_seed() {
        for seed in 0..200 {
            let s = seed.to_string();
            let two = ["--nemesis", "partition-leader,kill-leader", "--seed", &s];
            let cfg = from(&[&two[..], &["--time-limit", "15"]].concat()).unwrap();
            for f in &cfg.faults {
                assert!(cfg.schedule().iter().any(|w| w.kind == *f), "seed {seed}");
            }
            // 2 s warm-up + 3 s + 4.8 s + 3 s = 12.8 s: refused at it, for every seed.
            let err = from(&[&two[..], &["--time-limit", "12.8"]].concat()).unwrap_err();
            assert!(err.contains("needs more than 12.8s"), "{err}");
        }
    }
}
