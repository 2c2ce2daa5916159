//! `notifications/cancelled` on a stateless server (`MCP_STATELESS=true`). With sessions,
//! rmcp routes a cancellation to the session running the call; without, every POST is a
//! world of its own and the notification would reach nothing. So this remembers the
//! calls in flight by (identity, client address, JSON-RPC id) and cancels the one a
//! cancellation names, for the identity and address that sent it only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tokio_util::sync::CancellationToken;

use super::envelope::Envelope;
use super::middleware::guarded;
use super::state::AppState;
use crate::security::{ClientIp, Identity};
use crate::tools::RemoteCancel;

/// A call's key: who sent it (identity and address), and its JSON-RPC id as sent (`5` and
/// `"5"` differ).
type Key = (Arc<str>, String, String);

/// The stateless calls in flight. Two clients with one identity from one address may
/// use the same id at once; a cancellation of that id cancels both, which is the most a
/// server without sessions can tell apart.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    calls: Mutex<HashMap<Key, Vec<(u64, CancellationToken)>>>,
    /// Tells calls with one key apart, so an answer forgets only its own call.
    next: AtomicU64,
}

type Calls = HashMap<Key, Vec<(u64, CancellationToken)>>;

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(self: &Arc<Self>, key: Key) -> Registered {
        let (n, token) = (
            self.next.fetch_add(1, Ordering::Relaxed),
            CancellationToken::new(),
        );
        self.lock()
            .entry(key.clone())
            .or_default()
            .push((n, token.clone()));
        Registered {
            calls: self.clone(),
            key,
            n,
            token,
        }
    }

    fn cancel(&self, key: &Key) -> usize {
        let calls = self.lock().remove(key).unwrap_or_default();
        calls.iter().for_each(|(_, t)| t.cancel());
        calls.len()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

/// Forgets a call when its answer is done, and ends whatever still waited on its token.
struct Registered {
    calls: Arc<InFlight>,
    key: Key,
    n: u64,
    token: CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut map = self.calls.lock();
        if let Some(tokens) = map.get_mut(&self.key) {
            tokens.retain(|(n, _)| *n != self.n);
            if tokens.is_empty() {
                map.remove(&self.key);
            }
        }
        drop(map);
        // The call is over; this only ends the task that linked the token to it.
        self.token.cancel();
    }
}

pub(super) async fn stateless_cancellation(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !st.cfg.stateless || req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(who) = req.extensions().get::<Identity>().map(|i| i.0.clone()) else {
        return next.run(req).await;
    };
    let from = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    // Read by `require_identity`, which buffers every POST to /mcp.
    let envelope = req
        .extensions()
        .get::<Envelope>()
        .cloned()
        .unwrap_or_default();
    let mut req = req;
    match (envelope.cancels, envelope.id) {
        (Some(id), _) => {
            let cancelled = st.calls.cancel(&(who, from, id.clone()));
            tracing::debug!(request_id = %id, cancelled, "stateless cancellation");
            next.run(req).await
        }
        (None, Some(id)) => {
            let registered = st.calls.register((who, from, id));
            req.extensions_mut()
                .insert(RemoteCancel(registered.token.clone()));
            guarded(next.run(req).await, registered)
        }
        (None, None) => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_reaches_only_the_calls_of_its_identity_and_the_entry_goes_with_the_answer() {
        let calls = Arc::new(InFlight::default());
        let key = |who: &str| {
            (
                Arc::<str>::from(who),
                "127.0.0.1".to_owned(),
                "7".to_owned(),
            )
        };
        let (alice, bob) = (calls.register(key("alice")), calls.register(key("bob")));
        let alice_again = calls.register(key("alice"));
        drop(alice_again);
        assert_eq!(calls.len(), 2, "an answer forgets only its own call");
        assert_eq!(calls.cancel(&key("alice")), 1);
        assert!(alice.token.is_cancelled());
        assert!(!bob.token.is_cancelled());
        drop((alice, bob));
        assert_eq!(calls.len(), 0);
    }
}
