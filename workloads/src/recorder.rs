//! The history of a run, streamed to `history.jsonl` one line per event as it happens, so a run that
//! crashes still leaves a history `harness check` can read. Nothing grows in memory with the run: the
//! check and the report read the file back ([`Recorder::events`]).
//!
//! Recording stamps an event (index, time, session) and queues it; a writer thread serialises and writes
//! what is queued, flushing after each batch. So the clients' ops never wait on the file (the time between
//! an invoke and its completion is the system's and the HTTP client's, not a write syscall's), and a
//! crash loses at most the events of the batch being written.

use crate::client::{Attempt, Outcome};
use crate::generator::{OpKind, OpSpec};
use checker::{Event, EventType, Process};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the writer writes what is queued, unless a flush asks sooner.
const WRITE_EVERY: Duration = Duration::from_millis(5);
/// Queued events that wake the writer at once, so the queue stays small under a fast workload.
const WAKE_AT: usize = 4096;

struct Inner {
    /// The index of the next event.
    next: u64,
    /// Events stamped but not yet handed to the writer, in index order.
    pending: Vec<Event>,
    /// Events the writer has written and flushed.
    written: u64,
    /// The recorder is going away: the writer drains what is left and stops.
    closed: bool,
    /// The first write error; later events are not written.
    error: Option<io::Error>,
    /// The session (worker) of each client process: a session goes on under a new process after `info`.
    sessions: HashMap<u64, u64>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Signalled when events are queued (for the writer) and when a batch is written (for `flush`).
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Appends events with increasing `index` and `time` (ns since the recorder was created).
pub struct Recorder {
    path: PathBuf,
    start: Instant,
    shared: Arc<Shared>,
    /// For fsync: the writer thread owns the buffered handle.
    file: File,
    writer: Mutex<Option<JoinHandle<()>>>,
    stats: Stats,
}

/// The writer thread: take what is queued, write it as one batch, flush, report progress.
fn write_loop(shared: Arc<Shared>, mut out: BufWriter<File>) {
    loop {
        let batch = {
            let mut inner = shared.lock();
            while inner.pending.is_empty() && !inner.closed {
                inner = shared
                    .changed
                    .wait_timeout(inner, WRITE_EVERY)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if inner.pending.is_empty() {
                return;
            }
            std::mem::take(&mut inner.pending)
        };
        let n = batch.len() as u64;
        let mut result = Ok(());
        for event in &batch {
            result = serde_json::to_writer(&mut out, event)
                .map_err(io::Error::other)
                .and_then(|()| out.write_all(b"\n"));
            if result.is_err() {
                break;
            }
        }
        let result = result.and_then(|()| out.flush());
        let mut inner = shared.lock();
        inner.written += n;
        if let Err(e) = result {
            if inner.error.is_none() {
                tracing::error!("writing history.jsonl failed: {e}");
                inner.error = Some(e);
            }
        }
        shared.changed.notify_all();
    }
}

impl Recorder {
    /// Create (truncate) the history file. Time zero is now.
    pub fn create(path: &Path) -> io::Result<Arc<Recorder>> {
        let file = File::create(path)?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next: 0,
                pending: Vec::new(),
                written: 0,
                closed: false,
                error: None,
                sessions: HashMap::new(),
            }),
            changed: Condvar::new(),
        });
        let out = BufWriter::with_capacity(1 << 16, file.try_clone()?);
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("lh-history".into())
                .spawn(move || write_loop(shared, out))?
        };
        Ok(Arc::new(Recorder {
            path: path.to_path_buf(),
            start: Instant::now(),
            shared,
            file,
            writer: Mutex::new(Some(writer)),
            stats: Stats::default(),
        }))
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Record an event now. Index and time are taken under the lock, so both increase along the file.
    /// Nothing is returned: no caller needs the stamped event, and handing it back would cost a clone
    /// per op (the queue owns it); [`Recorder::events`] reads it back.
    pub fn record(&self, mut event: Event) {
        // Which count the event adds to, taken before the queue owns it.
        let stat = match event.kind {
            EventType::Ok => Some(&self.stats.ok),
            EventType::Fail => Some(&self.stats.fail),
            EventType::Info if matches!(event.process, Process::Client(_)) => {
                Some(&self.stats.info)
            }
            _ => None,
        };
        let mut inner = self.shared.lock();
        event.index = inner.next;
        inner.next += 1;
        event.time = self.start.elapsed().as_nanos() as u64;
        if let (Process::Client(p), None) = (&event.process, event.session) {
            event.session = inner.sessions.get(p).copied();
        }
        if inner.error.is_none() {
            inner.pending.push(event);
            // The writer wakes on its own every WRITE_EVERY; waking it for each event would cost the
            // client a syscall and a context switch per op.
            if inner.pending.len() >= WAKE_AT {
                self.shared.changed.notify_all();
            }
        }
        drop(inner);
        if let Some(count) = stat {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// From now on, events of `process` carry `session`.
    pub fn set_session(&self, process: u64, session: u64) {
        let mut inner = self.shared.lock();
        inner.sessions.insert(process, session);
    }

    /// A client process invokes an op.
    pub fn invoke(&self, process: u64, op: &OpSpec) {
        self.record(client_event(
            process,
            EventType::Invoke,
            op,
            op.invoke_value(),
        ))
    }

    /// The op of `process` completed as `attempt` says.
    pub fn complete(&self, process: u64, op: &OpSpec, attempt: &Attempt) {
        let (kind, value, error) = match &attempt.outcome {
            // A read's completion carries the value read; an update's repeats what it wrote.
            Outcome::Ok { read } if op.is_read() || matches!(op.kind, OpKind::Txn(_)) => {
                (EventType::Ok, json!(read), None)
            }
            Outcome::Ok { .. } => (EventType::Ok, op.invoke_value(), None),
            Outcome::Fail { error } => (EventType::Fail, op.invoke_value(), Some(error.clone())),
            Outcome::Info { error } => (EventType::Info, op.invoke_value(), Some(error.clone())),
        };
        let mut ev = client_event(process, kind, op, value);
        ev.node = Some(attempt.node.clone());
        ev.error = error;
        self.record(ev)
    }

    /// A nemesis event (`process: "nemesis"`, `type: "info"`).
    pub fn nemesis(&self, f: &str, value: Value) {
        self.observe("nemesis", f, value)
    }

    /// An observation by `actor` (a named `info` event the checkers skip), such as the harness noting
    /// when the final reads began or what the convergence check found.
    pub fn observe(&self, actor: &str, f: &str, value: Value) {
        self.record(Event::named(actor, f, value))
    }

    /// Every event so far, read back from the file (flushed first). A line that does not parse (a
    /// write cut short) ends the list.
    pub fn events(&self) -> io::Result<Vec<Event>> {
        self.wait_written();
        let file = File::open(&self.path)?;
        let mut events = Vec::new();
        for line in io::BufRead::lines(io::BufReader::new(file)) {
            match serde_json::from_str::<Event>(&line?) {
                Ok(e) => events.push(e),
                Err(e) => {
                    tracing::warn!("history.jsonl: {e}; reading stops there");
                    break;
                }
            }
        }
        Ok(events)
    }

    /// Flush and fsync the file; reports the first write error of the run, if any.
    pub fn flush(&self) -> io::Result<()> {
        if let Some(e) = self.wait_written() {
            return Err(e);
        }
        self.file.sync_data()
    }

    /// Waits until every event recorded so far is written (or writing failed); returns the first write
    /// error of the run, if any.
    fn wait_written(&self) -> Option<io::Error> {
        let mut inner = self.shared.lock();
        // Have the writer write now rather than at its next round.
        self.shared.changed.notify_all();
        while inner.error.is_none() && inner.written < inner.next {
            inner = self
                .shared
                .changed
                .wait(inner)
                .unwrap_or_else(|e| e.into_inner());
        }
        inner
            .error
            .as_ref()
            .map(|e| io::Error::new(e.kind(), e.to_string()))
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

impl Drop for Recorder {
    /// Drains the queue and stops the writer.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(w) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = w.join();
        }
    }
}

fn client_event(process: u64, kind: EventType, op: &OpSpec, value: Value) -> Event {
    Event {
        index: 0,
        time: 0,
        process: Process::Client(process),
        kind,
        f: op.f().to_string(),
        // A transaction's keys are in its micro-ops.
        key: (!op.key.is_empty()).then(|| op.key.clone()),
        value,
        node: None,
        error: None,
        session: None,
    }
}

/// Live counts of completions, for the progress bar.
#[derive(Debug, Default)]
pub struct Stats {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StatsSnapshot {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            ok: self.ok.load(Ordering::Relaxed),
            fail: self.fail.load(Ordering::Relaxed),
            info: self.info.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_lines_the_checker_reads_while_the_run_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let rec = Recorder::create(&path).unwrap();
        let write = OpSpec {
            key: "r".into(),
            kind: OpKind::Write(1),
        };
        rec.invoke(0, &write);
        let ok = Attempt {
            outcome: Outcome::Ok { read: None },
            node: "n1".into(),
            code: None,
            leader: None,
        };
        rec.complete(0, &write, &ok);
        rec.nemesis("start-partition", json!({"isolated": ["n1"]}));
        rec.set_session(1, 0);
        rec.invoke(1, &OpSpec::read("r"));
        // Not flushed explicitly: the writer thread puts every event in the file within moments.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut text = String::new();
        while Instant::now() < deadline {
            text = std::fs::read_to_string(&path).unwrap();
            if text.lines().count() == 4 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(text.lines().count(), 4, "{text}");
        let h = checker::parse_jsonl(&text).unwrap();
        assert_eq!(h.ops.len(), 2, "the open read counts as info");
        assert_eq!(h.named_events, 1);
        let evs = rec.events().unwrap();
        assert_eq!(evs.len(), 4);
        assert_eq!(
            (&evs[1].value, evs[1].node.as_deref()),
            (&json!(1), Some("n1"))
        );
        assert_eq!(evs[3].session, Some(0), "process 1 goes on for session 0");
        assert!(evs
            .windows(2)
            .all(|w| w[0].index < w[1].index && w[0].time <= w[1].time));
        assert_eq!(rec.stats().ok, 1);
        rec.flush().unwrap();
    }
}
