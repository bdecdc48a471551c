//! What a run shows while it goes: a progress bar on a terminal (elapsed time, ops/s, ok/fail/info, the
//! phase and the current fault), or without one (CI logs, pipes) the same words as a line every few
//! seconds. Each phase of the run's end (recovery wait, settle, final reads, convergence, the check) is
//! named as it begins, so the seconds after the time limit are never unexplained.

use crate::settings::RunConfig;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::Recorder;

/// Seconds between progress lines when stderr is not a terminal.
const PROGRESS_LINE_EVERY_S: u64 = 5;

/// The run's progress display, shared by the controller (which names the phases) and the ticking loop.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    /// No terminal: lines instead of the bar.
    lines: bool,
    start: Instant,
    limit_s: u64,
    /// The phase, with what it waits for ("settle: 2 s before the final reads").
    phase: Arc<Mutex<String>>,
}

impl Progress {
    /// `shown`: a run of its own (not a compare cell, whose progress `compare` prints).
    pub fn new(cfg: &RunConfig, shown: bool) -> Progress {
        use std::io::IsTerminal;
        let lines = shown && !std::io::stderr().is_terminal();
        let bar = if shown && !lines {
            ProgressBar::new(cfg.workload.time_limit.as_secs())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Progress {
            bar,
            lines,
            start: Instant::now(),
            limit_s: cfg.workload.time_limit.as_secs(),
            phase: Arc::new(Mutex::new(String::new())),
        }
    }

    /// Enters a phase: `name` and, after a colon, what it is doing or waiting for. Without a terminal it
    /// is said at once, however short the phase.
    pub fn phase(&self, name: &str, detail: &str) {
        let label = if detail.is_empty() {
            name.to_string()
        } else {
            format!("{name}: {detail}")
        };
        if self.lines {
            eprintln!("harness: {:>4.0} s  {label}", self.elapsed_s());
        }
        self.bar.set_message(label.clone());
        *self.phase.lock().unwrap() = label;
    }

    /// The last phase: the check runs on the controller's thread and prints the summary when done, so the
    /// bar is left standing with its label, above the summary.
    pub fn checking(&self, cfg: &RunConfig) {
        self.phase(
            "check",
            &format!(
                "checking the history (up to {})",
                secs(cfg.check.time_limit)
            ),
        );
        self.bar.finish();
    }

    fn elapsed_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Refreshes the bar (or writes a line every few seconds) with ops/s, counts, the phase and the current
    /// fault. Never returns.
    pub async fn tick(&self, recorder: &Arc<Recorder>, current_fault: &Arc<Mutex<String>>) {
        let mut next_line = Duration::from_secs(PROGRESS_LINE_EVERY_S);
        loop {
            let s = recorder.stats();
            let secs = self.elapsed_s().max(0.001);
            let fault = current_fault.lock().unwrap().clone();
            let phase = self.phase.lock().unwrap().clone();
            let mut msg = format!(
                "{:.0} ops/s  ok {}  fail {}  info {}  {phase}",
                (s.ok + s.fail + s.info) as f64 / secs,
                s.ok,
                s.fail,
                s.info,
            );
            if !fault.is_empty() {
                msg.push_str(&format!("  fault: {fault}"));
            }
            if self.lines && self.start.elapsed() >= next_line {
                eprintln!("harness: {:>4.0} s  {}", self.elapsed_s(), msg.trim_end());
                next_line += Duration::from_secs(PROGRESS_LINE_EVERY_S);
            }
            self.bar
                .set_position(self.start.elapsed().as_secs().min(self.limit_s));
            self.bar.set_message(msg);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// `2 s`, `0.5 s`, `2 min`: a duration as the phase labels say it.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 && s % 60.0 == 0.0 {
        format!("{} min", s / 60.0)
    } else {
        format!("{} s", (s * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::secs;
    use std::time::Duration;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(secs(Duration::from_secs_f64(2.0)), "2 s");
        assert_eq!(secs(Duration::from_secs_f64(0.5)), "0.5 s");
        assert_eq!(secs(Duration::from_secs_f64(1.0 / 3.0)), "0.333 s");
        assert_eq!(secs(Duration::from_secs_f64(300.0)), "5 min");
    }
}
