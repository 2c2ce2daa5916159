//! The middleware of the MCP routes, outermost first: `guard` (address, Host, Origin,
//! draining, who is calling), the rate limit (in the router), `require_identity`
//! (refusals, the concurrency slot) and, on `/mcp`, `session_owners` (who owns which
//! Streamable HTTP session, and the session cap).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_governor::key_extractor::KeyExtractor;

use super::envelope::Envelope;
use super::state::AppState;
use crate::security::auth::{self, AuthFailure};
use crate::security::oauth::OAuthCaller;
use crate::security::permissions::Caller as PermissionCaller;
use crate::security::{CallSlot, Caller, ClientIp, DisplayName, Identity, net};
use crate::transport::json_error;

/// Rate-limit key: the identity, or the address for requests that did not authenticate.
#[derive(Clone)]
pub(super) struct CallerKey;

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
pub(super) async fn guard(
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
    // A page of this very server (Origin = the Host just accepted) is not cross-origin.
    let own = origin.is_some_and(|o| net::same_origin(o, host));
    if !own && !net::origin_allowed(origin, &st.cfg.cors_origins, st.cfg.any_origin) {
        tracing::warn!(client_ip = %ip, origin = origin.unwrap_or(""), "refused: Origin not allowed");
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "this Origin is not allowed; set CORS_ALLOWED_ORIGIN",
        );
    }
    if st.draining() {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is stopping; retry on another instance",
        );
    }
    req.extensions_mut().insert(ClientIp(ip));
    let caller = authenticate(&st, &mut req, ip).await;
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Who is calling: a static token first (constant time), else an OAuth access token;
/// then its grant. A known caller gets its [`Identity`] and [`Grant`] in the request; a
/// failure is noted there for `require_identity`, which refuses after the rate limit.
async fn authenticate(st: &AppState, req: &mut Request, ip: std::net::IpAddr) -> Caller {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if st.tokens.is_empty() && st.oauth.is_none() {
        return known(st, req, Identity(Arc::from("anonymous")), None, None);
    }
    let failure = match st.tokens.authenticate(header.as_deref()) {
        Ok(name) => return known(st, req, Identity(name), None, None),
        Err(AuthFailure::Invalid) => match (&st.oauth, auth::bearer(header.as_deref())) {
            (Some(oauth), Ok(token)) => match oauth.validate(token).await {
                Ok(c) => {
                    // Prefixed: no OAuth subject can pass for a static token's name (a
                    // session owner, a rate-limit key), nor one issuer's for another's.
                    let id = match c.issuer {
                        0 => format!("oauth:{}", c.sub),
                        n => format!("oauth{}:{}", n + 1, c.sub),
                    };
                    let name = c.name.clone().map(|n| DisplayName(Arc::from(n)));
                    return known(st, req, Identity(Arc::from(id)), name, Some(&c));
                }
                Err(r) => AuthFailure::OAuth(r),
            },
            _ => AuthFailure::Invalid,
        },
        Err(f) => f,
    };
    req.extensions_mut().insert(failure);
    Caller::Unknown(ip)
}

/// An authenticated caller: its grant from MCP_PERMISSIONS, or a refusal when none.
fn known(
    st: &AppState,
    req: &mut Request,
    id: Identity,
    name: Option<DisplayName>,
    oauth: Option<&OAuthCaller>,
) -> Caller {
    let grant = {
        let permissions = st.permissions.read().unwrap_or_else(|e| e.into_inner());
        match oauth {
            Some(c) => permissions.grant_for(PermissionCaller::OAuth {
                issuer: c.issuer,
                sub: &c.sub,
                scopes: &c.scopes,
                claims: &c.claims,
            }),
            None => permissions.grant_for(PermissionCaller::Token(&id.0)),
        }
    };
    match grant {
        Some(grant) => {
            req.extensions_mut().insert(grant);
            req.extensions_mut().insert(id.clone());
            if let Some(name) = name {
                req.extensions_mut().insert(name);
            }
        }
        None => {
            req.extensions_mut().insert(AuthFailure::NoRole);
        }
    }
    // Limited per identity either way: a caller without a role is still known.
    Caller::Known(id)
}

