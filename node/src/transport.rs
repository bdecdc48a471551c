//! Peer transport: one sender task per peer, fed from a bounded queue, posting batches of messages as a
//! JSON array to the peer's `POST /raft`, with the cluster's secret (if any) in `Authorization`.
//!
//! Raft tolerates lost messages, so nothing here retries: when a peer is slow or unreachable its queue
//! drops the oldest messages (the newest carry the freshest state), and a failed POST is dropped. The
//! driver thread only pushes onto queues and never waits on the network.

use crate::peer_auth::PeerSecret;
use crate::raft::{Message, NodeId};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

/// Messages waiting per peer before the oldest are dropped.
pub const QUEUE_CAPACITY: usize = 4096;
/// Most messages in one POST.
const MAX_MESSAGES_PER_POST: usize = 512;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// A bounded FIFO that drops its oldest element when full.
#[derive(Debug)]
pub struct DropOldestQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    dropped: AtomicU64,
    notify: Notify,
}

impl<T> DropOldestQueue<T> {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "queue capacity must be positive");
        DropOldestQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity,
            dropped: AtomicU64::new(0),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        // A VecDeque is never left half-updated by a panic in push/pop.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enqueue without blocking; wakes the consumer.
    pub fn push(&self, item: T) {
        {
            let mut q = self.lock();
            if q.len() == self.capacity {
                q.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(item);
        }
        self.notify.notify_one();
    }

    /// Take up to `max` items, oldest first.
    pub fn drain(&self, max: usize) -> Vec<T> {
        let mut q = self.lock();
        let n = q.len().min(max);
        q.drain(..n).collect()
    }

    /// Wait until something was pushed since the last wait (a push before the wait counts).
    pub async fn wait(&self) {
        self.notify.notified().await
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Handles to every peer's queue. Cheap to call from the driver thread.
pub struct Transport {
    queues: HashMap<NodeId, Arc<DropOldestQueue<Message>>>,
}

impl Transport {
    /// Spawn one sender task per peer other than `self_id` on `rt`.
    pub fn start(
        self_id: &str,
        peers: &BTreeMap<NodeId, SocketAddr>,
        secret: Option<PeerSecret>,
        rt: &tokio::runtime::Handle,
    ) -> Result<Transport, reqwest::Error> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(s) = &secret {
            headers.insert(reqwest::header::AUTHORIZATION, s.header_value());
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(2)
            .build()?;
        let mut queues = HashMap::new();
        for (id, addr) in peers {
            if id == self_id {
                continue;
            }
            let queue = Arc::new(DropOldestQueue::new(QUEUE_CAPACITY));
            queues.insert(id.clone(), queue.clone());
            let url = format!("http://{addr}/raft");
            rt.spawn(send_loop(id.clone(), url, client.clone(), queue));
        }
        Ok(Transport { queues })
    }

    /// Queue a message for its destination; messages to unknown nodes are dropped with a log line.
    pub fn send(&self, msg: Message) {
        match self.queues.get(&msg.to) {
            Some(q) => q.push(msg),
            None => warn!(to = %msg.to, "dropping message to a node that is not a peer"),
        }
    }
}

async fn send_loop(
    peer: NodeId,
    url: String,
    client: reqwest::Client,
    queue: Arc<DropOldestQueue<Message>>,
) {
    let mut reachable = true;
    let mut reported_drops = 0;
    loop {
        queue.wait().await;
        loop {
            let batch = queue.drain(MAX_MESSAGES_PER_POST);
            if batch.is_empty() {
                break;
            }
            let result = match serde_json::to_vec(&batch) {
                Ok(body) => client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map(|_| ()),
                Err(e) => {
                    warn!(%peer, error = %e, "cannot serialize messages; dropping them");
                    continue;
                }
            };
            // Log transitions only: a partitioned peer would otherwise flood the log.
            match result {
                Ok(()) if !reachable => {
                    reachable = true;
                    info!(%peer, "peer reachable again");
                }
                Ok(()) => {}
                Err(e) if reachable => {
                    reachable = false;
                    warn!(%peer, error = %e, "cannot reach peer; dropping messages until it answers");
                }
                Err(e) => debug!(%peer, error = %e, "peer still unreachable"),
            }
            let dropped = queue.dropped();
            if dropped >= reported_drops + 1000 {
                debug!(%peer, dropped, "peer queue full; dropped oldest messages");
                reported_drops = dropped;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_oldest() {
        let q = DropOldestQueue::new(3);
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.len(), 3);
        assert_eq!(q.drain(2), vec![2, 3]);
        assert_eq!(q.drain(10), vec![4]);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn push_before_wait_wakes_the_consumer() {
        let q = Arc::new(DropOldestQueue::new(8));
        q.push(1);
        // Must not hang: the permit from the earlier push is kept.
        q.wait().await;
        assert_eq!(q.drain(8), vec![1]);
        let q2 = q.clone();
        let consumer = tokio::spawn(async move {
            q2.wait().await;
            q2.drain(8)
        });
        tokio::task::yield_now().await;
        q.push(2);
        assert_eq!(consumer.await.unwrap(), vec![2]);
    }
}
