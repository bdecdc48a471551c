//! Process faults: kill (one node or all), pause and corrupt-data (a kill, then damage to the node's
//! data); undone by restarting or resuming. Landing is checked from the process states.

use super::landing::ProcState::{Down, Paused, Running};
use super::{FaultRecord, FaultRunner, Undo};
use anyhow::{bail, Context, Result};
use nemesis::family::{disk, process};
use nemesis::FaultKind;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

impl FaultRunner<'_> {
    /// kill-leader and kill-random: SIGKILL one node.
    pub(super) fn kill_one(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let target = match kind {
            FaultKind::KillLeader => leader.unwrap().to_string(),
            _ => nodes.choose(&mut self.rng).unwrap().clone(),
        };
        self.cluster.kill(&target)?;
        self.check_processes(kind.name(), std::slice::from_ref(&target), Down);
        let role = if Some(target.as_str()) == leader {
            "leader"
        } else {
            "follower"
        };
        rec.targets = vec![target.clone()];
        rec.detail = format!("SIGKILL {target} ({role})");
        self.event(
            process::KILL,
            json!({"nodes": [target], "role": role, "term": rec.term}),
        );
        Ok(Undo::Restart(target))
    }

    pub(super) fn pause_leader(
        &mut self,
        kind: FaultKind,
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let target = leader.unwrap().to_string();
        self.cluster.pause(&target)?;
        self.check_processes(kind.name(), std::slice::from_ref(&target), Paused);
        rec.targets = vec![target.clone()];
        rec.detail = format!("SIGSTOP {target} (leader)");
        self.event(
            process::PAUSE,
            json!({"nodes": [target], "role": "leader", "term": rec.term}),
        );
        Ok(Undo::Resume(target))
    }

    pub(super) fn pause_random(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let random = nodes.choose(&mut self.rng).context("no nodes")?.clone();
        self.cluster.pause(&random)?;
        rec.targets = vec![random.clone()];
        rec.detail = format!("SIGSTOP {random}");
        self.event(process::PAUSE, json!({"nodes": [&random], "role": "any"}));
        self.check_processes(kind.name(), &rec.targets, Paused);
        Ok(Undo::Resume(random))
    }

    pub(super) fn kill_all(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        // Drawn though unused, so that the targets later faults draw from the seed stay what they were.
        nodes.choose(&mut self.rng).context("no nodes")?;
        for n in nodes {
            self.cluster.kill(n)?;
        }
        rec.targets = nodes.to_vec();
        rec.detail = format!("SIGKILL {}", nodes.join(" "));
        self.event(process::KILL, json!({"nodes": nodes, "role": "all"}));
        self.check_processes(kind.name(), nodes, Down);
        Ok(Undo::RestartAll(nodes.to_vec()))
    }

    /// SIGKILL a random node, then damage the tail of its largest data file; restarted when undone.
    pub(super) fn corrupt_data(
        &mut self,
        kind: FaultKind,
        nodes: &[String],
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let random = nodes.choose(&mut self.rng).context("no nodes")?.clone();
        self.cluster.kill(&random)?;
        self.check_processes(kind.name(), std::slice::from_ref(&random), Down);
        let dir = self.cluster.data_dir(&random).context("no data dir")?;
        let damage = corrupt_tail(&dir, &mut self.rng)
            .with_context(|| format!("corrupting {random}'s data in {}", dir.display()))?;
        rec.targets = vec![random.clone()];
        rec.detail = format!("SIGKILL {random}, then {}", damage.describe());
        self.event(
            disk::CORRUPT,
            json!({"nodes": [&random], "file": damage.file, "how": damage.how, "offset": damage.offset, "bytes": damage.bytes}),
        );
        Ok(Undo::Restart(random))
    }

    /// Undo [`Undo::Restart`].
    pub(super) fn restart(&mut self, node: String) -> Result<()> {
        self.cluster.restart(&node)?;
        self.event(process::RESTART, json!({"nodes": [&node]}));
        self.check_processes(process::RESTART, &[node], Running);
        Ok(())
    }

    /// Where the system needs it ([`FaultRunner::rejoin_wait`]), waits until the restarted `nodes` serve
    /// again (they answer and are not still joining), so the next fault does not take away the member a
    /// joiner copies its state from (a Galera joiner then aborts). Recorded as `rejoined` with the wait,
    /// or `rejoin-timeout`; a member that never rejoins is caught by the recovery check after the run.
    pub(super) async fn await_rejoin(&mut self, nodes: &[String]) {
        let Some(wait) = self.rejoin_wait else {
            return;
        };
        let start = std::time::Instant::now();
        loop {
            let statuses = self.probe.statuses().await;
            let serving = |n: &String| {
                statuses.iter().any(|(name, s)| {
                    name == n
                        && s.as_ref().is_some_and(|s| {
                            matches!(s.role, node::api::Role::Follower | node::api::Role::Leader)
                        })
                })
            };
            if nodes.iter().all(serving) {
                let after_s = start.elapsed().as_secs_f64();
                self.event("rejoined", json!({"nodes": nodes, "after_s": after_s}));
                return;
            }
            if start.elapsed() >= wait {
                self.event(
                    "rejoin-timeout",
                    json!({"nodes": nodes, "wait_s": wait.as_secs_f64()}),
                );
                tracing::warn!("{nodes:?} did not serve again within {wait:?} of the restart");
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Undo [`Undo::RestartAll`].
    pub(super) fn restart_all(&mut self, nodes: Vec<String>) -> Result<()> {
        for n in &nodes {
            self.cluster.restart(n)?;
        }
        self.event(process::RESTART, json!({"nodes": &nodes}));
        self.check_processes(process::RESTART, &nodes, Running);
        Ok(())
    }

    /// Undo [`Undo::Resume`].
    pub(super) fn resume(&mut self, node: String) -> Result<()> {
        self.cluster.resume(&node)?;
        self.event(process::RESUME, json!({"nodes": [&node]}));
        self.check_processes(process::RESUME, &[node], Running);
        Ok(())
    }
}

/// What corrupt-data did to a file.
#[derive(Debug)]
struct Damage {
    file: PathBuf,
    how: &'static str,
    offset: u64,
    bytes: u64,
}

impl Damage {
    fn describe(&self) -> String {
        match self.how {
            "truncate" => format!(
                "cut the last {} bytes of {}",
                self.bytes,
                self.file.display()
            ),
            _ => format!(
                "flipped a bit at byte {} of {}",
                self.offset,
                self.file.display()
            ),
        }
    }
}

/// The tail this fault touches: the last records of a write-ahead log, the writes most recently acknowledged.
const TAIL: u64 = 64;

/// Truncate or bit-flip (seeded choice) the last bytes of the largest file under `dir`.
fn corrupt_tail(dir: &Path, rng: &mut impl Rng) -> Result<Damage> {
    let file = largest_file(dir)?.with_context(|| format!("no file in {}", dir.display()))?;
    let len = std::fs::metadata(&file)?.len();
    if len < 2 {
        bail!("{} is too small to damage", file.display());
    }
    let span = TAIL.min(len - 1);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&file)?;
    let damage = if rng.gen_bool(0.5) {
        let cut = rng.gen_range(1..=span);
        f.set_len(len - cut)?;
        Damage {
            file,
            how: "truncate",
            offset: len - cut,
            bytes: cut,
        }
    } else {
        let offset = len - rng.gen_range(1..=span);
        let mut b = [0u8];
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut b)?;
        b[0] ^= 1 << rng.gen_range(0..8);
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(&b)?;
        Damage {
            file,
            how: "bit-flip",
            offset,
            bytes: 1,
        }
    };
    f.sync_all()?;
    Ok(damage)
}

