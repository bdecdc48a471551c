//! Durable Raft state: term, vote and log in one write-ahead file, `DIR/wal.log`.
//!
//! Layout: an 8-byte magic header, then records `[len u32 LE][crc32 u32 LE][payload]`, where the payload is
//! the JSON of a [`Record`]. Replay applies records in order to rebuild [`Restored`]. A record that is cut
//! short or fails its checksum ends replay. If nothing intact follows it, it is a torn write from a crash:
//! the file is truncated there (with a `warn!`), never read. If intact records follow it, fsynced records
//! were damaged: opening fails with [`StorageError::Corrupt`] naming the file and offset, and the file is
//! left untouched. Every [`Wal::persist`] ends with an fsync, so anything acknowledged after it
//! survives `kill -9`.

use crate::raft::{Entry, HardState, Restored, Snapshot, SnapshotWrite};
use crate::snapshot_file;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// Identifies our file format; a file starting with anything else is not touched.
const MAGIC: &[u8; 8] = b"LHWAL001";
const HEADER_LEN: usize = 8;
/// `[len][crc]` before each payload.
const FRAME_LEN: usize = 8;
/// A length beyond this cannot be one of ours: treat it as corruption rather than try to allocate it.
const MAX_RECORD: usize = 256 << 20;

pub const WAL_FILE: &str = "wal.log";

pub use crate::storage_error::StorageError;
use crate::storage_error::{io_err, sync_dir};

/// One WAL record. Serialized by reference on write (no clones of entries) and owned on replay.
#[derive(Serialize)]
enum RecordRef<'a> {
    /// First record of a compacted WAL: the log continues after (`index`, `term`), which the snapshot covers.
    Base {
        index: u64,
        term: u64,
    },
    HardState(&'a HardState),
    TruncateFrom(u64),
    Entries(&'a [Entry]),
}

#[derive(Deserialize)]
enum Record {
    Base { index: u64, term: u64 },
    HardState(HardState),
    TruncateFrom(u64),
    Entries(Vec<Entry>),
}

/// What replay found, beyond the restored state: for logging and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub records: usize,
    /// Bytes cut off the end because they were torn or corrupt.
    pub truncated_bytes: u64,
}

/// The open write-ahead log. Owned by the driver thread; all calls block.
pub struct Wal {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    /// Index of the last entry in the log as written, to refuse gaps.
    last_index: u64,
    /// Reused encode buffer (group commit writes one buffer per `persist`).
    buf: Vec<u8>,
    /// Held for the life of the Wal: an flock on the data dir's lock file.
    _lock: File,
}

impl Wal {
    /// Open (or create) the WAL in `dir`, replay it, and return it with the restored state.
    pub fn open(dir: &Path) -> Result<(Wal, Restored, ReplayReport), StorageError> {
        fs::create_dir_all(dir).map_err(io_err("create data dir", dir))?;
        let lock = lock_dir(dir)?;
        let path = dir.join(WAL_FILE);
        if !path.exists() {
            create_empty(dir, &path)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_err("read", &path))?;

        if bytes.len() < HEADER_LEN && MAGIC.starts_with(&bytes) {
            // A cut-short header holds no records: start an empty log (create_empty itself never leaves
            // one, as it renames only after the fsync).
            drop(file);
            create_empty(dir, &path)?;
            return Wal::open_fresh(path, lock);
        }
        if bytes.len() < HEADER_LEN || &bytes[..HEADER_LEN] != MAGIC {
            return Err(StorageError::NotAWal { path });
        }

        let (replayed, report, good_len) = replay(&path, &bytes)?;
        if report.truncated_bytes > 0 {
            warn!(
                path = %path.display(),
                valid_bytes = good_len,
                dropped_bytes = report.truncated_bytes,
                "write-ahead log has a torn or corrupt tail; truncating it"
            );
            file.set_len(good_len)
                .map_err(io_err("truncate torn tail of", &path))?;
            file.sync_all().map_err(io_err("fsync", &path))?;
        }
        let snapshot = snapshot_file::load(dir)?;
        let base = replayed.base;
        let restored = merge(&path, snapshot, replayed)?;
        let snap_index = restored.snapshot.as_ref().map_or(0, |s| s.last_index);
        info!(
            path = %path.display(),
            records = report.records,
            snapshot_index = snap_index,
            entries = restored.entries.len(),
            term = restored.hard_state.term,
            voted_for = restored.hard_state.voted_for.as_deref().unwrap_or("none"),
            "replayed snapshot and write-ahead log"
        );
        let last_index = restored.entries.last().map_or(snap_index, |e| e.index);
        let mut wal = Wal {
            file,
            path,
            dir: dir.to_path_buf(),
            last_index,
            buf: Vec::with_capacity(64 << 10),
            _lock: lock,
        };
        if let Some(s) = restored
            .snapshot
            .as_ref()
            .filter(|s| s.last_index != base.0)
        {
            // A crash between writing the snapshot and compacting the WAL: finish the compaction now, so
            // appends continue right after the snapshot.
            wal.rewrite(
                &restored.hard_state,
                (s.last_index, s.last_term),
                &restored.entries,
            )?;
        }
        Ok((wal, restored, report))
    }

