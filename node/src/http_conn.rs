//! The listener the HTTP server accepts on, and each connection's I/O.
//!
//! Accepting goes through the [`ConnGate`] (the bound on open connections). Each connection must send a
//! complete request head within the header timeout: counted from the accept for its first request, and
//! from the first byte of each later one (an idle keep-alive connection has no deadline; the gate closes
//! it when room is needed). A slow head used to hold its file descriptor for as long as the client liked.
//!
//! hyper answers requests it cannot even parse (a URI over its 64 KiB limit: 414; a head over its buffer:
//! 431) itself, with an empty body, before any route or middleware runs. Each connection's output is
//! watched for exactly those bodiless answers and they are replaced by the same status with a JSON
//! `ErrorBody`, so every error a client sees is JSON. hyper closes the connection after them, so nothing
//! follows on the wire.

use crate::api::{ErrorBody, ErrorCode};
use crate::conn_gate::{ConnGate, ConnInfo, ConnShared};
use crate::log_throttle::Throttle;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tracing::{debug, warn};

static ACCEPT_FAILED: Throttle = Throttle::new(Duration::from_secs(10));
static HEAD_TIMED_OUT: Throttle = Throttle::new(Duration::from_secs(10));

pub struct GatedListener {
    inner: TcpListener,
    node: String,
    gate: Arc<ConnGate>,
    header_timeout: Duration,
}

impl GatedListener {
    pub fn new(
        inner: TcpListener,
        node: &str,
        gate: Arc<ConnGate>,
        header_timeout: Duration,
    ) -> Self {
        GatedListener {
            inner,
            node: node.to_string(),
            gate,
            header_timeout,
        }
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let Some(shared) = self.gate.admit(addr) else {
                        refuse(stream, &self.node);
                        continue;
                    };
                    // Small request/response messages: do not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    let io = Conn {
                        inner: stream,
                        node: self.node.clone(),
                        replacement: None,
                        gate: self.gate.clone(),
                        shared,
                        header_timeout: self.header_timeout,
                        deadline: Some(Box::pin(tokio::time::sleep(self.header_timeout))),
                        head_match: 0,
                    };
                    return (io, addr);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    if let Some(n) = ACCEPT_FAILED.hit() {
                        warn!(error = %e, failures = n, "cannot accept connections; retrying every 50 ms (this line repeats at most every 10 s)");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Every open connection is in the middle of a request: say so (definite: nothing was read) and close.
fn refuse(stream: TcpStream, node: &str) {
    let body = serde_json::to_vec(&ErrorBody {
        code: ErrorCode::Unavailable,
        message: "too many open connections; nothing was read, try again".into(),
        definite: true,
        leader: None,
        leader_addr: None,
        node: node.to_string(),
    })
    .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    // Best effort and never blocking: a full socket buffer just means a plain close.
    let _ = stream.try_write(&out);
}

pub struct Conn {
    inner: TcpStream,
    node: String,
    /// A replacement being written: its bytes, how many are out, and the length of hyper's original.
    replacement: Option<(Vec<u8>, usize, usize)>,
    gate: Arc<ConnGate>,
    shared: Arc<ConnShared>,
    header_timeout: Duration,
    /// When the request head being read must be complete; `None` while busy or idle.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How much of the head's end (`\r\n\r\n`) the bytes read so far end with.
    head_match: usize,
}

impl Conn {
    pub fn shared(&self) -> &Arc<ConnShared> {
        &self.shared
    }

    /// Watch the bytes read for the end of a request head.
    fn saw(&mut self, bytes: &[u8]) {
        if self.head_match == HEAD_END.len() {
            return; // busy: this is body
        }
        for &b in bytes {
            self.head_match = if b == HEAD_END[self.head_match] {
                self.head_match + 1
            } else if b == HEAD_END[0] {
                1
            } else {
                0
            };
            if self.head_match == HEAD_END.len() {
                self.deadline = None;
                self.gate.head_complete(&self.shared);
                return;
            }
        }
        if self.deadline.is_none() {
            // The first bytes of a keep-alive connection's next request.
            self.deadline = Some(Box::pin(tokio::time::sleep(self.header_timeout)));
        }
    }
}

const HEAD_END: &[u8] = b"\r\n\r\n";

impl Drop for Conn {
    fn drop(&mut self) {
        self.gate.release(&self.shared);
    }
}

/// hyper's own bodiless answers to requests it could not parse, and what to say instead.
fn replacement_for(buf: &[u8], node: &str) -> Option<Vec<u8>> {
    let (status, message) = if buf.starts_with(b"HTTP/1.1 414 ") {
        (
            "414 URI Too Long",
            "URI longer than 64 KiB; keys are at most 1 KiB",
        )
    } else if buf.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "request line and headers too large",
        )
    } else {
        return None;
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.contains("content-length: 0\r\n") || buf.len() != head_end {
        return None;
    }
    let body = serde_json::to_vec(&ErrorBody {
        code: ErrorCode::BadRequest,
        message: message.into(),
        definite: true,
        leader: None,
        leader_addr: None,
        node: node.to_string(),
    })
    .ok()?;
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.shared.register(cx.waker());
        if this.shared.is_evicted() {
            let e = io::Error::new(io::ErrorKind::ConnectionAborted, "closed to make room");
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        // Read before looking at the deadline: a head that arrived while the node was paused counts.
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            if r.is_ok() {
                this.saw(&buf.filled()[before..]);
            }
            return Poll::Ready(r);
        }
        if let Some(d) = this.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                this.deadline = None;
                let remote = this.shared.remote();
                debug!(%remote, "no complete request head in time; closing");
                if let Some(n) = HEAD_TIMED_OUT.hit() {
                    warn!(
                        connections = n,
                        timeout_ms = this.header_timeout.as_millis() as u64,
                        "closed connections that sent no complete request head in time (see --header-timeout-ms; this line repeats at most every 10 s)"
                    );
                }
                let e = io::Error::new(io::ErrorKind::TimedOut, "request head timed out");
                return Poll::Ready(Err(e));
            }
        }
        Poll::Pending
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // An answer is going out: the next bytes read start a new request head.
        this.gate.answered(&this.shared);
        this.head_match = 0;
        if this.replacement.is_none() {
            match replacement_for(buf, &this.node) {
                Some(r) => this.replacement = Some((r, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // Write the whole replacement, then report hyper's original as written.
        let (bytes, done, original) = this.replacement.as_mut().expect("set above");
        while *done < bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        let n = *original;
        this.replacement = None;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

// Here beside the listener, so the gate does not need to know the listener's type.
impl Connected<IncomingStream<'_, GatedListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, GatedListener>) -> Self {
        ConnInfo(stream.io().shared().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_parse_errors_are_replaced() {
        let hyper_414 = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = replacement_for(hyper_414, "n1").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json"));
        let body: ErrorBody = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(
            (body.code, body.node.as_str()),
            (ErrorCode::BadRequest, "n1")
        );
        // Our own JSON 414 and any other answer pass untouched.
        let ours = b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\n{...}";
        assert!(replacement_for(ours, "n1").is_none());
        assert!(replacement_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", "n1").is_none());
    }
}
