//! The run store: `store/<test-name>/<timestamp>/` with config, history, results, summary and node dirs;
//! `store/latest` points at the newest run.

use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    /// Create a fresh run directory and point `<store>/latest` at it.
    pub fn create(store: &Path, name: &str) -> Result<RunDir> {
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
        let root = store.join(name).join(&stamp);
        fs::create_dir_all(&root)
            .with_context(|| format!("creating run directory {}", root.display()))?;
        let latest = store.join("latest");
        let target = Path::new(name).join(&stamp);
        // Replace the link atomically: make a new one beside it, then rename over.
        let tmp = store.join(format!(".latest.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp).context("creating store/latest link")?;
        fs::rename(&tmp, &latest).context("updating store/latest link")?;
        Ok(RunDir { root })
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.root.join(file)
    }

    pub fn node_dir(&self, node: &str) -> Result<PathBuf> {
        let dir = self.root.join("nodes").join(node);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// `config.json`: every option, and the run id that names the run's kernel objects (`lh<id>...`,
    /// `/run/lh/lh<id>.json`), so what a run created can be told from other runs' on the same machine.
    pub fn write_config<T: Serialize>(&self, cfg: &T, run_id: &str) -> Result<()> {
        let mut value = serde_json::to_value(cfg)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("run_id".into(), run_id.into());
        }
        self.write_json("config.json", &value)
    }

    pub fn write_json<T: Serialize>(&self, file: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.write_text(file, &(text + "\n"))
    }

    /// Write via a temporary file and rename, so a crash never leaves a half-written file.
    pub fn write_text(&self, file: &str, text: &str) -> Result<()> {
        write_atomic(&self.path(file), text.as_bytes())
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_data()?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_points_at_the_newest_run() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunDir::create(dir.path(), "t").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = RunDir::create(dir.path(), "t").unwrap();
        assert_ne!(a.root, b.root);
        let latest = fs::canonicalize(dir.path().join("latest")).unwrap();
        assert_eq!(latest, fs::canonicalize(&b.root).unwrap());
        b.write_json("x.json", &serde_json::json!({"a": 1}))
            .unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(b.path("x.json")).unwrap()).unwrap();
        assert_eq!(back["a"], 1);
        assert!(!b.path("x.tmp").exists());
    }
}
