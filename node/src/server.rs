//! The HTTP server: client API, `/status`, the clock nemesis endpoint and peer RPCs, all on one listener.
//! Paths, bodies and status codes are the ones documented in [`crate::api`].
//!
//! Bodies are parsed here (not by axum's `Json` extractor) so every malformed request gets a 400
//! `ErrorBody` that names the problem, whatever its content type.

use crate::api::{
    CasRequest, ClockRequest, ErrorBody, ErrorCode, ListReadResponse, MicroOp, ReadResponse,
    TxnRequest, TxnResponse, Value, WriteRequest, WriteResponse, MAX_TXN_OPS,
};
use crate::clock::Clock;
use crate::driver::{DriverHandle, Input};
use crate::http_limits::MAX_RAFT_BODY;
use crate::log_throttle::Throttle;
use crate::peer_auth::{PeerAuth, PeerSecret};
use crate::raft::{
    ClientError, ClientReply, ClientRequest, ClientResult, Message, NodeId, MAX_TERM,
};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

/// Keys longer than this are refused: they are typos or abuse, and they would bloat every log entry.
pub const MAX_KEY_LEN: usize = 1024;

/// Shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    driver: DriverHandle,
    clock: Arc<Clock>,
    /// Client address of every member, for leader hints.
    addrs: BTreeMap<NodeId, String>,
    request_timeout: Duration,
    peer_secret: Option<PeerSecret>,
}

impl AppState {
    pub fn new(
        node: &str,
        driver: DriverHandle,
        clock: Arc<Clock>,
        peers: &BTreeMap<NodeId, SocketAddr>,
        request_timeout: Duration,
        peer_secret: Option<PeerSecret>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                node: node.to_string(),
                driver,
                clock,
                addrs: peers
                    .iter()
                    .map(|(id, a)| (id.clone(), a.to_string()))
                    .collect(),
                request_timeout,
                peer_secret,
            }),
        }
    }

    fn respond(&self, result: Result<Response, ApiError>) -> Response {
        match result {
            Ok(r) => r,
            Err(e) => self.error_response(e),
        }
    }

    fn error_response(&self, e: ApiError) -> Response {
        let leader_addr = e
            .leader
            .as_ref()
            .and_then(|l| self.inner.addrs.get(l))
            .cloned();
        let http = e.http.unwrap_or_else(|| status(e.code.http_status()));
        let body = ErrorBody {
            code: e.code,
            message: e.message,
            definite: e.code.is_definite(),
            leader: e.leader,
            leader_addr,
            node: self.inner.node.clone(),
        };
        (http, Json(body)).into_response()
    }

    /// Send a request to the core and wait for its answer, at most the request timeout.
    async fn ask(&self, req: ClientRequest) -> Result<ClientReply, ApiError> {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .driver
            .send(Input::Client { req, reply: tx })
            .is_err()
        {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "node is shutting down; the request was not taken",
            ));
        }
        let result: ClientResult =
            match tokio::time::timeout(self.inner.request_timeout, rx).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => return Err(ApiError::new(
                    ErrorCode::Timeout,
                    "node stopped before answering; the operation may or may not have taken effect",
                )),
                Err(_) => {
                    return Err(ApiError::new(
                        ErrorCode::Timeout,
                        format!(
                        "no answer within {} ms; the operation may or may not have taken effect",
                        self.inner.request_timeout.as_millis()
                    ),
                    ))
                }
            };
        result.map_err(
            |ClientError {
                 code,
                 message,
                 leader,
             }| ApiError {
                code,
                message,
                leader,
                http: None,
            },
        )
    }
}

/// An error on its way to becoming an `ErrorBody` response.
#[derive(Debug)]
struct ApiError {
    code: ErrorCode,
    message: String,
    leader: Option<NodeId>,
    /// Overrides the code's usual HTTP status (404, 405).
    http: Option<StatusCode>,
}

impl ApiError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            leader: None,
            http: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::BadRequest, message)
    }
}

