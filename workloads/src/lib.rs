//! `workloads`: what the clients do during a run.
//!
//! - [`generator`]: seeded op generators (register, kv and append) with unique written values;
//! - [`client`]: the HTTP client of our node protocol and the exact outcome mapping (`ok`/`fail`/`info`);
//! - [`etcd`], [`zookeeper`], [`nats`], [`mod@redis`], [`galera`], [`patroni`]: clients of the other systems, with the same outcome mapping;
//! - [`recorder`]: the history, streamed to `history.jsonl` as it happens;
//! - [`routing`]: which node each request goes to (sticky sessions, leader, round-robin);
//! - [`runner`]: concurrent workers with a rate limit, routing, process retirement, and final reads.

pub mod client;
pub mod etcd;
pub mod galera;
pub mod generator;
pub mod nats;
pub mod overhead;
pub mod patroni;
pub mod recorder;
pub mod redis;
pub mod routing;
pub mod runner;
mod settings;
mod stored;
pub mod zookeeper;

pub use crate::redis::{RedisClient, RedisWrites};
pub use client::{
    Attempt, Client, ClientError, NodeClient, NodeStatus, Outcome, ProbeAnswer, ReadValue,
};
pub use etcd::{EtcdClient, EtcdReads};
pub use galera::GaleraClient;
pub use generator::{Generator, OpSpec};
pub use nats::{NatsClient, NatsReads};
pub use patroni::PatroniClient;
pub use recorder::{Recorder, StatsSnapshot};
pub use runner::{final_reads, run, WorkloadError};
pub use settings::{Routing, WorkloadConfig, WorkloadKind};
pub use zookeeper::{ZkClient, ZkReads};
