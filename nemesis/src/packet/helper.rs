//! The packet helper that runs on a `--hosts` host, as two hidden subcommands of the harness executable
//! (uploaded there like the node): `nemesis-delay` holds the host's NFQUEUE for a delay or loss, and
//! `nemesis-probe` measures a fault between two hosts (`echo` on the peer, `send` on the faulty host,
//! which prints the [`Burst`] as JSON). The argument lists are made and read here, so both ends agree.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::delay::{DelayWorker, Spec};
use super::measure::{self, BurstShape};
use super::PacketFault;

/// The subcommand that holds a queue.
pub const DELAY_COMMAND: &str = "nemesis-delay";
/// The subcommand that measures.
pub const PROBE_COMMAND: &str = "nemesis-probe";

/// Exit code for arguments it cannot read (as the harness's 254).
const BAD_ARGS: u8 = 254;

/// `nemesis-delay QUEUE DELAY_MS JITTER_MS LOSS_PCT` for `fault` (a delay, or a loss: both are held here).
pub(crate) fn delay_args(queue: u16, fault: &PacketFault) -> Vec<String> {
    let (d, j, l) = match *fault {
        PacketFault::Delay {
            delay_ms,
            jitter_ms,
        } => (delay_ms, jitter_ms, 0.0),
        PacketFault::Loss { pct } => (0, 0, pct),
        PacketFault::Duplicate { .. } => (0, 0, 0.0),
    };
    vec![
        DELAY_COMMAND.into(),
        queue.to_string(),
        d.to_string(),
        j.to_string(),
        l.to_string(),
    ]
}

/// `nemesis-probe echo ADDR:PORT LIMIT_MS`.
pub(crate) fn echo_args(at: SocketAddr, limit: Duration) -> Vec<String> {
    vec![
        PROBE_COMMAND.into(),
        "echo".into(),
        at.to_string(),
        limit.as_millis().to_string(),
    ]
}

/// `nemesis-probe send FROM TO:PORT COUNT GAP_US LINGER_MS WAIT_MS`.
pub(crate) fn send_args(
    from: Ipv4Addr,
    to: SocketAddr,
    shape: BurstShape,
    wait: Duration,
) -> Vec<String> {
    vec![
        PROBE_COMMAND.into(),
        "send".into(),
        from.to_string(),
        to.to_string(),
        shape.count.to_string(),
        shape.gap.as_micros().to_string(),
        shape.linger.as_millis().to_string(),
        wait.as_millis().to_string(),
    ]
}

static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERMINATED.store(true, Ordering::Relaxed);
}

/// Runs the helper: `args` starts with the subcommand. Returns the exit code (254 for bad arguments).
pub fn helper_main(args: &[String]) -> u8 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        [DELAY_COMMAND, q, d, j, l] => match (q.parse(), d.parse(), j.parse(), l.parse::<f64>()) {
            (Ok(q), Ok(d), Ok(j), Ok(l)) if (0.0..=100.0).contains(&l) => hold(
                q,
                Spec {
                    delay: Duration::from_millis(d),
                    jitter: Duration::from_millis(j),
                    loss_pct: l,
                },
            ),
            _ => return usage(args),
        },
        [PROBE_COMMAND, "echo", at, limit] => match (at.parse(), limit.parse()) {
            (Ok(at), Ok(ms)) => {
                measure::echo_until_done(at, Duration::from_millis(ms)).map_err(|e| e.to_string())
            }
            _ => return usage(args),
        },
        [PROBE_COMMAND, "send", from, to, count, gap, linger, wait] => {
            let parsed = (
                from.parse(),
                to.parse(),
                count.parse(),
                gap.parse(),
                linger.parse(),
                wait.parse(),
            );
            let (Ok(from), Ok(to), Ok(count), Ok(gap), Ok(linger), Ok(wait)) = parsed else {
                return usage(args);
            };
            let shape = BurstShape {
                count,
                gap: Duration::from_micros(gap),
                linger: Duration::from_millis(linger),
            };
            measure::probe_hosts(from, to, shape, Duration::from_millis(wait))
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::to_string(&b).map_err(|e| e.to_string()))
                .map(|json| println!("{json}"))
        }
        _ => return usage(args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}: {e}", args.first().map_or("helper", String::as_str));
            1
        }
    }
}

fn usage(args: &[String]) -> u8 {
    eprintln!(
        "usage: harness {DELAY_COMMAND} QUEUE DELAY_MS JITTER_MS LOSS_PCT | harness {PROBE_COMMAND} \
         (echo ADDR:PORT LIMIT_MS | send FROM TO:PORT COUNT GAP_US LINGER_MS WAIT_MS) (internal: started \
         on --hosts hosts by the harness); got {args:?}"
    );
    BAD_ARGS
}

/// Holds `queue` until SIGTERM (or SIGKILL, when the run's SSH session ends).
fn hold(queue: u16, spec: Spec) -> Result<(), String> {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGTERM,
            nix::sys::signal::SigHandler::Handler(on_term),
        )
    }
    .map_err(|e| format!("installing the SIGTERM handler: {e}"))?;
    let mut worker = DelayWorker::start(None, queue, spec).map_err(|e| e.to_string())?;
    println!(
        "bound NFQUEUE {queue}: delay {:?} ± {:?}, loss {}%",
        spec.delay, spec.jitter, spec.loss_pct
    );
    while !TERMINATED.load(Ordering::Relaxed) && worker.alive() {
        std::thread::sleep(Duration::from_millis(50));
    }
    worker.stop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_lists_name_their_subcommand_and_bad_ones_are_refused() {
        let d = delay_args(
            7,
            &PacketFault::Delay {
                delay_ms: 200,
                jitter_ms: 10,
            },
        );
        assert_eq!(d.join(" "), "nemesis-delay 7 200 10 0");
        assert_eq!(
            delay_args(7, &PacketFault::Loss { pct: 20.0 }).join(" "),
            "nemesis-delay 7 0 0 20"
        );
        let shape = BurstShape {
            count: 600,
            gap: Duration::from_millis(1),
            linger: Duration::from_millis(300),
        };
        let s = send_args(
            Ipv4Addr::new(10, 0, 0, 1),
            "10.0.0.2:7999".parse().unwrap(),
            shape,
            Duration::from_secs(5),
        );
        assert_eq!(
            s.join(" "),
            "nemesis-probe send 10.0.0.1 10.0.0.2:7999 600 1000 300 5000"
        );
        for bad in [
            vec!["nemesis-delay", "x", "1", "1", "1"],
            vec!["nemesis-delay", "1", "1", "1", "101"],
            vec!["nemesis-probe", "echo", "nowhere", "1"],
            vec!["nemesis-probe"],
        ] {
            let bad: Vec<String> = bad.into_iter().map(String::from).collect();
            assert_eq!(helper_main(&bad), BAD_ARGS, "{bad:?}");
        }
    }
}
