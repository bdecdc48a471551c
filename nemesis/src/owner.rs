//! Owner markers: `/run/lh/<prefix>.json` names the controller (pid and process start time) of a live
//! network and lists its namespaces, so `harness clean` can tell a crashed run's leftovers from a network
//! another run is still using. Also a process-wide registry of the namespaces this process created, for
//! the emergency teardown on exit paths that cannot unwind.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::netns::{ip, kill_pids, netns_exists, netns_pids};
use crate::Error;

/// Where owner markers live (beside `/run/netns`, on the same tmpfs: gone after a reboot, as namespaces are).
pub const OWNER_DIR: &str = "/run/lh";

/// Who owns a network: written before its first namespace exists, removed after its last is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The controller's pid.
    pub pid: u32,
    /// Its start time (field 22 of `/proc/<pid>/stat`), so a reused pid does not look like the owner.
    pub start_ticks: u64,
    /// Every namespace of the network.
    pub namespaces: Vec<String>,
}

impl Owner {
    /// This process as the owner of `namespaces`.
    pub fn me(namespaces: Vec<String>) -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            namespaces,
        }
    }

    /// Whether the controller is still running (the same process, not a later one with its pid).
    pub fn alive(&self) -> bool {
        start_ticks(self.pid).is_some_and(|t| t == self.start_ticks)
    }
}

/// A process's start time in clock ticks since boot, or `None` if it is gone (zombies count as gone).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); field 22 is starttime.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn marker_path(prefix: &str) -> PathBuf {
    Path::new(OWNER_DIR).join(format!("{prefix}.json"))
}

/// Writes the marker for a network about to be built; fails if one exists (a run with the same id).
pub(crate) fn write_marker(prefix: &str, owner: &Owner) -> Result<(), Error> {
    std::fs::create_dir_all(OWNER_DIR)
        .map_err(|e| Error::io(format!("creating {OWNER_DIR}"), e))?;
    let path = marker_path(prefix);
    let text = serde_json::to_vec(owner).expect("owner serializes");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(format!("creating owner marker {}", path.display()), e))?;
    std::io::Write::write_all(&mut f, &text)
        .map_err(|e| Error::io(format!("writing owner marker {}", path.display()), e))
}

/// Removes a network's marker (once none of its namespaces is left).
pub(crate) fn remove_marker(prefix: &str) {
    let path = marker_path(prefix);
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "removing owner marker");
        }
    }
}

/// Every marker: (network prefix, owner). Unreadable markers are skipped with a warning.
pub fn read_markers() -> Vec<(String, Owner)> {
    let Ok(entries) = std::fs::read_dir(OWNER_DIR) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(prefix) = name.strip_suffix(".json") else {
            continue;
        };
        if !prefix.starts_with(crate::PREFIX) {
            continue;
        }
        match std::fs::read(e.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Owner>(&b).ok())
        {
            Some(o) => out.push((prefix.to_string(), o)),
            None => tracing::warn!(path = %e.path().display(), "unreadable owner marker"),
        }
    }
    out
}

/// Removes the marker of `prefix` if none of its namespaces exists any more.
pub(crate) fn remove_marker_if_empty(prefix: &str, owner: &Owner) {
    if owner.namespaces.iter().all(|ns| !netns_exists(ns)) {
        remove_marker(prefix);
    }
}

/// Namespaces created by this process and not yet deleted, by network prefix.
static LIVE: Mutex<Vec<(String, Vec<String>)>> = Mutex::new(Vec::new());

pub(crate) fn register(prefix: &str, namespaces: Vec<String>) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.retain(|(p, _)| p != prefix);
    live.push((prefix.to_string(), namespaces));
}

pub(crate) fn unregister(prefix: &str) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(p, _)| p != prefix);
}

/// Last resort before this process exits without unwinding (a thread that cannot enter its namespace, a
/// signal during the check): kill what runs in every namespace this process created, delete them and
/// their markers. Returns the namespaces deleted.
pub fn emergency_teardown() -> Vec<String> {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    let mut deleted = Vec::new();
    for (prefix, namespaces) in live {
        for ns in namespaces.iter().rev().filter(|ns| netns_exists(ns)) {
            if let Ok(pids) = netns_pids(ns) {
                kill_pids(&pids);
            }
            if ip(&["netns", "del", ns]).is_ok() {
                deleted.push(ns.clone());
            }
        }
        if namespaces.iter().all(|ns| !netns_exists(ns)) {
            remove_marker(&prefix);
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = Owner::me(vec![]);
        assert!(me.start_ticks > 0);
        assert!(me.alive());
        let reused = Owner {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(!reused.alive(), "same pid, other process");
        let gone = Owner {
            pid: u32::MAX - 1,
            ..me
        };
        assert!(!gone.alive());
    }
}
