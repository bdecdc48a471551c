//! `node`: a Raft key-value server. The library part holds the client protocol (`api`) and the pure
//! Raft core (`raft`); the binary wires them to storage, a clock and an HTTP server.

pub mod api;
pub mod raft;

// The shell: I/O around the pure core.
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn_gate;
pub mod driver;
pub mod fd_limit;
pub mod http_conn;
pub mod http_limits;
pub mod log_throttle;
pub mod peer_auth;
pub mod server;
pub mod snapshot_file;
pub mod storage;
pub mod storage_error;
pub mod transport;
