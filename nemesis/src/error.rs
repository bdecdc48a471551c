//! The crate's error type: every variant says what failed and, for shell-outs, the command and its stderr.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not root, `ip` missing, or no network-namespace support: the tests and the harness cannot run here.
    #[error("insufficient privileges or system support: {0}")]
    Privileges(String),

    /// An external command (always `ip`) ran but failed.
    #[error("command `{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line, as typed in a shell.
        command: String,
        /// Exit status description.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },

    /// An external command could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },

    /// A file or system-call operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },

    /// A system call made through `nix` failed.
    #[error("{what}: {errno}")]
    Sys {
        /// What we were doing.
        what: String,
        /// The errno.
        errno: nix::errno::Errno,
    },

    /// A configuration value is invalid; the message says which and what would be valid.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// The name of the setting (`run id`, `subnet`, `node name`, ...).
        what: &'static str,
        /// What is wrong and what to do.
        message: String,
    },

    /// A name given to `--nemesis` is not one we know.
    #[error("unknown nemesis `{name}`; valid names: {valid}")]
    UnknownNemesis {
        /// The unknown name as typed.
        name: String,
        /// The valid names, comma separated.
        valid: String,
    },

    /// A partition or lookup named a node this network does not have.
    #[error("unknown node `{0}` (not part of this network)")]
    UnknownNode(String),

    /// The network has already been torn down.
    #[error("network lh{0} has been torn down")]
    TornDown(String),

    /// A process operation needs a running process.
    #[error("process `{name}` is not running")]
    NotRunning {
        /// The process spec's name.
        name: String,
    },

    /// Reaching a host over SSH, or a command run there, failed (`--hosts`).
    #[error("host {host}: {message}")]
    Ssh {
        /// The node whose host it is.
        host: String,
        /// What failed and what to do.
        message: String,
    },

    /// A fault was applied but a check shows it is not in effect.
    #[error("fault did not land: {0}")]
    NotLanded(String),

    /// Starting a managed process failed.
    #[error("could not start process `{name}` ({program}): {source}")]
    ProcessSpawn {
        /// The process spec's name.
        name: String,
        /// The program path.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Sys {
            what: what.into(),
            errno,
        }
    }

    pub(crate) fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            message: message.into(),
        }
    }
}
