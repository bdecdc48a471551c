//! What the node's files fail with, and the small durable-write helpers both the WAL (`storage`) and the
//! snapshot file (`snapshot_file`) use; kept apart so neither of those imports the other's internals.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a node write-ahead log (bad header); refusing to touch it. Use an empty --data-dir")]
    NotAWal { path: PathBuf },
    #[error("data dir {path} is in use by another node process (lock held)")]
    Locked { path: PathBuf },
    #[error("{path}: log record at byte {offset} is inconsistent: {detail}")]
    Inconsistent {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("{path}: the record at byte {offset} is corrupt, but intact records follow it, so this is not a torn tail from a crash; refusing to start rather than drop fsynced records (see the README, \"A node refuses to start\")")]
    Corrupt { path: PathBuf, offset: u64 },
    #[error("refusing to write a non-contiguous log: {0}")]
    BadAppend(String),
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
