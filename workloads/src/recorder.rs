//! The history of a run, streamed to `history.jsonl` one line per event as it happens, so a run that
//! crashes still leaves a history `harness check` can read. Nothing grows in memory with the run: the
//! check and the report read the file back ([`Recorder::events`]).

use crate::client::{Attempt, Outcome};
use crate::generator::OpSpec;
use checker::{Event, EventType, Process};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Inner {
    out: BufWriter<File>,
    /// The index of the next event.
    next: u64,
    /// The first write error; later events are not written.
    error: Option<io::Error>,
    /// The session (worker) of each client process: a session goes on under a new process after `info`.
    sessions: HashMap<u64, u64>,
}

/// Appends events with increasing `index` and `time` (ns since the recorder was created).
pub struct Recorder {
    path: PathBuf,
    start: Instant,
    inner: Mutex<Inner>,
    stats: Stats,
}

impl Recorder {
    /// Create (truncate) the history file. Time zero is now.
    pub fn create(path: &Path) -> io::Result<Arc<Recorder>> {
        let file = File::create(path)?;
        Ok(Arc::new(Recorder {
            path: path.to_path_buf(),
            start: Instant::now(),
            inner: Mutex::new(Inner {
                out: BufWriter::new(file),
                next: 0,
                error: None,
                sessions: HashMap::new(),
            }),
            stats: Stats::default(),
        }))
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Record an event now. Index and time are taken under the lock, so both increase along the file.
    pub fn record(&self, mut event: Event) -> Event {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        event.index = inner.next;
        inner.next += 1;
        event.time = self.start.elapsed().as_nanos() as u64;
        if let (Process::Client(p), None) = (&event.process, event.session) {
            event.session = inner.sessions.get(p).copied();
        }
        if inner.error.is_none() {
            // One line per write and a flush per event: a crash cuts at most the last line.
            let written = serde_json::to_vec(&event)
                .map_err(io::Error::other)
                .and_then(|mut line| {
                    line.push(b'\n');
                    inner.out.write_all(&line)?;
                    inner.out.flush()
                });
            if let Err(e) = written {
                tracing::error!("writing history.jsonl failed: {e}");
                inner.error = Some(e);
            }
        }
        match event.kind {
            EventType::Ok => self.stats.ok.fetch_add(1, Ordering::Relaxed),
            EventType::Fail => self.stats.fail.fetch_add(1, Ordering::Relaxed),
            EventType::Info if matches!(event.process, Process::Client(_)) => {
                self.stats.info.fetch_add(1, Ordering::Relaxed)
            }
            _ => 0,
        };
        event
    }

    /// From now on, events of `process` carry `session`.
    pub fn set_session(&self, process: u64, session: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sessions.insert(process, session);
    }

    /// A client process invokes an op.
    pub fn invoke(&self, process: u64, op: &OpSpec) -> Event {
        self.record(client_event(
            process,
            EventType::Invoke,
            op,
            op.invoke_value(),
        ))
    }

    /// The op of `process` completed as `attempt` says.
    pub fn complete(&self, process: u64, op: &OpSpec, attempt: &Attempt) -> Event {
        let (kind, value, error) = match &attempt.outcome {
            // A read's completion carries the value read; an update's repeats what it wrote.
            Outcome::Ok { read } if op.is_read() => (EventType::Ok, json!(read), None),
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
    pub fn nemesis(&self, f: &str, value: Value) -> Event {
        self.observe("nemesis", f, value)
    }

    /// An observation by `actor` (a named `info` event the checkers skip), such as the harness noting
    /// when the final reads began or what the convergence check found.
    pub fn observe(&self, actor: &str, f: &str, value: Value) -> Event {
        self.record(Event {
            index: 0,
            time: 0,
            process: Process::Named(actor.into()),
            kind: EventType::Info,
            f: f.to_string(),
            key: None,
            value,
            node: None,
            error: None,
            session: None,
        })
    }

    /// Every event so far, read back from the file (flushed first). A line that does not parse (a
    /// write cut short) ends the list.
    pub fn events(&self) -> io::Result<Vec<Event>> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.out.flush()?;
        }
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
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = inner.error.take() {
            return Err(e);
        }
        inner.out.flush()?;
        inner.out.get_ref().sync_data()
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

fn client_event(process: u64, kind: EventType, op: &OpSpec, value: Value) -> Event {
    Event {
        index: 0,
        time: 0,
        process: Process::Client(process),
        kind,
        f: op.f().to_string(),
        key: Some(op.key.clone()),
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
    use crate::generator::OpKind;

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
        let ev = rec.complete(0, &write, &ok);
        assert_eq!((ev.value, ev.node.as_deref()), (json!(1), Some("n1")));
        rec.nemesis("start-partition", json!({"isolated": ["n1"]}));
        rec.set_session(1, 0);
        let ev = rec.invoke(1, &OpSpec::read("r"));
        assert_eq!(ev.session, Some(0), "process 1 goes on for session 0");
        // Not flushed explicitly: the file must already hold every event.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4);
        let h = checker::parse_jsonl(&text).unwrap();
        assert_eq!(h.ops.len(), 2, "the open read counts as info");
        assert_eq!(h.named_events, 1);
        let evs = rec.events().unwrap();
        assert_eq!(evs.len(), 4);
        assert!(evs
            .windows(2)
            .all(|w| w[0].index < w[1].index && w[0].time <= w[1].time));
        assert_eq!(rec.stats().ok, 1);
        rec.flush().unwrap();
    }
}
