//! MCP over HTTP: Streamable HTTP at `/mcp` (rmcp; session-based 2025 revisions and
//! stateless 2026-07-28), the legacy `GET /sse` + `POST /messages` pair, health,
//! readiness and metrics, with the security the Go server left to nginx built in:
//! bearer tokens, CORS, Origin and Host checks, rate limits, an IP allow-list, body
//! size, time and concurrency limits, a session cap, and a graceful stop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::json_error;
use super::sse::SseSessions;
use crate::allure::AllureClient;
use crate::config::HttpConfig;
use crate::metrics::Metrics;
use crate::security::auth::{AuthFailure, TokenSet};
use crate::security::{CallSlot, Caller, ClientIp, Identity, net};
use crate::server::AllureMcp;

/// Errors of the HTTP transport.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Creates the listening socket. The one place a listener is made, so a socket handed
/// in by systemd can take its place.
pub async fn bind(cfg: &HttpConfig) -> Result<TcpListener, HttpError> {
    let addr = SocketAddr::new(cfg.bind, cfg.port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })
}

#[derive(Clone)]
struct AppState {
    cfg: Arc<HttpConfig>,
    tokens: Arc<TokenSet>,
    metrics: Metrics,
    sse: Arc<SseSessions>,
    mcp_sessions: Arc<LocalSessionManager>,
    /// Which identity opened each Streamable HTTP session.
    owners: Owners,
    /// Held while a session may be created: the cap check and the creation are one step.
    creating: Arc<tokio::sync::Mutex<()>>,
    readiness: Arc<Readiness>,
    draining: Arc<AtomicBool>,
    busy: Arc<tokio::sync::Semaphore>,
    /// Responses still being written (a POST /mcp body, a legacy answer not yet sent):
    /// shutdown waits for these as well as for tool calls.
    responses: Arc<crate::metrics::InFlight>,
}

/// Rate-limit key: the identity, or the address for requests that did not authenticate.
#[derive(Clone)]
struct CallerKey;

impl KeyExtractor for CallerKey {
    type Key = Caller;
    fn extract<T>(
        &self,
        req: &http::Request<T>,
    ) -> Result<Self::Key, tower_governor::GovernorError> {
        req.extensions()
            .get::<Caller>()
            .cloned()
            .ok_or(tower_governor::GovernorError::UnableToExtractKey)
    }
}

/// Runs before everything else on MCP routes: where from, to which host, from which
/// site, and who (without refusing yet: the rate limit counts failures per address).
async fn guard(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = net::client_ip(peer.ip(), xff, &st.cfg.trusted_proxies);
    if !net::allowed(ip, &st.cfg.allowed_cidrs) {
        tracing::warn!(client_ip = %ip, "refused: address not in ALLOWED_CIDRS");
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this address may not use the server",
        );
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !net::host_allowed(host, &st.cfg.allowed_hosts) {
        tracing::warn!(client_ip = %ip, host = host.unwrap_or(""), "refused: Host not allowed");
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "this Host is not served; set ALLOWED_HOSTS to the names clients use",
        );
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if !net::origin_allowed(origin, &st.cfg.cors_origins, st.cfg.any_origin) {
        tracing::warn!(client_ip = %ip, origin = origin.unwrap_or(""), "refused: Origin not allowed");
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "this Origin is not allowed; set CORS_ALLOWED_ORIGIN",
        );
    }
    if st.draining.load(Ordering::SeqCst) {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is stopping; retry on another instance",
        );
    }
    req.extensions_mut().insert(ClientIp(ip));
    let caller = if st.tokens.is_empty() {
        Caller::Known(Identity(Arc::from("anonymous")))
    } else {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match st.tokens.authenticate(auth) {
            Ok(name) => Caller::Known(Identity(name)),
            Err(f) => {
                req.extensions_mut().insert(f);
                Caller::Unknown(ip)
            }
        }
    };
    if let Caller::Known(id) = &caller {
        req.extensions_mut().insert(id.clone());
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Refuses requests that did not authenticate (after the rate limit counted them).
async fn require_identity(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let legacy_message = req.method() == Method::POST && req.uri().path() == "/messages";
    if req.extensions().get::<Identity>().is_some() && legacy_message {
        return next.run(req).await;
    }
    if req.extensions().get::<Identity>().is_some() {
        let Ok(permit) = st.busy.clone().try_acquire_owned() else {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many requests in progress; retry shortly",
            );
        };
        // A POST to /mcp may start a tool call whose answer streams for as long as the
        // tool runs: its slot lasts until both the answer and the call are done.
        // Streams opened by GET hold a connection (MAX_CONNECTIONS) instead, and a legacy
        // POST /messages takes its slot in the SSE session, for the call it carries.
        let slot = CallSlot::new(permit);
        let holds_until_answered = req.method() == Method::POST && req.uri().path() == "/mcp";
        let mut req = req;
        if holds_until_answered {
            req.extensions_mut().insert(slot.clone());
        }
        let resp = next.run(req).await;
        return if holds_until_answered {
            guarded(resp, slot)
        } else {
            resp
        };
    }
    let failure = req
        .extensions()
        .get::<AuthFailure>()
        .copied()
        .unwrap_or(AuthFailure::Missing);
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    // The presented value is never logged: only why it failed and from where.
    tracing::warn!(client_ip = %ip, path = req.uri().path(), reason = failure.code(), "authentication failed");
    let mut resp = json_error(StatusCode::UNAUTHORIZED, "unauthorized", failure.message());
    let challenge = format!("Bearer realm=\"allure-mcp\", error=\"{}\"", failure.code());
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The refusal of a new session once both transports together hold MAX_SESSIONS. The
/// caller holds `creating`, so no other session is made between this count and the
/// creation it allows.
async fn session_cap_reached(st: &AppState, transport: &str) -> Option<Response> {
    let held = st.mcp_sessions.sessions.read().await.len() + st.sse.len();
    if held < st.cfg.max_sessions {
        return None;
    }
    tracing::warn!(transport, "refused a new session: MAX_SESSIONS reached");
    Some(json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_sessions",
        "the server holds its maximum of sessions; retry later",
    ))
}

