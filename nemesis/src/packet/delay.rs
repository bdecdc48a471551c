//! The delay of packet-delay: a thread bound to an NFQUEUE (of ours, inside the bridge namespace; or, on a
//! `--hosts` host, of the `harness nemesis-delay` process there). It holds each queued packet for delay ±
//! jitter (uniform, so packets may be reordered as with netem) and then accepts it; with a loss share it
//! drops that share instead (on a host, where the sender must not see the drop). Its death is visible
//! ([`DelayWorker::alive`]): the run must not go on silently undelayed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nfq::{Message, Queue, Verdict};
use rand::{Rng, SeedableRng};

use crate::netns::enter_netns;
use crate::Error;

/// How often the thread looks for new packets when none is due sooner.
const TICK: Duration = Duration::from_millis(1);
/// Packets the kernel may hold for us; a full queue drops (never passes undelayed).
const QUEUE_MAX: u32 = 65_536;

/// A running delay thread. Stop it with [`DelayWorker::stop`]; dropping it stops it too.
#[derive(Debug)]
pub(crate) struct DelayWorker {
    stop: Arc<AtomicBool>,
    held: Arc<AtomicU64>,
    handle: Option<JoinHandle<Result<(), String>>>,
}

/// Delay and jitter of one fault.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub delay: Duration,
    pub jitter: Duration,
    /// Percent of the queued packets dropped (silently: the sender saw them sent).
    pub loss_pct: f64,
}

impl DelayWorker {
    /// Starts the thread in `ns` (or in the namespace of the caller, `None`) and returns once it is bound
    /// to `queue` (so rules sending packets there may be installed), or with the reason it could not bind.
    pub(crate) fn start(ns: Option<&str>, queue: u16, spec: Spec) -> Result<DelayWorker, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (ns_owned, stop2, held2) = (ns.map(String::from), stop.clone(), held.clone());
        let handle = std::thread::Builder::new()
            .name(format!("delay-{queue}"))
            .spawn(move || run(ns_owned.as_deref(), queue, spec, &stop2, &held2, ready_tx))
            .map_err(|e| Error::io("starting the packet-delay thread", e))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(DelayWorker {
                stop,
                held,
                handle: Some(handle),
            }),
            Ok(Err(why)) => Err(Error::Privileges(why)),
            Err(_) => Err(Error::Privileges(
                "the packet-delay thread ended before binding its queue".into(),
            )),
        }
    }

    /// Whether the thread still runs (it ends only when stopped or on an error).
    pub(crate) fn alive(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// How many packets it has delayed so far.
    pub(crate) fn held(&self) -> u64 {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the thread (releasing what it holds) and returns why it had ended, if it died early.
    pub(crate) fn stop(&mut self) -> Result<(), String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the packet-delay thread panicked".into()),
        }
    }
}

impl Drop for DelayWorker {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("packet-delay thread: {e}");
        }
    }
}

struct Held {
    due: Instant,
    seq: u64,
    msg: Message,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    /// Reversed, so the max-heap pops the earliest due packet first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.due, o.seq).cmp(&(self.due, self.seq))
    }
}

fn open(ns: Option<&str>, queue: u16) -> Result<Queue, String> {
    if let Some(ns) = ns {
        enter_netns(ns).map_err(|e| e.to_string())?;
    }
    let ns = ns.unwrap_or("this namespace");
    let err = |what: &str, e: std::io::Error| format!("NFQUEUE {queue} in {ns}: {what}: {e}");
    let mut q = Queue::open().map_err(|e| err("opening", e))?;
    q.bind(queue).map_err(|e| err("binding", e))?;
    // Metadata only: the verdict needs the packet's id, not its bytes.
    q.set_copy_range(queue, 0)
        .map_err(|e| err("copy range", e))?;
    q.set_queue_max_len(queue, QUEUE_MAX)
        .map_err(|e| err("queue length", e))?;
    q.set_fail_open(queue, false)
        .map_err(|e| err("fail-open", e))?;
    q.set_nonblocking(true);
    Ok(q)
}

fn run(
    ns: Option<&str>,
    queue: u16,
    spec: Spec,
    stop: &AtomicBool,
    held: &AtomicU64,
    ready: mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    let mut q = match open(ns, queue) {
        Ok(q) => q,
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let _ = ready.send(Ok(()));
    let ns = ns.unwrap_or("this namespace");
    let mut rng = rand_chacha::ChaCha8Rng::from_entropy();
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let result = loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break Ok(());
        }
        if let Err(e) = receive(&mut q, &mut heap, &mut seq, spec, &mut rng) {
            break Err(format!("NFQUEUE {queue} in {ns}: receiving: {e}"));
        }
        held.store(seq, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = release(&mut q, &mut heap, Instant::now()) {
            break Err(format!("NFQUEUE {queue} in {ns}: verdict: {e}"));
        }
        let next = heap.peek().map_or(TICK, |h: &Held| {
            h.due.saturating_duration_since(Instant::now()).min(TICK)
        });
        std::thread::sleep(next);
    };
    // Whatever is still held goes on now: a stopped fault delays nothing more.
    let _ = release(
        &mut q,
        &mut heap,
        Instant::now() + Duration::from_secs(3600),
    );
    let _ = q.unbind(queue);
    result
}

fn receive(
    q: &mut Queue,
    heap: &mut BinaryHeap<Held>,
    seq: &mut u64,
    spec: Spec,
    rng: &mut impl Rng,
) -> std::io::Result<()> {
    loop {
        match q.recv() {
            Ok(mut msg) => {
                *seq += 1;
                if spec.loss_pct > 0.0 && rng.gen_bool((spec.loss_pct / 100.0).min(1.0)) {
                    msg.set_verdict(Verdict::Drop);
                    q.verdict(msg)?;
                    continue;
                }
                heap.push(Held {
                    due: Instant::now() + pick(spec, rng),
                    seq: *seq,
                    msg,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn release(q: &mut Queue, heap: &mut BinaryHeap<Held>, now: Instant) -> std::io::Result<()> {
    while heap.peek().is_some_and(|h| h.due <= now) {
        let mut msg = heap.pop().expect("peeked").msg;
        msg.set_verdict(Verdict::Accept);
        q.verdict(msg)?;
    }
    Ok(())
}

/// One packet's delay: uniform in delay ± jitter, never negative.
pub(crate) fn pick(spec: Spec, rng: &mut impl Rng) -> Duration {
    let (d, j) = (
        spec.delay.as_micros() as i64,
        spec.jitter.as_micros() as i64,
    );
    let us = if j == 0 { d } else { d + rng.gen_range(-j..=j) };
    Duration::from_micros(us.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_jitter_and_average_the_delay() {
        let spec = Spec {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            loss_pct: 0.0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let picks: Vec<Duration> = (0..10_000).map(|_| pick(spec, &mut rng)).collect();
        assert!(picks
            .iter()
            .all(|d| (Duration::from_millis(15)..=Duration::from_millis(25)).contains(d)));
        let mean = picks.iter().sum::<Duration>() / picks.len() as u32;
        assert!((mean.as_secs_f64() * 1000.0 - 20.0).abs() < 0.2, "{mean:?}");
        let big_jitter = Spec {
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(10),
            loss_pct: 0.0,
        };
        assert!((0..1000).all(|_| pick(big_jitter, &mut rng) <= Duration::from_millis(11)));
    }
}
