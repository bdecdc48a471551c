//! HTTP hardening in front of every route: a request whose URI is too long, whose body is too large, or
//! whose body does not arrive within [`BODY_TIMEOUT`] gets a JSON `ErrorBody` (414, 413, 408) and, for the
//! slow body, a closed connection. The body is read here, under the time and size limits, so handlers
//! only ever see complete bodies, and the time limit never cuts short a request the core is working on.

use crate::api::{ErrorBody, ErrorCode};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::time::Duration;

/// A request body must arrive completely within this long after its headers.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// Client request bodies are a few bytes of JSON.
pub const MAX_CLIENT_BODY: usize = 1 << 20;
/// Peer batches can carry many entries or a whole snapshot.
pub const MAX_RAFT_BODY: usize = 256 << 20;
/// Keys are at most 1 KiB; nothing legitimate needs a longer URI.
pub const MAX_URI: usize = 8 << 10;

/// The node's name, for error bodies.
#[derive(Clone)]
pub struct Limits {
    pub node: String,
}

fn error(limits: &Limits, status: StatusCode, message: String) -> Response {
    let body = ErrorBody {
        code: ErrorCode::BadRequest,
        message,
        definite: true,
        leader: None,
        leader_addr: None,
        node: limits.node.clone(),
    };
    (status, Json(body)).into_response()
}

pub async fn guard(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let uri_len = req.uri().to_string().len();
    if uri_len > MAX_URI {
        let msg = format!("URI of {uri_len} bytes is longer than the {MAX_URI} allowed");
        return error(&limits, StatusCode::URI_TOO_LONG, msg);
    }
    let max = if req.uri().path() == "/raft" {
        MAX_RAFT_BODY
    } else {
        MAX_CLIENT_BODY
    };
    let too_large = |n: String| {
        let msg = format!("request body of {n} bytes is larger than the {max} allowed");
        close(error(&limits, StatusCode::PAYLOAD_TOO_LARGE, msg))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > max as u64) {
        return too_large(n.to_string());
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return too_large(format!("over {max}")),
        Ok(Err(e)) => {
            let msg = format!("could not read the request body: {e}");
            return error(&limits, StatusCode::BAD_REQUEST, msg);
        }
        Err(_) => {
            let msg = format!(
                "the request body did not arrive within {} s; dropped",
                BODY_TIMEOUT.as_secs()
            );
            return close(error(&limits, StatusCode::REQUEST_TIMEOUT, msg));
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The rest of a refused body may still be on its way: do not keep the connection for it.
fn close(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}