/// Who owns each Streamable HTTP session, and since when (housekeeping forgets only
/// bindings older than the list of live sessions it compares with).
type Owners = Arc<Mutex<HashMap<String, (Identity, tokio::time::Instant)>>>;

/// Streamable HTTP sessions: owned by the identity that created them, capped in number.
///
/// Any POST without a session id may create a session (rmcp opens one for an
/// `initialize` whatever protocol header comes with it), so every such POST is counted
/// against MAX_SESSIONS and runs under the creation lock, and the new session is bound
/// to its identity before the lock is released. A session with no binding is treated as
/// unknown: it can only be one this middleware did not see created.
async fn session_owners(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let identity = req.extensions().get::<Identity>().cloned();
    let sid = req
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().clone();
    // Read the body here only where it matters: a chunked body (whose size nothing has
    // checked yet), or a session-less POST that may be an `initialize`. A body with a
    // Content-Length was already held to MAX_BODY_BYTES by the body-limit layer.
    let chunked = !req.headers().contains_key(header::CONTENT_LENGTH);
    let may_open = sid.is_none() && !st.cfg.stateless;
    let req = if method == Method::POST && (chunked || may_open) {
        match buffered(req, st.cfg.max_body_bytes).await {
            Ok(req) => req,
            Err(refusal) => return refusal,
        }
    } else {
        req
    };
    let mut creating = None;
    if let Some(sid) = sid.as_ref().filter(|_| !st.cfg.stateless) {
        let owner = st
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sid)
            .map(|(who, _)| who.clone());
        if owner.is_none() || owner != identity {
            return json_error(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "no such session; initialize a new one",
            );
        }
    } else if method == Method::POST && !st.cfg.stateless && is_initialize(&req) {
        let lock = st.creating.clone().lock_owned().await;
        if let Some(refusal) = session_cap_reached(&st, "streamable_http").await {
            return refusal;
        }
        creating = Some(lock);
    }
    let counting = (method == Method::POST).then(|| st.responses.enter());
    let mut resp = next.run(req).await;
    if method == Method::DELETE && resp.status() == StatusCode::ACCEPTED {
        // rmcp answers a session DELETE with 202; clients (the Python SDK among them)
        // expect 200 for a terminated session.
        *resp.status_mut() = StatusCode::OK;
    }
    if sid.is_none() {
        if let (Some(new), Some(id)) = (
            resp.headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok()),
            identity,
        ) {
            st.owners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(new.to_owned(), (id, tokio::time::Instant::now()));
        }
    } else if method == Method::DELETE
        && resp.status().is_success()
        && let Some(sid) = &sid
    {
        st.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sid);
    }
    drop(creating);
    // A POST's answer may stream (SSE); it is outstanding until its body is done.
    match counting {
        Some(guard) => guarded(resp, guard),
        None => resp,
    }
}

