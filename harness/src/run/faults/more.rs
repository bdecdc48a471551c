//! The faults beyond partitions, single kills and pauses: pause-random, kill-all, corrupt-data and the
//! packet faults. Each is verified to have landed ([`super::landing`]) when applied and when undone.

use super::landing::ProcState;
use super::{FaultRecord, FaultRunner, Undo};
use crate::settings::PacketTarget;
use anyhow::{bail, Context, Result};
use nemesis::{FaultKind, PacketFault};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Faults aimed at any node (or all), so no leader is needed to aim them.
pub fn any_node(kind: FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::PauseRandom | FaultKind::KillAll | FaultKind::CorruptData
    ) || kind.is_packet()
}

/// A packet fault as people say it (`delay 200ms ± 50ms`, `loss 30%`).
fn describe(f: &PacketFault) -> String {
    match f {
        PacketFault::Delay {
            delay_ms,
            jitter_ms,
        } => format!("delay {delay_ms}ms ± {jitter_ms}ms"),
        PacketFault::Loss { pct } => format!("loss {pct}%"),
        PacketFault::Duplicate { pct } => format!("duplicate {pct}%"),
    }
}

impl FaultRunner<'_> {
    /// The packet fault `kind` with the run's `--packet-*` settings.
    fn packet_fault(&self, kind: FaultKind) -> PacketFault {
        let s = &self.packets;
        match kind {
            FaultKind::PacketDelay => PacketFault::Delay {
                delay_ms: s.delay_ms,
                jitter_ms: s.jitter_ms,
            },
            FaultKind::PacketLoss => PacketFault::Loss { pct: s.loss_pct },
            _ => PacketFault::Duplicate {
                pct: s.duplicate_pct,
            },
        }
    }

    /// The node whose sent packets the fault hits (`--packet-target`); sets the record's role.
    fn packet_target(
        &mut self,
        nodes: &[String],
        leader: Option<&str>,
        random: String,
        rec: &mut FaultRecord,
    ) -> Result<String> {
        let target = match (self.packets.target, leader) {
            (PacketTarget::Random, _) => random,
            (_, None) => bail!("no leader found to aim --packet-target at"),
            (PacketTarget::Leader, Some(l)) => l.to_string(),
            (PacketTarget::Follower, Some(l)) => nodes
                .iter()
                .filter(|n| n.as_str() != l)
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .map(|n| n.to_string())
                .context("no follower to aim at")?,
        };
        rec.role = match leader {
            Some(l) if l == target => "leader",
            Some(_) => "follower",
            None => "any",
        }
        .into();
        Ok(target)
    }

    pub(super) async fn apply_more(
        &mut self,
        kind: FaultKind,
        leader: Option<&str>,
        rec: &mut FaultRecord,
    ) -> Result<Undo> {
        let nodes = self.cluster.names();
        let random = nodes.choose(&mut self.rng).context("no nodes")?.clone();
        match kind {
            FaultKind::PauseRandom => {
                self.cluster.pause(&random)?;
                rec.targets = vec![random.clone()];
                rec.detail = format!("SIGSTOP {random}");
                self.event("pause", json!({"nodes": [&random], "role": "any"}));
                self.check_processes(kind.name(), &rec.targets, ProcState::Paused);
                Ok(Undo::Resume(random))
            }
            FaultKind::KillAll => {
                for n in &nodes {
                    self.cluster.kill(n)?;
                }
                rec.targets = nodes.clone();
                rec.detail = format!("SIGKILL {}", nodes.join(" "));
                self.event("kill", json!({"nodes": &nodes, "role": "all"}));
                self.check_processes(kind.name(), &nodes, ProcState::Down);
                Ok(Undo::RestartAll(nodes))
            }
            FaultKind::CorruptData => {
                self.cluster.kill(&random)?;
                self.check_processes(kind.name(), std::slice::from_ref(&random), ProcState::Down);
                let dir = self.cluster.data_dir(&random).context("no data dir")?;
                let damage = corrupt_tail(&dir, &mut self.rng)
                    .with_context(|| format!("corrupting {random}'s data in {}", dir.display()))?;
                rec.targets = vec![random.clone()];
                rec.detail = format!("SIGKILL {random}, then {}", damage.describe());
                self.event(
                    "corrupt",
                    json!({"nodes": [&random], "file": damage.file, "how": damage.how, "offset": damage.offset, "bytes": damage.bytes}),
                );
                Ok(Undo::Restart(random))
            }
            k if k.is_packet() => {
                let fault = self.packet_fault(k);
                let random = self.packet_target(&nodes, leader, random, rec)?;
                let aim = self.packets.aim();
                let how = self.net.shape(&random, &fault, aim)?;
                rec.targets = vec![random.clone()];
                rec.detail = format!("{} on what {random} sends ({how})", describe(&fault));
                self.event(
                    "start-packet-fault",
                    json!({"fault": k.name(), "nodes": [&random], "role": rec.role, "term": rec.term, "spec": fault, "aim": aim, "mechanism": how}),
                );
                self.check_packets(k.name(), &random, &fault, true);
                Ok(Undo::Unshape(random, fault))
            }
            other => bail!("{} is not a fault this harness applies", other.name()),
        }
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