    /// Make a snapshot durable, then replace the WAL with what follows it (each step atomic, so a crash
    /// anywhere leaves a state `open` restores completely).
    pub fn compact(&mut self, write: &SnapshotWrite) -> Result<(), StorageError> {
        snapshot_file::save(&self.dir, &write.snapshot)?;
        let base = (write.snapshot.last_index, write.snapshot.last_term);
        self.rewrite(&write.hard_state, base, &write.tail)
    }

    /// A new WAL holding `hard_state` and `tail` after `base`: temp file, fsync, rename, fsync directory.
    fn rewrite(
        &mut self,
        hard_state: &HardState,
        base: (u64, u64),
        tail: &[Entry],
    ) -> Result<(), StorageError> {
        let tmp = self.dir.join(format!("{WAL_FILE}.tmp"));
        self.buf.clear();
        self.buf.extend_from_slice(MAGIC);
        encode(
            &mut self.buf,
            &RecordRef::Base {
                index: base.0,
                term: base.1,
            },
        );
        encode(&mut self.buf, &RecordRef::HardState(hard_state));
        if !tail.is_empty() {
            encode(&mut self.buf, &RecordRef::Entries(tail));
        }
        {
            let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
            f.write_all(&self.buf).map_err(io_err("write", &tmp))?;
            f.sync_all().map_err(io_err("fsync", &tmp))?;
        }
        fs::rename(&tmp, &self.path).map_err(io_err("rename into place", &self.path))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err("open", &self.path))?;
        self.last_index = tail.last().map_or(base.0, |e| e.index);
        Ok(())
    }

    fn open_fresh(
        path: PathBuf,
        lock: File,
    ) -> Result<(Wal, Restored, ReplayReport), StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        Ok((
            Wal {
                file,
                dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                path,
                last_index: 0,
                buf: Vec::with_capacity(64 << 10),
                _lock: lock,
            },
            Restored::default(),
            ReplayReport::default(),
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of the last entry written.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// Write hard state, then the truncation, then the new entries (the order the core's `Ready` demands),
    /// as one write followed by one fsync. Nothing is written if the append would leave a gap.
    pub fn persist(
        &mut self,
        hard_state: Option<&HardState>,
        truncate_from: Option<u64>,
        append: &[Entry],
    ) -> Result<(), StorageError> {
        let mut last = self.last_index;
        if let Some(from) = truncate_from {
            if from == 0 {
                return Err(StorageError::BadAppend(
                    "truncate_from 0 (log indexes start at 1)".into(),
                ));
            }
            last = last.min(from - 1);
        }
        for e in append {
            if e.index != last + 1 {
                return Err(StorageError::BadAppend(format!(
                    "entry index {} follows last index {last}",
                    e.index
                )));
            }
            last = e.index;
        }

        self.buf.clear();
        if let Some(hs) = hard_state {
            encode(&mut self.buf, &RecordRef::HardState(hs));
        }
        if let Some(from) = truncate_from {
            encode(&mut self.buf, &RecordRef::TruncateFrom(from));
        }
        if !append.is_empty() {
            encode(&mut self.buf, &RecordRef::Entries(append));
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(io_err("write", &self.path))?;
        // sync_data also flushes the file size, which appends change; that is all replay needs.
        self.file.sync_data().map_err(io_err("fsync", &self.path))?;
        self.last_index = last;
        if self.buf.capacity() > (4 << 20) {
            // A huge catch-up batch should not pin its buffer forever.
            self.buf = Vec::with_capacity(64 << 10);
        }
        Ok(())
    }
}

fn encode(buf: &mut Vec<u8>, rec: &RecordRef<'_>) {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_LEN]);
    // Serializing plain data structs into a Vec cannot fail.
    serde_json::to_writer(&mut *buf, rec).expect("serialize WAL record");
    let payload = &buf[start + FRAME_LEN..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Apply every intact record; returns the state, a report and the length of the intact prefix.
/// What the WAL alone holds.
#[derive(Default)]
struct Replayed {
    hard_state: HardState,
    /// The log continues after (index, term) (0, 0 for a WAL that was never compacted).
    base: (u64, u64),
    entries: Vec<Entry>,
}

fn replay(path: &Path, bytes: &[u8]) -> Result<(Replayed, ReplayReport, u64), StorageError> {
    let mut restored = Replayed::default();
    let mut report = ReplayReport::default();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        // A bad record (cut short, checksum, or a payload that does not parse) ends replay: a torn tail if
        // nothing intact follows it, corruption of fsynced records otherwise.
        let Some(record) = record_at(bytes, pos) else {
            if intact_record_after(bytes, pos) {
                return Err(StorageError::Corrupt {
                    path: path.to_path_buf(),
                    offset: pos as u64,
                });
            }
            break;
        };
        let payload_len = frame_at(bytes, pos).map_or(0, <[u8]>::len);
        apply(&mut restored, record).map_err(|detail| StorageError::Inconsistent {
            path: path.to_path_buf(),
            offset: pos as u64,
            detail,
        })?;
        report.records += 1;
        pos += FRAME_LEN + payload_len;
    }
    report.truncated_bytes = (bytes.len() - pos) as u64;
    Ok((restored, report, pos as u64))
}

fn record_at(bytes: &[u8], pos: usize) -> Option<Record> {
    serde_json::from_slice(frame_at(bytes, pos)?).ok()
}

/// Whether an intact record starts anywhere after the bad one at `pos`. First where the bad frame's own
/// length says the next one starts (a flipped payload byte), then at every later offset that could start
/// a JSON record (a damaged length); the checksum makes a false match negligible.
fn intact_record_after(bytes: &[u8], pos: usize) -> bool {
    if let Some(header) = bytes.get(pos..pos + FRAME_LEN) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let next = pos + FRAME_LEN + len;
        if len <= MAX_RECORD && next < bytes.len() && record_at(bytes, next).is_some() {
            return true;
        }
    }
    (pos + 1..bytes.len().saturating_sub(FRAME_LEN)).any(|p| {
        bytes.get(p + FRAME_LEN..p + FRAME_LEN + 2) == Some(b"{\"".as_slice())
            && record_at(bytes, p).is_some()
    })
}

/// The payload of the record at `pos` if it is complete and its checksum matches.
fn frame_at(bytes: &[u8], pos: usize) -> Option<&[u8]> {
    let header = bytes.get(pos..pos + FRAME_LEN)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let payload = bytes.get(pos + FRAME_LEN..pos + FRAME_LEN + len)?;
    (crc32fast::hash(payload) == crc).then_some(payload)
}

fn apply(restored: &mut Replayed, record: Record) -> Result<(), String> {
    let base = restored.base.0;
    match record {
        Record::Base { index, term } => {
            if !restored.entries.is_empty() {
                return Err("a base record after entries".into());
            }
            restored.base = (index, term);
        }
        Record::HardState(hs) => restored.hard_state = hs,
        Record::TruncateFrom(from) => {
            if from <= base {
                return Err(format!("truncate_from {from} at or below the base {base}"));
            }
            let keep = (from - 1 - base) as usize;
            restored.entries.truncate(keep);
        }
        Record::Entries(entries) => {
            for e in entries {
                let expected = base + restored.entries.len() as u64 + 1;
                if e.index != expected {
                    return Err(format!(
                        "entry index {} where {expected} was expected",
                        e.index
                    ));
                }
                restored.entries.push(e);
            }
        }
    }
    Ok(())
}

/// The snapshot and the WAL together: entries the snapshot covers are dropped (they must agree with it).
fn merge(path: &Path, snapshot: Option<Snapshot>, wal: Replayed) -> Result<Restored, StorageError> {
    let inconsistent = |detail: String| StorageError::Inconsistent {
        path: path.to_path_buf(),
        offset: 0,
        detail,
    };
    let Replayed {
        hard_state,
        base,
        mut entries,
    } = wal;
    let Some(snapshot) = snapshot else {
        if base.0 > 0 {
            return Err(inconsistent(format!(
                "the log starts after index {} but {} is missing",
                base.0,
                snapshot_file::SNAPSHOT_FILE
            )));
        }
        return Ok(Restored {
            hard_state,
            snapshot: None,
            entries,
        });
    };
    if snapshot.last_index < base.0 {
        return Err(inconsistent(format!(
            "the log starts after index {} but the snapshot ends at {}",
            base.0, snapshot.last_index
        )));
    }
    // As installing a snapshot does: keep the entries after it only if the log agrees with it at its
    // index (a compacted WAL starts right after it); otherwise the snapshot replaces them all.
    let covered = entries
        .iter()
        .take_while(|e| e.index <= snapshot.last_index)
        .count();
    let agrees = base.0 == snapshot.last_index
        || entries[..covered]
            .last()
            .is_some_and(|e| e.index == snapshot.last_index && e.term == snapshot.last_term);
    if agrees {
        entries.drain(..covered);
    } else {
        entries.clear();
    }
    Ok(Restored {
        hard_state,
        snapshot: Some(snapshot),
        entries,
    })
}

/// Create an empty WAL atomically: header into a temp file, fsync, rename, fsync the directory.
fn create_empty(dir: &Path, path: &Path) -> Result<(), StorageError> {
    let tmp = dir.join(format!("{WAL_FILE}.tmp"));
    {
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(MAGIC).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    sync_dir(dir)
}

/// One node process per data dir: two writers on one WAL would interleave records.
fn lock_dir(dir: &Path) -> Result<File, StorageError> {
    let path = dir.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("open lock file", &path))?;
    // SAFETY: flock on a valid, owned descriptor; released when the file (and so the fd) is dropped.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::WouldBlock {
            return Err(StorageError::Locked {
                path: dir.to_path_buf(),
            });
        }
        return Err(StorageError::Io {
            action: "lock",
            path,
            source: err,
        });
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::Command;

    fn put(term: u64, index: u64, value: i64) -> Entry {
        Entry {
            term,
            index,
            command: Command::Put {
                key: format!("k{index}"),
                value,
            },
        }
    }

    fn hs(term: u64, vote: Option<&str>) -> HardState {
        HardState {
            term,
            voted_for: vote.map(str::to_string),
        }
    }

    fn wal_len(dir: &Path) -> u64 {
        fs::metadata(dir.join(WAL_FILE)).unwrap().len()
    }

    #[test]
    fn empty_dir_gives_empty_state_and_a_valid_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fresh/nested");
        let (wal, restored, report) = Wal::open(&dir).unwrap();
        assert_eq!(restored.hard_state, HardState::default());
        assert!(restored.entries.is_empty());
        assert_eq!(report, ReplayReport::default());
        assert_eq!(wal.last_index(), 0);
        assert_eq!(wal_len(&dir), HEADER_LEN as u64);
        assert!(!dir.join("wal.log.tmp").exists());
        drop(wal);
        let (_, restored, _) = Wal::open(&dir).unwrap();
        assert!(restored.entries.is_empty());
    }

    #[test]
    fn persisted_state_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
            wal.persist(Some(&hs(1, Some("n1"))), None, &[put(1, 1, 10)])
                .unwrap();
            wal.persist(None, None, &[put(1, 2, 20), put(1, 3, 30)])
                .unwrap();
            wal.persist(Some(&hs(2, None)), None, &[]).unwrap();
        }
        let (wal, restored, report) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.hard_state, hs(2, None));
        assert_eq!(
            restored.entries,
            vec![put(1, 1, 10), put(1, 2, 20), put(1, 3, 30)]
        );
        assert_eq!(report.records, 4);
        assert_eq!(report.truncated_bytes, 0);
        assert_eq!(wal.last_index(), 3);
    }

    #[test]
    fn truncate_then_append_replays_the_new_suffix() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
            wal.persist(
                Some(&hs(1, Some("n2"))),
                None,
                &[put(1, 1, 1), put(1, 2, 2), put(1, 3, 3)],
            )
            .unwrap();
            // A new leader overwrites entries 2.. with its own.
            wal.persist(Some(&hs(2, Some("n3"))), Some(2), &[put(2, 2, 22)])
                .unwrap();
            wal.persist(None, None, &[put(2, 3, 33)]).unwrap();
        }
        let (mut wal, restored, _) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.hard_state, hs(2, Some("n3")));
        assert_eq!(
            restored.entries,
            vec![put(1, 1, 1), put(2, 2, 22), put(2, 3, 33)]
        );
        // And appends continue from the replayed end.
        wal.persist(None, None, &[put(2, 4, 44)]).unwrap();
        drop(wal);
        let (_, restored, _) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.entries.len(), 4);
    }

    #[test]
    fn torn_tail_is_dropped_and_file_truncated() {
        let tmp = tempfile::tempdir().unwrap();
        let good_len;
        {
            let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
            wal.persist(Some(&hs(1, Some("n1"))), None, &[put(1, 1, 1)])
                .unwrap();
            good_len = wal_len(tmp.path());
            wal.persist(None, None, &[put(1, 2, 2)]).unwrap();
        }
        // Cut the last record in half, as a crash mid-write would.
        let full = wal_len(tmp.path());
        let f = OpenOptions::new()
            .write(true)
            .open(tmp.path().join(WAL_FILE))
            .unwrap();
        f.set_len(full - 5).unwrap();
        drop(f);

        let (mut wal, restored, report) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.entries, vec![put(1, 1, 1)]);
        assert_eq!(report.truncated_bytes, full - 5 - good_len);
        assert_eq!(wal_len(tmp.path()), good_len);
        // Writing after the truncation lands where the torn record was and replays cleanly.
        wal.persist(None, None, &[put(1, 2, 7)]).unwrap();
        drop(wal);
        let (_, restored, report) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.entries, vec![put(1, 1, 1), put(1, 2, 7)]);
        assert_eq!(report.truncated_bytes, 0);
    }

    #[test]
    fn torn_frame_header_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
            wal.persist(None, None, &[put(1, 1, 1)]).unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(tmp.path().join(WAL_FILE))
            .unwrap();
        f.write_all(&[3, 0, 0]).unwrap();
        drop(f);
        let (_, restored, report) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.entries.len(), 1);
        assert_eq!(report.truncated_bytes, 3);
    }

    #[test]
    fn flipped_byte_in_last_record_is_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let good_len;
        {
            let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
            wal.persist(Some(&hs(3, Some("n2"))), None, &[put(3, 1, 1)])
                .unwrap();
            good_len = wal_len(tmp.path());
            wal.persist(None, None, &[put(3, 2, 123456)]).unwrap();
        }
        let path = tmp.path().join(WAL_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let full = bytes.len() as u64;
        // Flip a byte in the middle of the last record's payload.
        let mid = (good_len as usize + FRAME_LEN + bytes.len()) / 2;
        bytes[mid] ^= 0x40;
        fs::write(&path, &bytes).unwrap();

        let (_, restored, report) = Wal::open(tmp.path()).unwrap();
        assert_eq!(restored.hard_state, hs(3, Some("n2")));
        assert_eq!(restored.entries, vec![put(3, 1, 1)]);
        assert_eq!(report.truncated_bytes, full - good_len);
        assert_eq!(wal_len(tmp.path()), good_len);
    }

    #[test]
    fn corruption_before_the_tail_is_refused_naming_the_offset() {
        let tmp = tempfile::tempdir().unwrap();
        let (first_end, second_end);
        {
            let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
            wal.persist(Some(&hs(1, Some("n1"))), None, &[put(1, 1, 1)])
                .unwrap();
            first_end = wal_len(tmp.path());
            wal.persist(None, None, &[put(1, 2, 2)]).unwrap();
            second_end = wal_len(tmp.path());
            wal.persist(None, None, &[put(1, 3, 3)]).unwrap();
        }
        let path = tmp.path().join(WAL_FILE);
        let pristine = fs::read(&path).unwrap();
        // A flipped payload byte, then a damaged length field, in the middle record.
        for at in [
            (first_end + second_end) as usize / 2,
            first_end as usize + 1,
        ] {
            let mut bytes = pristine.clone();
            bytes[at] ^= 0x40;
            fs::write(&path, &bytes).unwrap();
            let err = Wal::open(tmp.path()).err().expect("refused");
            match &err {
                StorageError::Corrupt { path: p, offset } => {
                    assert_eq!(*offset, first_end);
                    assert_eq!(p, &path);
                }
                other => panic!("{other}"),
            }
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("byte {first_end}")) && msg.contains("wal.log"),
                "{msg}"
            );
            // Nothing was truncated.
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn foreign_file_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(WAL_FILE);
        fs::write(&path, b"precious data, not a wal").unwrap();
        let err = Wal::open(tmp.path()).err().unwrap();
        assert!(matches!(err, StorageError::NotAWal { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"precious data, not a wal");
    }

    #[test]
    fn gaps_are_refused_before_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(tmp.path()).unwrap();
        wal.persist(None, None, &[put(1, 1, 1)]).unwrap();
        let before = wal_len(tmp.path());
        let err = wal.persist(None, None, &[put(1, 3, 3)]).unwrap_err();
        assert!(err.to_string().contains("entry index 3"), "{err}");
        assert_eq!(wal_len(tmp.path()), before);
        assert!(wal.persist(None, Some(0), &[]).is_err());
    }

    #[test]
    fn second_open_of_same_dir_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (_wal, _, _) = Wal::open(tmp.path()).unwrap();
        let err = Wal::open(tmp.path()).err().unwrap();
        assert!(matches!(err, StorageError::Locked { .. }), "{err}");
    }
}
