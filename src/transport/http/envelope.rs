//! What the HTTP layers need to know of a message posted to `/mcp`, read once when its
//! body is buffered: whether it may start a call (the concurrency slot), whether it opens
//! a session (the session cap), and the ids a stateless cancellation matches.

use serde_json::Value;

/// A POST's JSON-RPC message, as far as the middleware goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Envelope {
    /// A request, or a batch with one: it may start a call. An unreadable body counts
    /// too (rmcp refuses it, and it holds a slot until then).
    pub request: bool,
    /// An `initialize`, or a batch with one: the only message that opens a session.
    pub initialize: bool,
    /// A single request's id, as sent (`5` and `"5"` differ).
    pub id: Option<String>,
    /// The request id a single `notifications/cancelled` names.
    pub cancels: Option<String>,
}

impl Envelope {
    pub fn read(body: &[u8]) -> Envelope {
        let is_request = |m: &Value| m.get("method").is_some() && m.get("id").is_some();
        let opens = |m: &Value| m.get("method").and_then(Value::as_str) == Some("initialize");
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(batch)) => Envelope {
                request: batch.iter().any(is_request),
                initialize: batch.iter().any(opens),
                ..Envelope::default()
            },
            Ok(m) => Envelope {
                request: is_request(&m),
                initialize: opens(&m),
                id: match (m.get("method"), m.get("id")) {
                    (Some(_), Some(id)) if !id.is_null() => Some(id.to_string()),
                    _ => None,
                },
                cancels: match (m.get("method").and_then(Value::as_str), m.get("id")) {
                    (Some("notifications/cancelled"), None) => m
                        .get("params")
                        .and_then(|p| p.get("requestId"))
                        .map(Value::to_string),
                    _ => None,
                },
            },
            Err(_) => Envelope {
                request: true,
                ..Envelope::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_cancellations_are_told_apart_by_their_ids() {
        let read = |b: &[u8]| Envelope::read(b);
        let req = read(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{}}"#);
        assert!(req.request && req.id.as_deref() == Some("5"));
        let req = read(br#"{"jsonrpc":"2.0","id":"5","method":"tools/call"}"#);
        assert_eq!(req.id.as_deref(), Some("\"5\""));
        let cancel = read(
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}"#,
        );
        assert!(!cancel.request && cancel.cancels.as_deref() == Some("5"));
        for other in [
            &br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#[..],
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
            b"not json",
        ] {
            let e = read(other);
            assert!(e.id.is_none() && e.cancels.is_none(), "{e:?}");
        }
        assert!(read(b"not json").request, "unreadable counts as a request");
        let batch = read(br#"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":1,"method":"initialize"}]"#);
        assert!(batch.request && batch.initialize && batch.id.is_none());
    }
}
