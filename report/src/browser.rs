//! Opening a page in headless Chromium from disk: its rendered DOM, or a screenshot. For the browser tests
//! of the reports, and for anyone who wants a PNG of a report.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Chromium: `$CHROMIUM`, else Debian's `/usr/bin/chromium`; `None` when it is not there.
pub fn chromium() -> Option<PathBuf> {
    let p = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    p.exists().then_some(p)
}

/// A fresh directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> io::Result<Scratch> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("lh-chromium-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run Chromium headless on `page` with `extra` arguments and return what it printed. A fresh profile
/// each time, no background network chatter, and a deadline so a stuck browser is an error, not a hang.
pub fn run_headless(
    bin: &Path,
    page: &Path,
    extra: &[String],
    deadline: Duration,
) -> io::Result<String> {
    let scratch = Scratch::new()?;
    let out_path = scratch.0.join("stdout");
    let out = std::fs::File::create(&out_path)?;
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.0.join("profile").display()
        ))
        .args(extra)
        .arg(format!("file://{}", page.canonicalize()?.display()))
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()?;
    let until = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                return Err(io::Error::other(format!("chromium exited with {status}")));
            }
            break;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "chromium did not finish within {deadline:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out_path)
}

/// The DOM after Chromium rendered `page`.
pub fn dump_dom(bin: &Path, page: &Path) -> io::Result<String> {
    run_headless(
        bin,
        page,
        &["--dump-dom".to_string()],
        Duration::from_secs(120),
    )
}

/// A PNG of `page` at `width` × `height`.
pub fn screenshot(bin: &Path, page: &Path, png: &Path, width: u32, height: u32) -> io::Result<()> {
    let args = [
        format!("--screenshot={}", png.display()),
        format!("--window-size={width},{height}"),
    ];
    run_headless(bin, page, &args, Duration::from_secs(120)).map(|_| ())
}
