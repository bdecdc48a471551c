//! Probing one real node the way an attacker or a broken client would: oversized bodies and URIs get
//! JSON error bodies (413, 414, 431), a body that does not arrive within a few seconds is dropped with a
//! JSON 408 and a closed connection (many at once too), and the node keeps serving throughout.

mod support;

use node::api::{ErrorBody, ErrorCode};
use std::time::{Duration, Instant};
use support::{Client, Cluster, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WITHIN: Duration = Duration::from_secs(10);

/// Send raw bytes, read until the server closes (or `wait` passes): (status, JSON body, closed).
async fn raw(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> (u16, Option<ErrorBody>, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(wait, s.read_to_end(&mut out))
        .await
        .is_ok();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|b| serde_json::from_str(b).ok());
    (status, body, closed)
}

#[tokio::test]
async fn oversized_and_slow_requests_get_json_errors() {
    let cluster = Cluster::start(1, &[]);
    let client = Client::new();
    cluster.wait_for_leader(&client, WITHIN).await;
    let addr = cluster.node("n1").addr;
    let base = cluster.url("n1");

    let big = format!("{{\"value\": 1{}}}", " ".repeat(2 << 20));
    let put = format!(
        "PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    let (status, body, _) = raw(addr, put.as_bytes(), WITHIN).await;
    assert_eq!(status, 413);
    let body = body.expect("a JSON body for 413");
    assert!(
        body.definite && body.message.contains("larger than"),
        "{body:?}"
    );

    // Ours up to hyper's own 64 KiB URI limit, hyper's beyond it (rewritten), and a head over its buffer.
    for (len, expect) in [(10_000, 414), (70_000, 414), (500_000, 431)] {
        let get = format!("GET /kv/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(len));
        let (status, body, closed) = raw(addr, get.as_bytes(), WITHIN).await;
        assert_eq!(status, expect, "URI of {len}");
        let body = body.unwrap_or_else(|| panic!("no JSON body for a URI of {len}"));
        assert_eq!(body.code, ErrorCode::BadRequest);
        assert_eq!(body.node, "n1");
        // hyper closes after the requests it could not parse; ours may keep the connection.
        assert!(closed || len < 65_536, "URI of {len}: connection left open");
    }

    // Half-sent bodies: each is answered 408 and closed after about 5 s, all of them at once.
    let started = Instant::now();
    let slow = "PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"val";
    let probes: Vec<_> = (0..300)
        .map(|_| tokio::spawn(raw(addr, slow.as_bytes(), Duration::from_secs(15))))
        .collect();
    // Meanwhile the node serves as usual.
    assert_eq!(client.write(&base, "a", 7).await, Outcome::Ok);
    for p in probes {
        let (status, body, closed) = p.await.unwrap();
        assert_eq!(status, 408);
        assert!(body
            .expect("a JSON body for 408")
            .message
            .contains("did not arrive"));
        assert!(closed, "a half-sent body kept its connection");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(12),
        "{took:?}"
    );
    assert_eq!(client.read(&base, "a").await.unwrap(), Some(7));
}