/// Whether a (buffered) POST carries an `initialize`, the only message that opens a
/// session. Other session-less POSTs (2026-07-28 stateless calls) neither count against
/// MAX_SESSIONS nor wait for the creation lock, which they could hold for a whole call.
fn is_initialize(req: &Request) -> bool {
    let Some(BufferedBody(bytes)) = req.extensions().get::<BufferedBody>() else {
        return false;
    };
    let opens =
        |m: &serde_json::Value| m.get("method").and_then(|v| v.as_str()) == Some("initialize");
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(batch)) => batch.iter().any(opens),
        Ok(message) => opens(&message),
        Err(_) => false,
    }
}

/// The body of a buffered request, for the middleware to look at (a cheap clone).
#[derive(Clone)]
struct BufferedBody(Bytes);

/// The request with its body read in full within `limit`: a chunked body over the limit
/// is a 413 like one whose Content-Length says so (rmcp would answer 500).
async fn buffered(req: Request, limit: usize) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let mut req = Request::from_parts(parts, Body::from(bytes.clone()));
            req.extensions_mut().insert(BufferedBody(bytes));
            Ok(req)
        }
        Err(e) => {
            let over = std::error::Error::source(&e)
                .map(|s| s.is::<http_body_util::LengthLimitError>())
                .unwrap_or(false)
                || e.to_string().contains("length limit exceeded");
            Err(if over {
                json_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the message is larger than MAX_BODY_BYTES",
                )
            } else {
                json_error(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the request body could not be read",
                )
            })
        }
    }
}

/// A response whose body keeps `guard` alive until the body is done (or dropped): what
/// must last as long as an answer (a concurrency slot, a shutdown count) lasts that long.
fn guarded<G: Send + Unpin + 'static>(resp: Response, guard: G) -> Response {
    let (parts, body) = resp.into_parts();
    Response::from_parts(
        parts,
        Body::new(Guarded {
            inner: body,
            _guard: guard,
        }),
    )
}

struct Guarded<G> {
    inner: Body,
    _guard: G,
}

impl<G: Unpin> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[derive(serde::Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

async fn sse_open(State(st): State<AppState>, req: Request) -> Response {
    let Some(identity) = req.extensions().get::<Identity>().cloned() else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authenticate first",
        );
    };
    let _creating = st.creating.lock().await;
    if let Some(refusal) = session_cap_reached(&st, "sse").await {
        return refusal;
    }
    st.sse.open(identity)
}

async fn sse_post(
    State(st): State<AppState>,
    Query(q): Query<SessionQuery>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let identity = parts.extensions.get::<Identity>().cloned();
    let bytes: Bytes = match axum::body::to_bytes(body, st.cfg.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the message is larger than MAX_BODY_BYTES",
            );
        }
    };
    st.sse
        .post(identity, q.session_id.as_deref(), parts, bytes)
        .await
}

async fn healthz() -> impl IntoResponse {
    // Liveness only: reveals nothing about configuration or upstream.
    ([(header::CONTENT_TYPE, "text/plain")], "ok")
}

/// How long a readiness answer is reused: a flood of `/readyz` costs at most one
/// upstream call (carrying the JWT) per interval.
const READINESS_TTL: Duration = Duration::from_secs(5);

/// Whether Allure TestOps answers, probed at most once per [`READINESS_TTL`] whatever
/// the number of callers (they share the probe in flight and its answer).
pub struct Readiness {
    client: AllureClient,
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, bool)>>,
}

impl Readiness {
    pub fn new(client: AllureClient) -> Self {
        Readiness {
            client,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Ready if Allure answered anything lately; otherwise one cheap probe, shared.
    pub async fn ready(&self) -> bool {
        if self.client.answered_within(Duration::from_secs(60)) {
            return true;
        }
        // Held across the probe: concurrent callers wait for it and take its answer.
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < READINESS_TTL
        {
            return ok;
        }
        let q = [("size", "1".to_owned())];
        let probe = self.client.get::<serde_json::Value>("/project", &q);
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(3), probe).await,
            Ok(Ok(_))
        );
        *last = Some((tokio::time::Instant::now(), ok));
        ok
    }
}

