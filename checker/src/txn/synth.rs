//! Generated list-append histories for benchmarks: Elle's generator shape (a pool of active keys, each
//! retired after 32 appends), transactions applied in invocation order inside overlapping intervals,
//! so the history is strict serializable and the checker does all its work.

use super::history::{Mop, Status, Txn, TxnHistory};

/// A small fast generator (xorshift64*), so the library needs no `rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` transactions of 1 to 7 micro-ops (4 on average, half appends), over `sessions` processes,
/// `info_percent` of them ending `info` (their appends take effect half the time, their reads are
/// unknown).
pub fn list_append_history(n: usize, sessions: u64, info_percent: u64, seed: u64) -> TxnHistory {
    const ACTIVE: usize = 10;
    const PER_KEY: u32 = 32;
    let mut rng = Rng(seed | 1);
    let mut h = TxnHistory::new();
    let mut next_key = 0u64;
    let mut active: Vec<(u32, u32)> = Vec::new(); // (key, appends so far)
    let mut state: Vec<Vec<i64>> = Vec::new();
    let mut value = 0i64;
    let mut mops: Vec<Mop> = Vec::with_capacity(8);
    for i in 0..n {
        while active.len() < ACTIVE {
            let k = h.key(&next_key.to_string());
            next_key += 1;
            state.push(Vec::new());
            active.push((k, 0));
        }
        let info = rng.below(100) < info_percent;
        let applied = !info || rng.below(2) == 0;
        mops.clear();
        for _ in 0..1 + rng.below(7) {
            let slot = rng.below(ACTIVE as u64) as usize;
            let k = active[slot].0;
            if rng.below(2) == 0 {
                value += 1;
                if applied {
                    state[k as usize].push(value);
                }
                active[slot].1 += 1;
                mops.push(Mop::Append { key: k, value });
            } else if info {
                mops.push(Mop::Read {
                    key: k,
                    value: super::ReadValue::Unknown,
                });
            } else {
                let l = std::mem::take(&mut state[k as usize]);
                let value = h.list(&l);
                state[k as usize] = l;
                mops.push(Mop::Read { key: k, value });
            }
        }
        active.retain(|&(_, n)| n < PER_KEY);
        let start = h.mops.len();
        h.mops.extend_from_slice(&mops);
        // Applied at its invocation's turn; completes up to `sessions` invocations later.
        let invoke = 3 * i as u32;
        let complete = 3 * (i as u32 + rng.below(sessions) as u32) + 1;
        let txn = Txn {
            process: Some(i as u64 % sessions),
            status: if info { Status::Info } else { Status::Ok },
            invoke,
            complete: if info { super::NO_POS } else { complete },
            line: i as u32 + 1,
            mops_start: 0,
            mops_end: 0,
        };
        h.push(txn, start);
    }
    h
}
