//! Measuring a packet fault from inside the namespaces: a burst of numbered UDP probes from the node's
//! namespace to an echo of ours in the client namespace. Only the probes cross the faulty direction (the
//! node's sends), so the unanswered share is the loss, the extra answers the duplication and the round
//! trip the delay. A burst takes well under two seconds. On `--hosts` the same burst runs between two hosts
//! ([`probe_hosts`] and [`echo_until_done`], inside `harness nemesis-probe` there).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::netns::in_netns;
use crate::Error;

/// The UDP port of the echo in the client namespace (the TCP landing probes use the same number).
pub const ECHO_PORT: u16 = crate::PROBE_PORT;

/// How a burst is sent: how many probes, how far apart, and how long to wait for late answers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BurstShape {
    pub count: u32,
    pub gap: Duration,
    pub linger: Duration,
}

/// What one burst saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    pub sent: u32,
    /// Probes answered at least once.
    pub answered: u32,
    /// Answers beyond the first for a probe.
    pub extra: u32,
    /// Mean and largest round trip of the first answers, in ms.
    pub rtt_ms_mean: Option<f64>,
    pub rtt_ms_max: Option<f64>,
}

impl Burst {
    /// Percent of the probes never answered.
    pub fn loss_pct(&self) -> f64 {
        pct(self.sent - self.answered, self.sent)
    }

    /// Percent of the answered probes answered more than once (each copy of a probe is echoed).
    pub fn duplicate_pct(&self) -> f64 {
        pct(self.extra, self.answered)
    }
}

fn pct(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * f64::from(part) / f64::from(whole)
    }
}

/// Sends one burst from `from_ns` (bound to `from`) to an echo started for it in `echo_ns` at `echo`.
pub(crate) fn burst(
    from_ns: &str,
    from: Ipv4Addr,
    echo_ns: &str,
    echo: Ipv4Addr,
    shape: BurstShape,
) -> Result<Burst, Error> {
    let echo_sock = bound(echo_ns, SocketAddr::from((echo, ECHO_PORT)))?;
    let probe = bound(from_ns, SocketAddr::from((from, 0)))?;
    let done = AtomicBool::new(false);
    let timeout = Some(Duration::from_millis(20));
    for s in [&echo_sock, &probe] {
        s.set_read_timeout(timeout)
            .map_err(|e| Error::io("probe socket timeout", e))?;
    }
    let target = SocketAddr::from((echo, ECHO_PORT));
    std::thread::scope(|s| {
        s.spawn(|| echo_until(&echo_sock, &done));
        let b = send_burst(&probe, target, shape);
        done.store(true, Ordering::Relaxed);
        b
    })
}

/// Sends one burst on `probe` to an echo at `target` and summarizes the answers.
fn send_burst(probe: &UdpSocket, target: SocketAddr, shape: BurstShape) -> Result<Burst, Error> {
    let sent_all = AtomicBool::new(false);
    std::thread::scope(|s| {
        let answers = s.spawn(|| collect(probe, shape, &sent_all));
        let sent = send(probe, target, shape);
        sent_all.store(true, Ordering::Relaxed);
        let answers = answers.join().expect("probe receiver");
        Ok(summarize(&sent?, &answers))
    })
}

/// The longest a burst waits for late answers once they keep coming (a loaded machine can take seconds
/// per round trip; an answer that comes late was not lost).
pub(crate) const LATE_CAP: Duration = Duration::from_secs(8);

/// A probe number the echo answers before a burst (so the burst starts once the echo is bound).
const WARM_UP: u32 = u32::MAX;
/// A probe number that ends the echo of [`echo_until_done`] (not answered).
const DONE: u32 = u32::MAX - 1;

/// On a host: the burst from `from` to the echo at `to`, once a warm-up probe came back (within `wait`).
/// The probes are the host's own packets, so they meet its packet fault as the node's would.
pub(crate) fn probe_hosts(
    from: Ipv4Addr,
    to: SocketAddr,
    shape: BurstShape,
    wait: Duration,
) -> Result<Burst, Error> {
    let sock = UdpSocket::bind(SocketAddr::from((from, 0)))
        .map_err(|e| Error::io(format!("binding a probe socket to {from}"), e))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| Error::io("probe socket timeout", e))?;
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 64];
    loop {
        sock.send_to(&WARM_UP.to_be_bytes(), to)
            .map_err(|e| Error::io("sending a warm-up probe", e))?;
        // Answers to earlier warm-ups may still come in: any one will do.
        let answered = matches!(sock.recv(&mut buf), Ok(4) if buf[..4] == WARM_UP.to_be_bytes());
        if answered {
            break;
        }
        if Instant::now() > deadline {
            return Err(Error::NotLanded(format!(
                "no answer from the probe echo at {to} within {wait:?}"
            )));
        }
    }
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| Error::io("probe socket timeout", e))?;
    let b = send_burst(&sock, to, shape);
    // Several, as the fault may drop some; the echo also ends at its own deadline.
    for _ in 0..10 {
        let _ = sock.send_to(&DONE.to_be_bytes(), to);
    }
    b
}

