//! A deterministic simulated network for `RaftNode`: seeded message delays, drops, reordering,
//! partitions, crashes and restarts from persisted state, per-node clock rates; client histories for the
//! linearizability checker; Raft safety invariants checked as the run goes and at its end.
#![allow(dead_code)] // each test uses a different part

use checker::{Event, EventType, Process};
use node::api::{ErrorCode, LeaseVotes, ReadMode, Replication, Role};
use node::raft::{
    ClientReply, ClientRequest, ClientResult, Config, Entry, HardState, Message, MessageBody,
    RaftNode, Ready, Restored, Snapshot,
};
use rand::{Rng, RngCore, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

pub const MS: u64 = 1000; // simulated time is in microseconds

pub struct SimNode {
    pub core: Option<RaftNode>,
    /// What the shell persisted: the state a restart reads back.
    pub hard_state: HardState,
    /// The latest snapshot the shell made durable.
    pub snapshot: Option<Snapshot>,
    /// The node's whole log from index 1 as far as persisted: entries a snapshot covers are kept here
    /// (from the global committed prefix after an install) so the invariant checks stay whole.
    pub log: Vec<Entry>,
    /// Clock rate (1.0 = real time). The clock reads `base + (t - anchor) * rate`; it starts at 0 when
    /// the process (re)starts; jumps and rate changes start a new segment.
    pub rate: f64,
    anchor: u64,
    base: f64,
    next_tick: u64,
    /// Paused (SIGSTOP): no ticks and no message handling until this time; inputs queue up.
    pub paused_until: u64,
    /// Committed prefix of this node already compared with the global one.
    checked_commit: u64,
    was_leader_term: Option<u64>,
}

enum Ev {
    Deliver(Message),
    Tick(usize),
    Client {
        client: usize,
    },
    /// A client request waiting in a paused node's socket.
    Request(usize, u64, ClientRequest),
}

#[derive(Clone, Debug)]
pub enum OpKind {
    Read,
    Write(i64),
    Cas(Option<i64>, i64),
}

struct Outstanding {
    client: usize,
    process: u64,
    key: String,
    kind: OpKind,
    deadline: u64,
    node: usize,
}

pub struct Client {
    pub process: u64,
    busy: Option<u64>,
    /// Node this client sends to next (follows NotLeader hints unless pinned).
    pub target: usize,
    pub pinned: bool,
}

pub struct SimOptions {
    pub read_mode: ReadMode,
    pub replication: Replication,
    pub nodes: usize,
    pub clients: usize,
    /// The first `sticky_clients` clients never change node and only read.
    pub sticky_clients: usize,
    pub keys: usize,
    pub seed: u64,
    pub drop_prob: f64,
    pub delay: (u64, u64),
    pub max_rate_skew: f64,
    pub lease_ms: u64,
    pub lease_votes: LeaseVotes,
    /// Snapshot every this many applied entries (small, so schedules exercise compaction and installs).
    pub snapshot_every: u64,
    pub election_ms: u64,
    pub heartbeat_ms: u64,
    pub tick_ms: u64,
    pub op_timeout_ms: u64,
}

impl SimOptions {
    pub fn new(read_mode: ReadMode, nodes: usize, seed: u64) -> Self {
        SimOptions {
            read_mode,
            replication: Replication::Quorum,
            nodes,
            clients: 5,
            sticky_clients: 3,
            keys: 2,
            seed,
            drop_prob: 0.02,
            delay: (200, 4 * MS),
            max_rate_skew: 0.04,
            lease_ms: 600,
            lease_votes: LeaseVotes::Report,
            snapshot_every: 25,
            election_ms: 150,
            heartbeat_ms: 30,
            tick_ms: 5,
            op_timeout_ms: 600,
        }
    }
}

pub struct Sim {
    pub t: u64,
    pub rng: SimRng,
    pub opts: SimOptions,
    pub ids: Vec<String>,
    pub nodes: Vec<SimNode>,
    queue: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    /// Directed links that drop everything.
    pub blocked: BTreeSet<(usize, usize)>,
    pub clients: Vec<Client>,
    /// Clients issue no new ops when false.
    pub clients_on: bool,
    outstanding: HashMap<u64, Outstanding>,
    next_req: u64,
    next_process: u64,
    next_value: i64,
    pub history: Vec<Event>,
    /// term -> leader, for election safety.
    pub leaders: BTreeMap<u64, usize>,
    /// The longest committed prefix seen on any node.
    pub committed: Vec<Entry>,
    /// Writes acknowledged `ok` (key, value), for the lost-write check.
    pub acked_writes: Vec<(String, i64)>,
    /// Completion event of every finished request, by request id.
    pub completions: HashMap<u64, Event>,
    /// Snapshots made durable and snapshots sent (InstallSnapshot), over all nodes.
    pub snapshots_written: u64,
    pub snapshots_sent: u64,
}

impl Sim {
    pub fn new(opts: SimOptions) -> Sim {
        let mut rng = SimRng::seed_from_u64(opts.seed);
        let ids: Vec<String> = (1..=opts.nodes).map(|i| format!("n{i}")).collect();
        let mut sim = Sim {
            t: 0,
            opts,
            ids: ids.clone(),
            nodes: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            blocked: BTreeSet::new(),
            clients: Vec::new(),
            clients_on: true,
            outstanding: HashMap::new(),
            next_req: 1,
            next_process: 0,
            next_value: 1,
            history: Vec::new(),
            leaders: BTreeMap::new(),
            committed: Vec::new(),
            acked_writes: Vec::new(),
            completions: HashMap::new(),
            snapshots_written: 0,
            snapshots_sent: 0,
            rng: SimRng::seed_from_u64(0),
        };
        for i in 0..sim.opts.nodes {
            let skew = sim.opts.max_rate_skew;
            let rate = if skew > 0.0 {
                1.0 + rng.gen_range(-skew..skew)
            } else {
                1.0
            };
            let offset = rng.gen_range(0..sim.opts.tick_ms * MS);
            sim.nodes.push(SimNode {
                core: None,
                hard_state: HardState::default(),
                snapshot: None,
                log: Vec::new(),
                rate,
                anchor: 0,
                base: 0.0,
                next_tick: offset,
                paused_until: 0,
                checked_commit: 0,
                was_leader_term: None,
            });
            sim.start_node(i);
        }
        for c in 0..sim.opts.clients {
            let process = sim.next_process;
            sim.next_process += 1;
            sim.clients.push(Client {
                process,
                busy: None,
                target: c % sim.opts.nodes,
                // Sticky clients keep their node (as the harness's `sticky` routing): they are the ones
                // that ask a cut-off old leader.
                pinned: c < sim.opts.sticky_clients,
            });
            let at = rng.gen_range(0..20 * MS);
            sim.push(at, Ev::Client { client: c });
        }
        sim.rng = rng;
        sim
    }

    pub fn config(&self, i: usize) -> Config {
        let o = &self.opts;
        Config {
            id: self.ids[i].clone(),
            members: self.ids.clone(),
            read_mode: o.read_mode,
            replication: o.replication,
            heartbeat_interval: Duration::from_millis(o.heartbeat_ms),
            election_timeout: Duration::from_millis(o.election_ms),
            lease: Duration::from_millis(o.lease_ms),
            lease_votes: o.lease_votes,
            max_drift: 0.05,
            pre_vote: true,
            check_quorum: true,
            max_batch: 8,
            async_lag: Duration::ZERO,
            snapshot_every: o.snapshot_every,
            seed: o.seed.wrapping_mul(31).wrapping_add(i as u64),
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    /// The node's clock reading: starts at 0 when its process starts, runs at its rate.
    pub fn local_now(&self, i: usize) -> Duration {
        let n = &self.nodes[i];
        let local = n.base + self.t.saturating_sub(n.anchor) as f64 * n.rate;
        Duration::from_micros(local.max(0.0) as u64)
    }

    /// Run node `i`'s clock at `rate` from now on.
    pub fn set_rate(&mut self, i: usize, rate: f64) {
        let now = self.local_now(i).as_micros() as f64;
        let n = &mut self.nodes[i];
        n.base = now;
        n.anchor = self.t;
        n.rate = rate;
    }

    /// Jump node `i`'s clock by `offset_us` (backwards stops at 0), as `POST /admin/clock` does.
    pub fn jump_clock(&mut self, i: usize, offset_us: i64) {
        let now = self.local_now(i).as_micros() as f64;
        let n = &mut self.nodes[i];
        n.base = (now + offset_us as f64).max(0.0);
        n.anchor = self.t;
    }

    fn start_node(&mut self, i: usize) {
        self.nodes[i].anchor = self.t;
        self.nodes[i].base = 0.0;
        let snapshot = self.nodes[i].snapshot.clone();
        let after = snapshot.as_ref().map_or(0, |s| s.last_index as usize);
        let restored = Restored {
            hard_state: self.nodes[i].hard_state.clone(),
            entries: self.nodes[i].log[after.min(self.nodes[i].log.len())..].to_vec(),
            snapshot,
        };
        let core = RaftNode::new(self.config(i), restored, self.local_now(i));
        self.nodes[i].core = Some(core);
        self.nodes[i].checked_commit = 0;
        self.nodes[i].was_leader_term = None;
        let at = self.t + self.nodes[i].next_tick % (self.opts.tick_ms * MS);
        self.push(at, Ev::Tick(i));
    }

    pub fn crash(&mut self, i: usize) {
        self.nodes[i].core = None;
    }

    /// Crash node `i` and lose what it sent that has not arrived yet (it died before the packets left).
    pub fn crash_silently(&mut self, i: usize) {
        self.crash(i);
        let id = self.ids[i].clone();
        self.queue
            .retain(|_, ev| !matches!(ev, Ev::Deliver(m) if m.from == id));
    }

    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].core.is_none() {
            self.start_node(i);
        }
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].core.is_some()
    }

    pub fn isolate(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.blocked.insert((i, j));
                self.blocked.insert((j, i));
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn status(&self, i: usize) -> Option<node::api::Status> {
        let core = self.nodes[i].core.as_ref()?;
        Some(core.status(self.local_now(i)))
    }

    /// The live node that is leader of the highest term, if any.
    pub fn leader(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter_map(|i| self.status(i).map(|s| (i, s)))
            .filter(|(_, s)| s.role == Role::Leader)
            .max_by_key(|(_, s)| s.term)
            .map(|(i, _)| i)
    }

    /// Run until global time `until`.
    pub fn run_until(&mut self, until: u64) {
        while let Some(entry) = self.queue.first_entry() {
            let (at, _) = *entry.key();
            if at > until {
                break;
            }
            let ev = entry.remove();
            self.t = self.t.max(at);
            self.handle(ev);
        }
        self.t = self.t.max(until);
        self.expire_ops();
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Tick(i) => {
                let next = self.t + self.opts.tick_ms * MS;
                if self.nodes[i].core.is_none() {
                    return; // a restart schedules a new tick chain
                }
                self.push(next, Ev::Tick(i));
                if self.t < self.nodes[i].paused_until {
                    return;
                }
                let now = self.local_now(i);
                self.nodes[i].core.as_mut().unwrap().tick(now);
                self.after(i);
            }
            Ev::Deliver(msg) => {
                let Some(to) = self.ids.iter().position(|id| *id == msg.to) else {
                    return;
                };
                if self.nodes[to].core.is_none() {
                    return;
                }
                if self.t < self.nodes[to].paused_until {
                    // Paused: the message waits in the socket until the process resumes.
                    let at = self.nodes[to].paused_until + 1;
                    return self.push(at, Ev::Deliver(msg));
                }
                let now = self.local_now(to);
                self.nodes[to].core.as_mut().unwrap().step(msg, now);
                self.after(to);
            }
            Ev::Request(node, id, req) => {
                if self.nodes[node].core.is_none() {
                    // Connection refused: definitely not applied.
                    return self.complete(
                        id,
                        Err(ErrorCode::Unavailable),
                        None,
                        "connection refused",
                    );
                }
                if self.t < self.nodes[node].paused_until {
                    let at = self.nodes[node].paused_until + 1;
                    return self.push(at, Ev::Request(node, id, req));
                }
                let now = self.local_now(node);
                self.nodes[node].core.as_mut().unwrap().client(id, req, now);
                self.after(node);
            }
            Ev::Client { client } => {
                self.expire_ops();
                if self.clients_on && self.clients[client].busy.is_none() {
                    self.issue(client);
                }
                let next = self.t + self.rng.gen_range(1..15) * MS;
                self.push(next, Ev::Client { client });
            }
        }
    }

    /// A random op from `client` to its target node.
    fn issue(&mut self, client: usize) {
        let key = format!("k{}", self.rng.gen_range(0..self.opts.keys));
        // Sticky clients only read: a writer stuck on a cut-off node would block for the op timeout.
        let sticky = self.clients[client].pinned;
        let kind = match self.rng.gen_range(0..10) {
            _ if sticky => OpKind::Read,
            0..=4 => OpKind::Read,
            5..=7 => {
                self.next_value += 1;
                OpKind::Write(self.next_value)
            }
            _ => {
                self.next_value += 1;
                let from = self.rng.gen_range(0..self.next_value);
                OpKind::Cas((from > 0).then_some(from), self.next_value)
            }
        };
        let node = self.clients[client].target;
        self.submit(client, node, key, kind);
    }

    /// Send one op now; returns its request id.
    pub fn submit(&mut self, client: usize, node: usize, key: String, kind: OpKind) -> u64 {
        let id = self.next_req;
        self.next_req += 1;
        let process = self.clients[client].process;
        self.clients[client].busy = Some(id);
        let (f, value) = match &kind {
            OpKind::Read => ("read", serde_json::Value::Null),
            OpKind::Write(v) => ("write", serde_json::json!(v)),
            OpKind::Cas(from, to) => ("cas", serde_json::json!([from, to])),
        };
        self.record(process, EventType::Invoke, f, &key, value, None, None);
        self.outstanding.insert(
            id,
            Outstanding {
                client,
                process,
                key: key.clone(),
                kind: kind.clone(),
                deadline: self.t + self.opts.op_timeout_ms * MS,
                node,
            },
        );
        let req = match kind {
            OpKind::Read => ClientRequest::Read { key },
            OpKind::Write(value) => ClientRequest::Write { key, value },
            OpKind::Cas(from, to) => ClientRequest::Cas { key, from, to },
        };
        self.handle(Ev::Request(node, id, req));
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        process: u64,
        kind: EventType,
        f: &str,
        key: &str,
        value: serde_json::Value,
        node: Option<usize>,
        error: Option<String>,
    ) {
        self.history.push(Event {
            index: self.history.len() as u64,
            time: self.t * 1000,
            process: Process::Client(process),
            kind,
            f: f.to_string(),
            key: Some(key.to_string()),
            value,
            node: node.map(|n| self.ids[n].clone()),
            error,
            session: None,
        });
    }

    /// Finish an op: `Ok(reply)` or an error code (definite -> fail, Timeout -> info).
    fn complete(
        &mut self,
        id: u64,
        result: Result<ClientReply, ErrorCode>,
        leader_hint: Option<String>,
        message: &str,
    ) {
        let Some(op) = self.outstanding.remove(&id) else {
            return; // timed out already
        };
        let f = match op.kind {
            OpKind::Read => "read",
            OpKind::Write(_) => "write",
            OpKind::Cas(..) => "cas",
        };
        let input = match &op.kind {
            OpKind::Read => serde_json::Value::Null,
            OpKind::Write(v) => serde_json::json!(v),
            OpKind::Cas(from, to) => serde_json::json!([from, to]),
        };
        let node = Some(op.node);
        match result {
            Ok(ClientReply::Read { value }) => self.record(
                op.process,
                EventType::Ok,
                f,
                &op.key,
                serde_json::json!(value),
                node,
                None,
            ),
            // The sim issues no appends, so no list is ever read.
            Ok(ClientReply::List { .. }) => unreachable!("the sim issues no appends"),
            Ok(ClientReply::Txn { .. }) => unreachable!("the sim issues no transactions"),
            Ok(ClientReply::Written) => {
                if let OpKind::Write(v) = op.kind {
                    self.acked_writes.push((op.key.clone(), v));
                }
                self.record(op.process, EventType::Ok, f, &op.key, input, node, None)
            }
            Err(code) if code.is_definite() => {
                let err = Some(format!("{code:?}: {message}"));
                self.record(op.process, EventType::Fail, f, &op.key, input, node, err);
            }
            Err(code) => {
                let err = Some(format!("{code:?}: {message}"));
                self.record(op.process, EventType::Info, f, &op.key, input, node, err);
                // A process whose op ended `info` never issues another op.
                self.clients[op.client].process = self.next_process;
                self.next_process += 1;
            }
        }
        if let Some(e) = self.history.last() {
            self.completions.insert(id, e.clone());
        }
        let c = &mut self.clients[op.client];
        c.busy = None;
        if !c.pinned {
            let hinted = leader_hint.and_then(|h| self.ids.iter().position(|id| *id == h));
            match (result_is_refusal(&result), hinted) {
                (_, Some(l)) => c.target = l,
                (true, None) => c.target = self.rng.gen_range(0..self.nodes.len()),
                _ => {}
            }
        }
    }

    /// Ops past their deadline end `info` (the client gave up; the outcome is unknown).
    fn expire_ops(&mut self) {
        let now = self.t;
        let expired: Vec<u64> = self
            .outstanding
            .iter()
            .filter(|(_, o)| now >= o.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.complete(id, Err(ErrorCode::Timeout), None, "client timeout");
        }
    }

    /// Honour the Ready contract of node `i`: persist, then send, then answer; check invariants.
    fn after(&mut self, i: usize) {
        let ready = self.nodes[i].core.as_mut().unwrap().ready();
        self.persist(i, &ready);
        for msg in ready.messages {
            self.send(i, msg);
        }
        for (id, result) in ready.responses {
            self.deliver_response(id, result);
        }
        self.check_node(i);
    }

    fn persist(&mut self, i: usize, ready: &Ready) {
        let n = &mut self.nodes[i];
        if let Some(hs) = &ready.hard_state {
            assert!(
                hs.term >= n.hard_state.term,
                "term went backwards on {}",
                self.ids[i]
            );
            n.hard_state = hs.clone();
        }
        if let Some(from) = ready.truncate_from {
            assert!(from >= 1, "truncate_from 0");
            n.log.truncate((from - 1) as usize);
        }
        for e in &ready.append {
            assert_eq!(
                e.index,
                n.log.len() as u64 + 1,
                "append not contiguous on {}",
                self.ids[i]
            );
            n.log.push(e.clone());
        }
        if let Some(w) = &ready.snapshot {
            let idx = w.snapshot.last_index as usize;
            // The snapshot covers committed entries only: our own if the log agrees with it at its index
            // (log matching), else (an install from the leader) the global committed prefix.
            let own = idx == 0
                || n.log
                    .get(idx - 1)
                    .is_some_and(|e| e.term == w.snapshot.last_term);
            let mut log = if own {
                n.log[..idx].to_vec()
            } else {
                assert!(
                    idx <= self.committed.len(),
                    "{} installed a snapshot past the committed prefix",
                    self.ids[i]
                );
                self.committed[..idx].to_vec()
            };
            log.extend(w.tail.iter().cloned());
            n.log = log;
            n.hard_state = w.hard_state.clone();
            n.snapshot = Some(w.snapshot.clone());
            self.snapshots_written += 1;
        }
    }

    fn send(&mut self, from: usize, msg: Message) {
        let Some(to) = self.ids.iter().position(|id| *id == msg.to) else {
            return;
        };
        if self.blocked.contains(&(from, to)) || self.rng.gen_bool(self.opts.drop_prob) {
            return;
        }
        if matches!(msg.body, MessageBody::InstallSnapshot { .. }) {
            self.snapshots_sent += 1;
        }
        // Some messages go through JSON as on the real transport (all would slow the debug build).
        let msg = if self.rng.gen_ratio(1, 16) {
            let json = serde_json::to_string(&msg).expect("serialize");
            serde_json::from_str(&json).expect("deserialize")
        } else {
            msg
        };
        let (lo, hi) = self.opts.delay;
        let at = self.t + self.rng.gen_range(lo..=hi);
        self.push(at, Ev::Deliver(msg));
    }

    fn deliver_response(&mut self, id: u64, result: ClientResult) {
        match result {
            Ok(reply) => self.complete(id, Ok(reply), None, ""),
            Err(e) => {
                let hint = e.leader.clone();
                self.complete(id, Err(e.code), hint, &e.message)
            }
        }
    }

    /// Election safety, state machine safety and leader completeness, after every step of node `i`.
    fn check_node(&mut self, i: usize) {
        let st = self.status(i).unwrap();
        let n = &self.nodes[i];
        if st.role == Role::Leader && n.was_leader_term != Some(st.term) {
            if let Some(&other) = self.leaders.get(&st.term) {
                assert_eq!(
                    other, i,
                    "two leaders in term {}: {} and {}",
                    st.term, self.ids[other], self.ids[i]
                );
            }
            self.leaders.insert(st.term, i);
            // Leader completeness: every entry committed so far is in the new leader's log.
            let log = &self.nodes[i].log;
            for e in &self.committed {
                assert_eq!(
                    log.get(e.index as usize - 1),
                    Some(e),
                    "leader {} of term {} lacks committed entry {}",
                    self.ids[i],
                    st.term,
                    e.index
                );
            }
            self.nodes[i].was_leader_term = Some(st.term);
        }
        // Everything a node has committed is persisted here and agrees with every other node.
        let n = &self.nodes[i];
        assert!(
            st.commit_index <= n.log.len() as u64,
            "{} committed past its persisted log",
            self.ids[i]
        );
        assert!(st.applied_index <= st.commit_index);
        for idx in n.checked_commit + 1..=st.commit_index {
            let e = &n.log[idx as usize - 1];
            match self.committed.get(idx as usize - 1) {
                Some(c) => assert_eq!(c, e, "{} committed a different entry at {idx}", self.ids[i]),
                None => self.committed.push(e.clone()),
            }
        }
        self.nodes[i].checked_commit = self.nodes[i].checked_commit.max(st.commit_index);
    }

    /// Log matching over all persisted logs: same (index, term) means identical prefixes.
    pub fn check_log_matching(&self) {
        for a in 0..self.nodes.len() {
            for b in a + 1..self.nodes.len() {
                let (la, lb) = (&self.nodes[a].log, &self.nodes[b].log);
                let common = la.len().min(lb.len());
                if let Some(k) = (0..common).rev().find(|&k| la[k].term == lb[k].term) {
                    assert_eq!(
                        la[..=k],
                        lb[..=k],
                        "log matching violated between {} and {}",
                        self.ids[a],
                        self.ids[b]
                    );
                }
            }
        }
    }

    /// Linearizability of the recorded history (kv model, per key).
    pub fn check_history(&self) -> checker::CheckResult {
        let history = checker::parse_events(&self.history).expect("well-formed history");
        let opts = checker::CheckOptions {
            time_limit: Some(Duration::from_secs(20)),
            memory_limit_bytes: None,
            threads: 1,
        };
        checker::check(&history, checker::ModelKind::Kv, &opts)
    }

    /// Stop issuing ops and let outstanding ones finish or time out.
    pub fn drain(&mut self) {
        self.clients_on = false;
        let until = self.t + (self.opts.op_timeout_ms + 50) * MS;
        self.run_until(until);
    }
}

