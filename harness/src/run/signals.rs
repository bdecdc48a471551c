//! The signals that end a run (SIGINT, SIGTERM, SIGHUP, SIGQUIT), caught on a thread of their own for the
//! whole life of the process, so none is ever lost or ignored, whatever phase the run is in:
//!
//! - while the cluster runs, a signal ends the driven part; teardown always runs to its (bounded) end;
//! - once the network is gone (check, report), a signal stops at once: the armed action writes a
//!   `results.json` saying the check was interrupted and exits.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// What to do on a signal once nothing needs tearing down: never returns (it exits the process).
type ExitNow = Box<dyn Fn(&'static str) + Send>;

pub struct Signals {
    count: AtomicUsize,
    first: Mutex<Option<&'static str>>,
    tx: watch::Sender<usize>,
    exit_now: Mutex<Option<ExitNow>>,
}

static SIGNALS: OnceLock<Signals> = OnceLock::new();

const KINDS: [(SignalKind, &str); 4] = [
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
];

impl Signals {
    /// The process's signal catcher, installed on first use; returns once every handler is in place.
    pub fn global() -> Result<&'static Signals> {
        if let Some(s) = SIGNALS.get() {
            return Ok(s);
        }
        let (tx, _) = watch::channel(0);
        let s = SIGNALS.get_or_init(|| Signals {
            count: AtomicUsize::new(0),
            first: Mutex::new(None),
            tx,
            exit_now: Mutex::new(None),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        std::thread::Builder::new()
            .name("lh-signals".into())
            .spawn(move || catch(s, ready_tx))
            .context("starting the signal thread")?;
        ready_rx
            .recv()
            .context("the signal thread ended before installing its handlers")??;
        Ok(s)
    }

    /// Signals received so far in this process.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The name of the first signal received.
    pub fn first(&self) -> Option<&'static str> {
        *self.first.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves once more than `seen` signals have arrived (at once if they already have).
    pub async fn after(&self, seen: usize) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|c| *c > seen).await;
    }

    /// From now on a signal runs `f` (which must exit the process); also runs it at once if a signal
    /// arrived since `seen`.
    pub fn arm(&self, seen: usize, f: impl Fn(&'static str) + Send + 'static) {
        let mut slot = self.exit_now.lock().unwrap_or_else(|p| p.into_inner());
        if self.count() > seen {
            f(self.first().unwrap_or("a signal"));
        }
        *slot = Some(Box::new(f));
    }

    /// Back to only counting signals.
    pub fn disarm(&self) {
        *self.exit_now.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn received(&'static self, name: &'static str) {
        self.first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(name);
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.tx.send_replace(n);
        if let Some(f) = self
            .exit_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            f(name);
        }
    }
}

fn catch(s: &'static Signals, ready: std::sync::mpsc::Sender<Result<()>>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e).context("starting the signal runtime"));
            return;
        }
    };
    rt.block_on(async move {
        let mut streams = Vec::new();
        for (kind, name) in KINDS {
            match signal(kind) {
                Ok(st) => streams.push((st, name)),
                Err(e) => {
                    let _ = ready.send(Err(e).context(format!("installing the {name} handler")));
                    return;
                }
            }
        }
        let _ = ready.send(Ok(()));
        loop {
            let next = futures::future::select_all(
                streams
                    .iter_mut()
                    .map(|(st, name)| Box::pin(async move { st.recv().await.map(|_| *name) })),
            );
            let (got, _, _) = next.await;
            if let Some(name) = got {
                s.received(name);
            }
        }
    });
}