/// On a host: echoes probes at `at` until a done probe comes or `limit` passed.
pub(crate) fn echo_until_done(at: SocketAddr, limit: Duration) -> Result<(), Error> {
    let sock =
        UdpSocket::bind(at).map_err(|e| Error::io(format!("binding the echo to {at}"), e))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| Error::io("echo socket timeout", e))?;
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n == 4 && buf[..4] == DONE.to_be_bytes() {
                break;
            }
            let _ = sock.send_to(&buf[..n], from);
        }
    }
    Ok(())
}

fn bound(ns: &str, addr: SocketAddr) -> Result<UdpSocket, Error> {
    in_netns(ns, || UdpSocket::bind(addr))?
        .map_err(|e| Error::io(format!("binding a probe socket to {addr} in {ns}"), e))
}

fn echo_until(sock: &UdpSocket, done: &AtomicBool) {
    let mut buf = [0u8; 64];
    while !done.load(Ordering::Relaxed) {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    }
}

/// Sends the probes, paced; returns when each was sent.
fn send(sock: &UdpSocket, to: SocketAddr, shape: BurstShape) -> Result<Vec<Instant>, Error> {
    let mut sent = Vec::with_capacity(shape.count as usize);
    for seq in 0..shape.count {
        sent.push(Instant::now());
        sock.send_to(&seq.to_be_bytes(), to)
            .map_err(|e| Error::io("sending a probe", e))?;
        std::thread::sleep(shape.gap);
    }
    Ok(sent)
}

/// Receives answers until the burst is sent and no answer came for `linger` (so answers slowed by a
/// loaded machine count as answers, not as loss), or [`LATE_CAP`] after the last send; every answer is
/// (probe number, when).
fn collect(sock: &UdpSocket, shape: BurstShape, sent_all: &AtomicBool) -> Vec<(u32, Instant)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let mut last = Instant::now();
    let mut sent_at: Option<Instant> = None;
    loop {
        if let Ok(4) = sock.recv(&mut buf) {
            let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if seq < shape.count {
                last = Instant::now();
                got.push((seq, last));
            }
        }
        match sent_at {
            None if sent_all.load(Ordering::Relaxed) => sent_at = Some(Instant::now()),
            None => {}
            Some(at) => {
                let quiet = last.max(at).elapsed() >= shape.linger;
                if quiet || at.elapsed() >= shape.linger + LATE_CAP {
                    return got;
                }
            }
        }
    }
}

fn summarize(sent: &[Instant], answers: &[(u32, Instant)]) -> Burst {
    let mut first: Vec<Option<Duration>> = vec![None; sent.len()];
    let mut extra = 0;
    for &(seq, at) in answers {
        let Some(slot) = first.get_mut(seq as usize) else {
            continue;
        };
        match slot {
            Some(_) => extra += 1,
            None => *slot = Some(at.saturating_duration_since(sent[seq as usize])),
        }
    }
    let rtts: Vec<f64> = first
        .iter()
        .flatten()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    Burst {
        sent: sent.len() as u32,
        answered: rtts.len() as u32,
        extra,
        rtt_ms_mean: (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64),
        rtt_ms_max: rtts.iter().copied().reduce(f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_lost_duplicated_and_round_trips() {
        let t0 = Instant::now();
        let sent: Vec<Instant> = (0..4).map(|i| t0 + Duration::from_millis(i)).collect();
        let answers = vec![
            (0, t0 + Duration::from_millis(10)),
            (0, t0 + Duration::from_millis(11)),
            (2, t0 + Duration::from_millis(32)),
            (9, t0),
        ];
        let b = summarize(&sent, &answers);
        assert_eq!((b.sent, b.answered, b.extra), (4, 2, 1));
        assert_eq!(b.loss_pct(), 50.0);
        assert_eq!(b.duplicate_pct(), 50.0);
        assert_eq!(b.rtt_ms_mean, Some(20.0));
        assert_eq!(b.rtt_ms_max, Some(30.0));
    }
}