fn key(key: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(key) = key.map_err(|e| ApiError::bad_request(format!("bad key in path: {e}")))?;
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError::bad_request(format!(
            "key must be 1 to {MAX_KEY_LEN} bytes, got {}",
            key.len()
        )));
    }
    Ok(key)
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    // serde takes `[5]` for a struct too; only an object is a request body.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::bad_request(format!(
            "bad request body: expected {what} (a JSON object)"
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        let problem = if body.is_empty() {
            "the body is empty".to_string()
        } else {
            e.to_string()
        };
        ApiError::bad_request(format!("bad request body: expected {what}: {problem}"))
    })
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub fn router(state: AppState) -> Router {
    let limits = crate::http_limits::Limits {
        node: state.inner.node.clone(),
    };
    let auth = PeerAuth {
        node: state.inner.node.clone(),
        secret: state.inner.peer_secret.clone(),
    };
    Router::new()
        .route("/kv/{key}", get(read).put(write))
        .route("/kv/{key}/cas", post(cas))
        .route("/kv/{key}/append", post(append))
        .route("/txn", post(txn))
        .route("/status", get(get_status))
        .route("/admin/clock", post(admin_clock))
        .route(
            "/raft",
            post(raft).layer(DefaultBodyLimit::max(MAX_RAFT_BODY)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::http_limits::guard,
        ))
        // Outermost: a peer message without the secret is refused before its body is read.
        .layer(axum::middleware::from_fn_with_state(
            auth,
            crate::peer_auth::guard,
        ))
        .with_state(state)
}

async fn read(
    State(st): State<AppState>,
    k: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let result = async {
        let key = key(k)?;
        let req = if local_flag(query.as_deref())? {
            ClientRequest::LocalRead { key }
        } else {
            ClientRequest::Read { key }
        };
        let node = st.inner.node.clone();
        match st.ask(req).await? {
            ClientReply::Read { value } => Ok(Json(ReadResponse { value, node }).into_response()),
            ClientReply::List { value } => Ok(Json(ListReadResponse {
                value: Some(value),
                node,
            })
            .into_response()),
            other => Err(mismatched("read", &other)),
        }
    }
    .await;
    st.respond(result)
}

/// `?local=true` (or `?local`) asks for this node's own applied state; anything else in the query is refused.
fn local_flag(query: Option<&str>) -> Result<bool, ApiError> {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok(false);
    };
    match q {
        "local" | "local=true" => Ok(true),
        "local=false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "unknown query '{q}'; the only one is local=true (read this node's own applied state)"
        ))),
    }
}

async fn write(
    State(st): State<AppState>,
    k: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    value_write(st, k, body, "write", |key, value| ClientRequest::Write {
        key,
        value,
    })
    .await
}

/// `POST /kv/{key}/append`: the body is an `AppendRequest`, the same shape as a write's.
async fn append(
    State(st): State<AppState>,
    k: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    value_write(st, k, body, "append", |key, value| ClientRequest::Append {
        key,
        value,
    })
    .await
}