impl Sim {
    /// A client that issues only the ops a scenario gives it.
    pub fn add_client(&mut self) -> usize {
        let process = self.next_process;
        self.next_process += 1;
        self.clients.push(Client {
            process,
            busy: None,
            target: 0,
            pinned: true,
        });
        self.clients.len() - 1
    }

    /// Send one op to `node` and run until it completes (ok, fail or info after the op timeout).
    pub fn call(&mut self, client: usize, node: usize, key: &str, kind: OpKind) -> Event {
        let id = self.submit(client, node, key.to_string(), kind);
        while !self.completions.contains_key(&id) {
            let next = self.t + MS;
            self.run_until(next);
        }
        self.completions[&id].clone()
    }

    /// Run until some node other than `except` leads (as a majority-reachable leader), at most `within`.
    pub fn wait_for_leader(&mut self, except: Option<usize>, within: u64) -> Option<usize> {
        let deadline = self.t + within;
        while self.t < deadline {
            if let Some(l) = self.leader().filter(|l| Some(*l) != except) {
                return Some(l);
            }
            let next = self.t + MS;
            self.run_until(next);
        }
        None
    }
}

fn result_is_refusal(r: &Result<ClientReply, ErrorCode>) -> bool {
    matches!(
        r,
        Err(ErrorCode::NotLeader) | Err(ErrorCode::Unavailable) | Err(ErrorCode::Timeout)
    )
}

/// SplitMix64: a small, fast seeded generator (ChaCha is slow in debug builds, and the simulation draws
/// several numbers per event).
pub struct SimRng(u64);

impl SeedableRng for SimRng {
    type Seed = [u8; 8];
    fn from_seed(seed: [u8; 8]) -> Self {
        SimRng(u64::from_le_bytes(seed))
    }
    fn seed_from_u64(state: u64) -> Self {
        SimRng(state)
    }
}

impl RngCore for SimRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
