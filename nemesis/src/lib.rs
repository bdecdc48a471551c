//! nemesis: the fault-injection side of the harness.
//!
//! - [`Network`]: one network namespace per node plus one for clients, on a bridge in its own namespace;
//!   partitions as blackhole routes ([`Partition`]); teardown on every exit path; [`clean_leftovers`].
//! - [`Net`]: where a run's nodes live, local namespaces ([`LocalNet`]) or SSH hosts
//!   ([`hosts::HostsNet`]), behind one trait.
//! - [`ManagedProcess`]: processes started inside a namespace, killed, paused, resumed, restarted.
//! - [`FaultKind`], [`parse_nemeses`], [`schedule`], [`partition_for`]: the faults users name and a seeded,
//!   reproducible plan of when each happens.
//!
//! Safety rule: every kernel object created here is named `lh` + run id (+ suffix), and only such objects
//! are ever changed or deleted.

mod clean;
mod error;
pub mod family;
mod fault;
mod fault_kind;
pub mod hosts;
mod landing;
mod layout;
mod net;
mod netem;
mod netns;
mod network;
mod owner;
mod packet;
mod partition;
mod process;
mod schedule;
mod schedule_file;
mod subnet;
mod supervise;

pub use clean::{clean_leftovers, clean_leftovers_with_prefix, CleanReport, KeptRun};
pub use error::Error;
pub use family::partition::partition_for;
pub use family::{Family, FAMILIES};
pub use fault::{parse_nemeses, valid_nemesis_names};
pub use fault_kind::FaultKind;
pub use landing::{
    Landing, PairProbe, Probes, CONNECT_TIMEOUT_MS as LANDING_CONNECT_TIMEOUT_MS, PROBE_PORT,
};
pub use layout::{
    generate_run_id, NetConfig, CLIENT_HOST, FIRST_NODE_HOST, MAX_NODE_NAME_LEN, MAX_RUN_ID_LEN,
    PREFIX,
};
pub use net::{LocalNet, Net, PartitionCheck};
pub use netem::{netem_available, Netem};
pub use netns::{
    check_privileges, enter_netns, in_netns, list_netns, netns_exists, netns_pids, proc_state,
    NETNS_DIR,
};
pub use network::Network;
pub use owner::{emergency_teardown, read_markers, start_ticks, Owner, OWNER_DIR};
pub use packet::{
    helper_main as packet_helper_main, tool_available, Aim as PacketAim, Burst, PacketFault,
    DELAY_COMMAND as PACKET_DELAY_COMMAND, ECHO_PORT, MECHANISM as PACKET_MECHANISM,
    PROBE_COMMAND as PACKET_PROBE_COMMAND,
};
pub use partition::{Partition, PartitionScope};
pub use process::{ManagedProcess, ProcessSpec};
pub use schedule::{min_time_limit, schedule, timeline, FaultWindow, ScheduleConfig, Step};
pub use schedule_file::{ScheduleFile, ScheduledFault, MIN_FAULT, SCHEDULE_FORMAT};
pub use subnet::Subnet;
pub use supervise::Supervised;

/// Re-exported so callers can name signals for [`ManagedProcess::signal`] without depending on `nix`.
pub use nix::sys::signal::Signal;
