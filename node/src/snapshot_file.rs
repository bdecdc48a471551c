//! The durable snapshot, `DIR/snapshot.bin`: an 8-byte magic, `[len u64 LE][crc32 u32 LE]`, then the JSON of
//! a [`Snapshot`]. Written whole to a temporary file, fsynced, renamed over the old one, and the directory
//! fsynced: a crash at any point leaves either the old snapshot or the new one, never a mix.

use crate::raft::Snapshot;
use crate::storage_error::{io_err, sync_dir, StorageError};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"LHSNAP01";
const HEADER_LEN: usize = 8 + 8 + 4;
pub const SNAPSHOT_FILE: &str = "snapshot.bin";
const TMP_FILE: &str = "snapshot.bin.tmp";

/// Write `snapshot` durably, replacing the previous one.
pub fn save(dir: &Path, snapshot: &Snapshot) -> Result<(), StorageError> {
    // Serializing plain data into a Vec cannot fail.
    let payload = serde_json::to_vec(snapshot).expect("serialize snapshot");
    let tmp = dir.join(TMP_FILE);
    let path = dir.join(SNAPSHOT_FILE);
    {
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        header.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        f.write_all(&header).map_err(io_err("write", &tmp))?;
        f.write_all(&payload).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))?;
    sync_dir(dir)
}

/// The snapshot in `dir`, if there is one. A damaged snapshot is an error (it was fsynced before the log
/// before it was dropped, so nothing could replace it); a leftover temporary file is removed.
pub fn load(dir: &Path) -> Result<Option<Snapshot>, StorageError> {
    let tmp = dir.join(TMP_FILE);
    if tmp.exists() {
        fs::remove_file(&tmp).map_err(io_err("remove leftover", &tmp))?;
    }
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    let corrupt = |detail: &str| StorageError::Inconsistent {
        path: path.clone(),
        offset: 0,
        detail: format!(
            "snapshot {detail}; refusing to start (see the README, \"A node refuses to start\")"
        ),
    };
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(corrupt("header is not a node snapshot's"));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let payload = &bytes[HEADER_LEN..];
    if payload.len() != len || crc32fast::hash(payload) != crc {
        return Err(corrupt("is cut short or fails its checksum"));
    }
    serde_json::from_slice(payload)
        .map(Some)
        .map_err(|e| corrupt(&format!("does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{Command, KvState};

    fn snapshot(index: u64) -> Snapshot {
        let mut state = KvState::default();
        let _ = state.apply_command(&Command::Put {
            key: "a".into(),
            value: index as i64,
        });
        Snapshot {
            last_index: index,
            last_term: 2,
            state,
        }
    }

    #[test]
    fn saved_snapshots_load_back_and_damage_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(load(tmp.path()).unwrap(), None);
        save(tmp.path(), &snapshot(5)).unwrap();
        save(tmp.path(), &snapshot(9)).unwrap();
        assert_eq!(load(tmp.path()).unwrap(), Some(snapshot(9)));
        // A crash while writing the next one leaves only a temporary file: ignored and removed.
        fs::write(tmp.path().join(TMP_FILE), b"LHSNAP01 half").unwrap();
        assert_eq!(load(tmp.path()).unwrap(), Some(snapshot(9)));
        assert!(!tmp.path().join(TMP_FILE).exists());
        let path = tmp.path().join(SNAPSHOT_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let err = load(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("snapshot.bin") && err.contains("checksum"),
            "{err}"
        );
    }
}
