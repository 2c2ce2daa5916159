//! Streamable HTTP sessions: rmcp's in-memory session manager, with SSE priming events
//! sent only to the sessions whose protocol revision has them.
//!
//! A priming event (an event id and a `retry:` hint, no data) lets a client resume a
//! broken stream; it arrived with protocol 2025-11-25. Clients of older revisions parse
//! every event's data as JSON-RPC and log an error for each empty one (TypeScript SDK
//! 1.10: "Unexpected end of JSON input"; Python SDK 1.9: "Error parsing SSE message" and
//! a traceback), so they get none, as the official TypeScript server does. rmcp decides
//! priming for the whole server; this wrapper decides it per session, from the version
//! the `initialize` answer negotiated. The `initialize` answer itself is not primed for
//! anyone (rmcp's priming of it is server-wide): it is one message, sent at once, before
//! the client knows the session it could resume.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rmcp::model::{
    ClientJsonRpcMessage, JsonRpcMessage, ProtocolVersion, ServerJsonRpcMessage, ServerResult,
};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, SessionTransport,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

/// The first protocol revision whose clients expect priming events.
const FIRST_PRIMED: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// rmcp's [`LocalSessionManager`] (which primes every request's stream itself), with the
/// priming events of older sessions taken out and the standalone stream's put in.
/// rmcp's own, server-wide priming must be off (`sse_retry: None`).
#[derive(Debug)]
pub struct Sessions {
    pub local: LocalSessionManager,
    /// Sessions that negotiated [`FIRST_PRIMED`] or later.
    primed: Mutex<HashSet<SessionId>>,
    retry: Duration,
}

impl Sessions {
    /// `local` must prime request streams (`session_config.sse_retry` set); `retry` is
    /// the hint on the standalone stream's priming event.
    pub fn new(local: LocalSessionManager, retry: Duration) -> Self {
        Sessions {
            local,
            primed: Mutex::new(HashSet::new()),
            retry,
        }
    }

    fn is_primed(&self, id: &SessionId) -> bool {
        self.primed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
    }

    /// Records the negotiated revision. The entry goes in `close_session`, which rmcp
    /// calls for every session that ends (a DELETE, idle expiry, the worker's end).
    fn remember(&self, id: &SessionId, answer: &ServerJsonRpcMessage) {
        if negotiated(answer).is_some_and(|v| v >= FIRST_PRIMED) {
            self.primed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone());
        }
    }

    /// The stream as this session should see it: unchanged when primed, else without
    /// priming events (the only events that carry no message).
    fn shaped(
        &self,
        id: &SessionId,
        stream: impl Stream<Item = ServerSseMessage> + Send + Sync + 'static,
    ) -> impl Stream<Item = ServerSseMessage> + Send + Sync + 'static {
        let primed = self.is_primed(id);
        stream.filter(move |m| std::future::ready(primed || m.message.is_some()))
    }
}

/// The protocol revision an `initialize` answer names.
fn negotiated(answer: &ServerJsonRpcMessage) -> Option<ProtocolVersion> {
    match answer {
        JsonRpcMessage::Response(r) => match &r.result {
            ServerResult::InitializeResult(init) => Some(init.protocol_version.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = SessionTransport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.local.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let answer = self.local.initialize_session(id, message).await?;
        self.remember(id, &answer);
        Ok(answer)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.local.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.primed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.local.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.local.create_stream(id, message).await?;
        Ok(self.shaped(id, stream))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.local.create_standalone_stream(id).await?;
        // What rmcp's service prepends when it primes (no event store: event id "0").
        let priming = self
            .is_primed(id)
            .then(|| ServerSseMessage::priming("0", self.retry));
        Ok(futures::stream::iter(priming).chain(stream))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.local.resume(id, last_event_id).await?;
        Ok(self.shaped(id, stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{InitializeResult, RequestId, ServerCapabilities};

    fn answer(version: ProtocolVersion) -> ServerJsonRpcMessage {
        let mut init = InitializeResult::new(ServerCapabilities::default());
        init.protocol_version = version;
        ServerJsonRpcMessage::response(ServerResult::InitializeResult(init), RequestId::Number(1))
    }

    #[test]
    fn the_negotiated_revision_is_read_from_the_initialize_answer() {
        for v in [
            ProtocolVersion::V_2024_11_05,
            ProtocolVersion::V_2025_06_18,
            ProtocolVersion::V_2025_11_25,
        ] {
            assert_eq!(negotiated(&answer(v.clone())), Some(v));
        }
        assert!(ProtocolVersion::V_2025_06_18 < FIRST_PRIMED);
        assert!(ProtocolVersion::V_2026_07_28 > FIRST_PRIMED);
    }
}