async fn readyz(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: http::HeaderMap,
) -> Response {
    let xff = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = net::client_ip(peer.ip(), xff, &st.cfg.trusted_proxies);
    if !net::allowed(ip, &st.cfg.allowed_cidrs) {
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this address may not use the server",
        );
    }
    let ok = st.readiness.ready().await;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"ready": ok, "upstream": if ok { "reachable" } else { "unreachable" }})),
    )
        .into_response()
}

async fn metrics_handler(State(st): State<AppState>) -> Response {
    st.metrics.set_sessions(
        "streamable_http",
        st.mcp_sessions.sessions.read().await.len(),
    );
    st.metrics.set_sessions("sse", st.sse.len());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response()
}

fn cors(cfg: &HttpConfig) -> Option<CorsLayer> {
    if cfg.cors_origins.is_empty() && !cfg.any_origin {
        return None;
    }
    let origin = if cfg.any_origin {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            cfg.cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static("mcp-session-id"),
                header::HeaderName::from_static("mcp-protocol-version"),
                header::HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::HeaderName::from_static("mcp-session-id")])
            .max_age(Duration::from_secs(600)),
    )
}

/// Serves until `stop` resolves, then stops gracefully: no new connections, in-flight
/// tool calls get up to `SHUTDOWN_TIMEOUT`, then streams and sessions end.
pub async fn serve(
    listener: TcpListener,
    server: AllureMcp,
    cfg: HttpConfig,
    client: AllureClient,
    metrics: Metrics,
    tokens: Arc<TokenSet>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let addr = listener.local_addr().map_err(HttpError::Serve)?;
    let cfg = Arc::new(cfg);
    let shutdown = CancellationToken::new();
    let responses = Arc::new(crate::metrics::InFlight::default());
    // Streams send a comment at least twice per HTTP_IDLE_TIMEOUT, so the idle check
    // never closes a healthy stream.
    let keep_alive = (cfg.idle_timeout / 2)
        .min(Duration::from_secs(15))
        .max(Duration::from_millis(250));
    let busy = Arc::new(tokio::sync::Semaphore::new(cfg.max_concurrent_requests));
    let sse = SseSessions::new(
        server.clone(),
        shutdown.child_token(),
        metrics.clone(),
        keep_alive,
        responses.clone(),
        busy.clone(),
    );

    let mut session_manager = LocalSessionManager::default();
    session_manager.session_config.keep_alive = Some(cfg.session_idle_timeout);
    let mcp_sessions = Arc::new(session_manager);
    let mut rmcp_cfg = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!cfg.stateless)
        .with_json_response(cfg.stateless)
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(cfg.max_body_bytes)
        // Host and Origin are checked by `guard`, the same way for every route.
        .disable_allowed_hosts();
    rmcp_cfg.sse_keep_alive = Some(keep_alive);
    let factory_server = server.clone();
    let streamable = StreamableHttpService::new(
        move || Ok(factory_server.clone()),
        mcp_sessions.clone(),
        rmcp_cfg,
    );

    let state = AppState {
        cfg: cfg.clone(),
        tokens,
        metrics: metrics.clone(),
        sse: sse.clone(),
        mcp_sessions: mcp_sessions.clone(),
        owners: Arc::new(Mutex::new(HashMap::new())),
        creating: Arc::new(tokio::sync::Mutex::new(())),
        readiness: Arc::new(Readiness::new(client.clone())),
        draining: Arc::new(AtomicBool::new(false)),
        busy,
        responses: responses.clone(),
    };

    let period =
        Duration::from_nanos((1_000_000_000u64 / u64::from(cfg.rate_per_second.max(1))).max(1));
    let governor = Arc::new(
        GovernorConfigBuilder::default()
            .key_extractor(CallerKey)
            .period(period)
            .burst_size(cfg.rate_burst)
            .finish()
            .ok_or_else(|| {
                HttpError::Serve(std::io::Error::other("invalid rate limit settings"))
            })?,
    );
    let limiter = governor.limiter().clone();
    let limited_metrics = metrics.clone();
    let governor_layer = GovernorLayer::new(governor).error_handler(move |e| {
        limited_metrics.rate_limited();
        let wait = match &e {
            tower_governor::GovernorError::TooManyRequests { wait_time, .. } => (*wait_time).max(1),
            _ => 1,
        };
        let mut r = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; wait and retry",
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    });

    let mcp_route =
        Router::new()
            .route_service("/mcp", streamable)
            .layer(middleware::from_fn_with_state(
                state.clone(),
                session_owners,
            ));
    let protected = Router::new()
        .merge(mcp_route)
        .route("/sse", get(sse_open))
        .route("/messages", axum::routing::post(sse_post))
        .route("/metrics", get(metrics_handler))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_identity,
        ))
        .layer(governor_layer)
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    let mut app = Router::new()
        .merge(protected)
        .route("/healthz", get(healthz).head(healthz))
        .route("/health", get(healthz).head(healthz))
        .route("/readyz", get(readyz))
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            cfg.request_timeout,
        ));
    if let Some(c) = cors(&cfg) {
        app = app.layer(c);
    }

    // Housekeeping: forget owners of ended sessions, close idle SSE sessions, trim the
    // rate limiter's memory, refresh gauges.
    let house = state.clone();
    let tick =
        (cfg.session_idle_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let housekeeping = tokio::spawn(async move {
        let mut every = tokio::time::interval(tick);
        loop {
            every.tick().await;
            let listed_at = tokio::time::Instant::now();
            let live: std::collections::HashSet<String> = house
                .mcp_sessions
                .sessions
                .read()
                .await
                .keys()
                .map(|k| k.to_string())
                .collect();
            house
                .owners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                // A binding made after the list was taken belongs to a session the list
                // could not contain yet: keep it.
                .retain(|k, (_, bound)| live.contains(k) || *bound >= listed_at);
            house.sse.reap(house.cfg.session_idle_timeout);
            limiter.retain_recent();
            house.metrics.set_sessions("streamable_http", live.len());
            house.metrics.set_sessions("sse", house.sse.len());
        }
    });

    tracing::info!(%addr, stateless = cfg.stateless, tokens = cfg.tokens.len(), "serving MCP over HTTP at /mcp and /sse");
    eprintln!("allure-mcp: listening on http://{addr} (MCP at /mcp, legacy SSE at /sse)");

    let stop_accepting = CancellationToken::new();
    let limits = super::listener::ConnLimits {
        header_timeout: cfg.header_timeout,
        idle_timeout: cfg.idle_timeout,
        max_connections: super::listener::effective_max_connections(cfg.max_connections),
        max_per_ip: cfg.max_connections_per_ip,
        trusted_proxies: cfg.trusted_proxies.clone(),
    };
    if limits.max_connections < cfg.max_connections {
        tracing::warn!(
            wanted = cfg.max_connections,
            used = limits.max_connections,
            "MAX_CONNECTIONS lowered to what the open-file limit allows"
        );
    }
    let server_task = tokio::spawn(super::listener::serve(
        listener,
        app,
        limits.clone(),
        stop_accepting.clone(),
    ));

    // Ready once the listener is live; readiness does not wait for Allure, STATUS says.
    crate::systemd::ready(&format!("serving MCP on http://{addr}"));
    let probe = state.readiness.clone();
    tokio::spawn(async move {
        let reachable = probe.ready().await;
        crate::systemd::status(&format!(
            "serving MCP on http://{addr}; Allure TestOps {}",
            if reachable {
                "reachable"
            } else {
                "NOT reachable (see the log)"
            }
        ));
    });

    stop.await;
    crate::systemd::stopping(&format!(
        "stopping: {} tool call(s) in flight",
        metrics.in_flight().count()
    ));
    let timeout = cfg.shutdown_timeout;
    tracing::info!(
        in_flight = metrics.in_flight().count(),
        timeout_s = timeout.as_secs(),
        "stopping: no new connections; waiting for in-flight calls"
    );
    stop_accepting.cancel();
    state.draining.store(true, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + timeout;
    // Tool calls first, then the answers they produced, which may still be on their
    // way into an SSE stream or a POST body.
    let drained = async {
        metrics.in_flight().wait_idle().await;
        responses.wait_idle().await;
    };
    if tokio::time::timeout_at(deadline, drained).await.is_err() {
        tracing::warn!(
            in_flight = metrics.in_flight().count(),
            "shutdown timeout: abandoning in-flight calls"
        );
    }
    // End SSE streams and Streamable HTTP sessions; their connections then close.
    sse.close_all();
    shutdown.cancel();
    housekeeping.abort();
    match tokio::time::timeout_at(deadline + Duration::from_secs(1), server_task).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(HttpError::Serve(std::io::Error::other(e))),
        Err(_) => tracing::warn!("connections still open after the shutdown timeout; closing them"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
