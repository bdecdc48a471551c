//! Checks of a run's options that need more than clap's parsing: zero durations, upper bounds, what the
//! node itself would refuse, the binaries and the store. Every message names the option, so a bad run is
//! refused (254) before anything is created instead of failing later with the reason in a log.

use super::args::RunArgs;
use crate::settings::{RunConfig, SystemKind};
use std::path::Path;
use std::time::Duration;

/// The most keys the kv workload takes: every key gets a final read and its own check.
pub const MAX_KEYS: usize = 10_000;
/// The node's timer tick (`node --tick-ms`, default 5): a heartbeat shorter than it cannot be kept.
const NODE_TICK_MS: u64 = 5;

pub fn check(a: &RunArgs, cfg: &RunConfig) -> Result<(), String> {
    durations(a)?;
    if a.keys == 0 || a.keys > MAX_KEYS {
        return Err(format!(
            "--keys {} is out of range; use 1 to {MAX_KEYS}",
            a.keys
        ));
    }
    node_options(a, cfg)?;
    packets(a, cfg)?;
    binaries(cfg)?;
    store(&a.store)
}

fn durations(a: &RunArgs) -> Result<(), String> {
    for (flag, d) in [
        ("--op-timeout", a.op_timeout),
        ("--check-time-limit", a.check_time_limit),
        ("--fault-duration", a.fault_duration),
        ("--nemesis-interval", a.nemesis_interval),
    ] {
        if d.is_zero() {
            return Err(format!("{flag} must be more than 0"));
        }
    }
    if a.op_timeout < Duration::from_millis(10) {
        return Err(format!(
            "--op-timeout {:?} is too short for any request; use at least 10ms",
            a.op_timeout
        ));
    }
    Ok(())
}

/// What `node` would refuse at start-up (node/src/config.rs), said here in the harness's option names.
fn node_options(a: &RunArgs, cfg: &RunConfig) -> Result<(), String> {
    if a.lease_ms == 0 {
        return Err("--lease-ms must be more than 0".into());
    }
    if cfg.system != SystemKind::Node {
        return Ok(());
    }
    if a.heartbeat_ms < NODE_TICK_MS {
        return Err(format!(
            "--heartbeat-ms {} is shorter than the node's {NODE_TICK_MS} ms timer tick; use at least {NODE_TICK_MS}",
            a.heartbeat_ms
        ));
    }
    let leader_ms = a.lease_ms as f64 * (1.0 - a.max_drift) / (1.0 + a.max_drift);
    if matches!(cfg.mode.as_str(), "lease" | "lease-no-wait") && leader_ms <= a.heartbeat_ms as f64
    {
        return Err(format!(
            "--lease-ms {} gives the leader a {leader_ms:.0} ms lease (after the --max-drift {} margin), \
             not longer than --heartbeat-ms {}: it would never hold one; use a longer --lease-ms",
            a.lease_ms, a.max_drift, a.heartbeat_ms
        ));
    }
    Ok(())
}

fn packets(a: &RunArgs, cfg: &RunConfig) -> Result<(), String> {
    for (flag, pct) in [
        ("--packet-loss", a.packet_loss),
        ("--packet-duplicate", a.packet_duplicate),
    ] {
        if !(pct > 0.0 && pct <= 100.0) {
            return Err(format!("{flag} {pct} must be a percentage in (0, 100]"));
        }
    }
    if a.packet_delay.is_zero() {
        return Err("--packet-delay must be more than 0".into());
    }
    // With --hosts netem is the hosts' kernel's: a host without it fails the fault's landing check.
    if let Some(f) = cfg
        .faults
        .iter()
        .find(|f| f.is_packet() && cfg.hosts_file.is_none())
    {
        nemesis::netem_available().map_err(|e| format!("{} needs netem: {e}", f.name()))?;
    }
    Ok(())
}

fn binaries(cfg: &RunConfig) -> Result<(), String> {
    match cfg.system {
        SystemKind::Exec => crate::system::exec::ExecSystem::new(cfg)
            .map(drop)
            .map_err(|e| e.to_string()),
        _ => match &cfg.node_bin {
            Some(p) => executable(p),
            None => Ok(()),
        },
    }
}

fn executable(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(m) if m.is_file() => Err(format!("--node-bin {} is not executable", p.display())),
        Ok(_) => Err(format!("--node-bin {} is not a file", p.display())),
        Err(e) => Err(format!("--node-bin {}: {e}", p.display())),
    }
}

/// The store must be a directory we can write, or one we can make: checked without creating it (a probe
/// directory in the nearest existing one, removed at once), so a refused command leaves no trace.
fn store(p: &Path) -> Result<(), String> {
    let bad = |e: std::io::Error| format!("--store {} is not writable: {e}", p.display());
    let existing = p
        .ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    if !existing.is_dir() {
        return Err(format!(
            "--store {} is not writable: {} is not a directory",
            p.display(),
            existing.display()
        ));
    }
    let probe = existing.join(format!(".lh-write-test-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(bad)?;
    std::fs::remove_dir(&probe).map_err(bad)
}
