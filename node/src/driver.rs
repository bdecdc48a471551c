//! The driver: a dedicated thread that owns the Raft core and the WAL.
//!
//! Inputs (peer messages, client requests with a oneshot for the answer, status queries) arrive over one
//! channel. Each turn drains every pending input into the core, advances its timers when a tick is due,
//! then takes one `Ready` and honours its contract: persist and fsync first (one write and one fsync for
//! the whole turn: group commit), then hand messages to the transport, then answer clients. fsync blocks,
//! which is why this is a plain thread and not a task on the async runtime.

use crate::api::{self, Role};
use crate::clock::Clock;
use crate::raft::{ClientRequest, ClientResult, Message, RaftNode, Ready, RequestId};
use crate::storage::{StorageError, Wal};
use crate::transport::Transport;
use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracing::{debug, error, info};

/// Most inputs folded into one turn, so a flood of requests cannot starve the timers.
const MAX_INPUTS_PER_TURN: usize = 4096;
/// How often answers nobody waits for any more (timed-out clients) are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub enum Input {
    Peer(Vec<Message>),
    Client {
        req: ClientRequest,
        reply: oneshot::Sender<ClientResult>,
    },
    Status(oneshot::Sender<api::Status>),
    Shutdown,
}

/// Why the driver stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("storage failed; stopping rather than acknowledge unsaved state: {0}")]
    Storage(#[from] StorageError),
    #[error("the driver thread panicked: {0}")]
    Panicked(String),
}

/// The sending side, shared by all HTTP handlers.
#[derive(Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Input>,
}

impl DriverHandle {
    /// Hand an input to the driver. Fails only when the driver has stopped.
    pub fn send(&self, input: Input) -> Result<(), Input> {
        self.tx.send(input).map_err(|e| e.0)
    }
}

pub struct Driver {
    core: RaftNode,
    wal: Wal,
    clock: Arc<Clock>,
    transport: Transport,
    tick: Duration,
    next_id: RequestId,
    pending: HashMap<RequestId, oneshot::Sender<ClientResult>>,
    /// Last (role, term, leader) logged, to log changes only.
    last_role: Option<(Role, u64, Option<String>)>,
}

impl Driver {
    pub fn new(
        core: RaftNode,
        wal: Wal,
        clock: Arc<Clock>,
        transport: Transport,
        tick: Duration,
    ) -> Self {
        Driver {
            core,
            wal,
            clock,
            transport,
            tick,
            next_id: 1,
            pending: HashMap::new(),
            last_role: None,
        }
    }

    /// Start the driver thread. `done` receives its outcome (it is dropped unsent if the thread panics).
    pub fn spawn(
        self,
        done: oneshot::Sender<Result<(), DriverError>>,
    ) -> std::io::Result<DriverHandle> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("raft-driver".into())
            .spawn(move || {
                let result = self.run(rx);
                if let Err(e) = &result {
                    error!(error = %e, "driver stopped");
                }
                let _ = done.send(result);
            })?;
        Ok(DriverHandle { tx })
    }

    fn run(mut self, rx: mpsc::Receiver<Input>) -> Result<(), DriverError> {
        let mut next_tick = Instant::now();
        let mut next_sweep = Instant::now() + SWEEP_EVERY;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = match rx.recv_timeout(wait) {
                Ok(input) => Some(input),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            if let Some(input) = first {
                if !self.handle(input) {
                    return Ok(());
                }
                // Group commit: fold everything already waiting into this turn.
                for _ in 1..MAX_INPUTS_PER_TURN {
                    match rx.try_recv() {
                        Ok(input) => {
                            if !self.handle(input) {
                                return Ok(());
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.core.tick(self.clock.now());
                self.log_role_change();
                // Skip missed ticks after a stall (SIGSTOP) instead of firing them all at once.
                next_tick = (next_tick + self.tick).max(now);
            }
            if now >= next_sweep {
                self.pending.retain(|_, reply| !reply.is_closed());
                next_sweep = now + SWEEP_EVERY;
            }
            let ready = self.core.ready();
            if !ready.is_empty() {
                self.process(ready)?;
            }
        }
    }

    /// Feed one input to the core; false means stop.
    fn handle(&mut self, input: Input) -> bool {
        match input {
            Input::Peer(msgs) => {
                for msg in msgs {
                    let now = self.clock.now();
                    self.core.step(msg, now);
                }
            }
            Input::Client { req, reply } => {
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(id, reply);
                self.core.client(id, req, self.clock.now());
            }
            Input::Status(reply) => {
                let mut status = self.core.status(self.clock.now());
                status.clock = self.clock.state();
                let _ = reply.send(status);
            }
            Input::Shutdown => return false,
        }
        true
    }

    fn process(&mut self, ready: Ready) -> Result<(), DriverError> {
        let Ready {
            hard_state,
            truncate_from,
            append,
            messages,
            responses,
            snapshot,
        } = ready;
        if hard_state.is_some() || truncate_from.is_some() || !append.is_empty() {
            self.wal
                .persist(hard_state.as_ref(), truncate_from, &append)?;
        }
        if let Some(write) = snapshot {
            let started = Instant::now();
            self.wal.compact(&write)?;
            debug!(
                index = write.snapshot.last_index,
                tail = write.tail.len(),
                ms = started.elapsed().as_millis() as u64,
                "snapshot written, log compacted"
            );
        }
        for msg in messages {
            self.transport.send(msg);
        }
        for (id, result) in responses {
            match self.pending.remove(&id) {
                // The client may have timed out and gone; nothing to do then.
                Some(reply) => {
                    let _ = reply.send(result);
                }
                None => debug!(id, "answer for a request nobody waits for"),
            }
        }
        Ok(())
    }

    fn log_role_change(&mut self) {
        let st = self.core.status(self.clock.now());
        let key = (st.role, st.term, st.leader.clone());
        if self.last_role.as_ref() != Some(&key) {
            info!(
                role = ?st.role,
                term = st.term,
                leader = st.leader.as_deref().unwrap_or("none"),
                commit_index = st.commit_index,
                last_log_index = st.last_log_index,
                "role change"
            );
            self.last_role = Some(key);
        }
    }
}
