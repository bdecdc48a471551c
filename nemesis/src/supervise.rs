//! What the cluster does to a node's process, wherever it lives: a local [`crate::ManagedProcess`] in a
//! namespace, or a [`crate::hosts::RemoteProcess`] on a host.

use std::time::Duration;

use crate::Error;

/// A supervised process: kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT), restart with the same spec,
/// graceful stop.
pub trait Supervised: Send {
    /// The pid (local or on its host) while it runs.
    fn pid(&self) -> Option<u32>;
    /// Alive (paused counts as alive).
    fn is_running(&mut self) -> bool;
    /// SIGKILL and reap.
    fn kill(&mut self) -> Result<(), Error>;
    /// SIGSTOP.
    fn pause(&mut self) -> Result<(), Error>;
    /// SIGCONT.
    fn resume(&mut self) -> Result<(), Error>;
    /// Kill if alive, then start the same thing again.
    fn restart(&mut self) -> Result<(), Error>;
    /// SIGTERM, then SIGKILL after `grace`.
    fn stop(&mut self, grace: Duration) -> Result<(), Error>;
    /// The process state letter (`S`, `R`, `T` when stopped, ...) where it runs; None when not running.
    fn state(&mut self) -> Option<char>;
}

macro_rules! delegate {
    ($t:ty, $state:item) => {
        impl Supervised for $t {
            fn pid(&self) -> Option<u32> {
                <$t>::pid(self)
            }
            fn is_running(&mut self) -> bool {
                <$t>::is_running(self)
            }
            fn kill(&mut self) -> Result<(), Error> {
                <$t>::kill(self)
            }
            fn pause(&mut self) -> Result<(), Error> {
                <$t>::pause(self)
            }
            fn resume(&mut self) -> Result<(), Error> {
                <$t>::resume(self)
            }
            fn restart(&mut self) -> Result<(), Error> {
                <$t>::restart(self)
            }
            fn stop(&mut self, grace: Duration) -> Result<(), Error> {
                <$t>::stop(self, grace)
            }
            $state
        }
    };
}

delegate!(
    crate::ManagedProcess,
    fn state(&mut self) -> Option<char> {
        if !self.is_running() {
            return None;
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        crate::proc_state(&stat)
    }
);
delegate!(
    crate::hosts::RemoteProcess,
    fn state(&mut self) -> Option<char> {
        if !self.is_running() {
            return None;
        }
        crate::hosts::RemoteProcess::state(self).ok().flatten()
    }
);
