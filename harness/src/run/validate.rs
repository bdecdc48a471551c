//! Checks of a run's options that need more than their bounds ([`super::bounds`]): what the node itself
//! would refuse, the packet faults' tools, the binaries and the store. Every message names the option, so a bad run is
//! refused (254) before anything is created instead of failing later with the reason in a log.

use super::args::RunArgs;
use crate::settings::{RunConfig, SystemKind};
use std::path::Path;

pub fn check(a: &RunArgs, cfg: &RunConfig) -> Result<(), String> {
    node_options(a, cfg)?;
    packets(cfg)?;
    binaries(cfg)?;
    store(&a.store)
}

/// What `node` would refuse at start-up (node/src/config.rs), said here in the harness's option names.
fn node_options(a: &RunArgs, cfg: &RunConfig) -> Result<(), String> {
    if cfg.cluster.system != SystemKind::Node {
        return Ok(());
    }
    let leader_ms = a.lease_ms as f64 * (1.0 - a.max_drift) / (1.0 + a.max_drift);
    if matches!(cfg.cluster.mode.as_str(), "lease" | "lease-no-wait")
        && leader_ms <= a.heartbeat_ms as f64
    {
        return Err(format!(
            "--lease-ms {} gives the leader a {leader_ms:.0} ms lease (after the --max-drift {} margin), \
             not longer than --heartbeat-ms {}: it would never hold one; use a longer --lease-ms",
            a.lease_ms, a.max_drift, a.heartbeat_ms
        ));
    }
    Ok(())
}

fn packets(cfg: &RunConfig) -> Result<(), String> {
    // With --hosts the tools are the hosts' (checked by their preflight when the run starts).
    let Some(f) = cfg.faults.kinds.iter().find(|f| f.is_packet()) else {
        return Ok(());
    };
    if cfg.cluster.hosts_file.is_some() {
        let dup = cfg
            .faults
            .kinds
            .contains(&nemesis::family::packet::DUPLICATE);
        if dup && cfg.faults.packets.aim().both_ways {
            return Err(
                "packet-duplicate on --hosts copies only what a node sends (a host cannot copy what it \
                 receives): drop --packet-direction both"
                    .into(),
            );
        }
        return Ok(());
    }
    // In namespaces: nftables for loss and duplication, iptables (NFQUEUE) for delay; no netem needed.
    for tool in ["nft", "iptables"] {
        nemesis::tool_available(tool).map_err(|e| format!("{} needs {tool}: {e}", f.name()))?;
    }
    Ok(())
}

fn binaries(cfg: &RunConfig) -> Result<(), String> {
    match cfg.cluster.system {
        SystemKind::Exec => crate::system::exec::ExecSystem::new(cfg)
            .map(drop)
            .map_err(|e| e.to_string()),
        _ => match &cfg.cluster.node_bin {
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
