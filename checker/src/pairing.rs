//! Pairing invocations with completions: a completion belongs to the open invocation of its process.
//! The parser ([`crate::pairer`]) applies it strictly (a second invoke or a stray completion is an error
//! naming the line); [`pair_events`] applies it leniently, for metrics over a history as recorded.

use crate::history::{Event, Process};
use rustc_hash::FxHashMap;

/// The open invocation of each client process: what the caller keeps of it (a position by default).
#[derive(Debug)]
pub(crate) struct Open<T = usize>(FxHashMap<u64, T>);

impl<T> Default for Open<T> {
    fn default() -> Self {
        Open(FxHashMap::default())
    }
}

impl<T> Open<T> {
    /// `process` invoked an op; returns the one it had open, which stays unpaired.
    pub(crate) fn invoke(&mut self, process: u64, op: T) -> Option<T> {
        self.0.insert(process, op)
    }

    /// The op `process` has open, if any.
    pub(crate) fn get(&self, process: u64) -> Option<&T> {
        self.0.get(&process)
    }

    /// `process` completed an op: the open one it completes, if any.
    pub(crate) fn complete(&mut self, process: u64) -> Option<T> {
        self.0.remove(&process)
    }

    /// Ops still open.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The ops still open, by process (in no particular order).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (u64, T)> + '_ {
        self.0.drain()
    }
}

/// One client op: its invocation and its completion (`None`: still open at the end), as positions in
/// the events given to [`pair_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pairing {
    pub invoke: usize,
    pub complete: Option<usize>,
}

/// Every client invocation in `events`, in order, with its completion. Named processes (the nemesis, the
/// harness's observations) are skipped; a completion without an open invocation is ignored, and an
/// invocation while one is open leaves the earlier open.
pub fn pair_events(events: &[Event]) -> Vec<Pairing> {
    let mut ops: Vec<Pairing> = Vec::new();
    let mut open = Open::default();
    for (at, e) in events.iter().enumerate() {
        let Process::Client(p) = e.process else {
            continue;
        };
        if e.kind == crate::history::EventType::Invoke {
            open.invoke(p, ops.len());
            ops.push(Pairing {
                invoke: at,
                complete: None,
            });
        } else if let Some(i) = open.complete(p) {
            ops[i].complete = Some(at);
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EventType::{self, *};

    fn ev(p: Option<u64>, kind: EventType) -> Event {
        let mut e = Event::named("nemesis", "x", serde_json::Value::Null);
        e.kind = kind;
        if let Some(p) = p {
            e.process = Process::Client(p);
        }
        e
    }

    #[test]
    fn each_invoke_gets_the_next_completion_of_its_process() {
        let events = [
            ev(Some(1), Invoke),
            ev(None, Info),
            ev(Some(2), Invoke),
            ev(Some(2), Ok),
            ev(Some(3), Fail),
            ev(Some(1), Info),
            ev(Some(2), Invoke),
        ];
        let p = |invoke, complete| Pairing { invoke, complete };
        assert_eq!(
            pair_events(&events),
            vec![p(0, Some(5)), p(2, Some(3)), p(6, None)]
        );
    }
}
