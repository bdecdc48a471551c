//! The listener the HTTP server accepts on. hyper answers requests it cannot even parse (a URI over its
//! 64 KiB limit: 414; a head over its buffer: 431) itself, with an empty body, before any route or
//! middleware runs. Each connection's output is watched for exactly those bodiless answers and they are
//! replaced by the same status with a JSON `ErrorBody`, so every error a client sees is JSON. hyper
//! closes the connection after them, so nothing follows on the wire.

use crate::api::{ErrorBody, ErrorCode};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

pub struct JsonErrorsListener {
    inner: TcpListener,
    node: String,
}

impl JsonErrorsListener {
    pub fn new(inner: TcpListener, node: &str) -> Self {
        JsonErrorsListener {
            inner,
            node: node.to_string(),
        }
    }
}

impl axum::serve::Listener for JsonErrorsListener {
    type Io = JsonErrors;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Small request/response messages: do not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    let io = JsonErrors {
                        inner: stream,
                        node: self.node.clone(),
                        replacement: None,
                    };
                    return (io, addr);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

pub struct JsonErrors {
    inner: TcpStream,
    node: String,
    /// A replacement being written: its bytes, how many are out, and the length of hyper's original.
    replacement: Option<(Vec<u8>, usize, usize)>,
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

impl AsyncRead for JsonErrors {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonErrors {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
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
