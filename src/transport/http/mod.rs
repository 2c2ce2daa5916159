//! MCP over HTTP: Streamable HTTP at `/mcp` (rmcp; session-based 2025 revisions and
//! stateless 2026-07-28), the legacy `GET /sse` + `POST /messages` pair, health,
//! readiness and metrics, with the security the Go server left to nginx built in:
//! bearer tokens, CORS, Origin and Host checks, rate limits, an IP allow-list, body
//! size, time and concurrency limits, a session cap, and a graceful stop.

mod caller_token;
mod cancel;
mod endpoints;
mod envelope;
mod middleware;
mod readiness;
mod router;
mod sessions;
mod state;

pub use readiness::Probe;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::listener::{self, ConnLimits};
use super::sse::SseSessions;
use crate::config::HttpConfig;
use crate::metrics::Metrics;
use crate::security::auth::TokenSet;
use crate::security::oauth::OAuth;
use crate::security::permissions::Permissions;
use crate::security::tls::{self, Certificate};
use crate::server::AllureMcp;
use readiness::Readiness;
use sessions::Sessions;
use state::AppState;

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

/// What the HTTP transport serves with, made once by the application.
pub struct Services {
    pub server: AllureMcp,
    pub metrics: Metrics,
    /// The MCP bearer tokens (replaced in place on SIGHUP).
    pub tokens: Arc<TokenSet>,
    /// Asked by `/readyz` whether Allure TestOps answers.
    pub upstream: Arc<dyn Probe>,
    /// HTTPS: the certificate new handshakes get (swapped in place on SIGHUP).
    pub tls: Option<Arc<Certificate>>,
    /// Checks OAuth access tokens, when OAUTH_ISSUER is set.
    pub oauth: Option<Arc<OAuth>>,
    /// Each identity's role and toolsets (replaced in place on SIGHUP).
    pub permissions: Arc<RwLock<Permissions>>,
}

/// rmcp's Streamable HTTP service, as mounted at `/mcp`.
type Streamable = StreamableHttpService<AllureMcp, Sessions>;

/// What a stop must end, besides the connections.
struct Running {
    /// Cancels rmcp's sessions and the legacy streams.
    shutdown: CancellationToken,
    stop_accepting: CancellationToken,
    state: AppState,
    accepting: tokio::task::JoinHandle<()>,
    housekeeping: tokio::task::JoinHandle<()>,
}

/// Serves until `stop` resolves, then stops gracefully: no new connections, in-flight
/// tool calls get up to `SHUTDOWN_TIMEOUT`, then streams and sessions end.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    cfg: HttpConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let addr = listener.local_addr().map_err(HttpError::Serve)?;
    let scheme = if services.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let running = start(listener, services, Arc::new(cfg))?;
    tracing::info!(%addr, scheme, stateless = running.state.cfg.stateless, tokens = running.state.cfg.tokens.len(), oauth = running.state.oauth.is_some(), "serving MCP over HTTP at /mcp and /sse");
    eprintln!("allure-mcp: listening on {scheme}://{addr} (MCP at /mcp, legacy SSE at /sse)");
    // Ready once the listener is live; readiness does not wait for Allure, STATUS says.
    crate::systemd::ready(&format!("serving MCP on {scheme}://{addr}"));
    let probe = running.state.readiness.clone();
    tokio::spawn(async move {
        let reachable = probe.ready().await;
        crate::systemd::status(&format!(
            "serving MCP on {scheme}://{addr}; Allure TestOps {}",
            if reachable {
                "reachable"
            } else {
                "NOT reachable (see the log)"
            }
        ));
    });
    stop.await;
    drain(running).await
}

