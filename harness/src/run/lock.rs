//! The run's lock file: `<run dir>/lock` holds the controller's pid (and start time, so a reused pid is
//! not mistaken for it) and the phase the run is in (`run`, then `check`) while the run lives; removed when
//! the run ends, whichever way it ends.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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
