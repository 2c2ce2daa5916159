//! What every HTTP route and middleware shares: configuration, credentials, sessions
//! of both transports, and the counters shutdown waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use tokio_util::task::TaskTracker;

use super::readiness::Readiness;
use crate::config::HttpConfig;
use crate::metrics::Metrics;
use crate::security::Identity;
use crate::security::auth::TokenSet;
use crate::security::oauth::OAuth;
use crate::security::permissions::Permissions;
use crate::transport::json_error;
use crate::transport::sse::SseSessions;

/// Who owns each Streamable HTTP session, and since when (housekeeping forgets only
/// bindings older than the list of live sessions it compares with).
pub(super) type Owners = Arc<Mutex<HashMap<String, (Identity, tokio::time::Instant)>>>;

#[derive(Clone)]
pub(super) struct AppState {
    pub cfg: Arc<HttpConfig>,
    pub tokens: Arc<TokenSet>,
    pub oauth: Option<Arc<OAuth>>,
    pub permissions: Arc<RwLock<Permissions>>,
    pub metrics: Metrics,
    pub sse: Arc<SseSessions>,
    pub mcp_sessions: Arc<super::sessions::Sessions>,
    /// Stateless calls in flight, for `notifications/cancelled`.
    pub calls: Arc<super::cancel::InFlight>,
    /// Which identity opened each Streamable HTTP session.
    pub owners: Owners,
    /// Held while a session may be created: the cap check and the creation are one step.
    pub creating: Arc<tokio::sync::Mutex<()>>,
    pub readiness: Arc<Readiness>,
    pub draining: Arc<AtomicBool>,
    /// The MAX_CONCURRENT_REQUESTS slots, shared with the legacy transport.
    pub busy: Arc<tokio::sync::Semaphore>,
    /// Responses still being written (a POST /mcp body, a legacy answer not yet sent):
    /// shutdown waits for these as well as for tool calls.
    pub responses: TaskTracker,
}

impl AppState {
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Open sessions of both transports, for the MAX_SESSIONS cap and the gauges.
    pub async fn sessions(&self) -> (usize, usize) {
        (
            self.mcp_sessions.local.sessions.read().await.len(),
            self.sse.len(),
        )
    }

    /// The identity that opened Streamable HTTP session `sid`, if this server saw it opened.
    pub fn owner_of(&self, sid: &str) -> Option<Identity> {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sid)
            .map(|(who, _)| who.clone())
    }

    pub fn bind_owner(&self, sid: &str, who: Identity) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid.to_owned(), (who, tokio::time::Instant::now()));
    }

    pub fn forget_owner(&self, sid: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sid);
    }

    /// The refusal of a new session once both transports together hold MAX_SESSIONS. The
    /// caller holds `creating`, so no other session is made between this count and the
    /// creation it allows.
    pub async fn session_cap_reached(&self, transport: &str) -> Option<Response> {
        let (streamable, legacy) = self.sessions().await;
        let held = streamable + legacy;
        if held < self.cfg.max_sessions {
            return None;
        }
        tracing::warn!(transport, "refused a new session: MAX_SESSIONS reached");
        Some(json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_sessions",
            "the server holds its maximum of sessions; retry later",
        ))
    }

    /// Forever: forget owners of ended sessions, close idle SSE sessions, trim the rate
    /// limiter's memory (`trim`), refresh the session gauges.
    pub async fn housekeeping(self, trim: impl Fn() + Send) {
        let tick = (self.cfg.session_idle_timeout / 4)
            .clamp(Duration::from_secs(1), Duration::from_secs(30));
        let mut every = tokio::time::interval(tick);
        loop {
            every.tick().await;
            let listed_at = tokio::time::Instant::now();
            let live: std::collections::HashSet<String> = self
                .mcp_sessions
                .local
                .sessions
                .read()
                .await
                .keys()
                .map(|k| k.to_string())
                .collect();
            self.owners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                // A binding made after the list was taken belongs to a session the list
                // could not contain yet: keep it.
                .retain(|k, (_, bound)| live.contains(k) || *bound >= listed_at);
            self.sse.reap(self.cfg.session_idle_timeout);
            trim();
            self.metrics.set_sessions("streamable_http", live.len());
            self.metrics.set_sessions("sse", self.sse.len());
        }
    }
}
