//! The routes and the order of their layers: which endpoints need an identity, and
//! the limits every request meets (body size, time, rate, CORS).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::routing::{get, post};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::cancel::stateless_cancellation;
use super::endpoints::{healthz, metrics_handler, protected_resource, readyz, sse_open, sse_post};
use super::middleware::{CallerKey, guard, require_identity, session_owners};
use super::state::AppState;
use super::{HttpError, Streamable};
use crate::config::HttpConfig;
use crate::metrics::Metrics;
use crate::transport::json_error;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The application, and a function that trims the rate limiter's memory (for
/// housekeeping to call now and then).
pub(super) fn router(
    state: AppState,
    streamable: Streamable,
) -> Result<(Router, impl Fn() + Send + 'static), HttpError> {
    let cfg = state.cfg.clone();
    let mcp_route = Router::new()
        .route_service("/mcp", streamable)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            stateless_cancellation,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session_owners,
        ));
    // Outermost last: guard → rate limit → identity → caller's Allure token → (on /mcp)
    // session owners → stateless cancellation.
    let identified = Router::new()
        .merge(mcp_route)
        .route("/sse", get(sse_open))
        .route("/messages", post(sse_post))
        .route("/metrics", get(metrics_handler))
        // Inside the identity check: a caller's Allure token is looked at only once the
        // caller is known.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::caller_token::caller_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_identity,
        ));
    let (limited, trim) = rate_limited(identified, &cfg, state.metrics.clone())?;
    let protected = limited.layer(middleware::from_fn_with_state(state.clone(), guard));
    let mut app = Router::new()
        .merge(protected)
        .route("/healthz", get(healthz).head(healthz))
        .route("/health", get(healthz).head(healthz))
        .route("/readyz", get(readyz))
        .route(WELL_KNOWN, get(protected_resource));
    // RFC 9728 puts the document at the well-known path followed by the resource's
    // path (`/mcp`); the bare path serves clients that look there first.
    if let Some(path) = state
        .oauth
        .as_ref()
        .map(|o| o.settings.metadata_path())
        .filter(|p| p != WELL_KNOWN)
    {
        app = app.route(&path, get(protected_resource));
    }
    let mut app = app
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            cfg.request_timeout,
        ));
    if let Some(c) = cors(&cfg) {
        app = app.layer(c);
    }
    Ok((app, trim))
}

/// RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST per caller (identity, or address before
/// authentication); a refusal is a 429 with Retry-After.
fn rate_limited(
    routes: Router<AppState>,
    cfg: &HttpConfig,
    metrics: Metrics,
) -> Result<(Router<AppState>, impl Fn() + Send + use<>), HttpError> {
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
    let layer = GovernorLayer::new(governor).error_handler(move |e| {
        metrics.rate_limited();
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
    Ok((routes.layer(layer), move || limiter.retain_recent()))
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
                header::HeaderName::from_static(super::caller_token::HEADER),
            ])
            .expose_headers([header::HeaderName::from_static("mcp-session-id")])
            .max_age(Duration::from_secs(600)),
    )
}
