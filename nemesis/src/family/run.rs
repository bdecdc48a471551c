//! What a family's apply and undo are handed: the run's network, its node processes, live cluster state,
//! the history and the settings. The harness implements [`Nodes`] and [`Cluster`] (it owns the processes
//! and the clients) and composes the families through [`Ops`] without knowing their kinds.

use super::settings::Settings;
use crate::fault_kind::FaultKind;
use crate::Net;
use futures::future::LocalBoxFuture;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::PathBuf;

/// Writes one nemesis event (its `f` and value) into the history.
pub type Record = dyn Fn(&str, Value);

/// The node processes: killed, paused, restarted where they live.
pub trait Nodes {
    fn names(&self) -> Vec<String>;
    fn kill(&mut self, node: &str) -> anyhow::Result<()>;
    fn restart(&mut self, node: &str) -> anyhow::Result<()>;
    fn pause(&mut self, node: &str) -> anyhow::Result<()>;
    fn resume(&mut self, node: &str) -> anyhow::Result<()>;
    /// A node's data directory.
    fn data_dir(&self, node: &str) -> Option<PathBuf>;
    /// The state letter of a node's process (`S`/`R` running, `T` stopped), `None` if it is not running.
    fn state(&mut self, node: &str) -> Option<char>;
}

/// Live cluster state and the system's admin requests, asked of the nodes themselves.
pub trait Cluster {
    /// Sets a node's clock (`POST /admin/clock`): an offset and a rate against real time.
    fn set_clock<'a>(
        &'a self,
        node: &'a str,
        offset_ms: f64,
        rate: f64,
    ) -> LocalBoxFuture<'a, anyhow::Result<()>>;

    /// The nodes that serve now (they answer as leader or follower, not still joining).
    fn serving(&self) -> LocalBoxFuture<'_, Vec<String>>;
}

/// A family's faults: how each kind is applied. Families are unit structs, so this is `'static`.
pub trait Ops: Sync + std::fmt::Debug {
    /// Applies `kind` (one of the family's) around `run.leader`, records it in the history, checks it
    /// landed and fills `run.out`; returns what undoes it.
    fn apply<'a>(
        &'a self,
        run: &'a mut Run<'_>,
        kind: FaultKind,
    ) -> LocalBoxFuture<'a, anyhow::Result<Box<dyn Active>>>;

    /// Whether undoing `kind` restarts nodes (so its undo may wait for them to rejoin).
    fn restarts(&self, _kind: FaultKind) -> bool {
        false
    }
}

/// A fault that is on, ended by [`Active::undo`].
pub trait Active {
    fn undo<'a>(self: Box<Self>, run: &'a mut Run<'_>) -> LocalBoxFuture<'a, anyhow::Result<()>>;
}

/// What applying a fault did, for its record.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    /// The nodes the fault hit.
    pub targets: Vec<String>,
    /// The role it was aimed at; set by the composer from the kind's aim, refined by the family.
    pub role: String,
    pub detail: String,
}

/// One fault's context, built by the composer for each apply and undo.
pub struct Run<'a> {
    pub net: &'a dyn Net,
    pub nodes: &'a mut dyn Nodes,
    pub cluster: &'a dyn Cluster,
    /// Draws targets; seeded from the run's seed, so the same seed aims the same way.
    pub rng: &'a mut ChaCha8Rng,
    pub settings: &'a Settings,
    /// The leader found just before the fault, and its term.
    pub leader: Option<String>,
    pub term: Option<u64>,
    pub out: Applied,
    record: &'a Record,
    not_landed: &'a mut Vec<String>,
}

impl<'a> Run<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        net: &'a dyn Net,
        nodes: &'a mut dyn Nodes,
        cluster: &'a dyn Cluster,
        rng: &'a mut ChaCha8Rng,
        settings: &'a Settings,
        record: &'a Record,
        not_landed: &'a mut Vec<String>,
    ) -> Self {
        Run {
            net,
            nodes,
            cluster,
            rng,
            settings,
            leader: None,
            term: None,
            out: Applied::default(),
            record,
            not_landed,
        }
    }

    /// The leader's name, if known.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// Writes a nemesis event into the history.
    pub fn event(&self, f: &str, value: Value) {
        (self.record)(f, value)
    }

    /// A fault (or heal) that did not land: it makes the run invalid, naming the pair or node.
    pub fn miss(&mut self, fault: &str, what: String) {
        tracing::warn!("{fault} did not land: {what}");
        self.not_landed
            .push(format!("{fault} did not land: {what}"));
    }
}
