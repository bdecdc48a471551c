//! Stale lock files: a run killed with SIGKILL (or a machine that lost power) leaves `<run dir>/lock`
//! saying the run is live. `harness clean` removes the locks whose controller is gone; a live run's lock is
//! never touched, `--force` or not (the run removes it itself when it ends).

use crate::run::lock::LockInfo;
use std::fmt;
use std::path::{Path, PathBuf};

/// What the sweep of one store found.
#[derive(Debug, Default)]
pub struct LockSweep {
    /// Removed: (lock path, its controller's pid, the phase it named).
    pub removed: Vec<(PathBuf, u32, String)>,
    /// Left alone: the lock of a run whose controller still runs.
    pub live: Vec<(PathBuf, u32)>,
    /// Could not be read as a lock, or not removed: (path, why).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Removes the lock files of dead controllers in `store` (its runs, and the runs inside compares).
pub fn sweep(store: &Path) -> LockSweep {
    let mut out = LockSweep::default();
    for dir in run_dirs(store) {
        let path = dir.join("lock");
        if !path.is_file() {
            continue;
        }
        let Some(info) = LockInfo::read(&path) else {
            out.skipped
                .push((path, "not a lock file of ours; left as it is".into()));
            continue;
        };
        if info.alive() {
            out.live.push((path, info.pid));
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => out.removed.push((path, info.pid, info.phase)),
            Err(e) => out.skipped.push((path, format!("removing it failed: {e}"))),
        }
    }
    out
}

/// Run directories: `<store>/<test>/<timestamp>/`, and a compare's `<timestamp>/runs/` in turn holds a
/// store of its own. Links (`latest`) are not followed: they point at a directory listed anyway.
fn run_dirs(store: &Path) -> Vec<PathBuf> {
    let subdirs = |d: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(d) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect()
    };
    let mut out = Vec::new();
    for test in subdirs(store) {
        for run in subdirs(&test) {
            let runs = run.join("runs");
            if runs.is_dir() {
                out.extend(run_dirs(&runs));
            }
            out.push(run);
        }
    }
    out
}

impl fmt::Display for LockSweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        for (path, pid, phase) in &self.removed {
            lines.push(format!(
                "removed stale lock: {} (controller pid {pid} is gone; it said \"{phase}\")",
                path.display()
            ));
        }
        for (path, pid) in &self.live {
            lines.push(format!(
                "kept the lock of a live run: {} (controller pid {pid} is still running)",
                path.display()
            ));
        }
        for (path, why) in &self.skipped {
            lines.push(format!("skipped: {}: {why}", path.display()));
        }
        if lines.is_empty() {
            lines.push("no stale lock files".into());
        }
        write!(f, "{}", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_include_compare_runs_and_skip_latest() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        for d in ["t/1", "compare/2/runs/cell/3", "compare/2/runs/cell/4"] {
            std::fs::create_dir_all(s.join(d)).unwrap();
        }
        std::os::unix::fs::symlink("t/1", s.join("latest")).unwrap();
        let mut found: Vec<String> = run_dirs(s)
            .iter()
            .map(|p| p.strip_prefix(s).unwrap().display().to_string())
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                "compare/2",
                "compare/2/runs/cell/3",
                "compare/2/runs/cell/4",
                "t/1"
            ]
        );
    }
}
