//! The HTTP endpoints besides `/mcp` (which rmcp serves): the legacy SSE pair, health,
//! readiness and metrics.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::AppState;
use crate::security::{Identity, net};
use crate::transport::json_error;

#[derive(serde::Deserialize)]
pub(super) struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

pub(super) async fn sse_open(State(st): State<AppState>, req: Request) -> Response {
    let Some(identity) = req.extensions().get::<Identity>().cloned() else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authenticate first",
        );
    };
    let owner = crate::security::session_owner(&identity, req.extensions().get());
    let _creating = st.creating.lock().await;
    if let Some(refusal) = st.session_cap_reached("sse").await {
        return refusal;
    }
    st.sse.open(owner)
}

pub(super) async fn sse_post(
    State(st): State<AppState>,
    Query(q): Query<SessionQuery>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let owner = parts
        .extensions
        .get::<Identity>()
        .map(|i| crate::security::session_owner(i, parts.extensions.get()));
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
        .post(owner, q.session_id.as_deref(), parts, bytes)
        .await
}

pub(super) async fn healthz() -> impl IntoResponse {
    // Liveness only: reveals nothing about configuration or upstream.
    ([(header::CONTENT_TYPE, "text/plain")], "ok")
}

pub(super) async fn readyz(
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

/// Metrics name every caller: they are for the operator's scrapers, which use static
/// tokens, not for OAuth callers (any user the provider knows).
pub(super) async fn metrics_handler(State(st): State<AppState>, req: Request) -> Response {
    if req
        .extensions()
        .get::<Identity>()
        .is_some_and(|i| i.0.starts_with("oauth"))
    {
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are for static MCP tokens (a scraper's); OAuth callers cannot read them",
        );
    }
    let (streamable, legacy) = st.sessions().await;
    st.metrics.set_sessions("streamable_http", streamable);
    st.metrics.set_sessions("sse", legacy);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response()
}

/// Protected Resource Metadata (RFC 9728): where an MCP client learns which
/// authorization server issues tokens for this server. Public, like the provider's own
/// metadata, and readable from any web origin (it holds nothing secret).
pub(super) async fn protected_resource(State(st): State<AppState>) -> Response {
    let Some(oauth) = &st.oauth else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this server does not take OAuth access tokens (OAUTH_ISSUER is not set)",
        );
    };
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        axum::Json(oauth.settings.metadata()),
    )
        .into_response()
}
