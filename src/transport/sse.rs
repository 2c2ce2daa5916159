//! The legacy HTTP+SSE transport (MCP 2024-11-05) that many clients still use, written
//! here because rmcp dropped it: `GET /sse` opens a session whose first event,
//! `endpoint`, names where to post; `POST /messages?sessionId=…` delivers client
//! messages (answered 202); server messages come back as `message` events.
//!
//! A session belongs to the identity that opened it: another token cannot post into
//! it (it gets the same 404 as for a session that does not exist).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, JsonRpcMessage, ServerJsonRpcMessage};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::json_error;
use tokio_util::task::TaskTracker;

use crate::metrics::{CallGuard, Metrics};
use crate::security::{CallSlot, Identity};
use crate::server::AllureMcp;

struct Session {
    owner: Identity,
    /// Requests posted whose answers have not yet left on the stream, by JSON-RPC id:
    /// shutdown waits for them (their guards count in `SseSessions::pending`), and each
    /// holds a MAX_CONCURRENT_REQUESTS slot until its answer is out.
    awaiting: Awaiting,
    tx: mpsc::Sender<ClientJsonRpcMessage>,
    /// Milliseconds since `SseSessions::epoch` of the last message from the client.
    last_seen: Arc<AtomicU64>,
    cancel: CancellationToken,
}

type Awaiting = Arc<Mutex<HashMap<String, (CallGuard, CallSlot)>>>;

