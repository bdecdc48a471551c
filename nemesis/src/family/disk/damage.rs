//! The damage corrupt-data does: the tail of the largest file in a node's data directory, truncated or
//! with one bit flipped.

use rand::Rng;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What corrupt-data did to a file.
#[derive(Debug)]
pub struct Damage {
    pub file: PathBuf,
    /// `truncate` or `bit-flip`.
    pub how: &'static str,
    pub offset: u64,
    pub bytes: u64,
}

impl Damage {
    /// What was done, as people say it.
    pub fn describe(&self) -> String {
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
pub const TAIL: u64 = 64;

/// Truncate or bit-flip (seeded choice) the last bytes of the largest file under `dir`.
pub fn corrupt_tail(dir: &Path, rng: &mut impl Rng) -> io::Result<Damage> {
    let file = largest_file(dir)?
        .ok_or_else(|| io::Error::other(format!("no file in {}", dir.display())))?;
    let len = std::fs::metadata(&file)?.len();
    if len < 2 {
        return Err(io::Error::other(format!(
            "{} is too small to damage",
            file.display()
        )));
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

fn largest_file(dir: &Path) -> io::Result<Option<PathBuf>> {
    let mut best: Option<(u64, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| io::Error::new(e.kind(), format!("reading {}: {e}", d.display())))?;
        for e in entries {
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