fn largest_file(dir: &Path) -> Result<Option<PathBuf>> {
    let mut best: Option<(u64, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() && best.as_ref().is_none_or(|(l, _)| meta.len() > *l) {
                best = Some((meta.len(), e.path()));
            }
        }
    }
    Ok(best.map(|(_, p)| p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn corrupts_only_the_tail_of_the_largest_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small"), b"abc").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let big = dir.path().join("sub").join("wal.log");
        let original: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        std::fs::write(&big, &original).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            std::fs::write(&big, &original).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let d = corrupt_tail(dir.path(), &mut rng).unwrap();
            assert_eq!(d.file, big);
            let now = std::fs::read(&big).unwrap();
            assert_eq!(
                now[..936],
                original[..936],
                "only the last {TAIL} bytes change"
            );
            assert_ne!(now, original);
            if d.how == "truncate" {
                assert_eq!(now.len() as u64, 1000 - d.bytes);
            } else {
                assert_eq!(now.len(), 1000);
                let diff: u32 = now
                    .iter()
                    .zip(&original)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum();
                assert_eq!(diff, 1, "one bit flipped");
            }
            seen.insert(d.how);
        }
        assert_eq!(seen.len(), 2, "both kinds of damage are drawn");
        assert_eq!(std::fs::read(dir.path().join("small")).unwrap(), b"abc");
    }
}
