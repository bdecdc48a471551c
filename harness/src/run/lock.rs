//! The run's lock file: `<run dir>/lock` holds the controller's pid (and start time, so a reused pid is
//! not mistaken for it) and the phase the run is in (`run`, then `check`) while the run lives; removed when
//! the run ends, whichever way it ends.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What a lock file says.
#[derive(Debug, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    /// `None` when the controller's start time could not be read when it wrote the lock.
    pub start_ticks: Option<u64>,
    pub phase: String,
}

impl LockInfo {
    /// The lock at `path`, or None if it is gone or not one of ours.
    pub fn read(path: &Path) -> Option<LockInfo> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Whether its controller still runs: the same process, not a later one that got its pid.
    pub fn alive(&self) -> bool {
        match (nemesis::start_ticks(self.pid), self.start_ticks) {
            (Some(now), Some(then)) => now == then,
            (now, None) => now.is_some(),
            (None, _) => false,
        }
    }
}

pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        let lock = RunLock {
            path: run_dir.join("lock"),
        };
        lock.set_phase("run")?;
        Ok(lock)
    }

    /// Record the phase; written whole via a rename, so a reader never sees half a file.
    pub fn set_phase(&self, phase: &str) -> Result<()> {
        let pid = std::process::id();
        let body = serde_json::json!({
            "pid": pid,
            "start_ticks": nemesis::start_ticks(pid),
            "phase": phase,
        });
        crate::store::write_atomic(&self.path, (body.to_string() + "\n").as_bytes())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
