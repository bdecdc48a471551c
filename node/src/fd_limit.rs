//! The process's open-file limit. Every connection costs a descriptor; the soft limit is often 1024 while
//! the hard one is far higher, so the node raises its soft limit to the hard one at start, and bounds its
//! connections below what remains.

/// Descriptors kept for everything but client connections: the WAL and snapshots, peer connections, the
/// listener, the runtime's own, logs.
pub const RESERVED_FDS: u64 = 128;

/// Raise the soft `RLIMIT_NOFILE` to the hard one; returns (before, after).
pub fn raise_nofile() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((before, lim.rlim_cur))
}

/// How many connections fit in `soft_limit` descriptors next to the reserved ones (at least a few).
pub fn connections_that_fit(soft_limit: u64) -> usize {
    soft_limit
        .saturating_sub(RESERVED_FDS)
        .clamp(16, usize::MAX as u64) as usize
}