/// A write-path request whose body is `{"value": <integer>}`.
async fn value_write(
    st: AppState,
    k: Result<Path<String>, PathRejection>,
    body: Bytes,
    what: &str,
    make: fn(String, Value) -> ClientRequest,
) -> Response {
    let result = async {
        let key = key(k)?;
        let req: WriteRequest = parse(&body, r#"{"value": <integer>}"#)?;
        let reply = st.ask(make(key, req.value)).await?;
        written(&st, what, reply)
    }
    .await;
    st.respond(result)
}

async fn cas(
    State(st): State<AppState>,
    k: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let result = async {
        let key = key(k)?;
        let req: CasRequest = parse(&body, r#"{"from": <integer or null>, "to": <integer>}"#)?;
        let reply = st
            .ask(ClientRequest::Cas {
                key,
                from: req.from,
                to: req.to,
            })
            .await?;
        written(&st, "cas", reply)
    }
    .await;
    st.respond(result)
}

/// `POST /txn`: a transaction of micro-ops, answered with its reads filled in.
async fn txn(State(st): State<AppState>, body: Bytes) -> Response {
    let result = async {
        let what = r#"{"txn": [["append", <key>, <integer>], ["r", <key>, null], ["w", <key>, <integer>], ...]}"#;
        let req: TxnRequest = parse(&body, what)?;
        check_txn(&req.txn)?;
        match st.ask(ClientRequest::Txn { ops: req.txn }).await? {
            ClientReply::Txn { ops } => Ok(Json(TxnResponse {
                txn: ops,
                node: st.inner.node.clone(),
            })
            .into_response()),
            other => Err(mismatched("txn", &other)),
        }
    }
    .await;
    st.respond(result)
}

/// 1 to `MAX_TXN_OPS` micro-ops, keys as `/kv/{key}` takes them, reads asking (their value `null`).
fn check_txn(ops: &[MicroOp]) -> Result<(), ApiError> {
    if ops.is_empty() || ops.len() > MAX_TXN_OPS {
        return Err(ApiError::bad_request(format!(
            "a transaction holds 1 to {MAX_TXN_OPS} micro-ops, got {}",
            ops.len()
        )));
    }
    for op in ops {
        let k = op.key().len();
        if k == 0 || k > MAX_KEY_LEN {
            return Err(ApiError::bad_request(format!(
                "key must be 1 to {MAX_KEY_LEN} bytes, got {k}"
            )));
        }
        if matches!(op, MicroOp::Read { value: Some(_), .. }) {
            return Err(ApiError::bad_request(
                "a read in a request has value null: [\"r\", <key>, null]",
            ));
        }
    }
    Ok(())
}

fn written(st: &AppState, what: &str, reply: ClientReply) -> Result<Response, ApiError> {
    match reply {
        ClientReply::Written => Ok(Json(WriteResponse {
            node: st.inner.node.clone(),
        })
        .into_response()),
        other => Err(mismatched(what, &other)),
    }
}

/// The core answered with the wrong kind of reply: a bug, reported as an unknown outcome.
fn mismatched(what: &str, reply: &ClientReply) -> ApiError {
    tracing::error!(?reply, what, "core answered with the wrong kind of reply");
    ApiError::new(
        ErrorCode::Timeout,
        format!("internal error: the core answered a {what} with {reply:?}"),
    )
}

async fn get_status(State(st): State<AppState>) -> Response {
    let result = async {
        let (tx, rx) = oneshot::channel();
        st.inner
            .driver
            .send(Input::Status(tx))
            .map_err(|_| ApiError::new(ErrorCode::Unavailable, "node is shutting down"))?;
        match tokio::time::timeout(st.inner.request_timeout, rx).await {
            Ok(Ok(status)) => Ok(Json(status).into_response()),
            _ => Err(ApiError::new(
                ErrorCode::Timeout,
                "status not available in time (the node is busy or stopping)",
            )),
        }
    }
    .await;
    st.respond(result)
}

async fn admin_clock(State(st): State<AppState>, body: Bytes) -> Response {
    let result = parse::<ClockRequest>(&body, r#"{"offset_ms": <number>, "rate": <number>}"#)
        .and_then(|req| {
            let state = st
                .inner
                .clock
                .adjust(&req)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            info!(
                jump_ms = req.offset_ms,
                rate = state.rate,
                total_offset_ms = state.offset_ms,
                now_ms = state.now_ms,
                "clock adjusted"
            );
            Ok(Json(state).into_response())
        });
    st.respond(result)
}

static FORGED_TERMS: Throttle = Throttle::new(Duration::from_secs(10));

async fn raft(State(st): State<AppState>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<Vec<Message>>(&body)
        .map_err(|e| {
            debug!(error = %e, "undecodable peer message batch");
            ApiError::bad_request(format!("bad peer message batch: {e}"))
        })
        .and_then(refuse_forged_terms)
        .and_then(|msgs| {
            if !msgs.is_empty() {
                st.inner
                    .driver
                    .send(Input::Peer(msgs))
                    .map_err(|_| ApiError::new(ErrorCode::Unavailable, "node is shutting down"))?;
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        });
    st.respond(result)
}

/// A term past [`MAX_TERM`] never comes from an honest peer: the whole batch is refused and logged (the
/// core would ignore it too).
fn refuse_forged_terms(msgs: Vec<Message>) -> Result<Vec<Message>, ApiError> {
    let Some(m) = msgs.iter().find(|m| m.term > MAX_TERM) else {
        return Ok(msgs);
    };
    if let Some(count) = FORGED_TERMS.hit() {
        warn!(
            from = %m.from,
            term = m.term,
            max_term = MAX_TERM,
            refused = count,
            "refused a peer message whose term is past the largest usable term (forged?); this line repeats at most every 10 s"
        );
    }
    Err(ApiError::bad_request(format!(
        "peer message from {} has term {}, past the largest usable term {MAX_TERM}; refused",
        m.from, m.term
    )))
}

const ENDPOINTS: &str =
    "GET /kv/{key}[?local=true], PUT /kv/{key}, POST /kv/{key}/cas, POST /kv/{key}/append, POST /txn, GET /status, POST /admin/clock, POST /raft";

async fn not_found(State(st): State<AppState>, method: Method, uri: Uri) -> Response {
    st.error_response(ApiError {
        http: Some(StatusCode::NOT_FOUND),
        ..ApiError::bad_request(format!(
            "no such endpoint: {method} {uri}; endpoints: {ENDPOINTS}"
        ))
    })
}

async fn method_not_allowed(State(st): State<AppState>, method: Method, uri: Uri) -> Response {
    st.error_response(ApiError {
        http: Some(StatusCode::METHOD_NOT_ALLOWED),
        ..ApiError::bad_request(format!(
            "method {method} not allowed on {}; endpoints: {ENDPOINTS}",
            uri.path()
        ))
    })
}
