//! The bound on open connections. Every accepted connection is registered here; at the bound a new one
//! makes room by closing a connection that is doing nothing useful (a client that has not finished its
//! first request head, oldest first; else the longest-idle keep-alive connection), or is refused when every
//! open connection is in the middle of a request. So half-sent or idle connections can never lock other
//! clients out, and the process never runs out of file descriptors (which used to silence a node).
//!
//! Peers are not starved by clients: connections that proved to be peers (a `/raft` request with the
//! cluster's secret) are never closed to make room, and connections from a peer's address may go
//! [`PEER_RESERVE`] over the bound. Hitting the bound is logged at most every 10 s, with counts.

use crate::log_throttle::Throttle;
use axum::extract::{ConnectInfo, Request};
use futures::task::AtomicWaker;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::warn;

/// Connections from a peer's address may exceed the bound by this many.
pub const PEER_RESERVE: usize = 32;

/// Where a connection is in its request cycle, as far as its bytes show.
const FRESH: u8 = 0; // accepted, its first request head not complete yet
const IDLE: u8 = 1; // answered at least once, waiting for (or reading) its next head
const BUSY: u8 = 2; // head complete, not answered yet

/// What the gate and the connection's I/O share.
pub struct ConnShared {
    id: u64,
    remote: SocketAddr,
    phase: AtomicU8,
    /// Milliseconds since the gate started, when the connection last finished a head or an answer.
    last_active_ms: AtomicU64,
    peer: AtomicBool,
    evicted: AtomicBool,
    waker: AtomicWaker,
}

impl ConnShared {
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Register the reader to wake when the connection is closed to make room.
    pub fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    fn set_phase(&self, phase: u8, now_ms: u64) {
        self.phase.store(phase, Ordering::Release);
        self.last_active_ms.store(now_ms, Ordering::Release);
    }
}

pub struct ConnGate {
    bound: usize,
    peer_ips: HashSet<IpAddr>,
    start: Instant,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<ConnShared>>>,
    evicted: AtomicU64,
    refused: AtomicU64,
    report: Throttle,
}

impl ConnGate {
    pub fn new(bound: usize, peer_ips: impl IntoIterator<Item = IpAddr>) -> Arc<ConnGate> {
        Arc::new(ConnGate {
            bound: bound.max(1),
            peer_ips: peer_ips.into_iter().collect(),
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
            evicted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            report: Throttle::new(Duration::from_secs(10)),
        })
    }

    pub fn bound(&self) -> usize {
        self.bound
    }

    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnShared>>> {
        // The map is never left half-updated by a panic.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a new connection, making room if needed; `None`: refused (close it).
    pub fn admit(&self, remote: SocketAddr) -> Option<Arc<ConnShared>> {
        let mut open = self.lock();
        let mut made_room = false;
        if open.len() >= self.bound {
            if let Some(victim) = pick_victim(&open) {
                let victim = open.remove(&victim).expect("picked from the map");
                victim.evicted.store(true, Ordering::Release);
                victim.waker.wake();
                made_room = true;
            } else if !(self.peer_ips.contains(&remote.ip())
                && open.len() < self.bound + PEER_RESERVE)
            {
                let n = open.len();
                drop(open);
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.report_limit(n);
                return None;
            }
        }
        let shared = Arc::new(ConnShared {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            remote,
            phase: AtomicU8::new(FRESH),
            last_active_ms: AtomicU64::new(self.now_ms()),
            peer: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        open.insert(shared.id, shared.clone());
        let n = open.len();
        drop(open);
        if made_room {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            self.report_limit(n);
        }
        Some(shared)
    }

    /// The connection is gone (or was closed to make room: then nothing is left to do).
    pub fn release(&self, conn: &ConnShared) {
        self.lock().remove(&conn.id);
    }

    pub fn head_complete(&self, conn: &ConnShared) {
        conn.set_phase(BUSY, self.now_ms());
    }

    pub fn answered(&self, conn: &ConnShared) {
        if conn.phase.load(Ordering::Acquire) == BUSY {
            conn.set_phase(IDLE, self.now_ms());
        }
    }

    pub fn open_count(&self) -> usize {
        self.lock().len()
    }

    fn report_limit(&self, open: usize) {
        if self.report.hit().is_none() {
            return;
        }
        warn!(
            open,
            bound = self.bound,
            closed_to_make_room = self.evicted.swap(0, Ordering::Relaxed),
            refused = self.refused.swap(0, Ordering::Relaxed),
            "connection limit reached: closed idle or half-sent connections to make room, refused new ones when all were busy (see --max-connections; this line repeats at most every 10 s)"
        );
    }
}

/// The connection to close to make room: a fresh one that has not sent its head yet (oldest first), else
/// the longest-idle one; never a proven peer, never one in the middle of a request.
fn pick_victim(open: &BTreeMap<u64, Arc<ConnShared>>) -> Option<u64> {
    let candidates = open
        .values()
        .filter(|c| !c.peer.load(Ordering::Acquire) && !c.is_evicted());
    let mut idle: Option<(u64, u64)> = None;
    for c in candidates {
        match c.phase.load(Ordering::Acquire) {
            FRESH => return Some(c.id), // ids grow: the first found is the oldest
            IDLE => {
                let t = c.last_active_ms.load(Ordering::Acquire);
                if idle.is_none_or(|(_, best)| t < best) {
                    idle = Some((c.id, t));
                }
            }
            _ => {}
        }
    }
    idle.map(|(id, _)| id)
}

/// Handed to every request (axum's `ConnectInfo`), so handlers can mark a connection as a peer's.
#[derive(Clone)]
pub struct ConnInfo(pub Arc<ConnShared>);

/// The request proved to come from a peer: never close its connection to make room.
pub fn mark_peer(req: &Request) {
    if let Some(ConnectInfo(ConnInfo(c))) = req.extensions().get::<ConnectInfo<ConnInfo>>() {
        c.peer.store(true, Ordering::Release);
    }
}

pub fn remote_addr(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<ConnInfo>>()
        .map(|ConnectInfo(ConnInfo(c))| c.remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 4000))
    }

    #[test]
    fn at_the_bound_the_oldest_fresh_then_the_longest_idle_make_room() {
        let gate = ConnGate::new(3, []);
        let a = gate.admit(addr(1)).unwrap();
        let b = gate.admit(addr(1)).unwrap();
        let c = gate.admit(addr(1)).unwrap();
        gate.head_complete(&a); // busy: never closed
        let d = gate.admit(addr(1)).unwrap();
        assert!(!a.is_evicted() && b.is_evicted() && !c.is_evicted());
        gate.head_complete(&c);
        gate.head_complete(&d);
        gate.answered(&c); // c is now idle, and idle longest
        let _e = gate.admit(addr(1)).unwrap();
        assert!(c.is_evicted() && !d.is_evicted());
        assert_eq!(gate.open_count(), 3);
    }

    #[test]
    fn when_all_are_busy_or_peers_new_clients_are_refused_but_peer_addresses_get_the_reserve() {
        let gate = ConnGate::new(2, [addr(9).ip()]);
        let a = gate.admit(addr(1)).unwrap();
        let b = gate.admit(addr(9)).unwrap();
        gate.head_complete(&a);
        b.peer.store(true, Ordering::Release);
        assert!(gate.admit(addr(2)).is_none());
        assert!(gate.admit(addr(9)).is_some());
        assert!(!a.is_evicted() && !b.is_evicted());
        gate.release(&a);
        gate.release(&a); // twice is harmless
        assert_eq!(gate.open_count(), 2);
    }
}
