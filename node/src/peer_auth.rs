//! Peer authentication: every `POST /raft` must carry the cluster's secret, so a client that reaches a
//! node's port cannot forge peer messages (one forged message with a huge term used to wedge a cluster).
//!
//! The secret comes from the environment variable [`PEER_SECRET_ENV`], not a flag: the harness generates
//! one per run and passes it to every node (locally and over SSH) without it showing in `ps`, and there is
//! no file to ship to remote hosts or leave behind. A node started without it accepts unauthenticated peer
//! messages, as before, and warns at start. Peers send it as `Authorization: Bearer <secret>`; the
//! comparison takes the same time wherever the first difference is.

use crate::api::{ErrorBody, ErrorCode};
use crate::log_throttle::Throttle;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// The environment variable that holds the cluster's peer secret.
pub const PEER_SECRET_ENV: &str = "LH_PEER_SECRET";
/// Shorter secrets are refused: they could be guessed.
pub const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 1024;

/// The cluster's shared secret. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerSecret(Arc<str>);

impl std::fmt::Debug for PeerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerSecret(<{} bytes>)", self.0.len())
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecretError {
    #[error("{PEER_SECRET_ENV} must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} characters, got {0}")]
    Length(usize),
    #[error("{PEER_SECRET_ENV} may hold only printable ASCII without spaces (it is sent in an HTTP header)")]
    Charset,
}

impl PeerSecret {
    pub fn new(secret: &str) -> Result<PeerSecret, SecretError> {
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
            return Err(SecretError::Length(secret.len()));
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SecretError::Charset);
        }
        Ok(PeerSecret(secret.into()))
    }

    /// The secret from [`PEER_SECRET_ENV`]; `None` when unset (peers unauthenticated).
    pub fn from_env() -> Result<Option<PeerSecret>, SecretError> {
        match std::env::var_os(PEER_SECRET_ENV) {
            None => Ok(None),
            Some(v) => PeerSecret::new(v.to_str().ok_or(SecretError::Charset)?).map(Some),
        }
    }

    /// The `Authorization` header value peers send.
    pub fn header_value(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .expect("checked: printable ASCII only");
        v.set_sensitive(true);
        v
    }

    /// Whether an `Authorization` header carries this secret.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let presented = authorization
            .and_then(|v| v.strip_prefix(b"Bearer "))
            .unwrap_or_default();
        constant_time_eq(self.0.as_bytes(), presented)
    }
}

/// Looks at every byte of `secret` whatever the first difference, so the time taken tells nothing about
/// how much of a guess was right (only the secret's length, which is no secret).
fn constant_time_eq(secret: &[u8], presented: &[u8]) -> bool {
    let mut diff = u8::from(secret.len() != presented.len());
    for (i, s) in secret.iter().enumerate() {
        diff |= s ^ presented.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

/// What the peer check needs: the node's name (for error bodies) and its secret, if any.
#[derive(Clone)]
pub struct PeerAuth {
    pub node: String,
    pub secret: Option<PeerSecret>,
}

static REFUSED: Throttle = Throttle::new(Duration::from_secs(10));

/// In front of `/raft` (before its body is read): without the right secret, 401 and a closed connection.
pub async fn guard(State(auth): State<PeerAuth>, req: Request, next: Next) -> Response {
    let Some(secret) = &auth.secret else {
        return next.run(req).await;
    };
    if req.uri().path() != "/raft" {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if secret.accepts(presented) {
        crate::conn_gate::mark_peer(&req);
        return next.run(req).await;
    }
    let remote = crate::conn_gate::remote_addr(&req);
    if let Some(count) = REFUSED.hit() {
        warn!(
            remote = ?remote,
            refused = count,
            "refused peer messages without the right peer secret ({PEER_SECRET_ENV}); this line repeats at most every 10 s"
        );
    }
    let body = ErrorBody {
        code: ErrorCode::BadRequest,
        message: format!(
            "peer messages need the cluster's secret (Authorization: Bearer <{PEER_SECRET_ENV}>); refused"
        ),
        definite: true,
        leader: None,
        leader_addr: None,
        node: auth.node.clone(),
    };
    let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    // The refused body may still be on its way: do not keep the connection for it.
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_is_accepted() {
        let s = PeerSecret::new("0123456789abcdef0123").unwrap();
        assert!(s.accepts(Some(b"Bearer 0123456789abcdef0123")));
        for wrong in [
            &b"Bearer 0123456789abcdef012"[..],
            b"Bearer 0123456789abcdef01234",
            b"Bearer 0123456789abcdef0124",
            b"0123456789abcdef0123",
            b"Bearer ",
            b"",
        ] {
            assert!(
                !s.accepts(Some(wrong)),
                "{}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert!(!s.accepts(None));
        assert!(!format!("{s:?}").contains("0123"), "Debug shows the secret");
    }

    #[test]
    fn weak_or_unsendable_secrets_are_refused() {
        assert_eq!(PeerSecret::new("short"), Err(SecretError::Length(5)));
        assert_eq!(PeerSecret::new(""), Err(SecretError::Length(0)));
        assert_eq!(
            PeerSecret::new("with a space in it!"),
            Err(SecretError::Charset)
        );
        assert_eq!(
            PeerSecret::new("line\nbreak-0123456789"),
            Err(SecretError::Charset)
        );
    }
}