/// The state, the routes, housekeeping and the accept loop, all started.
fn start(
    listener: TcpListener,
    services: Services,
    cfg: Arc<HttpConfig>,
) -> Result<Running, HttpError> {
    let shutdown = CancellationToken::new();
    let responses = TaskTracker::new();
    // Streams send a comment at least twice per HTTP_IDLE_TIMEOUT, so the idle check
    // never closes a healthy stream.
    let keep_alive = (cfg.idle_timeout / 2)
        .min(Duration::from_secs(15))
        .max(Duration::from_millis(250));
    let busy = Arc::new(tokio::sync::Semaphore::new(cfg.max_concurrent_requests));
    let sse = SseSessions::new(
        services.server.clone(),
        shutdown.child_token(),
        services.metrics.clone(),
        keep_alive,
        responses.clone(),
        busy.clone(),
    );
    let (streamable, mcp_sessions) =
        streamable(services.server, &cfg, shutdown.child_token(), keep_alive);
    let tls = match services.tls {
        Some(cert) => Some(tokio_rustls::TlsAcceptor::from(
            tls::server_config(cert).map_err(|e| HttpError::Serve(std::io::Error::other(e)))?,
        )),
        None => None,
    };
    let state = AppState {
        cfg: cfg.clone(),
        tokens: services.tokens,
        oauth: services.oauth,
        permissions: services.permissions,
        metrics: services.metrics,
        sse,
        mcp_sessions,
        calls: Arc::default(),
        owners: Arc::new(Mutex::new(HashMap::new())),
        creating: Arc::new(tokio::sync::Mutex::new(())),
        readiness: Arc::new(Readiness::new(services.upstream)),
        draining: Arc::new(AtomicBool::new(false)),
        busy,
        responses,
    };
    let (app, trim) = router::router(state.clone(), streamable)?;
    let housekeeping = tokio::spawn(state.clone().housekeeping(trim));
    let stop_accepting = CancellationToken::new();
    let accepting = tokio::spawn(listener::serve(
        listener,
        app,
        conn_limits(&cfg, tls),
        stop_accepting.clone(),
    ));
    Ok(Running {
        shutdown,
        stop_accepting,
        state,
        accepting,
        housekeeping,
    })
}

/// rmcp's Streamable HTTP service and its session manager.
fn streamable(
    server: AllureMcp,
    cfg: &HttpConfig,
    shutdown: CancellationToken,
    keep_alive: Duration,
) -> (Streamable, Arc<Sessions>) {
    let mut local = LocalSessionManager::default();
    local.session_config.keep_alive = Some(cfg.session_idle_timeout);
    // Priming is decided per session by `Sessions`, which leaves rmcp's priming of
    // request streams on and turns its server-wide priming (below) off.
    let retry = SessionConfig::DEFAULT_SSE_RETRY;
    local.session_config.sse_retry = Some(retry);
    let sessions = Arc::new(Sessions::new(local, retry));
    let mut rmcp_cfg = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!cfg.stateless)
        .with_json_response(cfg.stateless)
        .with_cancellation_token(shutdown)
        .with_max_request_body_bytes(cfg.max_body_bytes)
        // Host and Origin are checked by `guard`, the same way for every route.
        .disable_allowed_hosts()
        .with_sse_retry(None);
    rmcp_cfg.sse_keep_alive = Some(keep_alive);
    // A stateless server has no session to keep a toolset turned on in, nor a stream to
    // send `list_changed` on: it lists every allowed tool.
    let server = if cfg.stateless {
        server.with_fixed_toolsets()
    } else {
        server
    };
    let service =
        StreamableHttpService::new(move || Ok(server.for_session()), sessions.clone(), rmcp_cfg);
    (service, sessions)
}

/// The accept loop's limits; MAX_CONNECTIONS is lowered to what the open-file limit allows.
fn conn_limits(cfg: &HttpConfig, tls: Option<tokio_rustls::TlsAcceptor>) -> ConnLimits {
    let limits = ConnLimits {
        tls,
        header_timeout: cfg.header_timeout,
        idle_timeout: cfg.idle_timeout,
        max_connections: listener::effective_max_connections(cfg.max_connections),
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
    limits
}

/// The graceful stop: refuse new work, wait up to SHUTDOWN_TIMEOUT for tool calls and
/// then for the answers they produced, end sessions and streams, close connections.
async fn drain(running: Running) -> Result<(), HttpError> {
    let Running {
        shutdown,
        stop_accepting,
        state,
        accepting,
        housekeeping,
    } = running;
    let calls = state.metrics.in_flight();
    crate::systemd::stopping(&format!("stopping: {} tool call(s) in flight", calls.len()));
    let timeout = state.cfg.shutdown_timeout;
    tracing::info!(
        in_flight = calls.len(),
        timeout_s = timeout.as_secs(),
        "stopping: no new connections; waiting for in-flight calls"
    );
    stop_accepting.cancel();
    state.draining.store(true, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + timeout;
    // Tool calls first, then the answers they produced, which may still be on their
    // way into an SSE stream or a POST body. Closed trackers still count what is held.
    calls.close();
    state.responses.close();
    let drained = async {
        calls.wait().await;
        state.responses.wait().await;
    };
    if tokio::time::timeout_at(deadline, drained).await.is_err() {
        tracing::warn!(
            in_flight = calls.len(),
            "shutdown timeout: abandoning in-flight calls"
        );
    }
    // End SSE streams and Streamable HTTP sessions; their connections then close.
    state.sse.close_all();
    shutdown.cancel();
    housekeeping.abort();
    match tokio::time::timeout_at(deadline + Duration::from_secs(1), accepting).await {
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