/// Refuses requests that did not authenticate (after the rate limit counted them).
pub(super) async fn require_identity(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let legacy_message = req.method() == Method::POST && req.uri().path() == "/messages";
    if req.extensions().get::<Identity>().is_some() && legacy_message {
        return next.run(req).await;
    }
    if req.extensions().get::<Identity>().is_some() {
        let on_mcp = req.method() == Method::POST && req.uri().path() == "/mcp";
        let req = if on_mcp {
            match buffered(req, st.cfg.max_body_bytes).await {
                Ok(req) => req,
                Err(refusal) => return refusal,
            }
        } else {
            req
        };
        // A notification (a cancellation above all) starts no call: it must get through
        // when every slot is taken, which is when a client most wants to cancel.
        if on_mcp
            && req
                .extensions()
                .get::<Envelope>()
                .is_some_and(|e| !e.request)
        {
            return next.run(req).await;
        }
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
    let identity = match req.extensions().get::<Caller>() {
        Some(Caller::Known(id)) => Some(id.0.to_string()),
        _ => None,
    };
    // The presented value is never logged: only why it failed and from where.
    tracing::warn!(client_ip = %ip, identity, path = req.uri().path(), reason = failure.code(), "authentication failed");
    let (status, code) = match failure.status() {
        StatusCode::FORBIDDEN => (StatusCode::FORBIDDEN, "forbidden"),
        StatusCode::SERVICE_UNAVAILABLE => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        other => (other, "unauthorized"),
    };
    let mut resp = json_error(status, code, &failure.message());
    if let Ok(v) = HeaderValue::from_str(&challenge(&st, failure)) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The `WWW-Authenticate` of a refusal. With OAuth on it points at this server's
/// Protected Resource Metadata (RFC 9728 §5.1), which is how an MCP client finds the
/// authorization server, and names the scopes to ask for.
fn challenge(st: &AppState, failure: AuthFailure) -> String {
    let Some(oauth) = &st.oauth else {
        return format!("Bearer realm=\"allure-mcp\", error=\"{}\"", failure.code());
    };
    let mut c = format!(
        "Bearer resource_metadata=\"{}\"",
        oauth.settings.metadata_url()
    );
    if !oauth.settings.scopes.is_empty() {
        c.push_str(&format!(", scope=\"{}\"", oauth.settings.scopes.join(" ")));
    }
    // RFC 6750 §3.1: a request without credentials gets no error code.
    if failure != AuthFailure::Missing {
        c.push_str(&format!(
            ", error=\"{}\", error_description=\"{}\"",
            failure.code(),
            failure.message().replace('"', "'")
        ));
    }
    c
}

/// Streamable HTTP sessions: owned by the identity that created them, capped in number.
///
/// Any POST without a session id may create a session (rmcp opens one for an
/// `initialize` whatever protocol header comes with it), so every such POST is counted
/// against MAX_SESSIONS and runs under the creation lock, and the new session is bound
/// to its identity before the lock is released. A session with no binding is treated as
/// unknown: it can only be one this middleware did not see created.
pub(super) async fn session_owners(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let identity = req
        .extensions()
        .get::<Identity>()
        .map(|i| crate::security::session_owner(i, req.extensions().get()));
    let sid = req
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().clone();
    let mut creating = None;
    if let Some(sid) = sid.as_ref().filter(|_| !st.cfg.stateless) {
        let owner = st.owner_of(sid);
        if owner.is_none() || owner != identity {
            return json_error(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "no such session; initialize a new one",
            );
        }
    } else if method == Method::POST && !st.cfg.stateless && is_initialize(&req) {
        let lock = st.creating.clone().lock_owned().await;
        if let Some(refusal) = st.session_cap_reached("streamable_http").await {
            return refusal;
        }
        creating = Some(lock);
    }
    let counting = (method == Method::POST).then(|| st.responses.token());
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
            st.bind_owner(new, id);
        }
    } else if method == Method::DELETE
        && resp.status().is_success()
        && let Some(sid) = &sid
    {
        st.forget_owner(sid);
    }
    drop(creating);
    // A POST's answer may stream (SSE); it is outstanding until its body is done.
    match counting {
        Some(guard) => guarded(resp, guard),
        None => resp,
    }
}

/// Whether a POST carries an `initialize`, the only message that opens a session. Other
/// session-less POSTs (2026-07-28 stateless calls) neither count against MAX_SESSIONS nor
/// wait for the creation lock, which they could hold for a whole call.
fn is_initialize(req: &Request) -> bool {
    req.extensions()
        .get::<Envelope>()
        .is_some_and(|e| e.initialize)
}

/// The request with its body read in full within `limit` (a chunked body over the limit
/// is a 413 like one whose Content-Length says so; rmcp would answer 500), and its
/// message read once for the layers after this one ([`Envelope`]).
async fn buffered(req: Request, limit: usize) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let envelope = Envelope::read(&bytes);
            let mut req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(envelope);
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
pub(super) fn guarded<G: Send + Unpin + 'static>(resp: Response, guard: G) -> Response {
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