/// A session id from the operating system's CSPRNG: whoever learns one could not use
/// it (sessions are bound to an identity), but ids must not be predictable either.
fn new_session_id() -> Option<Arc<str>> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(Arc::from(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

/// All open legacy sessions.
pub struct SseSessions {
    map: Mutex<HashMap<Arc<str>, Session>>,
    server: AllureMcp,
    shutdown: CancellationToken,
    metrics: Metrics,
    epoch: Instant,
    keep_alive: Duration,
    pending: TaskTracker,
    /// The MAX_CONCURRENT_REQUESTS slots, shared with the HTTP routes.
    busy: Arc<tokio::sync::Semaphore>,
}

/// Removes its session when the SSE stream is dropped (the client went away).
struct Closer {
    sessions: Arc<SseSessions>,
    id: Arc<str>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.sessions.remove(&self.id);
    }
}

impl SseSessions {
    pub fn new(
        server: AllureMcp,
        shutdown: CancellationToken,
        metrics: Metrics,
        keep_alive: Duration,
        pending: TaskTracker,
        busy: Arc<tokio::sync::Semaphore>,
    ) -> Arc<SseSessions> {
        Arc::new(SseSessions {
            map: Mutex::new(HashMap::new()),
            server,
            shutdown,
            metrics,
            epoch: Instant::now(),
            keep_alive,
            pending,
            busy,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn remove(&self, id: &str) {
        let removed = self.lock().remove(id);
        if let Some(s) = removed {
            s.cancel.cancel();
            tracing::debug!(session = id, "legacy SSE session closed");
        }
        self.metrics.set_sessions("sse", self.len());
    }

    /// Closes sessions idle longer than `idle`.
    pub fn reap(&self, idle: Duration) {
        let now = self.now_ms();
        let stale: Vec<Arc<str>> = self
            .lock()
            .iter()
            .filter(|(_, s)| {
                now.saturating_sub(s.last_seen.load(Ordering::Relaxed)) > idle.as_millis() as u64
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            tracing::info!(session = %id, "closing idle legacy SSE session");
            self.remove(&id);
        }
    }

    /// `GET /sse`: a new session for `owner`.
    pub fn open(self: &Arc<Self>, owner: Identity) -> Response {
        let Some(id) = new_session_id() else {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_randomness",
                "the system's random source failed; retry",
            );
        };
        let (client_tx, client_rx) = mpsc::channel::<ClientJsonRpcMessage>(32);
        let (server_tx, server_rx) = mpsc::channel::<ServerJsonRpcMessage>(32);
        let cancel = self.shutdown.child_token();
        let last_seen = Arc::new(AtomicU64::new(self.now_ms()));
        let awaiting: Awaiting = Arc::default();
        self.lock().insert(
            id.clone(),
            Session {
                owner: owner.clone(),
                awaiting: awaiting.clone(),
                tx: client_tx,
                last_seen,
                cancel: cancel.clone(),
            },
        );
        self.metrics.set_sessions("sse", self.len());
        // The owner key may end in a caller's token digest: only the identity is logged.
        let identity = owner.0.split('\u{1f}').next().unwrap_or_default();
        tracing::info!(session = %id, identity, "legacy SSE session opened");

        let server = self.server.for_session();
        let ct = cancel.clone();
        let sessions = self.clone();
        let sid = id.clone();
        tokio::spawn(async move {
            match server.serve_with_ct((server_tx, client_rx), ct).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => {
                    tracing::debug!(session = %sid, error = %e, "legacy SSE session ended before initialize")
                }
            }
            sessions.remove(&sid);
        });

        let endpoint = Event::default()
            .event("endpoint")
            .data(format!("/messages?sessionId={id}"));
        let closer = Closer {
            sessions: self.clone(),
            id,
        };
        let messages = server_rx.map(move |m| {
            // The closer lives as long as the stream: dropping the stream closes the session.
            let _ = &closer;
            let answered = match &m {
                JsonRpcMessage::Response(r) => Some(r.id.to_string()),
                JsonRpcMessage::Error(e) => e.id.as_ref().map(|i| i.to_string()),
                _ => None,
            };
            if let Some(id) = answered {
                awaiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            }
            let data = serde_json::to_string(&m).unwrap_or_else(|_| "{}".into());
            Ok::<Event, Infallible>(Event::default().event("message").data(data))
        });
        let stream = futures::stream::once(async move { Ok::<Event, Infallible>(endpoint) })
            .chain(messages)
            .take_until(cancel.cancelled_owned());
        Sse::new(stream)
            .keep_alive(
                KeepAlive::new()
                    .interval(self.keep_alive)
                    .text("keep-alive"),
            )
            .into_response()
    }

    /// `POST /messages?sessionId=…`: one client message into its session.
    pub async fn post(
        &self,
        caller: Option<Identity>,
        session: Option<&str>,
        mut parts: http::request::Parts,
        body: Bytes,
    ) -> Response {
        let Some(id) = session.filter(|s| !s.is_empty()) else {
            return json_error(
                StatusCode::BAD_REQUEST,
                "missing_session",
                "add ?sessionId= from the `endpoint` event of GET /sse",
            );
        };
        let found = self.lock().get(id).map(|s| {
            (
                s.owner.clone(),
                s.tx.clone(),
                s.last_seen.clone(),
                s.awaiting.clone(),
            )
        });
        // The parts already carry who calls (the POST was authenticated); the owner key
        // may hold more (a caller's token digest) and is not an identity to audit.
        let Some((_owner, mut tx, last_seen, awaiting)) =
            found.filter(|(owner, ..)| caller.as_ref() == Some(owner))
        else {
            // Unknown, expired, or someone else's: the same answer, so ids cannot be probed.
            return json_error(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "no such session; open a new one with GET /sse",
            );
        };
        let mut msg: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
            Ok(m) => m,
            Err(e) => {
                let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {e}")}});
                return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
        };
        last_seen.store(self.now_ms(), Ordering::Relaxed);
        // The session id travels like Streamable HTTP's, as a header of the request parts
        // the tool call sees: the handler reads both the same way (the audit line).
        if let Ok(v) = http::HeaderValue::from_str(id) {
            parts.headers.insert("mcp-session-id", v);
        }
        let mut posted_id = None;
        match &mut msg {
            JsonRpcMessage::Request(r) => {
                let id = r.id.to_string();
                let mut waiting = awaiting.lock().unwrap_or_else(|e| e.into_inner());
                if waiting.contains_key(&id) {
                    // It would replace the running call's entry (and free its slot early).
                    return json_error(
                        StatusCode::CONFLICT,
                        "duplicate_id",
                        "a request with this id is still running in this session; use a new id",
                    );
                }
                let Ok(permit) = self.busy.clone().try_acquire_owned() else {
                    return json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "too many requests in progress; retry shortly",
                    );
                };
                // The call holds the slot too: a cancelled call that runs on keeps it.
                let slot = CallSlot::new(permit);
                parts.extensions.insert(slot.clone());
                r.request.extensions_mut().insert(parts);
                waiting.insert(id.clone(), (self.pending.token(), slot));
                posted_id = Some(id);
            }
            JsonRpcMessage::Notification(n) => {
                // A cancelled request is never answered: stop waiting for its answer,
                // or shutdown would wait SHUTDOWN_TIMEOUT for it.
                if let rmcp::model::ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(id) = &c.params.request_id
                {
                    awaiting
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id.to_string());
                }
            }
            _ => {}
        }
        let forget = || {
            if let Some(id) = &posted_id {
                awaiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(id);
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), tx.send(msg)).await {
            Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
            Ok(Err(_)) => {
                forget();
                json_error(
                    StatusCode::NOT_FOUND,
                    "session_not_found",
                    "the session has ended; open a new one with GET /sse",
                )
            }
            Err(_) => {
                forget();
                json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "session_busy",
                    "the session is not reading; retry later",
                )
            }
        }
    }

    /// Ends every session (shutdown).
    pub fn close_all(&self) {
        let ids: Vec<Arc<str>> = self.lock().keys().cloned().collect();
        for id in ids {
            self.remove(&id);
        }
    }
}
